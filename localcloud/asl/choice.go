package asl

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

type opType int

const (
	opString opType = iota
	opNumeric
	opBoolean
	opTimestamp
	opTypeTest
)

type opInfo struct {
	typ  opType
	cmp  string // "eq","lt","gt","le","ge","match"
	path bool
}

var choiceOps = func() map[string]opInfo {
	m := map[string]opInfo{}
	cmps := map[string]string{"Equals": "eq", "LessThan": "lt", "GreaterThan": "gt", "LessThanEquals": "le", "GreaterThanEquals": "ge"}
	for prefix, t := range map[string]opType{"String": opString, "Numeric": opNumeric, "Timestamp": opTimestamp} {
		for suffix, c := range cmps {
			m[prefix+suffix] = opInfo{typ: t, cmp: c}
			m[prefix+suffix+"Path"] = opInfo{typ: t, cmp: c, path: true}
		}
	}
	m["StringMatches"] = opInfo{typ: opString, cmp: "match"}
	m["BooleanEquals"] = opInfo{typ: opBoolean, cmp: "eq"}
	m["BooleanEqualsPath"] = opInfo{typ: opBoolean, cmp: "eq", path: true}
	for _, n := range []string{"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"} {
		m[n] = opInfo{typ: opTypeTest, cmp: n}
	}
	return m
}()

type choiceRule struct {
	next     string
	and, or  []*choiceRule
	not      *choiceRule
	variable *jpath
	op       string
	info     opInfo
	operand  any    // literal operand (string, json.Number, bool)
	opPath   *jpath // operand for *Path operators
	ts       time.Time
}

func parseTimestamp(s string) (time.Time, bool) {
	// ASL timestamps are RFC3339 with an uppercase T and an uppercase Z when
	// there is no numeric offset.
	if strings.ContainsAny(s, "tz") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// compileChoice compiles one rule; top says whether it is a top-level rule
// (which must have Next) or nested inside And/Or/Not (which must not).
func compileChoice(v any, where string, top bool, problems *[]string) *choiceRule {
	add := func(format string, a ...any) {
		*problems = append(*problems, where+": "+fmt.Sprintf(format, a...))
	}
	m, ok := plainDefinition(v).(map[string]any)
	if !ok {
		add("a choice rule must be an object")
		return nil
	}
	r := &choiceRule{}
	if n, ok := m["Next"]; ok {
		s, ok := n.(string)
		if !ok || s == "" {
			add("choice rule Next must be a non-empty string")
		}
		r.next = s
		if !top {
			add("a choice rule nested inside And, Or or Not must not have Next")
		}
	} else if top {
		add("MISSING_TRANSITION_TARGET: every top-level choice rule needs Next")
	}
	var ops []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		switch k {
		case "Next", "Comment":
		case "Variable":
			s, ok := val.(string)
			if !ok {
				add("Variable must be a string path")
				continue
			}
			p, err := parsePath(s)
			if err != nil {
				add("Variable: %v", err)
				continue
			}
			r.variable = p
		case "And", "Or":
			arr, ok := val.([]any)
			if !ok || len(arr) == 0 {
				add("%s must be a non-empty array of choice rules", k)
				continue
			}
			var subs []*choiceRule
			for _, s := range arr {
				if c := compileChoice(s, where, false, problems); c != nil {
					subs = append(subs, c)
				}
			}
			ops = append(ops, k)
			if k == "And" {
				r.and = subs
			} else {
				r.or = subs
			}
		case "Not":
			ops = append(ops, k)
			r.not = compileChoice(val, where, false, problems)
		case "Assign", "Output", "Condition":
			add("SCHEMA_VALIDATION_FAILED: field %q belongs to JSONata or variables; this project uses JSONPath without variables", k)
		default:
			info, ok := choiceOps[k]
			if !ok {
				add("SCHEMA_VALIDATION_FAILED: unknown field %q in a choice rule", k)
				continue
			}
			ops = append(ops, k)
			r.op, r.info = k, info
			switch {
			case info.path:
				s, ok := val.(string)
				if !ok {
					add("%s must be a path string", k)
					continue
				}
				p, err := parsePath(s)
				if err != nil {
					add("%s: %v", k, err)
					continue
				}
				r.opPath = p
			case info.typ == opString:
				if _, ok := val.(string); !ok {
					add("%s must be a string", k)
				}
				r.operand = val
			case info.typ == opNumeric:
				if _, ok := val.(json.Number); !ok {
					add("%s must be a number", k)
				}
				r.operand = val
			case info.typ == opBoolean, info.typ == opTypeTest:
				if _, ok := val.(bool); !ok {
					add("%s must be a boolean", k)
				}
				r.operand = val
			case info.typ == opTimestamp:
				s, _ := val.(string)
				t, ok := parseTimestamp(s)
				if !ok {
					add("%s must be an RFC3339 timestamp string, got %s", k, jsonText(val))
				}
				r.ts = t
			}
		}
	}
	switch {
	case len(ops) != 1:
		add("a choice rule needs exactly one of And, Or, Not or a comparison operator, found %d (%s)", len(ops), strings.Join(ops, ", "))
	case r.op != "" && r.variable == nil:
		add("choice rule with %s needs Variable", r.op)
	case r.op == "" && r.variable != nil:
		add("Variable is only allowed with a comparison operator")
	}
	return r
}

