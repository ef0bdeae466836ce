package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// PatternError is an invalid event pattern; on the wire it is
// InvalidEventPatternException.
type PatternError struct{ Reason string }

func (e *PatternError) Error() string { return "Event pattern is not valid. Reason: " + e.Reason }

func invalid(format string, args ...any) error {
	return &PatternError{Reason: fmt.Sprintf(format, args...)}
}

// MatchPattern reports whether event matches pattern, with EventBridge's
// semantics: exact values (strings, numbers, null, booleans) listed in arrays,
// nested objects, array fields matching when any element does, prefix and
// suffix (also with equals-ignore-case), anything-but (a value, a list,
// prefix, suffix, equals-ignore-case, wildcard), exists, numeric ranges,
// equals-ignore-case, wildcard, cidr, and $or. An invalid pattern is a
// *PatternError.
func MatchPattern(pattern, event []byte) (bool, error) {
	p, err := CompilePattern(pattern)
	if err != nil {
		return false, err
	}
	ev, err := decodeJSON(event)
	if err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	obj, ok := ev.(map[string]any)
	if !ok {
		return false, errors.New("event is not a JSON object")
	}
	return p.Match(obj), nil
}

// Pattern is a compiled, validated event pattern.
type Pattern struct{ root map[string]any }

// CompilePattern validates a pattern.
func CompilePattern(pattern []byte) (*Pattern, error) {
	v, err := decodeJSON(pattern)
	if err != nil {
		return nil, invalid("Filter is not valid JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("Filter is not an object")
	}
	if len(obj) == 0 {
		return nil, invalid("Empty objects are not allowed")
	}
	if err := validateObject(obj); err != nil {
		return nil, err
	}
	return &Pattern{root: obj}, nil
}

// MatchJSON matches an event given as JSON.
func (p *Pattern) MatchJSON(event []byte) bool {
	ev, err := decodeJSON(event)
	if err != nil {
		return false
	}
	obj, ok := ev.(map[string]any)
	return ok && p.Match(obj)
}

// Match matches a decoded event (numbers as json.Number).
func (p *Pattern) Match(event map[string]any) bool { return matchObject(p.root, event) }

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// ---------------------------------------------------------------------------
// Validation

func validateObject(obj map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		if k == "$or" {
			arr, ok := v.([]any)
			if !ok || len(arr) < 2 {
				return invalid("\"$or\" must be an array of at least two objects")
			}
			for _, a := range arr {
				o, ok := a.(map[string]any)
				if !ok || len(o) == 0 {
					return invalid("\"$or\" must be an array of at least two objects")
				}
				if err := validateObject(o); err != nil {
					return err
				}
			}
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				return invalid("Empty objects are not allowed")
			}
			if err := validateObject(x); err != nil {
				return err
			}
		case []any:
			if len(x) == 0 {
				return invalid("Empty arrays are not allowed")
			}
			for _, c := range x {
				if err := validateCondition(k, c); err != nil {
					return err
				}
			}
		default:
			return invalid("%q must be an object or an array", k)
		}
	}
	return nil
}

func validateCondition(field string, c any) error {
	switch x := c.(type) {
	case string, json.Number, bool, nil:
		return nil
	case []any:
		return invalid("Match value must be String, number, true, false, or null")
	case map[string]any:
		if len(x) != 1 {
			return invalid("Only one key allowed in match expression")
		}
		for op, arg := range x {
			return validateOperator(op, arg)
		}
	}
	return invalid("unsupported value in %q", field)
}

func stringOrIgnoreCase(op string, arg any) error {
	switch a := arg.(type) {
	case string:
		return nil
	case map[string]any:
		if _, ok := a["equals-ignore-case"].(string); ok && len(a) == 1 {
			return nil
		}
	}
	return invalid("%s match pattern must be a string", op)
}

func validateOperator(op string, arg any) error {
	switch op {
	case "prefix", "suffix":
		return stringOrIgnoreCase(op, arg)
	case "equals-ignore-case":
		if _, ok := arg.(string); !ok {
			return invalid("equals-ignore-case match pattern must be a string")
		}
	case "wildcard":
		s, ok := arg.(string)
		if !ok {
			return invalid("wildcard match pattern must be a string")
		}
		return validateWildcard(s)
	case "exists":
		if _, ok := arg.(bool); !ok {
			return invalid("exists match pattern must be either true or false.")
		}
	case "cidr":
		s, ok := arg.(string)
		if !ok {
			return invalid("prefix match pattern must be a string")
		}
		if _, err := parseCIDR(s); err != nil {
			return invalid("Malformed CIDR, one '/' required")
		}
	case "numeric":
		return validateNumeric(arg)
	case "anything-but":
		return validateAnythingBut(arg)
	default:
		return invalid("Unrecognized match type %s", op)
	}
	return nil
}

