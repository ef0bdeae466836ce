package asl

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"
)

// Definition is a parsed, validated state machine.
type Definition struct {
	top            *machine
	timeoutSeconds int64
	names          []string
	resources      []string
}

type machine struct {
	startAt string
	states  map[string]*state
}

// pathOpt is an InputPath/OutputPath/ResultPath: absent means "$", null is
// explicit JSON null.
type pathOpt struct {
	null bool
	p    *jpath // nil with !null means "$"
}

type retrier struct {
	errorEquals []string
	interval    float64
	maxAttempts int64
	backoff     float64
	maxDelay    float64 // 0 = no cap
	jitterFull  bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  pathOpt
}

type state struct {
	name, typ string
	next      string
	end       bool

	inputPath, outputPath, resultPath pathOpt

	parameters, resultSelector, itemSelector *tmpl
	result                                   any
	hasResult                                bool

	// Task
	resource         string
	timeoutSeconds   int64
	timeoutPath      *jpath
	heartbeatSeconds int64
	retry            []retrier
	catch            []catcher

	// Choice
	choices []*choiceRule
	def     string

	// Wait
	seconds       *int64
	timestamp     *time.Time
	secondsPath   *jpath
	timestampPath *jpath

	// Fail
	errName, cause      string
	errorPath, causePth *jpath
	errorFn, causeFn    *intrinsic

	// Parallel / Map
	branches           []*machine
	processor          *machine
	itemsPath          *jpath
	maxConcurrency     int64
	maxConcurrencyPath *jpath
}

// StateNames lists every state name in the definition, nested Parallel
// branches and Map processors included, sorted.
func (d *Definition) StateNames() []string { return append([]string(nil), d.names...) }

// TaskResources lists the distinct Resource values of every Task state,
// nested included, sorted.
func (d *Definition) TaskResources() []string { return append([]string(nil), d.resources...) }

// TimeoutSeconds is the definition's top-level TimeoutSeconds (0 if unset).
func (d *Definition) TimeoutSeconds() int64 { return d.timeoutSeconds }

type validator struct {
	problems  []string
	names     map[string]bool
	resources map[string]bool
}

func (v *validator) add(format string, a ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}

// Parse parses and validates a JSONPath state machine definition. An invalid
// definition gives a *ValidationError listing every problem found.
func Parse(def []byte) (*Definition, error) {
	raw, err := decodeJSON(def)
	if err != nil {
		return nil, &ValidationError{Problems: []string{"INVALID_JSON_DESCRIPTION: the definition is not valid JSON: " + err.Error()}}
	}
	top, ok := plainDefinition(raw).(map[string]any)
	if !ok {
		return nil, &ValidationError{Problems: []string{"SCHEMA_VALIDATION_FAILED: the definition must be a JSON object"}}
	}
	v := &validator{names: map[string]bool{}, resources: map[string]bool{}}
	d := &Definition{}
	if ql, ok := top["QueryLanguage"]; ok {
		checkQueryLanguage(v, "the definition", ql)
	}
	if to, ok := top["TimeoutSeconds"]; ok {
		n, ok := toInt(to)
		if !ok || n <= 0 || n > 99999999 {
			v.add("SCHEMA_VALIDATION_FAILED: top-level TimeoutSeconds must be a positive integer, got %s", jsonText(to))
		}
		d.timeoutSeconds = n
	}
	if ver, ok := top["Version"]; ok {
		if _, ok := ver.(string); !ok {
			v.add("SCHEMA_VALIDATION_FAILED: Version must be a string")
		}
	}
	d.top = v.machine(top, "the definition", map[string]bool{"Comment": true, "StartAt": true, "States": true, "TimeoutSeconds": true, "Version": true, "QueryLanguage": true})
	if len(v.problems) > 0 {
		return nil, &ValidationError{Problems: v.problems}
	}
	for n := range v.names {
		d.names = append(d.names, n)
	}
	sort.Strings(d.names)
	for r := range v.resources {
		d.resources = append(d.resources, r)
	}
	sort.Strings(d.resources)
	return d, nil
}

