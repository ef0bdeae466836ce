package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

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
	for _, arn := range []string{o.StateMachineArn, o.ExecutionArn} {
		if parts := strings.Split(arn, ":"); len(parts) > 3 && parts[3] != "" {
			e.region = parts[3]
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

// History returns a copy of the events so far.
func (e *Execution) History() []HistoryEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]HistoryEvent(nil), e.history...)
}

// StateTransitions is the number of billed state transitions. Following
// the Step Functions pricing rule ("each step of your workflow, including
// retries"), it counts every state entered, plus one for every retry attempt.
func (e *Execution) StateTransitions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.transitions
}

func (e *Execution) countTransition() {
	e.mu.Lock()
	e.transitions++
	e.mu.Unlock()
}

func (e *Execution) withRand(f func(r *rand.Rand)) {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	f(e.rnd)
}

func (e *Execution) newEventLocked(fl *flow, typ, key string, details map[string]any) HistoryEvent {
	id := int64(len(e.history)) + 1
	prev := id - 1
	if fl != nil {
		prev = fl.last
		fl.last = id
	}
	if len(details) == 0 {
		key, details = "", nil
	}
	ev := HistoryEvent{Timestamp: e.clk.Now(), Type: typ, ID: id, PreviousEventID: prev, DetailsKey: key, Details: details}
	e.history = append(e.history, ev)
	return ev
}

// event appends a non-terminal event. It returns false if the execution is
// no longer running; reaching the history cap fails the execution.
func (e *Execution) event(fl *flow, typ, key string, details map[string]any) bool {
	e.cbMu.Lock()
	defer e.cbMu.Unlock()
	e.mu.Lock()
	if e.status != StatusRunning {
		e.mu.Unlock()
		return false
	}
	if len(e.history)+1 >= e.maxEvents {
		cause := fmt.Sprintf("The execution reached the maximum number of history events (%d).", e.maxEvents)
		ev := e.newEventLocked(fl, "ExecutionFailed", "executionFailedEventDetails", map[string]any{"error": ErrRuntime, "cause": cause})
		e.endLocked(StatusFailed, ErrRuntime, cause, nil)
		e.mu.Unlock()
		e.cancelCtx(e.cancel)
		e.notify(ev)
		close(e.done)
		return false
	}
	ev := e.newEventLocked(fl, typ, key, details)
	e.mu.Unlock()
	e.notify(ev)
	return true
}

func (e *Execution) notify(ev HistoryEvent) {
	if e.o.OnEvent != nil {
		e.o.OnEvent(ev)
	}
}

// endLocked records the ending; the caller closes done once it has told
// OnEvent, so that whoever waits on Done sees what the ending caused (the
// status-change event, for the local cloud).
func (e *Execution) endLocked(st Status, errName, cause string, out json.RawMessage) {
	e.status = st
	e.stopTime = e.clk.Now()
	e.errName, e.cause = errName, cause
	e.output = out
}

// finish ends the execution once; later calls do nothing.
func (e *Execution) finish(fl *flow, st Status, typ, key, errName, cause string, out any) {
	e.cbMu.Lock()
	defer e.cbMu.Unlock()
	e.mu.Lock()
	if e.status != StatusRunning {
		e.mu.Unlock()
		return
	}
	details := map[string]any{}
	var raw json.RawMessage
	if st == StatusSucceeded {
		raw = encodeJSON(out)
		details["output"] = string(raw)
		details["outputDetails"] = map[string]any{"truncated": false}
	} else {
		if errName != "" {
			details["error"] = errName
		}
		if cause != "" {
			details["cause"] = cause
		}
	}
	ev := e.newEventLocked(fl, typ, key, details)
	e.endLocked(st, errName, cause, raw)
	e.mu.Unlock()
	e.cancelCtx(e.cancel)
	e.notify(ev)
	close(e.done)
}

