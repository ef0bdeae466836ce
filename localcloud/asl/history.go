package asl

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

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
