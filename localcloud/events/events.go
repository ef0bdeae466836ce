// Package events emulates Amazon EventBridge for the local cloud: event buses,
// PutEvents, rules with EventBridge's pattern language, targets with input
// transformation, retry policies and dead-letter queues, over the awsJson1_1
// protocol (X-Amz-Target AWSEvents.<Op>).
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	jsonVersion  = "1.1"
	namespace    = "com.amazonaws.eventbridge"
	targetName   = "AWSEvents"
	accessDenied = "AccessDeniedException"
	// DefaultBus is the bus every account has.
	DefaultBus = "default"
	// maxRequestSize is PutEvents' limit on the total entry size.
	maxRequestSize = 256 * 1024
)

// Dispatcher delivers an event to a rule's target (a Lambda function, a state
// machine, a queue). The root package wires it to the other services.
type Dispatcher interface {
	Deliver(ctx context.Context, target Target, input []byte) error
}

// DeadLetters receives events whose delivery failed for good (an SQS store).
// EventBridge sends them as the service principal events.amazonaws.com on
// the rule's behalf, so the queue's policy must allow sqs:SendMessage to it
// (with the conditions aws:SourceArn, the rule's ARN, and
// aws:SourceAccount); SendAs refuses the send otherwise.
type DeadLetters interface {
	SendAs(p *awsproto.Principal, conditions map[string]string, queueArn, body string, attrs map[string]string) error
}

// Principal is EventBridge's service principal: it invokes resource-policy
// targets (Lambda functions) and sends dead letters as this principal.
const Principal = "events.amazonaws.com"

// DeliveryError lets a Dispatcher say what went wrong, as EventBridge reports
// it in the dead-letter message's ERROR_CODE, and whether a retry can help
// (EventBridge does not retry, for example, a target that does not exist or
// that it has no permission to invoke).
type DeliveryError struct {
	Code    string // e.g. NO_RESOURCE, NO_PERMISSIONS, THROTTLING, SDK_CLIENT_ERROR
	Message string
	NoRetry bool
	// Why is the local cloud's explanation (which policy statement did not
	// allow the invocation), kept in the Failure; AWS gives none, so it
	// stays out of the dead letter's ERROR_MESSAGE.
	Why string
}

func (e *DeliveryError) Error() string { return e.Code + ": " + e.Message }

// Config places the store and wires its outputs.
type Config struct {
	Region, Account string
	Clock           clock.Clock
	Dispatcher      Dispatcher
	DeadLetters     DeadLetters
}

// InputTransformer is a target's InputPathsMap and InputTemplate.
type InputTransformer struct {
	InputPathsMap map[string]string
	InputTemplate string
}

// RetryPolicy bounds delivery retries. A target without one gets
// EventBridge's defaults: 185 retries within 24 hours. In a policy that is
// set, MaximumRetryAttempts 0 means no retries, and MaximumEventAgeInSeconds 0
// means the default 86400.
type RetryPolicy struct {
	MaximumRetryAttempts     int
	MaximumEventAgeInSeconds int
}

// Target is a rule's target.
type Target struct {
	ID               string
	Arn              string
	RoleArn          string
	Input            string // constant JSON input, optional
	InputPath        string
	InputTransformer *InputTransformer
	RetryPolicy      *RetryPolicy
	DeadLetterArn    string
	// RuleArn and RuleName are filled in when the target is handed to the Dispatcher.
	RuleArn, RuleName string
}

// Rule is an EventBridge rule.
type Rule struct {
	Name, BusName      string
	Pattern            json.RawMessage
	Targets            []Target
	State              string // ENABLED (default) or DISABLED
	Description        string
	ScheduleExpression string
	RoleArn            string
}

// Event is an accepted event: its bus and its envelope.
type Event struct {
	Bus        string
	ID         string
	DetailType string
	Source     string
	Account    string
	Time       time.Time
	Region     string
	Resources  []string
	Detail     json.RawMessage
	// JSON is the envelope as targets receive it.
	JSON []byte
}

type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

type rule struct {
	Rule
	arn     string
	pattern *Pattern
	created time.Time
}

type bus struct {
	name, arn string
	rules     map[string]*rule
	order     []string // rule names in creation order
}

