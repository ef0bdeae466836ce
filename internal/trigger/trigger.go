// Package trigger is the TriggerFunction: it turns a "Register Cluster" or
// "Deregister Cluster" EventBridge event into a state machine execution,
// holding the per-cluster lock, or answers a bad event with a
// "Registration Rejected" event.
//
// EventBridge invokes this function asynchronously, so an error returned here
// is retried by Lambda and then lands in the on-failure queue. A bad event is
// therefore answered and the invocation succeeds; only AWS failures are
// returned as errors, typed so the failure queue and logs say which kind.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/contract"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/lock"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// SFNAPI lists the Step Functions operations the trigger uses.
type SFNAPI interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(ctx context.Context, params *sfn.StopExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// EventsAPI lists the EventBridge operations the trigger uses.
type EventsAPI interface {
	PutEvents(ctx context.Context, params *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Outcomes of one invocation.
const (
	OutcomeStarted           = "Started"
	OutcomeAlreadyInProgress = "AlreadyInProgress"
	OutcomeRejected          = "Rejected"
	// OutcomeAlreadyProcessed: a redelivered event whose execution has
	// already ended; nothing is started again.
	OutcomeAlreadyProcessed = "AlreadyProcessed"
	// OutcomeSuperseded: a retried registration event whose execution a
	// deregistration superseded before it started; it is not started.
	OutcomeSuperseded = "Superseded"
)

// Execution name prefixes (contract.ExecutionName).
const (
	RegisterPrefix   = contract.RegisterPrefix
	DeregisterPrefix = contract.DeregisterPrefix
)

// StopError is the error name a deregistration gives the registration it stops.
const StopError = "DeregistrationRequested"

// Result is the function's answer.
type Result struct {
	Outcome             string              `json:"outcome"`
	ClusterName         string              `json:"clusterName,omitempty"`
	ExecutionArn        string              `json:"executionArn,omitempty"`
	HolderArn           string              `json:"holderArn,omitempty"`
	StoppedExecutionArn string              `json:"stoppedExecutionArn,omitempty"`
	Rejection           *contract.Rejection `json:"rejection,omitempty"`
}

// Handler handles one EventBridge event.
type Handler struct {
	Settings workflow.Settings
	Locker   *lock.Locker
	SSM      lock.SSMAPI
	SFN      SFNAPI
	Events   EventsAPI
	Log      *slog.Logger
}

// NewHandler is the lambdamain.Factory of the TriggerFunction.
func NewHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	for env, arn := range map[string]string{
		"REGISTRATION_STATE_MACHINE_ARN":   s.RegistrationStateMachineArn,
		"DEREGISTRATION_STATE_MACHINE_ARN": s.DeregistrationStateMachine,
	} {
		if _, _, err := contract.ParseStateMachineArn(arn); err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
	}
	ssmClient := ssm.NewFromConfig(cfg)
	sfnClient := sfn.NewFromConfig(cfg)
	h := &Handler{
		Settings: s,
		Locker:   &lock.Locker{SSM: ssmClient, SFN: sfnClient, Params: s.Params(), Now: now},
		SSM:      ssmClient,
		SFN:      sfnClient,
		Events:   eventbridge.NewFromConfig(cfg),
		Log:      log,
	}
	return lambda.NewHandler(h.Handle), nil
}

// Handle validates the event, then starts (or declines to start) an execution.
func (h *Handler) Handle(ctx context.Context, ev events.CloudWatchEvent) (Result, error) {
	log := lambdamain.Logger(ctx, h.Log).With("eventId", ev.ID, "detailType", ev.DetailType)
	if ev.Source != h.Settings.EventSource {
		return h.reject(ctx, log, ev, "", &contract.Rejection{Field: "source", Value: ev.Source,
			Rule: fmt.Sprintf("must be %q (the EventSource template parameter)", h.Settings.EventSource)})
	}
	switch ev.DetailType {
	case contract.DetailTypeRegister:
		req, rej := contract.ParseRegister(ev.Detail, h.Settings.DefaultTimeoutMinutes)
		if rej != nil {
			return h.reject(ctx, log, ev, req.ClusterName, rej)
		}
		return h.register(ctx, log.With("cluster", req.ClusterName), ev, req)
	case contract.DetailTypeDeregister:
		req, rej := contract.ParseDeregister(ev.Detail)
		if rej != nil {
			return h.reject(ctx, log, ev, req.ClusterName, rej)
		}
		return h.deregister(ctx, log.With("cluster", req.ClusterName), ev, req)
	default:
		return h.reject(ctx, log, ev, "", &contract.Rejection{Field: "detail-type", Value: ev.DetailType,
			Rule: fmt.Sprintf("must be %q or %q", contract.DetailTypeRegister, contract.DetailTypeDeregister)})
	}
}

func (h *Handler) register(ctx context.Context, log *slog.Logger, ev events.CloudWatchEvent, req contract.RegisterRequest) (Result, error) {
	sm := h.Settings.RegistrationStateMachineArn
	name := contract.ExecutionName(RegisterPrefix, req.ClusterName, ev.ID)
	arn := ExecutionArn(sm, name)
	res, err := h.locker(ev).Acquire(ctx, req.ClusterName, arn)
	if err != nil {
		return Result{}, classify("acquiring the lock of cluster "+req.ClusterName, err)
	}
	if !res.Acquired {
		log.Info("a registration or deregistration is already in progress; not starting another",
			"holder", res.Holder, "holderStatus", res.HolderStatus)
		return Result{Outcome: OutcomeAlreadyInProgress, ClusterName: req.ClusterName, HolderArn: res.Holder}, nil
	}
	// A deregistration that took the lock over before this execution
	// started left a marker: this is a retry of a trigger it superseded,
	// arriving after that deregistration ended and freed the lock.
	by, err := lock.SupersededBy(ctx, h.SSM, h.Settings.Params(), req.ClusterName, arn)
	if err != nil {
		return Result{}, classify("reading the superseded marker of cluster "+req.ClusterName, err)
	}
	if by != "" {
		if err := lock.Release(ctx, h.SSM, h.Settings.Params(), req.ClusterName, arn); err != nil {
			return Result{}, classify("releasing the lock of cluster "+req.ClusterName, err)
		}
		log.Info("a deregistration superseded this registration before it started; not starting it", "supersededBy", by)
		return Result{Outcome: OutcomeSuperseded, ClusterName: req.ClusterName, HolderArn: by}, nil
	}
	if res.TookOver != "" {
		log.Info("took over a stale lock", "staleHolder", res.TookOver)
	}
	input := workflow.RegistrationInput{
		ClusterName:              req.ClusterName,
		Provider:                 req.Provider,
		ActivationTimeoutMinutes: req.ActivationTimeoutMinutes,
		ConsoleAccessArns:        req.ConsoleAccessArns,
		Tags:                     req.Tags,
		EventID:                  ev.ID,
		Attempt:                  1,
	}
	return h.start(ctx, log, sm, name, arn, req.ClusterName, input, "", res.AlreadyHeld)
}

func (h *Handler) deregister(ctx context.Context, log *slog.Logger, ev events.CloudWatchEvent, req contract.DeregisterRequest) (Result, error) {
	sm := h.Settings.DeregistrationStateMachine
	name := contract.ExecutionName(DeregisterPrefix, req.ClusterName, ev.ID)
	arn := ExecutionArn(sm, name)
	locker := h.locker(ev)
	cause := "Deregistration requested by event " + ev.ID
	if req.Reason != "" {
		cause += ": " + req.Reason
	}
	// A registration that takes the lock while we take it over (it judged
	// the registration we are stopping ended) is superseded in turn: a
	// deregistration is never lost to a registration.
	for range maxSupersedeRounds {
		res, err := locker.Acquire(ctx, req.ClusterName, arn)
		if err != nil {
			return Result{}, classify("acquiring the lock of cluster "+req.ClusterName, err)
		}
		if res.Acquired {
			return h.startDeregistration(ctx, log, sm, name, arn, ev, req, "", res.AlreadyHeld)
		}
		if !IsExecutionOf(h.Settings.RegistrationStateMachineArn, res.Holder) {
			log.Info("a deregistration is already in progress; not starting another",
				"holder", res.Holder, "holderStatus", res.HolderStatus)
			return Result{Outcome: OutcomeAlreadyInProgress, ClusterName: req.ClusterName, HolderArn: res.Holder}, nil
		}
		stopped, took, err := h.supersede(ctx, log, locker, req.ClusterName, res, arn, cause)
		if err != nil {
			return Result{}, err
		}
		if took {
			return h.startDeregistration(ctx, log, sm, name, arn, ev, req, stopped, false)
		}
	}
	return Result{}, classify("taking the lock of cluster "+req.ClusterName, &lock.ContentionError{Cluster: req.ClusterName})
}

// maxSupersedeRounds bounds how often a deregistration chases a lock that
// registrations keep taking; then Lambda retries the event.
const maxSupersedeRounds = 5

// supersede takes the lock over from the registration that holds it, then
// stops that registration. The lock is taken first: from then on the
// registration can no longer act (CheckCluster and RegisterCluster check
// the lock; its endings release only a lock that names it), and no other
// registration can judge it stale and take the lock in between. A
// registration that has not started yet (its trigger is between the lock
// and StartExecution, or retrying it) is marked superseded, so that a later
// retry of its trigger does not start it. stopped names the registration if
// the stop found it running: a step it had in flight may still finish, so
// the deregistration re-checks at its end. took is false when another
// execution got the lock first.
func (h *Handler) supersede(ctx context.Context, log *slog.Logger, locker *lock.Locker, cluster string, held lock.Result, arn, cause string) (stopped string, took bool, err error) {
	res, err := locker.TakeOver(ctx, cluster, held.Holder, arn)
	if err != nil {
		return "", false, classify("taking over the lock of cluster "+cluster, err)
	}
	if !res.Acquired {
		log.Info("another execution took the lock first", "holder", res.Holder)
		return "", false, nil
	}
	if held.HolderStatus == lock.StatusStarting {
		if err := lock.MarkSuperseded(ctx, h.SSM, h.Settings.Params(), cluster, held.Holder, arn); err != nil {
			return "", false, classify("marking registration "+held.Holder+" superseded", err)
		}
	}
	ran, err := h.stop(ctx, held.Holder, cause)
	if err != nil {
		return "", false, err
	}
	if !ran {
		log.Info("took the lock over from a registration that had not started", "superseded", held.Holder)
		return "", true, nil
	}
	log.Info("stopped the registration in progress", "stopped", held.Holder)
	return held.Holder, true, nil
}

// stop stops a registration execution; ran is false when it does not exist.
func (h *Handler) stop(ctx context.Context, executionArn, cause string) (ran bool, err error) {
	_, err = h.SFN.StopExecution(ctx, &sfn.StopExecutionInput{
		ExecutionArn: aws.String(executionArn),
		Error:        aws.String(StopError),
		Cause:        aws.String(cause),
	})
	switch {
	case err == nil:
		return true, nil
	case awserr.IsNotFound(err):
		return false, nil
	default:
		return false, classify("stopping registration "+executionArn, err)
	}
}

func (h *Handler) startDeregistration(ctx context.Context, log *slog.Logger, sm, name, arn string, ev events.CloudWatchEvent, req contract.DeregisterRequest, stopped string, alreadyHeld bool) (Result, error) {
	input := workflow.DeregistrationInput{
		ClusterName:         req.ClusterName,
		Reason:              req.Reason,
		EventID:             ev.ID,
		StoppedExecutionArn: stopped,
	}
	return h.start(ctx, log, sm, name, arn, req.ClusterName, input, stopped, alreadyHeld)
}

// locker is the lock for one event. The age of a lock whose holder has not
// started is measured at the event's time: EventBridge's clock, a service
// timestamp like the lock's LastModifiedDate from SSM, not this Lambda's
// clock (the project computes every deadline from service timestamps). It
// only ever makes a lock look younger (a delayed or retried event is older
// than now), so a live holder is never taken over early; a lock whose holder
// never started is recovered by the next event.
//
// An event without a time (a direct invocation, never one EventBridge
// delivers) falls back to h.Locker.Now, the function's clock. That is safe
// because the clock is only compared with the 5-minute grace: a clock that
// runs behind SSM's makes the lock look younger (the request is answered
// AlreadyInProgress and can be sent again), and one more than the grace ahead
// could take over a lock whose trigger is between PutParameter and
// StartExecution; the execution that trigger then starts changes nothing,
// because every step acts only while the lock names its execution
// (docs/statemachine.md, "An execution acts only while the lock names it").
func (h *Handler) locker(ev events.CloudWatchEvent) *lock.Locker {
	if ev.Time.IsZero() {
		return h.Locker
	}
	l := *h.Locker
	at := ev.Time
	l.Now = func() time.Time { return at }
	return &l
}

// start starts the execution whose lock the caller holds; alreadyHeld says
// the lock named it before this call (lock.Result.AlreadyHeld).
func (h *Handler) start(ctx context.Context, log *slog.Logger, sm, name, arn, cluster string, input any, stopped string, alreadyHeld bool) (Result, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return Result{}, fmt.Errorf("encoding the execution input: %w", err)
	}
	started := Result{Outcome: OutcomeStarted, ClusterName: cluster, ExecutionArn: arn, StoppedExecutionArn: stopped}
	_, err = h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(sm),
		Name:            aws.String(name),
		Input:           aws.String(string(body)),
	})
	switch {
	case err == nil:
		log.Info("started execution", "executionArn", arn)
		return started, nil
	case awserr.IsExecutionAlreadyExists(err):
		// A redelivered event: the name comes from the event id.
		if !alreadyHeld {
			// The lock was free, and an execution holds its lock until its
			// ending: this one has ended (or is publishing its outcome). The
			// lock this call took is not its to keep. No DescribeExecution:
			// its reads are eventually consistent, and may still show an
			// ended execution RUNNING, or not show a new one at all.
			if err := lock.Release(ctx, h.SSM, h.Settings.Params(), cluster, arn); err != nil {
				return Result{}, classify("releasing the lock of cluster "+cluster, err)
			}
			log.Info("event already processed; its execution has ended", "executionArn", arn)
			return Result{Outcome: OutcomeAlreadyProcessed, ClusterName: cluster, ExecutionArn: arn}, nil
		}
		// The lock names it. StartExecution is strongly consistent and
		// answers a running execution of this name and input without this
		// error; so it is running only if an earlier delivery started it
		// with another input (the stack's defaults changed in between).
		out, derr := h.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		switch {
		case awserr.IsNotFound(derr):
			return Result{}, awserr.TransientAWSError{Operation: "sfn:DescribeExecution", Code: awserr.Code(derr),
				Message: "execution " + arn + " exists, but Step Functions' reads do not show it yet: " + awserr.Message(derr), Err: derr}
		case derr != nil:
			return Result{}, classify("describing execution "+arn, derr)
		case out.Status == sfntypes.ExecutionStatusRunning && aws.ToString(out.Input) != string(body):
			log.Info("execution already started by an earlier delivery of this event", "executionArn", arn)
			return started, nil
		}
		// It ended without releasing its lock (a RUNNING read with our own
		// input is stale). The lock is left as it is: its RegistrationEnded
		// cleanup, which announces the ending while the lock still names it,
		// or the stale-lock takeover frees it.
		log.Info("event already processed; its execution has ended", "executionArn", arn, "status", string(out.Status))
		return Result{Outcome: OutcomeAlreadyProcessed, ClusterName: cluster, ExecutionArn: arn}, nil
	case awserr.IsTransient(err):
		// Keep the lock: the retry uses the same execution name and ARN.
		return Result{}, awserr.Step("sfn:StartExecution "+arn, err)
	default:
		// Nothing will start under this lock; free the cluster now rather
		// than after the grace period.
		if rerr := lock.Release(ctx, h.SSM, h.Settings.Params(), cluster, arn); rerr != nil {
			log.Warn("releasing the lock after a failed start", "error", rerr.Error())
		}
		return Result{}, awserr.Step("sfn:StartExecution "+arn, err)
	}
}

