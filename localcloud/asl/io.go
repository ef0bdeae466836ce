package asl

import (
	"fmt"
	"strings"
	"time"
)

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