func validateWildcard(s string) error {
	if strings.Contains(s, "**") {
		return invalid("Consecutive wildcard characters at pos %d", strings.Index(s, "**")+1)
	}
	return nil
}

func validateAnythingBut(arg any) error {
	switch a := arg.(type) {
	case string, json.Number:
		return nil
	case []any:
		if len(a) == 0 {
			return invalid("Empty arrays are not allowed")
		}
		var kind string
		for _, v := range a {
			var k string
			switch v.(type) {
			case string:
				k = "string"
			case json.Number:
				k = "number"
			default:
				return invalid("Inside anything but list, start|null|boolean is not supported.")
			}
			if kind != "" && k != kind {
				return invalid("Inside anything but list, mixed types are not supported")
			}
			kind = k
		}
		return nil
	case map[string]any:
		if len(a) != 1 {
			return invalid("Only one key allowed in match expression")
		}
		for op, v := range a {
			switch op {
			case "prefix", "suffix":
				if s, ok := v.(string); !ok || s == "" {
					return invalid("%s match pattern must be a non-empty string", op)
				}
			case "equals-ignore-case", "wildcard":
				switch w := v.(type) {
				case string:
					if op == "wildcard" {
						return validateWildcard(w)
					}
				case []any:
					if len(w) == 0 {
						return invalid("Empty arrays are not allowed")
					}
					for _, e := range w {
						s, ok := e.(string)
						if !ok {
							return invalid("Inside %s list, number|start|null|boolean is not supported.", op)
						}
						if op == "wildcard" {
							if err := validateWildcard(s); err != nil {
								return err
							}
						}
					}
				default:
					return invalid("%s match pattern must be a string or an array of strings", op)
				}
			default:
				return invalid("Unsupported anything-but pattern: %s", op)
			}
		}
		return nil
	case bool, nil:
		return invalid("Inside anything but list, start|null|boolean is not supported.")
	}
	return invalid("Value of anything-but must be an array or single string/number value.")
}

