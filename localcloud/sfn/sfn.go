// Package sfn emulates the AWS Step Functions API (JSON 1.0) on the local ASL
// engine, with the service integrations the project's definitions use.
package sfn

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/platform/eks-connector-registrar/localcloud/asl"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Config configures the Step Functions emulation.
type Config struct {
	Region, Account string
	Clock           clock.Clock
	// ClientConfig returns an aws.Config signed as the state machine's role,
	// pointing at the local cloud: task integrations call the other services
	// with it, so the role's permissions are enforced as on AWS.
	ClientConfig func(stateMachineArn string) aws.Config
	Seed         uint64
	// StatusChanged, when set, is told each time an execution ends, as Step
	// Functions emits "Step Functions Execution Status Change" to EventBridge.
	StatusChanged func(ex *Execution, detail map[string]any)
	// ReadLag models what AWS documents for DescribeExecution and
	// ListExecutions: "eventually consistent. The results are best effort and
	// may not reflect very recent updates and changes." Both answer from the
	// execution as it was ReadLag ago (clock time): for ReadLag after
	// StartExecution the execution does not exist (ExecutionDoesNotExist,
	// left out of the list), and for ReadLag after it ends it is still
	// RUNNING, without stopDate, output, error or cause. Zero (the default)
	// answers from live state. Everything else stays strongly consistent, as
	// on AWS: StartExecution's name and idempotency rules, StopExecution,
	// GetExecutionHistory, the status-change events and the Store's Go API.
	ReadLag time.Duration
}

// StateMachine is a created state machine.
type StateMachine struct {
	Name, Arn, RoleArn, Type string
	Definition               string
	parsed                   *asl.Definition
	Created                  time.Time
}

// Execution is one run.
type Execution struct {
	Arn, Name, StateMachineArn string
	Input                      string
	run                        *asl.Execution
	// ready is closed once run is set: the execution is visible (its name
	// reserved) a moment before the engine starts.
	ready chan struct{}
}

// Status reports the engine's status.
func (e *Execution) Status() string { return string(e.Engine().Status()) }

// Engine returns the engine execution (history, transitions).
func (e *Execution) Engine() *asl.Execution {
	<-e.ready
	return e.run
}

// Store holds state machines and executions.
type Store struct {
	cfg      Config
	mu       sync.Mutex
	machines map[string]*StateMachine
	execs    map[string]*Execution
	order    []*Execution
	rng      *rand.Rand
	onEvent  []func(exec *Execution, ev asl.HistoryEvent)
}

// Service serves the Step Functions wire API (JSON 1.0) from a Store.
type Service struct{ awsproto.JSONServer[*Store] }

// New builds the Step Functions emulation.
func New(cfg Config) (*Store, *Service) {
	s := &Store{cfg: cfg, machines: map[string]*StateMachine{}, execs: map[string]*Execution{},
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1))}
	return s, &Service{awsproto.JSONServer[*Store]{API: jsonService, Store: s}}
}

// OnEvent registers a callback for every history event of every execution
// (the timeline of `make run`).
func (s *Store) OnEvent(f func(exec *Execution, ev asl.HistoryEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEvent = append(s.onEvent, f)
}

// validName applies AWS's rule for state machine and execution names: 1–80
// characters, none of them whitespace, brackets < > { } [ ], wildcards ? *,
// the special characters " # % \ ^ | ~ ` $ & , ; : /, control characters
// (U+0000–001F, U+007F–009F, U+FFFE–FFFF, as the API model lists them), or
// surrogates (invalid UTF-8 here). The 0-9A-Za-z-_ set is only AWS's
// recommendation for CloudWatch Logs; a name such as "run.1" is accepted.
func validName(name string) bool {
	if !utf8.ValidString(name) {
		return false
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > 80 {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || r <= 0x1f || (r >= 0x7f && r <= 0x9f) || r == 0xfffe || r == 0xffff || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return false
		}
	}
	return true
}

// CreateStateMachine validates and stores a definition.
func (s *Store) CreateStateMachine(name, definition, roleArn string) (*StateMachine, *awsproto.Error) {
	if !validName(name) {
		return nil, awsproto.Errorf(400, "InvalidName", "Invalid Name: '%s'", name)
	}
	if roleArn == "" {
		return nil, awsproto.Errorf(400, "InvalidArn", "Invalid Arn: 'Resource type not valid in this context: role'")
	}
	def, err := asl.Parse([]byte(definition))
	if err != nil {
		return nil, awsproto.Errorf(400, "InvalidDefinition", "Invalid State Machine Definition: '%s'", err.Error())
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", s.cfg.Region, s.cfg.Account, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.machines[arn]; ok {
		// AWS's idempotency check compares the name, definition and type
		// (and logging, tracing, encryption, publish settings the local cloud
		// does not model); a different roleArn is ignored and not updated.
		if old.Definition == definition {
			return old, nil
		}
		return nil, awsproto.Errorf(400, "StateMachineAlreadyExists", "State Machine Already Exists: '%s'", arn)
	}
	sm := &StateMachine{Name: name, Arn: arn, RoleArn: roleArn, Type: "STANDARD", Definition: definition, parsed: def, Created: s.cfg.Clock.Now()}
	s.machines[arn] = sm
	return sm, nil
}

// Execution looks up an execution by ARN.
func (s *Store) Execution(arn string) (*Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[arn]
	return e, ok
}

// Executions lists every execution, oldest first.
func (s *Store) Executions() []*Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Execution(nil), s.order...)
}