func checkQueryLanguage(v *validator, where string, ql any) {
	switch ql {
	case "JSONPath":
	case "JSONata":
		v.add("%s: QueryLanguage JSONata is not supported: this project's engine runs JSONPath state machines only", where)
	default:
		v.add("SCHEMA_VALIDATION_FAILED: %s: QueryLanguage must be \"JSONPath\", got %s", where, jsonText(ql))
	}
}

// machine validates {StartAt, States} (the top level, a Parallel branch or
// a Map processor) and the states inside it.
func (v *validator) machine(m map[string]any, where string, allowed map[string]bool) *machine {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !allowed[k] {
			v.add("SCHEMA_VALIDATION_FAILED: %s: unknown field %q", where, k)
		}
	}
	mc := &machine{states: map[string]*state{}}
	start, ok := m["StartAt"].(string)
	if !ok || start == "" {
		v.add("SCHEMA_VALIDATION_FAILED: %s: StartAt must be a non-empty string", where)
	}
	mc.startAt = start
	states, ok := m["States"].(map[string]any)
	if !ok || len(states) == 0 {
		v.add("SCHEMA_VALIDATION_FAILED: %s: States must be a non-empty object", where)
		return mc
	}
	for _, name := range slices.Sorted(maps.Keys(states)) {
		if v.names[name] {
			v.add("state %q: DUPLICATE_STATE_NAME: state names must be unique in the whole state machine", name)
		}
		v.names[name] = true
		if len(name) == 0 || len([]rune(name)) > 80 {
			v.add("state %q: SCHEMA_VALIDATION_FAILED: a state name must be 1 to 80 characters long", name)
		}
		sm, ok := states[name].(map[string]any)
		if !ok {
			v.add("state %q: SCHEMA_VALIDATION_FAILED: a state must be an object", name)
			continue
		}
		mc.states[name] = v.state(name, sm)
	}
	if start != "" && mc.states[start] == nil && states[start] == nil {
		v.add("MISSING_TRANSITION_TARGET: %s: StartAt %q is not a state", where, start)
	}
	// Transition targets must exist in this scope; every state must be reachable.
	targets := func(s *state) []string {
		var t []string
		if s.next != "" {
			t = append(t, s.next)
		}
		if s.def != "" {
			t = append(t, s.def)
		}
		for _, c := range s.choices {
			if c != nil && c.next != "" {
				t = append(t, c.next)
			}
		}
		for _, c := range s.catch {
			if c.next != "" {
				t = append(t, c.next)
			}
		}
		return t
	}
	for _, name := range slices.Sorted(maps.Keys(states)) {
		s := mc.states[name]
		if s == nil {
			continue
		}
		for _, t := range targets(s) {
			if _, ok := states[t]; !ok {
				v.add("state %q: MISSING_TRANSITION_TARGET: %q is not a state in the same scope", name, t)
			}
		}
	}
	if _, ok := mc.states[start]; ok {
		seen := map[string]bool{start: true}
		queue := []string{start}
		for len(queue) > 0 {
			s := mc.states[queue[0]]
			queue = queue[1:]
			if s == nil {
				continue
			}
			for _, t := range targets(s) {
				if !seen[t] {
					seen[t] = true
					queue = append(queue, t)
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(states)) {
			if !seen[name] {
				v.add("state %q: UNREACHABLE_STATE: no transition from StartAt leads to it", name)
			}
		}
	}
	return mc
}

// stateType is what the validator knows of one state type: the fields it
// may have besides Type, Comment and QueryLanguage, and how to read those
// only it has (nil when the common ones are all).
type stateType struct {
	fields []string
	read   func(r *stateReader)
}

// stateTypes is set in init: the readers of Parallel and Map validate their
// branches with validator.state, which looks them up here.
var stateTypes map[string]stateType

func init() {
	stateTypes = map[string]stateType{
		"Task":     {[]string{"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"}, (*stateReader).task},
		"Pass":     {[]string{"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath", "Result"}, (*stateReader).pass},
		"Choice":   {[]string{"InputPath", "OutputPath", "Choices", "Default"}, (*stateReader).choice},
		"Wait":     {[]string{"Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"}, (*stateReader).wait},
		"Succeed":  {[]string{"InputPath", "OutputPath"}, nil},
		"Fail":     {[]string{"Error", "Cause", "ErrorPath", "CausePath"}, (*stateReader).fail},
		"Parallel": {[]string{"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Branches"}, (*stateReader).parallel},
		"Map":      {[]string{"Next", "End", "InputPath", "OutputPath", "Parameters", "ItemSelector", "ResultSelector", "ResultPath", "Retry", "Catch", "Iterator", "ItemProcessor", "ItemsPath", "MaxConcurrency", "MaxConcurrencyPath"}, (*stateReader).mapState},
	}
}

var distributedMapFields = map[string]bool{"ItemReader": true, "ItemBatcher": true, "ResultWriter": true, "ToleratedFailurePercentage": true, "ToleratedFailurePercentagePath": true, "ToleratedFailureCount": true, "ToleratedFailureCountPath": true, "Label": true}

// stateReader reads one state's object m into s, adding what is wrong to
// the validator's problems, each prefixed with where.
type stateReader struct {
	v     *validator
	s     *state
	m     map[string]any
	where string
}

func (r *stateReader) add(format string, a ...any) { r.v.add(r.where+": "+format, a...) }

func (v *validator) state(name string, m map[string]any) *state {
	r := &stateReader{v: v, s: &state{name: name}, m: m, where: fmt.Sprintf("state %q", name)}
	typ, _ := m["Type"].(string)
	r.s.typ = typ
	st, ok := stateTypes[typ]
	if !ok {
		r.add("SCHEMA_VALIDATION_FAILED: Type must be one of Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map, got %s", jsonText(m["Type"]))
		return r.s
	}
	allowed := map[string]bool{"Type": true, "Comment": true, "QueryLanguage": true}
	for _, f := range st.fields {
		allowed[f] = true
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch {
		case allowed[k]:
		case k == "Assign" || k == "Output" || k == "Arguments":
			r.add("SCHEMA_VALIDATION_FAILED: field %q belongs to JSONata or variables; this project uses JSONPath without variables", k)
		case (k == "Next" || k == "End") && (typ == "Choice" || typ == "Succeed" || typ == "Fail"):
			r.add("SCHEMA_VALIDATION_FAILED: a %s state cannot have %s", typ, k)
		case typ == "Map" && distributedMapFields[k]:
			r.add("SCHEMA_VALIDATION_FAILED: field %q is for a distributed Map, which the local engine does not support", k)
		default:
			r.add("SCHEMA_VALIDATION_FAILED: unknown field %q for a %s state", k, typ)
		}
	}
	if ql, ok := m["QueryLanguage"]; ok {
		checkQueryLanguage(v, r.where, ql)
	}
	if c, ok := m["Comment"]; ok {
		if _, ok := c.(string); !ok {
			r.add("SCHEMA_VALIDATION_FAILED: Comment must be a string")
		}
	}
	r.common(allowed)
	if st.read != nil {
		st.read(r)
	}
	return r.s
}

// common reads the fields several types share: transitions, paths,
// templates, Retry and Catch.
func (r *stateReader) common(allowed map[string]bool) {
	s, m := r.s, r.m
	if allowed["End"] {
		s.next = r.str("Next")
		if e, ok := m["End"]; ok {
			b, ok := e.(bool)
			if !ok {
				r.add("SCHEMA_VALIDATION_FAILED: End must be a boolean")
			}
			s.end = b
		}
		if (s.next != "") == s.end {
			r.add("SCHEMA_VALIDATION_FAILED: a %s state needs exactly one of Next or \"End\": true", s.typ)
		}
	}
	if allowed["InputPath"] {
		s.inputPath = r.popt("InputPath", false)
		s.outputPath = r.popt("OutputPath", false)
	}
	if allowed["ResultPath"] {
		s.resultPath = r.popt("ResultPath", true)
	}
	if allowed["Parameters"] {
		s.parameters = r.template("Parameters")
	}
	if allowed["ResultSelector"] {
		s.resultSelector = r.template("ResultSelector")
	}
	if allowed["Retry"] {
		s.retry = r.v.retriers(r.where, m["Retry"])
		s.catch = r.v.catchers(r.where, m["Catch"])
	}
}

// str is field k as a string; "" when absent, and a problem when it is not
// a non-empty string.
func (r *stateReader) str(k string) string {
	x, ok := r.m[k]
	if !ok {
		return ""
	}
	sv, ok := x.(string)
	if !ok || sv == "" {
		r.add("SCHEMA_VALIDATION_FAILED: %s must be a non-empty string", k)
	}
	return sv
}

// path is field k as a path; ref requires a reference path.
func (r *stateReader) path(k string, ref bool) *jpath {
	sv := r.str(k)
	if sv == "" {
		return nil
	}
	p, err := parsePath(sv)
	if err != nil {
		r.add("SCHEMA_VALIDATION_FAILED: %s: %v", k, err)
		return nil
	}
	if ref && !p.reference() {
		r.add("SCHEMA_VALIDATION_FAILED: %s must be a reference path (no $$, wildcards or slices), got %q", k, sv)
	}
	return p
}

// popt is an optional path field that may be null.
func (r *stateReader) popt(k string, ref bool) pathOpt {
	x, ok := r.m[k]
	if !ok {
		return pathOpt{}
	}
	if x == nil {
		return pathOpt{null: true}
	}
	return pathOpt{p: r.path(k, ref)}
}

// posInt is field k as an integer from min to max; false when absent.
func (r *stateReader) posInt(k string, min, max int64) (int64, bool) {
	x, ok := r.m[k]
	if !ok {
		return 0, false
	}
	n, ok := toInt(x)
	if !ok || n < min || n > max {
		r.add("SCHEMA_VALIDATION_FAILED: %s must be an integer from %d to %d, got %s", k, min, max, jsonText(x))
	}
	return n, true
}

// template compiles field k as a payload template; nil when absent.
func (r *stateReader) template(k string) *tmpl {
	x, ok := r.m[k]
	if !ok {
		return nil
	}
	return compileTemplate(x, r.where+": "+k, &r.v.problems)
}

func (r *stateReader) task() {
	s, m := r.s, r.m
	s.resource = r.str("Resource")
	if s.resource == "" {
		r.add("SCHEMA_VALIDATION_FAILED: a Task state needs Resource")
	} else {
		r.v.resources[s.resource] = true
	}
	if n, ok := r.posInt("TimeoutSeconds", 1, 99999999); ok {
		s.timeoutSeconds = n
	}
	s.timeoutPath = r.path("TimeoutSecondsPath", true)
	if _, ok := m["TimeoutSeconds"]; ok && s.timeoutPath != nil {
		r.add("SCHEMA_VALIDATION_FAILED: use only one of TimeoutSeconds and TimeoutSecondsPath")
	}
	if n, ok := r.posInt("HeartbeatSeconds", 1, 99999999); ok {
		s.heartbeatSeconds = n
		if s.timeoutSeconds > 0 && n >= s.timeoutSeconds {
			r.add("SCHEMA_VALIDATION_FAILED: HeartbeatSeconds must be smaller than TimeoutSeconds")
		}
	}
	_ = r.path("HeartbeatSecondsPath", true)
	if _, ok := m["HeartbeatSeconds"]; ok && m["HeartbeatSecondsPath"] != nil {
		r.add("SCHEMA_VALIDATION_FAILED: use only one of HeartbeatSeconds and HeartbeatSecondsPath")
	}
}

func (r *stateReader) pass() {
	r.s.result, r.s.hasResult = r.m["Result"]
}

func (r *stateReader) choice() {
	arr, ok := r.m["Choices"].([]any)
	if !ok || len(arr) == 0 {
		r.add("SCHEMA_VALIDATION_FAILED: a Choice state needs a non-empty Choices array")
	}
	for i, c := range arr {
		r.s.choices = append(r.s.choices, compileChoice(c, fmt.Sprintf("%s: Choices[%d]", r.where, i), true, &r.v.problems))
	}
	r.s.def = r.str("Default")
}

func (r *stateReader) wait() {
	s := r.s
	n := 0
	for _, k := range []string{"Seconds", "Timestamp", "SecondsPath", "TimestampPath"} {
		if _, ok := r.m[k]; ok {
			n++
		}
	}
	if n != 1 {
		r.add("Wait needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath")
	}
	if sec, ok := r.posInt("Seconds", 0, 99999999); ok {
		s.seconds = &sec
	}
	if ts := r.str("Timestamp"); ts != "" {
		t, ok := parseTimestamp(ts)
		if !ok {
			r.add("SCHEMA_VALIDATION_FAILED: Timestamp must be an RFC3339 timestamp such as 2016-03-14T01:59:00Z, got %q", ts)
		}
		s.timestamp = &t
	}
	s.secondsPath = r.path("SecondsPath", true)
	s.timestampPath = r.path("TimestampPath", true)
}

func (r *stateReader) fail() {
	s, m := r.s, r.m
	s.errName = r.str("Error")
	s.cause = r.str("Cause")
	for _, k := range []string{"ErrorPath", "CausePath"} {
		sv := r.str(k)
		if sv == "" {
			continue
		}
		var p *jpath
		var fn *intrinsic
		var err error
		if isIntrinsic(sv) {
			fn, err = parseIntrinsic(sv)
		} else {
			p, err = parsePath(sv)
		}
		if err != nil {
			r.add("SCHEMA_VALIDATION_FAILED: %s: %v", k, err)
		}
		if k == "ErrorPath" {
			s.errorPath, s.errorFn = p, fn
		} else {
			s.causePth, s.causeFn = p, fn
		}
	}
	if _, ok := m["ErrorPath"]; ok && s.errName != "" {
		r.add("SCHEMA_VALIDATION_FAILED: use only one of Error and ErrorPath")
	}
	if _, ok := m["CausePath"]; ok && s.cause != "" {
		r.add("SCHEMA_VALIDATION_FAILED: use only one of Cause and CausePath")
	}
}

// branchFields are the fields of a Parallel branch or a Map's processor.
func branchFields(extra ...string) map[string]bool {
	f := map[string]bool{"StartAt": true, "States": true, "Comment": true, "QueryLanguage": true}
	for _, k := range extra {
		f[k] = true
	}
	return f
}

func (r *stateReader) parallel() {
	arr, ok := r.m["Branches"].([]any)
	if !ok || len(arr) == 0 {
		r.add("SCHEMA_VALIDATION_FAILED: a Parallel state needs a non-empty Branches array")
	}
	for i, b := range arr {
		bm, ok := b.(map[string]any)
		if !ok {
			r.add("SCHEMA_VALIDATION_FAILED: Branches[%d] must be an object", i)
			continue
		}
		r.s.branches = append(r.s.branches, r.v.machine(bm, fmt.Sprintf("%s: Branches[%d]", r.where, i), branchFields()))
	}
}

func (r *stateReader) mapState() {
	s, m := r.s, r.m
	_, hasIt := m["Iterator"]
	_, hasIP := m["ItemProcessor"]
	switch {
	case hasIt && hasIP:
		r.add("SCHEMA_VALIDATION_FAILED: use only one of Iterator and ItemProcessor")
	case !hasIt && !hasIP:
		r.add("SCHEMA_VALIDATION_FAILED: a Map state needs ItemProcessor (or the legacy Iterator)")
	case hasIt:
		if im, ok := m["Iterator"].(map[string]any); ok {
			s.processor = r.v.machine(im, r.where+": Iterator", branchFields())
		} else {
			r.add("SCHEMA_VALIDATION_FAILED: Iterator must be an object")
		}
	default:
		r.itemProcessor()
	}
	if _, ok := m["Parameters"]; ok {
		if _, ok := m["ItemSelector"]; ok {
			r.add("SCHEMA_VALIDATION_FAILED: use only one of ItemSelector and the legacy Parameters")
		}
	}
	s.itemSelector = r.template("ItemSelector")
	if s.itemSelector == nil {
		s.itemSelector = s.parameters // legacy: Parameters on a Map applies to each item
		s.parameters = nil
	}
	s.itemsPath = r.path("ItemsPath", true)
	if n, ok := r.posInt("MaxConcurrency", 0, math.MaxInt32); ok {
		s.maxConcurrency = n
	}
	s.maxConcurrencyPath = r.path("MaxConcurrencyPath", true)
	if _, ok := m["MaxConcurrency"]; ok && s.maxConcurrencyPath != nil {
		r.add("SCHEMA_VALIDATION_FAILED: use only one of MaxConcurrency and MaxConcurrencyPath")
	}
}

// itemProcessor reads a Map's ItemProcessor: inline mode only.
func (r *stateReader) itemProcessor() {
	im, ok := r.m["ItemProcessor"].(map[string]any)
	if !ok {
		r.add("SCHEMA_VALIDATION_FAILED: ItemProcessor must be an object")
		return
	}
	if pc, ok := im["ProcessorConfig"]; ok {
		pcm, ok := pc.(map[string]any)
		if !ok {
			r.add("SCHEMA_VALIDATION_FAILED: ItemProcessor.ProcessorConfig must be an object")
		} else {
			for _, k := range slices.Sorted(maps.Keys(pcm)) {
				switch k {
				case "Mode":
					if pcm[k] == "DISTRIBUTED" {
						r.add("SCHEMA_VALIDATION_FAILED: ProcessorConfig Mode DISTRIBUTED (distributed Map) is not supported by the local engine")
					} else if pcm[k] != "INLINE" {
						r.add("SCHEMA_VALIDATION_FAILED: ProcessorConfig Mode must be INLINE or DISTRIBUTED")
					}
				case "ExecutionType":
					r.add("SCHEMA_VALIDATION_FAILED: ProcessorConfig ExecutionType is only for a distributed Map")
				default:
					r.add("SCHEMA_VALIDATION_FAILED: unknown field %q in ProcessorConfig", k)
				}
			}
		}
	}
	r.s.processor = r.v.machine(im, r.where+": ItemProcessor", branchFields("ProcessorConfig"))
}

func errorEquals(add func(string, ...any), what string, x any) []string {
	arr, ok := x.([]any)
	if !ok || len(arr) == 0 {
		add("SCHEMA_VALIDATION_FAILED: %s: ErrorEquals must be a non-empty array of strings", what)
		return nil
	}
	var out []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			add("SCHEMA_VALIDATION_FAILED: %s: ErrorEquals must be a non-empty array of strings", what)
			continue
		}
		out = append(out, s)
	}
	return out
}

