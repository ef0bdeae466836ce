package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// TaskRequest is one attempt of a Task state, handed to the TaskInvoker.
type TaskRequest struct {
	Resource        string          // as written in the definition
	Parameters      json.RawMessage // effective input after InputPath + Parameters
	StateName       string
	ExecutionArn    string
	StateMachineArn string
	TimeoutSeconds  int // 0 if unset
}

// TaskInvoker runs Task states. The engine does not implement service
// integrations itself: request/response envelopes are the invoker's job.
type TaskInvoker interface {
	// Invoke runs one attempt of a Task state. A task failure is returned as
	// *TaskFailure; any other error is treated as
	// TaskFailure{ErrorName: "States.TaskFailed"}. The ctx is cancelled when
	// the state's TimeoutSeconds fires or the execution is stopped.
	Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error)
}

// TaskInvokerFunc adapts a function to TaskInvoker.
type TaskInvokerFunc func(ctx context.Context, req TaskRequest) (json.RawMessage, error)

// Invoke calls f.
func (f TaskInvokerFunc) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	return f(ctx, req)
}

// Options configure one execution.
type Options struct {
	ExecutionArn, ExecutionName, StateMachineArn, StateMachineName, RoleArn string

	Input json.RawMessage // the execution input; empty means {}
	Clock clock.Clock
	Tasks TaskInvoker
	Rand  *rand.Rand // for JitterStrategy FULL, States.MathRandom and States.UUID; nil = a fixed seed

	// MaxHistoryEvents caps the history (default 25,000, the Standard
	// workflow quota). The engine ends such an execution as AWS was
	// observed to: FAILED, error "States.Runtime" (neither retried nor
	// caught) and cause "The execution reached the maximum number of
	// history events (25000)." (loads/ardere#86), with that ExecutionFailed
	// event itself numbered 25000 after the machine's 24,999th
	// (floci-io/floci#2734, from get-execution-history), so the history
	// never holds more than MaxHistoryEvents events.
	MaxHistoryEvents int

	// OnEvent, if set, is called synchronously and in order for each event
	// appended to the history. It may call the Execution's getters.
	OnEvent func(HistoryEvent)
}

// Status of an execution, as DescribeExecution reports it.
type Status string

const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// HistoryEvent is one GetExecutionHistory event.
type HistoryEvent struct {
	Timestamp       time.Time
	Type            string // AWS HistoryEventType
	ID              int64  // 1-based, sequential
	PreviousEventID int64  // the event this one follows in its own branch of control
	DetailsKey      string // AWS JSON member holding Details, e.g. "stateEnteredEventDetails"; "" for none
	Details         map[string]any
}

// Execution is one running or finished execution.
type Execution struct {
	d         *Definition
	o         Options
	clk       clock.Clock
	ctx       context.Context
	cancel    context.CancelFunc
	region    string
	startTime time.Time
	execCtx   *object
	smCtx     *object
	maxEvents int

	randMu sync.Mutex
	rnd    *rand.Rand

	slMu     sync.Mutex
	sleepers map[*engineSleeper]struct{}

	cbMu        sync.Mutex // serialises appends with OnEvent calls
	mu          sync.Mutex
	status      Status
	stopTime    time.Time
	output      json.RawMessage
	errName     string
	cause       string
	history     []HistoryEvent
	transitions int
	done        chan struct{}
}

// flow is one thread of control (the execution, a Parallel branch or a Map
// iteration): the id of its last event, for PreviousEventID, and the
// goroutine's busy token.
type flow struct {
	last int64
	tok  func()
}

type childResult struct {
	idx  int
	out  any
	err  *stateErr
	last int64
	tok  func() // a busy token taken for the waiting parent
}

// await gives up the parent's busy token while it blocks on its children,
// and adopts the token the child took for it, so the virtual clock never
// sees a gap between the child finishing and the parent resuming.
func (fl *flow) await(ch <-chan childResult) childResult {
	fl.tok()
	r := <-ch
	fl.tok = r.tok
	return r
}

// spawn runs f on a new goroutine that holds a busy token it can give up
// (clk.Go's own token lives until its function returns, so it is swapped for
// an explicit one before the hand-off ends).
func (e *Execution) spawn(fl *flow, f func()) {
	e.clk.Go(func() {
		fl.tok = e.clk.Busy()
		go func() {
			defer func() { fl.tok() }()
			f()
		}()
	})
}

type engineSleeper struct {
	ctx   context.Context
	extra func()
}

// sleepUntil is clk.SleepUntil for the engine's own goroutines. It works
// with cancel so that a sleeper whose ctx is cancelled is covered by a busy
// token from the moment of the cancel until it has woken up: otherwise the
// virtual clock could see the cloud idle in between and jump to the
// cancelled sleeper's wake-up time.
func (e *Execution) sleepUntil(ctx context.Context, t time.Time) error {
	s := &engineSleeper{ctx: ctx}
	e.slMu.Lock()
	e.sleepers[s] = struct{}{}
	e.slMu.Unlock()
	err := e.clk.SleepUntil(ctx, t)
	e.slMu.Lock()
	delete(e.sleepers, s)
	extra := s.extra
	e.slMu.Unlock()
	if extra != nil {
		extra()
	}
	return err
}