func validateNumeric(arg any) error {
	arr, ok := arg.([]any)
	if !ok || len(arr) == 0 || len(arr)%2 != 0 || len(arr) > 4 {
		return invalid("Value of numeric must be an array.")
	}
	lower, upper, eq := false, false, false
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		if !ok {
			return invalid("Invalid member in numeric match: %v", arr[i])
		}
		n, ok := arr[i+1].(json.Number)
		if !ok {
			return invalid("Value of %s must be numeric", op)
		}
		if _, err := n.Float64(); err != nil {
			return invalid("Value of %s must be numeric", op)
		}
		switch op {
		case "=":
			if len(arr) != 2 {
				return invalid("Invalid member in numeric match: =")
			}
			eq = true
		case ">", ">=":
			if lower {
				return invalid("Invalid member in numeric match: %s", op)
			}
			lower = true
		case "<", "<=":
			if upper {
				return invalid("Invalid member in numeric match: %s", op)
			}
			upper = true
		default:
			return invalid("Unrecognized numeric range operator: %s", op)
		}
	}
	_ = eq
	if len(arr) == 4 {
		lo, _ := arr[1].(json.Number).Float64()
		hi, _ := arr[3].(json.Number).Float64()
		if o, _ := arr[0].(string); o == "<" || o == "<=" {
			lo, hi = hi, lo
		}
		if lo > hi {
			return invalid("Bottom must be less than top")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Matching

func matchObject(p map[string]any, ev map[string]any) bool {
	for k, pv := range p {
		if k == "$or" {
			matched := false
			for _, alt := range pv.([]any) {
				if matchObject(alt.(map[string]any), ev) {
					matched = true
					break
				}
			}
			if !matched {
				return false
			}
			continue
		}
		v, present := ev[k]
		switch x := pv.(type) {
		case map[string]any:
			if !matchNested(x, v, present) {
				return false
			}
		case []any:
			if !matchLeaf(x, v, present) {
				return false
			}
		}
	}
	return true
}

func matchNested(p map[string]any, v any, present bool) bool {
	switch x := v.(type) {
	case map[string]any:
		return matchObject(p, x)
	case []any:
		for _, e := range x {
			if o, ok := e.(map[string]any); ok && matchObject(p, o) {
				return true
			}
		}
		if len(x) == 0 {
			return matchObject(p, nil)
		}
		return false
	}
	// Absent (or a leaf where an object was expected): only exists:false
	// conditions below can match.
	_ = present
	return matchObject(p, nil)
}

// leafValues flattens an event field into the scalar values it holds.
func leafValues(v any) (vals []any, isObject bool) {
	switch x := v.(type) {
	case map[string]any:
		return nil, true
	case []any:
		for _, e := range x {
			switch e.(type) {
			case map[string]any:
			case []any:
				inner, _ := leafValues(e)
				vals = append(vals, inner...)
			default:
				vals = append(vals, e)
			}
		}
		return vals, false
	}
	return []any{v}, false
}

func matchLeaf(conds []any, v any, present bool) bool {
	vals, isObject := leafValues(v)
	exists := present && !isObject && len(vals) > 0
	for _, c := range conds {
		if o, ok := c.(map[string]any); ok {
			if e, ok := o["exists"]; ok {
				if e.(bool) == exists {
					return true
				}
				continue
			}
		}
		if !exists {
			continue
		}
		for _, val := range vals {
			if matchCondition(c, val) {
				return true
			}
		}
	}
	return false
}

func numEq(a, b json.Number) bool {
	x, err1 := a.Float64()
	y, err2 := b.Float64()
	return err1 == nil && err2 == nil && x == y
}

func equalLiteral(c, v any) bool {
	switch x := c.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == x
	case json.Number:
		n, ok := v.(json.Number)
		return ok && numEq(x, n)
	case bool:
		b, ok := v.(bool)
		return ok && b == x
	case nil:
		return v == nil
	}
	return false
}

func matchCondition(c, v any) bool {
	o, ok := c.(map[string]any)
	if !ok {
		return equalLiteral(c, v)
	}
	for op, arg := range o {
		s, isStr := v.(string)
		switch op {
		case "prefix":
			return isStr && affix(arg, s, strings.HasPrefix)
		case "suffix":
			return isStr && affix(arg, s, strings.HasSuffix)
		case "equals-ignore-case":
			return isStr && strings.EqualFold(s, arg.(string))
		case "wildcard":
			return isStr && wildcard(arg.(string), s)
		case "cidr":
			if !isStr {
				return false
			}
			pfx, _ := parseCIDR(arg.(string))
			ip, err := netip.ParseAddr(s)
			return err == nil && pfx.Contains(ip)
		case "numeric":
			n, ok := v.(json.Number)
			if !ok {
				return false
			}
			f, err := n.Float64()
			return err == nil && numeric(arg.([]any), f)
		case "anything-but":
			return anythingBut(arg, v)
		}
	}
	return false
}

func affix(arg any, s string, f func(string, string) bool) bool {
	switch a := arg.(type) {
	case string:
		return f(s, a)
	case map[string]any:
		return f(strings.ToLower(s), strings.ToLower(a["equals-ignore-case"].(string)))
	}
	return false
}

func numeric(arr []any, f float64) bool {
	for i := 0; i < len(arr); i += 2 {
		n, _ := arr[i+1].(json.Number).Float64()
		var ok bool
		switch arr[i].(string) {
		case "=":
			ok = f == n
		case ">":
			ok = f > n
		case ">=":
			ok = f >= n
		case "<":
			ok = f < n
		case "<=":
			ok = f <= n
		}
		if !ok {
			return false
		}
	}
	return true
}

func anythingBut(arg, v any) bool {
	switch a := arg.(type) {
	case string, json.Number:
		return !equalLiteral(a, v)
	case []any:
		for _, x := range a {
			if equalLiteral(x, v) {
				return false
			}
		}
		return true
	case map[string]any:
		s, isStr := v.(string)
		for op, x := range a {
			switch op {
			case "prefix":
				return isStr && !strings.HasPrefix(s, x.(string))
			case "suffix":
				return isStr && !strings.HasSuffix(s, x.(string))
			case "equals-ignore-case", "wildcard":
				if !isStr {
					return false
				}
				list, ok := x.([]any)
				if !ok {
					list = []any{x}
				}
				for _, e := range list {
					if op == "equals-ignore-case" && strings.EqualFold(s, e.(string)) || op == "wildcard" && wildcard(e.(string), s) {
						return false
					}
				}
				return true
			}
		}
	}
	return false
}

func wildcard(pattern, s string) bool {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(string(pattern[i])))
		case pattern[i] == '*':
			b.WriteString("(?s:.*)")
		default:
			b.WriteString(regexp.QuoteMeta(string(pattern[i])))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(s)
}

func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}
