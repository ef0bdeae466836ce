package asl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Mermaid renders a state machine definition as a Mermaid flowchart (`make
// diagram`): every state with its type's shape, every Next, every Choice
// branch labelled with its rule and the Default as "otherwise", every Catch
// as a dotted edge labelled with its error names, and every Retry, Wait and
// task timeout as a note in the state's box. States appear in the order they
// are reached from StartAt, so a change to the definition changes the
// diagram in the same place.
func Mermaid(definition []byte) (string, error) {
	var def map[string]any
	if err := json.Unmarshal(definition, &def); err != nil {
		return "", fmt.Errorf("reading the definition: %w", err)
	}
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	r := &mermaid{out: &b}
	if err := r.machine(def, "", "  "); err != nil {
		return "", err
	}
	return b.String(), nil
}

type mermaid struct {
	out *strings.Builder
}

// machine renders one machine (the top level, or a Parallel branch or Map
// processor under prefix).
func (r *mermaid) machine(m map[string]any, prefix, indent string) error {
	states, _ := m["States"].(map[string]any)
	startAt, _ := m["StartAt"].(string)
	if _, ok := states[startAt]; !ok {
		return fmt.Errorf("StartAt %q names no state", startAt)
	}
	start := nodeID(prefix, "start")
	fmt.Fprintf(r.out, "%s%s((start)) --> %s\n", indent, start, nodeID(prefix, startAt))
	for _, name := range reachOrder(states, startAt) {
		s, _ := states[name].(map[string]any)
		if err := r.state(prefix, indent, name, s); err != nil {
			return fmt.Errorf("state %s: %w", name, err)
		}
	}
	return nil
}

func (r *mermaid) state(prefix, indent, name string, s map[string]any) error {
	id := nodeID(prefix, name)
	typ, _ := s["Type"].(string)
	notes := notesOf(typ, s)
	label := quote(strings.Join(append([]string{name}, notes...), "<br/>"))
	switch typ {
	case "Choice":
		fmt.Fprintf(r.out, "%s%s{%s}\n", indent, id, label)
	case "Wait":
		fmt.Fprintf(r.out, "%s%s[/%s/]\n", indent, id, label)
	case "Pass":
		fmt.Fprintf(r.out, "%s%s(%s)\n", indent, id, label)
	case "Succeed", "Fail":
		fmt.Fprintf(r.out, "%s%s([%s])\n", indent, id, label)
	case "Parallel", "Map":
		fmt.Fprintf(r.out, "%s%s[[%s]]\n", indent, id, label)
		var branches []map[string]any
		if typ == "Parallel" {
			for _, br := range asSlice(s["Branches"]) {
				if m, ok := br.(map[string]any); ok {
					branches = append(branches, m)
				}
			}
		} else {
			for _, key := range []string{"ItemProcessor", "Iterator"} {
				if m, ok := s[key].(map[string]any); ok {
					branches = append(branches, m)
				}
			}
		}
		for i, br := range branches {
			sub := fmt.Sprintf("%s%s_%d_", prefix, name, i+1)
			fmt.Fprintf(r.out, "%ssubgraph %s [%s]\n", indent, nodeID(sub, "graph"), quote(fmt.Sprintf("%s branch %d", name, i+1)))
			if err := r.machine(br, sub, indent+"  "); err != nil {
				return err
			}
			fmt.Fprintf(r.out, "%send\n", indent)
			fmt.Fprintf(r.out, "%s%s -.- %s\n", indent, id, nodeID(sub, "graph"))
		}
	case "Task":
		fmt.Fprintf(r.out, "%s%s[%s]\n", indent, id, label)
	default:
		return fmt.Errorf("unknown Type %q", typ)
	}
	if typ == "Choice" {
		for _, c := range asSlice(s["Choices"]) {
			rule, _ := c.(map[string]any)
			next, _ := rule["Next"].(string)
			fmt.Fprintf(r.out, "%s%s -->|%s| %s\n", indent, id, quote(describeRule(rule)), nodeID(prefix, next))
		}
		if d, ok := s["Default"].(string); ok {
			fmt.Fprintf(r.out, "%s%s -->|otherwise| %s\n", indent, id, nodeID(prefix, d))
		}
	}
	if next, ok := s["Next"].(string); ok {
		fmt.Fprintf(r.out, "%s%s --> %s\n", indent, id, nodeID(prefix, next))
	}
	for _, c := range asSlice(s["Catch"]) {
		catcher, _ := c.(map[string]any)
		next, _ := catcher["Next"].(string)
		fmt.Fprintf(r.out, "%s%s -.->|%s| %s\n", indent, id, quote("catch "+strings.Join(strs(catcher["ErrorEquals"]), ", ")), nodeID(prefix, next))
	}
	return nil
}