// cancelCtx calls cancel, first taking a busy token for every engine sleeper
// it wakes (see sleepUntil).
func (e *Execution) cancelCtx(cancel context.CancelFunc) {
	e.slMu.Lock()
	defer e.slMu.Unlock()
	tentative := map[*engineSleeper]func(){}
	for s := range e.sleepers {
		if s.extra == nil {
			tentative[s] = e.clk.Busy()
		}
	}
	cancel()
	for s, tok := range tentative {
		if s.ctx.Err() != nil {
			s.extra = tok
		} else {
			tok()
		}
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Start begins an execution and returns at once; the execution runs on
// goroutines started through the clock. The ExecutionStarted event is
// recorded before Start returns.
func Start(ctx context.Context, d *Definition, o Options) *Execution {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	e := &Execution{d: d, o: o, clk: o.Clock, status: StatusRunning, done: make(chan struct{}), maxEvents: o.MaxHistoryEvents, rnd: o.Rand, sleepers: map[*engineSleeper]struct{}{}}
	if e.maxEvents <= 0 {
		e.maxEvents = DefaultMaxHistoryEvents
	}
	if e.rnd == nil {
		e.rnd = rand.New(rand.NewPCG(1, 2))
	}
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.startTime = e.clk.Now()
	for _, s := range []string{o.StateMachineArn, o.ExecutionArn} {
		if a, err := arn.Parse(s); err == nil && a.Region != "" {
			e.region = a.Region
			break
		}
	}
	rawIn := o.Input
	if len(strings.TrimSpace(string(rawIn))) == 0 {
		rawIn = json.RawMessage("{}")
	}
	input, perr := decodeJSON(rawIn)
	e.execCtx = objectOf(
		"Id", o.ExecutionArn,
		"Input", input,
		"Name", o.ExecutionName,
		"RedriveCount", json.Number("0"),
		"RoleArn", o.RoleArn,
		"StartTime", fmtTime(e.startTime),
	)
	e.smCtx = objectOf("Id", o.StateMachineArn, "Name", o.StateMachineName)
	fl := &flow{}
	details := map[string]any{"input": string(rawIn), "inputDetails": map[string]any{"truncated": false}}
	if o.RoleArn != "" {
		details["roleArn"] = o.RoleArn
	}
	e.event(fl, "ExecutionStarted", "executionStartedEventDetails", details)
	if perr != nil {
		e.finish(fl, StatusFailed, "ExecutionFailed", "executionFailedEventDetails", ErrRuntime, "the execution input is not valid JSON: "+perr.Error(), nil)
		return e
	}
	if d.timeoutSeconds > 0 {
		deadline := e.startTime.Add(time.Duration(d.timeoutSeconds) * time.Second)
		e.clk.Go(func() {
			if e.sleepUntil(e.ctx, deadline) == nil {
				e.finish(nil, StatusTimedOut, "ExecutionTimedOut", "executionTimedOutEventDetails", ErrTimeout, fmt.Sprintf("The execution exceeded its TimeoutSeconds of %d", d.timeoutSeconds), nil)
			}
		})
	}
	e.spawn(fl, func() {
		out, serr := e.runMachine(e.ctx, d.top, input, fl)
		switch {
		case serr == nil:
			e.finish(fl, StatusSucceeded, "ExecutionSucceeded", "executionSucceededEventDetails", "", "", out)
		case serr.aborted:
			// Stop, timeout or the history cap already finished the execution;
			// otherwise the caller's ctx was cancelled.
			e.finish(fl, StatusAborted, "ExecutionAborted", "executionAbortedEventDetails", "", "the execution's context was cancelled", nil)
		default:
			e.finish(fl, StatusFailed, "ExecutionFailed", "executionFailedEventDetails", serr.name, serr.cause, nil)
		}
	})
	return e
}

// Status is the execution's current status.
func (e *Execution) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// StartDate is when the execution started (clock time).
func (e *Execution) StartDate() time.Time { return e.startTime }

// StopDate is when it ended (zero while RUNNING).
func (e *Execution) StopDate() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopTime
}

// Output is the execution output (nil unless SUCCEEDED).
func (e *Execution) Output() json.RawMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.output
}

// Error is the error name and cause of a FAILED, TIMED_OUT or ABORTED execution.
func (e *Execution) Error() (errName, cause string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.errName, e.cause
}

// Done is closed when the execution leaves RUNNING.
func (e *Execution) Done() <-chan struct{} { return e.done }

// Stop aborts a running execution (StopExecution): status ABORTED, an
// ExecutionAborted event, and the in-flight task's ctx is cancelled. No Catch
// runs. A task already in flight may still finish, but nothing it returns is
// recorded.
func (e *Execution) Stop(errName, cause string) {
	e.finish(nil, StatusAborted, "ExecutionAborted", "executionAbortedEventDetails", errName, cause, nil)
}