// rejectedDetail is the detail of a "Registration Rejected" event.
type rejectedDetail struct {
	ClusterName string `json:"clusterName,omitempty"`
	DetailType  string `json:"detailType,omitempty"`
	Field       string `json:"field"`
	Value       string `json:"value"`
	Rule        string `json:"rule"`
	Message     string `json:"message"`
	EventID     string `json:"eventId"`
}

func (h *Handler) reject(ctx context.Context, log *slog.Logger, ev events.CloudWatchEvent, cluster string, rej *contract.Rejection) (Result, error) {
	if cluster == "" {
		cluster = rawClusterName(ev.Detail)
	}
	log.Warn("event rejected", "cluster", cluster, "field", rej.Field, "rule", rej.Rule)
	detail, err := json.Marshal(rejectedDetail{
		ClusterName: cluster, DetailType: ev.DetailType,
		Field: rej.Field, Value: rej.Value, Rule: rej.Rule, Message: rej.Message(), EventID: ev.ID,
	})
	if err != nil {
		return Result{}, fmt.Errorf("encoding the rejection: %w", err)
	}
	out, err := h.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(h.Settings.EventBusName),
		Source:       aws.String(h.Settings.EventSource),
		DetailType:   aws.String(contract.DetailTypeRejected),
		Detail:       aws.String(string(detail)),
	}}})
	if err != nil {
		return Result{}, classify("publishing "+contract.DetailTypeRejected, err)
	}
	if out.FailedEntryCount > 0 {
		e := awserr.EventNotPublished{DetailType: contract.DetailTypeRejected}
		if len(out.Entries) > 0 {
			e.Code, e.Message = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return Result{}, e
	}
	return Result{Outcome: OutcomeRejected, ClusterName: cluster, Rejection: rej}, nil
}