// checkALL enforces "States.ALL must appear alone in its ErrorEquals and in
// the last Retrier/Catcher".
func checkALL(add func(string, ...any), kind string, lists [][]string) {
	for i, l := range lists {
		for _, e := range l {
			if e != ErrALL {
				continue
			}
			if len(l) != 1 {
				add("SCHEMA_VALIDATION_FAILED: %s[%d]: States.ALL must appear alone in ErrorEquals", kind, i)
			}
			if i != len(lists)-1 {
				add("SCHEMA_VALIDATION_FAILED: %s[%d]: States.ALL must be in the last %s", kind, i, map[string]string{"Retry": "Retrier", "Catch": "Catcher"}[kind])
			}
		}
	}
}

func (v *validator) retriers(where string, x any) []retrier {
	if x == nil {
		return nil
	}
	add := func(format string, a ...any) { v.add(where+": "+format, a...) }
	arr, ok := x.([]any)
	if !ok {
		add("SCHEMA_VALIDATION_FAILED: Retry must be an array")
		return nil
	}
	var out []retrier
	var lists [][]string
	for i, it := range arr {
		what := fmt.Sprintf("Retry[%d]", i)
		m, ok := it.(map[string]any)
		if !ok {
			add("SCHEMA_VALIDATION_FAILED: %s must be an object", what)
			continue
		}
		r := retrier{interval: 1, maxAttempts: 3, backoff: 2}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			val := m[k]
			switch k {
			case "ErrorEquals":
				r.errorEquals = errorEquals(add, what, val)
			case "IntervalSeconds":
				n, ok := toInt(val)
				if !ok || n < 1 || n > 99999999 {
					add("SCHEMA_VALIDATION_FAILED: %s: IntervalSeconds must be a positive integer, got %s", what, jsonText(val))
				}
				r.interval = float64(n)
			case "MaxAttempts":
				n, ok := toInt(val)
				if !ok || n < 0 || n > 99999999 {
					add("SCHEMA_VALIDATION_FAILED: %s: MaxAttempts must be an integer from 0 to 99999999, got %s", what, jsonText(val))
				}
				r.maxAttempts = n
			case "BackoffRate":
				num, ok := val.(json.Number)
				f, err := num.Float64()
				if !ok || err != nil || f < 1 {
					add("SCHEMA_VALIDATION_FAILED: %s: BackoffRate must be a number >= 1.0, got %s", what, jsonText(val))
				}
				r.backoff = f
			case "MaxDelaySeconds":
				n, ok := toInt(val)
				if !ok || n < 1 || n > 31622400 {
					add("SCHEMA_VALIDATION_FAILED: %s: MaxDelaySeconds must be an integer from 1 to 31622400, got %s", what, jsonText(val))
				}
				r.maxDelay = float64(n)
			case "JitterStrategy":
				switch val {
				case "FULL":
					r.jitterFull = true
				case "NONE":
				default:
					add("SCHEMA_VALIDATION_FAILED: %s: JitterStrategy must be FULL or NONE, got %s", what, jsonText(val))
				}
			case "Comment":
			default:
				add("SCHEMA_VALIDATION_FAILED: %s: unknown field %q", what, k)
			}
		}
		if _, ok := m["ErrorEquals"]; !ok {
			add("SCHEMA_VALIDATION_FAILED: %s needs ErrorEquals", what)
		}
		lists = append(lists, r.errorEquals)
		out = append(out, r)
	}
	checkALL(add, "Retry", lists)
	return out
}