// Failure is a delivery that failed for good.
type Failure struct {
	RuleArn, TargetID, TargetArn string
	EventID                      string
	Code, Message                string
	// Why is the local cloud's explanation of a permission failure.
	Why      string
	Attempts int
	// DeadLetterArn is the target's dead-letter queue ("" if none);
	// DeadLettered says the event is in it. When it is not, DeadLetterError
	// says why (the queue policy does not allow EventBridge to send, the
	// queue does not exist): the event is lost, and EventBridge counts it in
	// its InvocationsFailedToBeSentToDlq metric.
	DeadLetterArn   string
	DeadLettered    bool
	DeadLetterError string
}

// Store is EventBridge's state.
type Store struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	buses    map[string]*bus
	log      []Event
	subs     []func(Event)
	failures []Failure
	// deliveries counts deliveries in flight; Wait waits for none.
	deliveries int
	drained    *sync.Cond
}

// Service serves the EventBridge wire API.
type Service struct{ awsproto.JSONServer[*Store] }

// New builds EventBridge with its default bus.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{cfg: cfg, ctx: ctx, cancel: cancel, buses: map[string]*bus{}}
	s.drained = sync.NewCond(&s.mu)
	s.CreateBus(DefaultBus)
	return s, &Service{awsproto.JSONServer[*Store]{API: jsonService, Store: s}}
}

// Close stops pending retries (a retry sleeping on the clock gives up).
func (s *Store) Close() { s.cancel() }

// Wait blocks until every delivery in flight has finished (tests).
func (s *Store) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.deliveries > 0 {
		s.drained.Wait()
	}
}

func (s *Store) busARN(name string) string {
	return fmt.Sprintf("arn:%s:events:%s:%s:event-bus/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, name)
}

func (s *Store) ruleARN(busName, name string) string {
	if busName == DefaultBus {
		return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, name)
	}
	return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, busName, name)
}

// CreateBus makes a bus (idempotent) and returns its ARN.
func (s *Store) CreateBus(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buses[name]; !ok {
		s.buses[name] = &bus{name: name, arn: s.busARN(name), rules: map[string]*rule{}}
	}
	return s.buses[name].arn
}

// busName resolves a bus name or ARN ("" is the default bus).
func (s *Store) busName(nameOrArn string) string {
	if nameOrArn == "" {
		return DefaultBus
	}
	if a, err := arn.Parse(nameOrArn); err == nil {
		if name, ok := strings.CutPrefix(a.Resource, "event-bus/"); ok {
			return name
		}
	}
	return nameOrArn
}

var nameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)

func validation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(400, "ValidationException", format, args...)
}

func notFound(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(400, "ResourceNotFoundException", format, args...)
}

// IsStateMachineArn reports whether arn names a Step Functions state
// machine (arn:<partition>:states:<region>:<account>:stateMachine:<name>).
func IsStateMachineArn(s string) bool {
	a, err := arn.Parse(s)
	typ, _, ok := strings.Cut(a.Resource, ":")
	return err == nil && a.Service == "states" && ok && typ == "stateMachine"
}

