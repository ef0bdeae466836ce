package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

var lambdaFunctionARN = regexp.MustCompile(`^arn:[^:]+:lambda:[^:]+:[^:]+:function:[^:]+(:[^:]+)?$`)

// resourceParts gives the resourceType and resource of a Task event, e.g.
// "arn:aws:states:::lambda:invoke" → ("lambda", "invoke").
func resourceParts(res string) (string, string) {
	a, err := arn.Parse(res)
	if err != nil {
		return res, ""
	}
	if t, r, ok := strings.Cut(a.Resource, ":"); ok {
		return t, r
	}
	if a.Service == "states" && a.Region == "" && a.AccountID == "" {
		return a.Resource, ""
	}
	return a.Service, a.Resource
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