// rawClusterName is the clusterName of a rejected detail, if it has a string one.
func rawClusterName(detail json.RawMessage) string {
	var d struct {
		ClusterName any `json:"clusterName"`
	}
	if json.Unmarshal(detail, &d) != nil {
		return ""
	}
	s, _ := d.ClusterName.(string)
	if len(s) > contract.MaxClusterNameLength*2 {
		s = s[:contract.MaxClusterNameLength*2]
	}
	return s
}

// classify turns a failure into the function's typed error: lock contention
// is transient (Lambda retries the event); anything else is classified by
// awserr, the one classifier (TransientAWSError or AWSCallFailed).
func classify(op string, err error) error {
	var ce *lock.ContentionError
	if errors.As(err, &ce) {
		return awserr.TransientAWSError{Operation: op, Message: err.Error(), Err: err}
	}
	return awserr.Step(op, err)
}

// ExecutionArn is the ARN the execution called name of stateMachineArn has:
// arn:<p>:states:<r>:<a>:stateMachine:<sm> → arn:<p>:states:<r>:<a>:execution:<sm>:<name>.
func ExecutionArn(stateMachineArn, name string) string {
	return contract.ExecutionArn(stateMachineArn, name)
}

// IsExecutionOf reports whether executionArn is an execution of stateMachineArn.
func IsExecutionOf(stateMachineArn, executionArn string) bool {
	return contract.IsExecutionOf(stateMachineArn, executionArn)
}