func validateTarget(t *Target) *awsproto.Error {
	if !nameRE.MatchString(t.ID) {
		return validation("1 validation error detected: Value '%s' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", t.ID)
	}
	if t.Arn == "" {
		return validation("1 validation error detected: Value null at 'targets.1.member.arn' failed to satisfy constraint: Member must not be null")
	}
	// EventBridge starts a state machine's execution with the target's
	// role; PutTargets (and PutRule's Go form) refuses such a target
	// without one, the whole request failing (not a FailedEntries entry).
	if t.RoleArn == "" && IsStateMachineArn(t.Arn) {
		return validation("RoleArn is required for target %s.", t.Arn)
	}
	n := 0
	for _, set := range []bool{t.Input != "", t.InputPath != "", t.InputTransformer != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return validation("Only one of Input, InputPath, or InputTransformer must be provided.")
	}
	if t.Input != "" && !json.Valid([]byte(t.Input)) {
		return validation("Input is not valid JSON text.")
	}
	if t.InputPath != "" {
		if _, err := parsePath(t.InputPath); err != nil {
			return validation("InputPath is not valid: %v", err)
		}
	}
	if it := t.InputTransformer; it != nil {
		if it.InputTemplate == "" {
			return validation("1 validation error detected: Value null at 'targets.1.member.inputTransformer.inputTemplate' failed to satisfy constraint: Member must not be null")
		}
		if len(it.InputPathsMap) > 100 {
			return validation("InputPathsMap can have at most 100 entries.")
		}
		for k, p := range it.InputPathsMap {
			if strings.HasPrefix(k, "aws.") {
				return validation("Input transformer variable names can't start with aws.: %s", k)
			}
			if _, err := parsePath(p); err != nil {
				return validation("InputPathsMap has an invalid path %s: %v", p, err)
			}
		}
	}
	if rp := t.RetryPolicy; rp != nil {
		if rp.MaximumRetryAttempts < 0 || rp.MaximumRetryAttempts > 185 {
			return validation("1 validation error detected: Value '%d' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 185", rp.MaximumRetryAttempts)
		}
		if rp.MaximumEventAgeInSeconds != 0 && (rp.MaximumEventAgeInSeconds < 60 || rp.MaximumEventAgeInSeconds > 86400) {
			return validation("1 validation error detected: Value '%d' at 'targets.1.member.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value between 60 and 86400", rp.MaximumEventAgeInSeconds)
		}
	}
	if t.DeadLetterArn != "" {
		if a, err := arn.Parse(t.DeadLetterArn); err != nil || a.Service != "sqs" || a.Resource == "" {
			return validation("The dead-letter queue must be an SQS queue ARN.")
		}
	}
	return nil
}

// PutRule creates or replaces a rule and its targets (the Go API; the wire
// PutRule keeps a rule's targets). It returns the rule ARN.
func (s *Store) PutRule(r Rule) (string, error) {
	if r.BusName == "" {
		r.BusName = DefaultBus
	}
	if !nameRE.MatchString(r.Name) {
		return "", validation("invalid rule name %q", r.Name)
	}
	var p *Pattern
	if len(r.Pattern) > 0 {
		var err error
		if p, err = CompilePattern(r.Pattern); err != nil {
			return "", awsproto.Errorf(400, "InvalidEventPatternException", "%s", err.Error())
		}
	} else if r.ScheduleExpression == "" {
		return "", validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if r.State == "" {
		r.State = "ENABLED"
	}
	if len(r.Targets) > 5 {
		return "", awsproto.Errorf(400, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
	}
	for i := range r.Targets {
		if e := validateTarget(&r.Targets[i]); e != nil {
			return "", e
		}
	}
	r.Targets = append([]Target(nil), r.Targets...)
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buses[r.BusName]
	if !ok {
		return "", notFound("Event bus %s does not exist.", r.BusName)
	}
	rr := &rule{Rule: r, arn: s.ruleARN(r.BusName, r.Name), pattern: p, created: now}
	if _, exists := b.rules[r.Name]; !exists {
		b.order = append(b.order, r.Name)
	}
	b.rules[r.Name] = rr
	return rr.arn, nil
}

// Rules lists the rules of a bus (Go API, for tests and the template check).
func (s *Store) Rules(busName string) []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buses[s.busName(busName)]
	if !ok {
		return nil
	}
	var out []Rule
	for _, n := range b.order {
		r := b.rules[n].Rule
		r.Targets = append([]Target(nil), r.Targets...)
		out = append(out, r)
	}
	return out
}

// Log is every accepted event, in order.
func (s *Store) Log() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.log...)
}

// Subscribe calls f for every accepted event, synchronously from PutEvents,
// after the event is logged.
func (s *Store) Subscribe(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, f)
}

// Failures lists deliveries that failed for good.
func (s *Store) Failures() []Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Failure(nil), s.failures...)
}