// notesOf is what a state's box says besides its name.
func notesOf(typ string, s map[string]any) []string {
	var notes []string
	switch typ {
	case "Wait":
		for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
			if v, ok := s[k]; ok {
				notes = append(notes, "wait "+strings.ToLower(strings.TrimSuffix(k, "Path"))+" "+scalar(v))
			}
		}
	case "Fail":
		for _, k := range []string{"Error", "ErrorPath"} {
			if v, ok := s[k]; ok {
				notes = append(notes, "fail "+scalar(v))
			}
		}
	case "Task":
		if v, ok := s["Resource"]; ok {
			notes = append(notes, scalar(v))
		}
		for _, k := range []string{"TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"} {
			if v, ok := s[k]; ok {
				notes = append(notes, strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(k, "Path"), "Seconds"))+" "+scalar(v)+secondsUnit(k))
			}
		}
	}
	for _, rt := range asSlice(s["Retry"]) {
		retrier, _ := rt.(map[string]any)
		n := "retry " + strings.Join(strs(retrier["ErrorEquals"]), ", ")
		attempts := "3"
		if v, ok := retrier["MaxAttempts"]; ok {
			attempts = scalar(v)
		}
		n += " ×" + attempts
		interval := "1"
		if v, ok := retrier["IntervalSeconds"]; ok {
			interval = scalar(v)
		}
		backoff := "2"
		if v, ok := retrier["BackoffRate"]; ok {
			backoff = scalar(v)
		}
		n += " (" + interval + " s, ×" + backoff
		if v, ok := retrier["MaxDelaySeconds"]; ok {
			n += ", ≤ " + scalar(v) + " s"
		}
		if v, ok := retrier["JitterStrategy"]; ok && v != "NONE" {
			n += ", jitter " + scalar(v)
		}
		notes = append(notes, n+")")
	}
	return notes
}

func secondsUnit(key string) string {
	if strings.HasSuffix(key, "Path") {
		return ""
	}
	return " s"
}

// describeRule is a Choice rule as a short boolean expression.
func describeRule(rule map[string]any) string {
	if subs, ok := rule["And"]; ok {
		return joinRules(subs, " and ")
	}
	if subs, ok := rule["Or"]; ok {
		return joinRules(subs, " or ")
	}
	if sub, ok := rule["Not"].(map[string]any); ok {
		return "not (" + describeRule(sub) + ")"
	}
	if cond, ok := rule["Condition"]; ok { // JSONata
		return scalar(cond)
	}
	variable := scalar(rule["Variable"])
	keys := make([]string, 0, len(rule))
	for k := range rule {
		if k != "Variable" && k != "Next" && k != "Comment" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, comparison(variable, k, rule[k]))
	}
	return strings.Join(parts, " and ")
}

func joinRules(subs any, sep string) string {
	var parts []string
	for _, s := range asSlice(subs) {
		m, _ := s.(map[string]any)
		d := describeRule(m)
		if _, nested := m["And"]; nested {
			d = "(" + d + ")"
		} else if _, nested := m["Or"]; nested {
			d = "(" + d + ")"
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, sep)
}

var comparators = []struct{ suffix, op string }{
	{"GreaterThanEquals", "≥"}, {"LessThanEquals", "≤"}, {"GreaterThan", ">"}, {"LessThan", "<"}, {"Equals", "="},
}

func comparison(variable, op string, value any) string {
	path := strings.HasSuffix(op, "Path")
	name := strings.TrimSuffix(op, "Path")
	val := literal(value)
	if path {
		val = scalar(value)
	}
	switch {
	case name == "BooleanEquals" && !path:
		if value == true {
			return variable
		}
		return "not " + variable
	case strings.HasPrefix(name, "Is"):
		if value == true {
			return variable + " " + strings.ToLower(strings.TrimPrefix(name, "Is"))
		}
		return variable + " not " + strings.ToLower(strings.TrimPrefix(name, "Is"))
	case name == "StringMatches":
		return variable + " matches " + val
	}
	for _, c := range comparators {
		if strings.HasSuffix(name, c.suffix) {
			return variable + " " + c.op + " " + val
		}
	}
	return variable + " " + op + " " + val
}

// reachOrder lists the states breadth-first from startAt along Next, the
// Choice branches, Default and Catch, then any unreachable ones by name.
func reachOrder(states map[string]any, startAt string) []string {
	seen := map[string]bool{startAt: true}
	order := []string{startAt}
	for i := 0; i < len(order); i++ {
		s, _ := states[order[i]].(map[string]any)
		for _, n := range successors(s) {
			if _, ok := states[n]; ok && !seen[n] {
				seen[n] = true
				order = append(order, n)
			}
		}
	}
	var rest []string
	for n := range states {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(order, rest...)
}

func successors(s map[string]any) []string {
	var out []string
	if n, ok := s["Next"].(string); ok {
		out = append(out, n)
	}
	for _, c := range asSlice(s["Choices"]) {
		if m, ok := c.(map[string]any); ok {
			if n, ok := m["Next"].(string); ok {
				out = append(out, n)
			}
		}
	}
	if n, ok := s["Default"].(string); ok {
		out = append(out, n)
	}
	for _, c := range asSlice(s["Catch"]) {
		if m, ok := c.(map[string]any); ok {
			if n, ok := m["Next"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

var plainID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// nodeID is a Mermaid-safe id for a state: its name when that is a plain
// identifier (and not Mermaid's keyword "end"), else a hex spelling of it.
func nodeID(prefix, name string) string {
	id := prefix + name
	if plainID.MatchString(id) && !strings.EqualFold(id, "end") {
		return id
	}
	return fmt.Sprintf("s_%x", id)
}

// quote makes s a Mermaid string: double quotes inside become #quot;.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

func literal(v any) string {
	if s, ok := v.(string); ok {
		return "'" + s + "'"
	}
	return scalar(v)
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, scalar(x))
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