// contextObj is the context object ($$) of a state: its keys in sorted
// order (AWS's order is not known; assumption, unverified).
func (e *Execution) contextObj(st *state, entered time.Time, retry int, item *object) *object {
	c := objectOf("Execution", e.execCtx)
	if item != nil {
		c.set("Map", objectOf("Item", item))
	}
	c.set("State", objectOf(
		"EnteredTime", fmtTime(entered),
		"Name", st.name,
		"RetryCount", intNum(int64(retry)),
	))
	c.set("StateMachine", e.smCtx)
	return c
}

func (e *Execution) env(input any, ctxObj *object) *ienv {
	return &ienv{input: input, ctx: ctxObj, rand: e.withRand}
}

// ---- input and output processing ----

func bracketPath(p *jpath) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			b.WriteString("['" + s.name + "']")
		case segIndex:
			fmt.Fprintf(&b, "[%d]", s.index)
		case segWildcard:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

func selectPath(field string, po pathOpt, v any) (any, *stateErr) {
	if po.null {
		return newObject(0), nil
	}
	if po.p == nil {
		return v, nil
	}
	r, ok := po.p.get(v)
	if !ok {
		return nil, runtimeErr("Invalid path '%s' : No results for path: %s (%s)", po.p.raw, bracketPath(po.p), field)
	}
	return r, nil
}

func applyResultPath(po pathOpt, raw, result any) (any, *stateErr) {
	if po.null {
		return raw, nil
	}
	if po.p == nil {
		return result, nil
	}
	out, err := po.p.set(raw, result)
	if err != nil {
		return nil, failf(ErrResultPathMatch, "%v; input: %s", err, jsonText(raw))
	}
	return out, nil
}

func checkSize(what string, v any) *stateErr {
	if n := len(encodeJSON(v)); n > MaxPayloadBytes {
		return failf(ErrDataLimitExceeded, "The %s has a size of %d bytes, which exceeds the maximum of %d bytes.", what, n, MaxPayloadBytes)
	}
	return nil
}

// ---- running states ----

func (e *Execution) runMachine(ctx context.Context, m *machine, input any, fl *flow) (any, *stateErr) {
	name := m.startAt
	for {
		if ctx.Err() != nil {
			return nil, errAborted
		}
		st := m.states[name]
		out, next, serr := e.runState(ctx, st, input, fl)
		if serr != nil {
			if ctx.Err() != nil {
				return nil, errAborted
			}
			return nil, serr
		}
		if next == "" {
			return out, nil
		}
		input, name = out, next
	}
}

func entered(typ string) string {
	if typ == "Fail" {
		return "FailStateEntered"
	}
	return typ + "StateEntered"
}