// StartExecution starts (or, for the same name and input while running,
// returns) an execution.
func (s *Store) StartExecution(smArn, name, input string) (*Execution, *awsproto.Error) {
	s.mu.Lock()
	sm, ok := s.machines[smArn]
	if !ok {
		s.mu.Unlock()
		return nil, awsproto.Errorf(400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", smArn)
	}
	if name == "" {
		name = awsproto.NewRequestID()
	}
	if !validName(name) {
		s.mu.Unlock()
		return nil, awsproto.Errorf(400, "InvalidName", "Invalid Name: '%s'", name)
	}
	if input == "" {
		input = "{}"
	}
	if len(input) > 262144 {
		s.mu.Unlock()
		return nil, awsproto.Errorf(400, "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Input exceeds the maximum size of 262144 bytes'")
	}
	if !json.Valid([]byte(input)) {
		s.mu.Unlock()
		return nil, awsproto.Errorf(400, "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid JSON'")
	}
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", s.cfg.Region, s.cfg.Account, sm.Name, name)
	if old, ok := s.execs[arn]; ok {
		s.mu.Unlock()
		// Same name and same input while the first is still running is
		// idempotent; anything else is ExecutionAlreadyExists.
		if old.Input == input && old.Engine().Status() == asl.Status("RUNNING") {
			return old, nil
		}
		return nil, awsproto.Errorf(400, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	ex := &Execution{Arn: arn, Name: name, StateMachineArn: smArn, Input: input, ready: make(chan struct{})}
	s.execs[arn] = ex
	s.order = append(s.order, ex)
	listeners := append([]func(*Execution, asl.HistoryEvent){}, s.onEvent...)
	seed := s.rng.Uint64()
	s.mu.Unlock()

	ex.run = asl.Start(context.Background(), sm.parsed, asl.Options{
		ExecutionArn: arn, ExecutionName: name, StateMachineArn: smArn, StateMachineName: sm.Name, RoleArn: sm.RoleArn,
		Input: json.RawMessage(input), Clock: s.cfg.Clock,
		Tasks: &invoker{store: s, sm: sm, exec: ex},
		Rand:  rand.New(rand.NewPCG(seed, seed^1)),
		OnEvent: func(ev asl.HistoryEvent) {
			for _, f := range listeners {
				f(ex, ev)
			}
			if status, ok := terminalStatus[ev.Type]; ok && s.cfg.StatusChanged != nil {
				s.cfg.StatusChanged(ex, statusChangeDetail(ex, status, ev))
			}
		},
	})
	close(ex.ready)
	return ex, nil
}

// ---------------------------------------------------------------------------
// HTTP

var jsonService = &awsproto.JSONService[*Store]{
	SigV4Name: "states", Prefix: "AWSStepFunctions", Version: "1.0", Namespace: "com.amazonaws.sfn",
	Unknown: func(target string) *awsproto.Error {
		op := target[strings.LastIndex(target, ".")+1:]
		return awsproto.Errorf(400, "UnknownOperationException", "the local cloud does not serve Step Functions %s", op)
	},
	Ops: map[string]awsproto.JSONHandler[*Store]{
		"CreateStateMachine":   (*Store).opCreateStateMachine,
		"DescribeStateMachine": (*Store).opDescribeStateMachine,
		"ListStateMachines":    (*Store).opListStateMachines,
		"StartExecution":       (*Store).opStartExecution,
		"DescribeExecution":    (*Store).opDescribeExecution,
		"StopExecution":        (*Store).opStopExecution,
		"GetExecutionHistory":  (*Store).opGetExecutionHistory,
		"ListExecutions":       (*Store).opListExecutions,
	},
}

func decode(body []byte, v any) *awsproto.Error {
	if err := json.Unmarshal(body, v); err != nil {
		return awsproto.Errorf(400, "SerializationException", "could not decode the request body")
	}
	return nil
}

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

func noSuchMachine(arn string) *awsproto.Error {
	return awsproto.Errorf(400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", arn)
}

func (s *Store) opCreateStateMachine(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct{ Name, Definition, RoleArn string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := c.Authorize("AccessDeniedException", "states:CreateStateMachine", c.ARN("states", "stateMachine:"+in.Name), nil); e != nil {
		return nil, e
	}
	sm, e := s.CreateStateMachine(in.Name, in.Definition, in.RoleArn)
	if e != nil {
		return nil, e
	}
	return map[string]any{"stateMachineArn": sm.Arn, "creationDate": epoch(sm.Created)}, nil
}

func (s *Store) opDescribeStateMachine(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct{ StateMachineArn string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := c.Authorize("AccessDeniedException", "states:DescribeStateMachine", in.StateMachineArn, nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	sm, ok := s.machines[in.StateMachineArn]
	s.mu.Unlock()
	if !ok {
		return nil, noSuchMachine(in.StateMachineArn)
	}
	return map[string]any{"stateMachineArn": sm.Arn, "name": sm.Name, "status": "ACTIVE",
		"definition": sm.Definition, "roleArn": sm.RoleArn, "type": sm.Type, "creationDate": epoch(sm.Created)}, nil
}

func (s *Store) opListStateMachines(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	if e := decode(body, &struct{}{}); e != nil {
		return nil, e
	}
	if e := c.Authorize("AccessDeniedException", "states:ListStateMachines", "*", nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	list := []map[string]any{} // [] when there are none, as AWS sends it
	for _, sm := range s.machines {
		list = append(list, map[string]any{"stateMachineArn": sm.Arn, "name": sm.Name, "type": sm.Type, "creationDate": epoch(sm.Created)})
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i]["name"].(string) < list[j]["name"].(string) })
	return map[string]any{"stateMachines": list}, nil
}

func (s *Store) opStartExecution(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct{ StateMachineArn, Name, Input string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := c.Authorize("AccessDeniedException", "states:StartExecution", in.StateMachineArn, nil); e != nil {
		return nil, e
	}
	ex, e := s.StartExecution(in.StateMachineArn, in.Name, in.Input)
	if e != nil {
		return nil, e
	}
	return map[string]any{"executionArn": ex.Arn, "startDate": epoch(ex.Engine().StartDate())}, nil
}

// executionCall decodes a call on one execution (ExecutionArn and what op
// reads besides into in), authorizes it and looks the execution up.
func (s *Store) executionCall(c *awsproto.Call, op string, body []byte, in interface{ arn() string }) (*Execution, *awsproto.Error) {
	if e := decode(body, in); e != nil {
		return nil, e
	}
	arn := in.arn()
	if e := c.Authorize("AccessDeniedException", "states:"+op, arn, nil); e != nil {
		return nil, e
	}
	ex, ok := s.Execution(arn)
	if !ok {
		return nil, noSuchExecution(arn)
	}
	return ex, nil
}

func noSuchExecution(arn string) *awsproto.Error {
	return awsproto.Errorf(400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
}

type executionInput struct{ ExecutionArn string }

func (in *executionInput) arn() string { return in.ExecutionArn }

func (s *Store) opDescribeExecution(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in executionInput
	ex, e := s.executionCall(c, "DescribeExecution", body, &in)
	if e != nil {
		return nil, e
	}
	view, ok := s.read(ex)
	if !ok {
		return nil, noSuchExecution(in.ExecutionArn)
	}
	return describe(ex, view), nil
}

func (s *Store) opStopExecution(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		executionInput
		Error, Cause string
	}
	ex, e := s.executionCall(c, "StopExecution", body, &in)
	if e != nil {
		return nil, e
	}
	if ex.Engine().Status() == asl.Status("RUNNING") {
		ex.Engine().Stop(in.Error, in.Cause)
	}
	return map[string]any{"stopDate": epoch(ex.Engine().StopDate())}, nil
}

// page is the paging members of a List or Get…History call.
type page struct {
	MaxResults int
	NextToken  string
}

func (s *Store) opListExecutions(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		StateMachineArn, StatusFilter string
		page
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	arn := in.StateMachineArn
	if e := c.Authorize("AccessDeniedException", "states:ListExecutions", arn, nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	_, known := s.machines[arn]
	s.mu.Unlock()
	if !known {
		return nil, noSuchMachine(arn)
	}
	filter := in.StatusFilter
	switch filter {
	case "", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE":
	default:
		return nil, awsproto.Errorf(400, "ValidationException", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]", filter)
	}
	var list []map[string]any
	all := s.Executions()
	for i := len(all) - 1; i >= 0; i-- { // newest first, as AWS lists them
		ex := all[i]
		if ex.StateMachineArn != arn {
			continue
		}
		view, visible := s.read(ex)
		if !visible || (filter != "" && view.status != filter) {
			continue
		}
		item := map[string]any{"executionArn": ex.Arn, "stateMachineArn": ex.StateMachineArn, "name": ex.Name,
			"status": view.status, "startDate": epoch(view.start)}
		if !view.stop.IsZero() {
			item["stopDate"] = epoch(view.stop)
		}
		list = append(list, item)
	}
	return paged("executions", list, in.page)
}

// snapshot is an execution as DescribeExecution and ListExecutions report it.
type snapshot struct {
	status         string
	start, stop    time.Time
	output         []byte
	errName, cause string
}

// read is the execution as the eventually consistent reads see it now:
// as it was Config.ReadLag ago. visible is false while it had not started
// then.
func (s *Store) read(ex *Execution) (view snapshot, visible bool) {
	run := ex.Engine()
	view = snapshot{status: string(asl.StatusRunning), start: run.StartDate()}
	// The stop date first: once it is set, the status, output and error are
	// final (the engine sets them together), so the snapshot is consistent.
	stop := run.StopDate()
	if lag := s.cfg.ReadLag; lag > 0 {
		now := s.cfg.Clock.Now()
		if now.Before(view.start.Add(lag)) {
			return snapshot{}, false
		}
		if !stop.IsZero() && now.Before(stop.Add(lag)) {
			return view, true // its ending is not visible yet
		}
	}
	if stop.IsZero() {
		return view, true
	}
	view.status, view.stop = string(run.Status()), stop
	view.output = run.Output()
	view.errName, view.cause = run.Error()
	return view, true
}

func describe(ex *Execution, view snapshot) map[string]any {
	out := map[string]any{
		"executionArn": ex.Arn, "stateMachineArn": ex.StateMachineArn, "name": ex.Name,
		"status": view.status, "startDate": epoch(view.start),
		"input": ex.Input, "inputDetails": map[string]any{"included": true},
	}
	if !view.stop.IsZero() {
		out["stopDate"] = epoch(view.stop)
	}
	if view.status == "SUCCEEDED" {
		out["output"] = string(view.output)
		out["outputDetails"] = map[string]any{"included": true}
	}
	if view.errName != "" || view.cause != "" {
		out["error"] = view.errName
		out["cause"] = view.cause
	}
	return out
}

// paged answers one page of items under key, with nextToken when more follow.
func paged[T any](key string, items []T, in page) (any, *awsproto.Error) {
	max := 100
	if in.MaxResults > 0 {
		if in.MaxResults > 1000 {
			return nil, awsproto.Errorf(400, "ValidationException", "1 validation error detected: Value '%v' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
		}
		max = in.MaxResults
	}
	start := 0
	if tok := in.NextToken; tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(items) {
			return nil, awsproto.Errorf(400, "InvalidToken", "Invalid Token: '%s'", tok)
		}
		start = n
	}
	end := min(start+max, len(items))
	// A page is a list even when empty: AWS sends [], never null (the
	// members are required).
	out := map[string]any{key: append(make([]T, 0, end-start), items[start:end]...)}
	if end < len(items) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Store) opGetExecutionHistory(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	in := struct {
		executionInput
		ReverseOrder         bool
		IncludeExecutionData *bool
		page
	}{}
	ex, e := s.executionCall(c, "GetExecutionHistory", body, &in)
	if e != nil {
		return nil, e
	}
	events := ex.Engine().History()
	if in.ReverseOrder {
		slices.Reverse(events)
	}
	includeData := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	var list []map[string]any
	for _, ev := range events {
		m := map[string]any{"timestamp": epoch(ev.Timestamp), "type": ev.Type, "id": ev.ID, "previousEventId": ev.PreviousEventID}
		if ev.DetailsKey != "" {
			d := ev.Details
			if !includeData {
				d = map[string]any{}
				for k, v := range ev.Details {
					if k != "input" && k != "output" && k != "parameters" {
						d[k] = v
					}
				}
			}
			m[ev.DetailsKey] = d
		}
		list = append(list, m)
	}
	return paged("events", list, in.page)
}

var terminalStatus = map[string]string{
	"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED",
	"ExecutionAborted": "ABORTED", "ExecutionTimedOut": "TIMED_OUT",
}

// statusChangeDetail is the detail of a "Step Functions Execution Status
// Change" event (epoch milliseconds, input and output as JSON strings), built
// from the execution's terminal history event.
func statusChangeDetail(ex *Execution, status string, ev asl.HistoryEvent) map[string]any {
	d := map[string]any{
		"executionArn": ex.Arn, "stateMachineArn": ex.StateMachineArn, "name": ex.Name, "status": status,
		"stopDate": ev.Timestamp.UnixMilli(), "input": ex.Input, "output": nil, "error": nil, "cause": nil,
	}
	for _, k := range []string{"output", "error", "cause"} {
		if v, ok := ev.Details[k]; ok {
			d[k] = v
		}
	}
	return d
}
