package asl

import (
	"context"
	"time"
)

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