func (e *Execution) runState(ctx context.Context, st *state, raw any, fl *flow) (any, string, *stateErr) {
	enteredAt := e.clk.Now()
	e.countTransition()
	e.event(fl, entered(st.typ), "stateEnteredEventDetails", map[string]any{"name": st.name, "input": jsonText(raw), "inputDetails": map[string]any{"truncated": false}})
	if ctx.Err() != nil {
		return nil, "", errAborted
	}
	exit := func(out any, next string) (any, string, *stateErr) {
		if err := checkSize("state/task '"+st.name+"' output", out); err != nil {
			return nil, "", err
		}
		e.event(fl, st.typ+"StateExited", "stateExitedEventDetails", map[string]any{"name": st.name, "output": jsonText(out), "outputDetails": map[string]any{"truncated": false}})
		return out, next, nil
	}
	switch st.typ {
	case "Pass":
		eff, err := selectPath("InputPath", st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		res := eff
		if st.parameters != nil {
			if res, err = st.parameters.eval(e.env(eff, e.contextObj(st, enteredAt, 0, nil))); err != nil {
				return nil, "", err
			}
		}
		if st.hasResult {
			res = st.result
		}
		out, err := applyResultPath(st.resultPath, raw, res)
		if err != nil {
			return nil, "", err
		}
		if out, err = selectPath("OutputPath", st.outputPath, out); err != nil {
			return nil, "", err
		}
		return exit(out, st.next)
	case "Succeed":
		eff, err := selectPath("InputPath", st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		out, err := selectPath("OutputPath", st.outputPath, eff)
		if err != nil {
			return nil, "", err
		}
		return exit(out, "")
	case "Fail":
		errName, cause := st.errName, st.cause
		ctxObj := e.contextObj(st, enteredAt, 0, nil)
		for _, x := range []struct {
			p   *jpath
			fn  *intrinsic
			dst *string
			fld string
		}{{st.errorPath, st.errorFn, &errName, "ErrorPath"}, {st.causePth, st.causeFn, &cause, "CausePath"}} {
			var v any
			switch {
			case x.fn != nil:
				var err *stateErr
				if v, err = x.fn.eval(e.env(raw, ctxObj)); err != nil {
					return nil, "", err
				}
			case x.p != nil:
				src := raw
				if x.p.context {
					src = ctxObj
				}
				var ok bool
				if v, ok = x.p.get(src); !ok {
					return nil, "", runtimeErr("Invalid path '%s' : No results for path: %s (%s)", x.p.raw, bracketPath(x.p), x.fld)
				}
			default:
				continue
			}
			s, ok := v.(string)
			if !ok {
				return nil, "", runtimeErr("The %s of state '%s' must resolve to a string, got %s", x.fld, st.name, jsonText(v))
			}
			*x.dst = s
		}
		return nil, "", &stateErr{name: errName, cause: cause}
	case "Choice":
		eff, err := selectPath("InputPath", st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		ctxObj := e.contextObj(st, enteredAt, 0, nil)
		next := st.def
		for _, c := range st.choices {
			ok, err := c.eval(eff, ctxObj)
			if err != nil {
				return nil, "", err
			}
			if ok {
				next = c.next
				break
			}
		}
		if next == "" {
			return nil, "", failf(ErrNoChoiceMatched, "No Matches! (state '%s')", st.name)
		}
		out, err := selectPath("OutputPath", st.outputPath, eff)
		if err != nil {
			return nil, "", err
		}
		return exit(out, next)
	case "Wait":
		eff, err := selectPath("InputPath", st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		var until time.Time
		switch {
		case st.seconds != nil:
			until = enteredAt.Add(time.Duration(*st.seconds) * time.Second)
		case st.timestamp != nil:
			until = *st.timestamp
		case st.secondsPath != nil:
			v, ok := st.secondsPath.get(eff)
			n, isInt := toInt(v)
			if !ok || !isInt || n < 0 {
				return nil, "", runtimeErr("The SecondsPath parameter '%s' of state '%s' does not reference a non-negative integer in the input %s", st.secondsPath.raw, st.name, jsonText(eff))
			}
			until = enteredAt.Add(time.Duration(n) * time.Second)
		case st.timestampPath != nil:
			v, ok := st.timestampPath.get(eff)
			s, _ := v.(string)
			t, isTS := parseTimestamp(s)
			if !ok || !isTS {
				return nil, "", runtimeErr("The TimestampPath parameter '%s' of state '%s' does not reference a valid ISO-8601 timestamp in the input %s", st.timestampPath.raw, st.name, jsonText(eff))
			}
			until = t
		}
		if err := e.sleepUntil(ctx, until); err != nil {
			return nil, "", errAborted
		}
		out, serr := selectPath("OutputPath", st.outputPath, eff)
		if serr != nil {
			return nil, "", serr
		}
		return exit(out, st.next)
	case "Task", "Parallel", "Map":
		return e.runWithRetry(ctx, st, raw, enteredAt, fl, exit)
	}
	return nil, "", runtimeErr("unknown state type %q", st.typ)
}

// runWithRetry runs a Task, Parallel or Map state: input processing, the
// attempt, result processing, with Retry and Catch around it.
func (e *Execution) runWithRetry(ctx context.Context, st *state, raw any, enteredAt time.Time, fl *flow, exit func(any, string) (any, string, *stateErr)) (any, string, *stateErr) {
	counts := make([]int64, len(st.retry))
	retryCount := 0
	for {
		out, serr := e.attempt(ctx, st, raw, enteredAt, retryCount, fl)
		if serr == nil {
			if out, next, err := exit(out, st.next); err == nil {
				return out, next, nil
			} else {
				serr = err
			}
		}
		if ctx.Err() != nil {
			return nil, "", errAborted
		}
		if serr.terminal() {
			return nil, "", serr
		}
		idx := -1
		for i, r := range st.retry {
			if errorMatches(r.errorEquals, serr.name) {
				idx = i
				break
			}
		}
		if idx >= 0 && counts[idx] < st.retry[idx].maxAttempts {
			r := st.retry[idx]
			delay := r.interval * math.Pow(r.backoff, float64(counts[idx]))
			if r.maxDelay > 0 && delay > r.maxDelay {
				delay = r.maxDelay
			}
			if r.jitterFull {
				e.withRand(func(rr *rand.Rand) { delay *= rr.Float64() })
			}
			counts[idx]++
			d := time.Duration(math.Min(delay*float64(time.Second), float64(math.MaxInt64/2)))
			if err := e.sleepUntil(ctx, e.clk.Now().Add(d)); err != nil {
				return nil, "", errAborted
			}
			retryCount++
			e.countTransition()
			continue
		}
		for _, c := range st.catch {
			if !errorMatches(c.errorEquals, serr.name) {
				continue
			}
			errOut := objectOf("Error", serr.name)
			if serr.cause != "" {
				errOut.set("Cause", serr.cause)
			}
			out, err := applyResultPath(c.resultPath, raw, errOut)
			if err != nil {
				return nil, "", runtimeErr("%s (while applying the ResultPath of the Catcher of state '%s')", err.cause, st.name)
			}
			if err := checkSize("state '"+st.name+"' output", out); err != nil {
				return nil, "", err
			}
			return out, c.next, nil
		}
		return nil, "", serr
	}
}

func (e *Execution) attempt(ctx context.Context, st *state, raw any, enteredAt time.Time, retry int, fl *flow) (any, *stateErr) {
	eff, err := selectPath("InputPath", st.inputPath, raw)
	if err != nil {
		return nil, err
	}
	ctxObj := e.contextObj(st, enteredAt, retry, nil)
	params := eff
	if st.parameters != nil {
		if params, err = st.parameters.eval(e.env(eff, ctxObj)); err != nil {
			return nil, err
		}
	}
	var result any
	switch st.typ {
	case "Task":
		if err := checkSize("input to state '"+st.name+"'", params); err != nil {
			return nil, err
		}
		result, err = e.invokeTask(ctx, st, eff, params, fl)
	case "Parallel":
		result, err = e.runParallel(ctx, st, params, fl)
	case "Map":
		result, err = e.runMap(ctx, st, enteredAt, retry, params, fl)
	}
	if err != nil {
		return nil, err
	}
	if st.resultSelector != nil {
		if result, err = st.resultSelector.eval(e.env(result, ctxObj)); err != nil {
			return nil, err
		}
	}
	out, err := applyResultPath(st.resultPath, raw, result)
	if err != nil {
		return nil, err
	}
	return selectPath("OutputPath", st.outputPath, out)
}

var lambdaFunctionARN = regexp.MustCompile(`^arn:[^:]+:lambda:[^:]+:[^:]+:function:[^:]+(:[^:]+)?$`)

// resourceParts gives the resourceType and resource of a Task event, e.g.
// "arn:aws:states:::lambda:invoke" → ("lambda", "invoke").
func resourceParts(res string) (string, string) {
	parts := strings.SplitN(res, ":", 6)
	if len(parts) == 6 && parts[2] == "states" && parts[3] == "" && parts[4] == "" {
		if t, r, ok := strings.Cut(parts[5], ":"); ok {
			return t, r
		}
		return parts[5], ""
	}
	if len(parts) == 6 {
		if t, r, ok := strings.Cut(parts[5], ":"); ok {
			return t, r
		}
		return parts[2], parts[5]
	}
	return res, ""
}

// busyHolder is the busy token held on behalf of a running TaskInvoker.Invoke.
type busyHolder struct {
	clk clock.Clock
	mu  sync.Mutex
	tok func()
}

func (h *busyHolder) take() func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.tok
	h.tok = nil
	if t == nil {
		t = h.clk.Busy()
	}
	return t
}

type busyKey struct{}

// ReleaseBusy is for a TaskInvoker that waits for something outside the
// clock (a callback, another goroutine that is not counted as busy). While a
// task attempt runs, the engine holds a clock busy token for it, so virtual
// time stands still; an invoker that only waits for virtual time should use
// clock.SleepUntil, which gives the token up by itself. ReleaseBusy gives the
// token up and returns the function that takes it back; call it before
// Invoke returns. Outside an Invoke ctx it does nothing.
func ReleaseBusy(ctx context.Context) (reacquire func()) {
	h, ok := ctx.Value(busyKey{}).(*busyHolder)
	if !ok {
		return func() {}
	}
	h.mu.Lock()
	t := h.tok
	h.tok = nil
	h.mu.Unlock()
	if t == nil {
		return func() {}
	}
	t()
	return func() {
		nt := h.clk.Busy()
		h.mu.Lock()
		if h.tok != nil {
			h.mu.Unlock()
			nt()
			return
		}
		h.tok = nt
		h.mu.Unlock()
	}
}

// safeInvoke runs one task attempt. An invoker that panics (a bug of the
// emulation, not an outcome of the task) fails the execution with
// States.Runtime naming the panic, instead of taking the process down.
func safeInvoke(inv TaskInvoker, ctx context.Context, req TaskRequest) (res json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &TaskFailure{ErrorName: ErrRuntime,
				Cause: fmt.Sprintf("the task invoker panicked on state '%s' (%s): %v", req.StateName, req.Resource, r)}
		}
	}()
	return inv.Invoke(ctx, req)
}

type raceResult struct {
	mu        sync.Mutex
	done      bool
	abandoned bool
	res       json.RawMessage
	err       error
	tok       func()
}

func (e *Execution) invokeTask(ctx context.Context, st *state, eff, params any, fl *flow) (any, *stateErr) {
	timeout := st.timeoutSeconds
	if st.timeoutPath != nil {
		v, ok := st.timeoutPath.get(eff)
		n, isInt := toInt(v)
		if !ok || !isInt || n <= 0 {
			return nil, runtimeErr("The TimeoutSecondsPath '%s' of state '%s' does not reference a positive integer", st.timeoutPath.raw, st.name)
		}
		timeout = n
	}
	paramsJSON := encodeJSON(params)
	lambda := lambdaFunctionARN.MatchString(st.resource)
	rtype, rname := resourceParts(st.resource)
	base := func() map[string]any {
		if lambda {
			return map[string]any{}
		}
		return map[string]any{"resourceType": rtype, "resource": rname}
	}
	if lambda {
		d := map[string]any{"resource": st.resource, "input": string(paramsJSON), "inputDetails": map[string]any{"truncated": false}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		e.event(fl, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", d)
		e.event(fl, "LambdaFunctionStarted", "", nil)
	} else {
		d := base()
		d["region"] = e.region
		d["parameters"] = string(paramsJSON)
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		if st.heartbeatSeconds > 0 {
			d["heartbeatInSeconds"] = st.heartbeatSeconds
		}
		e.event(fl, "TaskScheduled", "taskScheduledEventDetails", d)
		e.event(fl, "TaskStarted", "taskStartedEventDetails", base())
	}
	if ctx.Err() != nil {
		return nil, errAborted
	}
	failEvent := func(kind, errName, cause string) {
		d := base()
		d["error"] = errName
		if cause != "" {
			d["cause"] = cause
		}
		if lambda {
			e.event(fl, "LambdaFunction"+kind, "lambdaFunction"+kind+"EventDetails", d)
		} else {
			e.event(fl, "Task"+kind, "task"+kind+"EventDetails", d)
		}
	}
	if e.o.Tasks == nil {
		failEvent("Failed", ErrTaskFailed, "no TaskInvoker is configured")
		return nil, failf(ErrTaskFailed, "no TaskInvoker is configured")
	}
	req := TaskRequest{Resource: st.resource, Parameters: paramsJSON, StateName: st.name, ExecutionArn: e.o.ExecutionArn, StateMachineArn: e.o.StateMachineArn, TimeoutSeconds: int(timeout)}
	ictx, cancelInvoke := context.WithCancel(ctx)
	defer cancelInvoke()
	var res json.RawMessage
	var ierr error
	if timeout == 0 {
		h := &busyHolder{clk: e.clk, tok: fl.tok}
		res, ierr = safeInvoke(e.o.Tasks, context.WithValue(ictx, busyKey{}, h), req)
		fl.tok = h.take()
	} else {
		// Race the invoke against the clock. The invoke runs on its own
		// goroutine (with its own busy token); this one sleeps until the
		// deadline. A finishing invoke takes a token for us before waking
		// us, so the clock cannot jump in between.
		deadline := e.clk.Now().Add(time.Duration(timeout) * time.Second)
		sleepCtx, stopSleep := context.WithCancel(ctx)
		r := &raceResult{}
		e.clk.Go(func() {
			h := &busyHolder{clk: e.clk, tok: e.clk.Busy()}
			go func() {
				res, err := safeInvoke(e.o.Tasks, context.WithValue(ictx, busyKey{}, h), req)
				r.mu.Lock()
				if !r.abandoned {
					r.done, r.res, r.err = true, res, err
					r.tok = e.clk.Busy()
				}
				r.mu.Unlock()
				stopSleep()
				h.take()()
			}()
		})
		_ = e.sleepUntil(sleepCtx, deadline)
		r.mu.Lock()
		finished := r.done
		r.abandoned = !finished
		r.mu.Unlock()
		stopSleep()
		if finished {
			r.tok()
			res, ierr = r.res, r.err
		} else {
			cancelInvoke()
			if ctx.Err() != nil {
				return nil, errAborted
			}
			cause := fmt.Sprintf("The task of state '%s' did not finish within its TimeoutSeconds of %d", st.name, timeout)
			failEvent("TimedOut", ErrTimeout, cause)
			return nil, failf(ErrTimeout, "%s", cause)
		}
	}
	if ctx.Err() != nil {
		return nil, errAborted
	}
	if ierr != nil {
		name, cause := ErrTaskFailed, ierr.Error()
		var tf *TaskFailure
		if errors.As(ierr, &tf) {
			name, cause = tf.ErrorName, tf.Cause
			if name == "" {
				name = ErrTaskFailed
			}
		}
		failEvent("Failed", name, cause)
		return nil, &stateErr{name: name, cause: cause}
	}
	var result any
	if len(strings.TrimSpace(string(res))) > 0 {
		v, err := decodeJSON(res)
		if err != nil {
			return nil, runtimeErr("the result of task '%s' is not valid JSON: %v", st.name, err)
		}
		result = v
	}
	if err := checkSize("result of task '"+st.name+"'", result); err != nil {
		failEvent("Failed", err.name, err.cause)
		return nil, err
	}
	d := base()
	d["output"] = string(encodeJSON(result))
	d["outputDetails"] = map[string]any{"truncated": false}
	if lambda {
		e.event(fl, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails", d)
	} else {
		e.event(fl, "TaskSucceeded", "taskSucceededEventDetails", d)
	}
	return result, nil
}

// pickErr keeps the first real failure over a sibling's "aborted".
func pickErr(first, next *stateErr) *stateErr {
	if first == nil || (first.aborted && !next.aborted) {
		return next
	}
	return first
}

func (e *Execution) runParallel(ctx context.Context, st *state, input any, fl *flow) (any, *stateErr) {
	e.event(fl, "ParallelStateStarted", "", nil)
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(st.branches)
	ch := make(chan childResult, n)
	for i, b := range st.branches {
		cf := &flow{last: fl.last}
		e.spawn(cf, func() {
			out, err := e.runMachine(bctx, b, input, cf)
			if err != nil {
				e.cancelCtx(cancel) // one failed branch stops the others
			}
			ch <- childResult{idx: i, out: out, err: err, last: cf.last, tok: e.clk.Busy()}
		})
	}
	results := make([]any, n)
	var first *stateErr
	last := fl.last
	for range n {
		r := fl.await(ch)
		last = max(last, r.last)
		if r.err != nil {
			first = pickErr(first, r.err)
		} else {
			results[r.idx] = r.out
		}
	}
	fl.last = last
	return e.endBranches(ctx, fl, "ParallelState", results, first)
}

func (e *Execution) runMap(ctx context.Context, st *state, enteredAt time.Time, retry int, eff any, fl *flow) (any, *stateErr) {
	itemsV := eff
	if st.itemsPath != nil {
		v, ok := st.itemsPath.get(eff)
		if !ok {
			return nil, runtimeErr("Invalid path '%s' : No results for path: %s (ItemsPath)", st.itemsPath.raw, bracketPath(st.itemsPath))
		}
		itemsV = v
	}
	items, ok := itemsV.([]any)
	if !ok {
		return nil, runtimeErr("The ItemsPath of Map state '%s' must reference a JSON array, got %s", st.name, jsonType(itemsV))
	}
	maxC := st.maxConcurrency
	if st.maxConcurrencyPath != nil {
		v, ok := st.maxConcurrencyPath.get(eff)
		n, isInt := toInt(v)
		if !ok || !isInt || n < 0 {
			return nil, runtimeErr("The MaxConcurrencyPath '%s' of state '%s' does not reference a non-negative integer", st.maxConcurrencyPath.raw, st.name)
		}
		maxC = n
	}
	e.event(fl, "MapStateStarted", "mapStateStartedEventDetails", map[string]any{"length": len(items)})
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(items)
	ch := make(chan childResult, n)
	results := make([]any, n)
	var first *stateErr
	last := fl.last
	inflight, next := 0, 0
	for next < n || inflight > 0 {
		for next < n && first == nil && bctx.Err() == nil && (maxC == 0 || int64(inflight) < maxC) {
			i := next
			next++
			in := items[i]
			if st.itemSelector != nil {
				ctxObj := e.contextObj(st, enteredAt, retry, objectOf("Index", intNum(int64(i)), "Value", items[i]))
				v, err := st.itemSelector.eval(e.env(eff, ctxObj))
				if err != nil {
					first = err
					e.cancelCtx(cancel)
					break
				}
				in = v
			}
			inflight++
			cf := &flow{last: fl.last}
			e.spawn(cf, func() {
				it := map[string]any{"name": st.name, "index": i}
				e.event(cf, "MapIterationStarted", "mapIterationStartedEventDetails", it)
				out, err := e.runMachine(bctx, st.processor, in, cf)
				switch {
				case err == nil:
					e.event(cf, "MapIterationSucceeded", "mapIterationSucceededEventDetails", it)
				case err.aborted:
					e.event(cf, "MapIterationAborted", "mapIterationAbortedEventDetails", it)
				default:
					e.event(cf, "MapIterationFailed", "mapIterationFailedEventDetails", it)
					e.cancelCtx(cancel)
				}
				ch <- childResult{idx: i, out: out, err: err, last: cf.last, tok: e.clk.Busy()}
			})
		}
		if inflight == 0 {
			break
		}
		r := fl.await(ch)
		inflight--
		last = max(last, r.last)
		if r.err != nil {
			first = pickErr(first, r.err)
		} else {
			results[r.idx] = r.out
		}
	}
	fl.last = last
	return e.endBranches(ctx, fl, "MapState", results, first)
}

// endBranches ends a Parallel or Map state (kind "ParallelState" or
// "MapState") once every branch or iteration has answered: aborted if the
// execution was, else failed with the first error, else the results.
func (e *Execution) endBranches(ctx context.Context, fl *flow, kind string, results []any, first *stateErr) (any, *stateErr) {
	if ctx.Err() != nil {
		return nil, errAborted
	}
	if first != nil {
		e.event(fl, kind+"Failed", "", nil)
		return nil, first
	}
	e.event(fl, kind+"Succeeded", "", nil)
	return results, nil
}