func (v *validator) catchers(where string, x any) []catcher {
	if x == nil {
		return nil
	}
	add := func(format string, a ...any) { v.add(where+": "+format, a...) }
	arr, ok := x.([]any)
	if !ok {
		add("SCHEMA_VALIDATION_FAILED: Catch must be an array")
		return nil
	}
	var out []catcher
	var lists [][]string
	for i, it := range arr {
		what := fmt.Sprintf("Catch[%d]", i)
		m, ok := it.(map[string]any)
		if !ok {
			add("SCHEMA_VALIDATION_FAILED: %s must be an object", what)
			continue
		}
		var c catcher
		for _, k := range slices.Sorted(maps.Keys(m)) {
			val := m[k]
			switch k {
			case "ErrorEquals":
				c.errorEquals = errorEquals(add, what, val)
			case "Next":
				s, ok := val.(string)
				if !ok || s == "" {
					add("SCHEMA_VALIDATION_FAILED: %s: Next must be a non-empty string", what)
				}
				c.next = s
			case "ResultPath":
				if val == nil {
					c.resultPath = pathOpt{null: true}
					continue
				}
				s, _ := val.(string)
				p, err := parsePath(s)
				if err != nil {
					add("SCHEMA_VALIDATION_FAILED: %s: ResultPath: %v", what, err)
				} else if !p.reference() {
					add("SCHEMA_VALIDATION_FAILED: %s: ResultPath must be a reference path, got %q", what, s)
				}
				c.resultPath = pathOpt{p: p}
			case "Comment":
			case "Assign", "Output":
				add("SCHEMA_VALIDATION_FAILED: %s: field %q belongs to JSONata or variables; this project uses JSONPath without variables", what, k)
			default:
				add("SCHEMA_VALIDATION_FAILED: %s: unknown field %q", what, k)
			}
		}
		if _, ok := m["ErrorEquals"]; !ok {
			add("SCHEMA_VALIDATION_FAILED: %s needs ErrorEquals", what)
		}
		if c.next == "" {
			add("MISSING_TRANSITION_TARGET: %s needs Next", what)
		}
		lists = append(lists, c.errorEquals)
		out = append(out, c)
	}
	checkALL(add, "Catch", lists)
	return out
}