func (r *choiceRule) eval(input, ctxObj any) (bool, *stateErr) {
	switch {
	case r.and != nil:
		for _, c := range r.and {
			ok, err := c.eval(input, ctxObj)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, c := range r.or {
			ok, err := c.eval(input, ctxObj)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(input, ctxObj)
		return !ok && err == nil, err
	}
	src := input
	if r.variable.context {
		src = ctxObj
	}
	val, present := r.variable.get(src)
	if r.op == "IsPresent" {
		return present == r.operand.(bool), nil
	}
	if !present {
		return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.raw)
	}
	if r.info.typ == opTypeTest {
		want := r.operand.(bool)
		var is bool
		switch r.op {
		case "IsNull":
			is = val == nil
		case "IsNumeric":
			_, is = val.(json.Number)
		case "IsString":
			_, is = val.(string)
		case "IsBoolean":
			_, is = val.(bool)
		case "IsTimestamp":
			s, ok := val.(string)
			if ok {
				_, is = parseTimestamp(s)
			}
		}
		return is == want, nil
	}
	operand := r.operand
	if r.info.path {
		osrc := input
		if r.opPath.context {
			osrc = ctxObj
		}
		v, ok := r.opPath.get(osrc)
		if !ok {
			return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.opPath.raw)
		}
		operand = v
	}
	var c int
	switch r.info.typ {
	case opString:
		a, ok1 := val.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false, nil
		}
		if r.info.cmp == "match" {
			return wildcardMatch(b, a), nil
		}
		c = strings.Compare(a, b)
	case opNumeric:
		a, ok1 := val.(json.Number)
		b, ok2 := operand.(json.Number)
		if !ok1 || !ok2 {
			return false, nil
		}
		ra, ok1 := numRat(a)
		rb, ok2 := numRat(b)
		if !ok1 || !ok2 {
			return false, nil
		}
		c = ra.Cmp(rb)
	case opBoolean:
		a, ok1 := val.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b, nil
	case opTimestamp:
		s, ok := val.(string)
		if !ok {
			return false, nil
		}
		a, ok := parseTimestamp(s)
		if !ok {
			return false, nil
		}
		b := r.ts
		if r.info.path {
			os, ok := operand.(string)
			if !ok {
				return false, nil
			}
			if b, ok = parseTimestamp(os); !ok {
				return false, nil
			}
		}
		c = a.Compare(b)
	}
	switch r.info.cmp {
	case "eq":
		return c == 0, nil
	case "lt":
		return c < 0, nil
	case "gt":
		return c > 0, nil
	case "le":
		return c <= 0, nil
	case "ge":
		return c >= 0, nil
	}
	return false, nil
}

// wildcardMatch implements StringMatches: `*` matches any run of characters,
// `\*` a literal star and `\\` a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		r    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, tok{r: pr[i]})
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{r: pr[i]})
		}
	}
	sr := []rune(s)
	// Classic iterative glob matching with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].r == sr[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			ti = starT + 1
			starS++
			si = starS
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
