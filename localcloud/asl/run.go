package asl

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

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