// InvocationsFailedToBeSentToDlq counts the failed deliveries whose
// dead-letter queue refused the event (EventBridge's metric of that name):
// those events are lost.
func (s *Store) InvocationsFailedToBeSentToDlq() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.failures {
		if f.DeadLetterArn != "" && !f.DeadLettered {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// PutEvents (Go entry point and the event pipeline)

// Entry is one PutEvents entry.
type Entry struct {
	Source, DetailType, Detail, EventBusName string
	Resources                                []string
	Time                                     *time.Time
}

// EntryResult is one PutEvents result entry.
type EntryResult struct {
	EventID, ErrorCode, ErrorMessage string
}

func entrySize(e Entry) int {
	n := len(e.Source) + len(e.DetailType) + len(e.Detail)
	for _, r := range e.Resources {
		n += len(r)
	}
	if e.Time != nil {
		n += 14
	}
	return n
}

// PutEvents accepts entries as the API does, without authorization (the Go
// API for other services of the local cloud).
func (s *Store) PutEvents(entries []Entry) ([]EntryResult, int) {
	return s.putEvents(nil, entries, false)
}

// PublishServiceEvent puts an event an AWS service emits on the default bus
// (source "aws.<service>"), which customers may not send themselves.
func (s *Store) PublishServiceEvent(e Entry) error {
	res, failed := s.putEvents(nil, []Entry{e}, true)
	if failed > 0 {
		return fmt.Errorf("%s: %s", res[0].ErrorCode, res[0].ErrorMessage)
	}
	return nil
}

func (s *Store) checkEntry(e Entry, fromService bool) (code, msg string) {
	switch {
	case e.Source == "":
		return "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case e.DetailType == "":
		return "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case e.Detail == "":
		return "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	case strings.HasPrefix(e.Source, "aws.") && !fromService:
		return "NotAuthorizedForSourceException", "Not authorized for the source."
	}
	v, err := decodeJSON([]byte(e.Detail))
	if _, ok := v.(map[string]any); err != nil || !ok {
		return "MalformedDetail", "Detail is malformed."
	}
	return "", ""
}

func (s *Store) putEvents(c *awsproto.Call, entries []Entry, fromService bool) ([]EntryResult, int) {
	now := s.cfg.Clock.Now()
	results := make([]EntryResult, len(entries))
	failed := 0
	for i, e := range entries {
		if code, msg := s.checkEntry(e, fromService); code != "" {
			results[i] = EntryResult{ErrorCode: code, ErrorMessage: msg}
			failed++
			continue
		}
		busName := s.busName(e.EventBusName)
		s.mu.Lock()
		_, ok := s.buses[busName]
		s.mu.Unlock()
		if !ok {
			results[i] = EntryResult{ErrorCode: "ResourceNotFoundException", ErrorMessage: fmt.Sprintf("Event bus %s does not exist.", busName)}
			failed++
			continue
		}
		if c != nil {
			if ae := c.Authorize(accessDenied, "events:PutEvents", s.busARN(busName),
				map[string]string{"events:source": e.Source, "events:detail-type": e.DetailType}); ae != nil {
				results[i] = EntryResult{ErrorCode: "AccessDeniedException", ErrorMessage: ae.Message}
				failed++
				continue
			}
		}
		t := now
		if e.Time != nil {
			t = e.Time.UTC()
		}
		resources := e.Resources
		if resources == nil {
			resources = []string{}
		}
		var detail bytes.Buffer
		_ = json.Compact(&detail, []byte(e.Detail))
		ev := Event{Bus: busName, ID: awsproto.NewUUID(), DetailType: e.DetailType, Source: e.Source, Account: s.cfg.Account,
			Time: t, Region: s.cfg.Region, Resources: resources, Detail: detail.Bytes()}
		ev.JSON, _ = json.Marshal(envelope{Version: "0", ID: ev.ID, DetailType: ev.DetailType, Source: ev.Source,
			Account: ev.Account, Time: t.Format("2006-01-02T15:04:05Z"), Region: ev.Region, Resources: resources, Detail: ev.Detail})
		s.accept(ev)
		results[i] = EntryResult{EventID: ev.ID}
	}
	return results, failed
}

// accept logs the event, tells subscribers and starts deliveries.
func (s *Store) accept(ev Event) {
	s.mu.Lock()
	s.log = append(s.log, ev)
	subs := make([]func(Event), len(s.subs))
	copy(subs, s.subs)
	b := s.buses[ev.Bus]
	var matched []*rule
	if b != nil {
		for _, n := range b.order {
			r := b.rules[n]
			if r.State != "DISABLED" && r.pattern != nil && r.pattern.MatchJSON(ev.JSON) {
				matched = append(matched, r)
			}
		}
	}
	s.mu.Unlock()
	for _, f := range subs {
		f(ev)
	}
	for _, r := range matched {
		for _, t := range r.Targets {
			t.RuleArn, t.RuleName = r.arn, r.Name
			input, err := transformInput(t, ev, r)
			s.mu.Lock()
			s.deliveries++
			s.mu.Unlock()
			s.cfg.Clock.Go(func() {
				defer func() {
					s.mu.Lock()
					s.deliveries--
					if s.deliveries == 0 {
						s.drained.Broadcast()
					}
					s.mu.Unlock()
				}()
				s.deliver(t, ev, input, err)
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Wire

var jsonService = &awsproto.JSONService[*Store]{
	SigV4Name: "events", Prefix: targetName, Version: jsonVersion, Namespace: namespace, Unknown: awsproto.UnknownOperation,
	Ops: map[string]awsproto.JSONHandler[*Store]{
		"PutEvents":         (*Store).opPutEvents,
		"PutRule":           (*Store).opPutRule,
		"PutTargets":        (*Store).opPutTargets,
		"RemoveTargets":     (*Store).opRemoveTargets,
		"DeleteRule":        (*Store).opDeleteRule,
		"DescribeRule":      (*Store).opDescribeRule,
		"EnableRule":        (*Store).opEnableRule,
		"DisableRule":       (*Store).opDisableRule,
		"ListRules":         (*Store).opListRules,
		"ListTargetsByRule": (*Store).opListTargetsByRule,
		"TestEventPattern":  (*Store).opTestEventPattern,
		"CreateEventBus":    (*Store).opCreateEventBus,
		"DescribeEventBus":  (*Store).opDescribeEventBus,
	},
}

func decode(body []byte, v any) *awsproto.Error {
	if err := json.Unmarshal(body, v); err != nil {
		return &awsproto.Error{Code: "SerializationException", Status: 400, Message: err.Error()}
	}
	return nil
}

type epochIn float64

func (t epochIn) time() time.Time {
	sec, frac := math.Modf(float64(t))
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func (s *Store) opPutEvents(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Entries []struct {
			Source       string   `json:"Source"`
			DetailType   string   `json:"DetailType"`
			Detail       string   `json:"Detail"`
			EventBusName string   `json:"EventBusName"`
			Resources    []string `json:"Resources"`
			Time         *epochIn `json:"Time"`
			TraceHeader  string   `json:"TraceHeader"`
		} `json:"Entries"`
		EndpointId string `json:"EndpointId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Entries) < 1 || len(in.Entries) > 10 {
		return nil, validation("1 validation error detected: Value '%d' at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1", len(in.Entries))
	}
	entries := make([]Entry, len(in.Entries))
	size := 0
	for i, e := range in.Entries {
		entries[i] = Entry{Source: e.Source, DetailType: e.DetailType, Detail: e.Detail, EventBusName: e.EventBusName, Resources: e.Resources}
		if e.Time != nil {
			t := e.Time.time()
			entries[i].Time = &t
		}
		size += entrySize(entries[i])
	}
	if size > maxRequestSize {
		return nil, validation("Total size of the entries in the request is over the limit.")
	}
	results, failed := s.putEvents(c, entries, false)
	if failed == len(entries) {
		// A caller with no permission at all is refused outright.
		allDenied := true
		for _, r := range results {
			if r.ErrorCode != "AccessDeniedException" {
				allDenied = false
			}
		}
		if allDenied {
			return nil, &awsproto.Error{Code: accessDenied, Status: 400, Message: results[0].ErrorMessage}
		}
	}
	out := make([]map[string]string, len(results))
	for i, r := range results {
		if r.ErrorCode != "" {
			out[i] = map[string]string{"ErrorCode": r.ErrorCode, "ErrorMessage": r.ErrorMessage}
		} else {
			out[i] = map[string]string{"EventId": r.EventID}
		}
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": out}, nil
}
