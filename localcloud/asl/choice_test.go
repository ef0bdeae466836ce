package asl

import (
	"strings"
	"testing"
)

func evalRule(t *testing.T, rule, input string) (bool, *stateErr) {
	t.Helper()
	rv, err := decodeJSON([]byte(rule))
	if err != nil {
		t.Fatalf("rule %s: %v", rule, err)
	}
	var problems []string
	r := compileChoice(rv, "test", false, &problems)
	if len(problems) > 0 {
		t.Fatalf("rule %s: %v", rule, problems)
	}
	in, _ := decodeJSON([]byte(input))
	return r.eval(in, map[string]any{"State": map[string]any{"Name": "C"}})
}

func TestChoiceOperators(t *testing.T) {
	in := `{"s":"beta","s2":"beta","s3":"gamma","n":5,"n2":5.0,"n3":7,"big":12345678901234567890,"b":true,"b2":true,"ts":"2026-11-27T05:12:08Z","ts2":"2026-11-27T06:00:00+01:00","ts3":"2026-11-28T00:00:00Z","nul":null,"file":"log-2026.txt","star":"a*b","obj":{"k":1},"arr":[1]}`
	cases := []struct {
		rule string
		want bool
	}{
		{`{"Variable":"$.s","StringEquals":"beta"}`, true},
		{`{"Variable":"$.s","StringEquals":"Beta"}`, false},
		{`{"Variable":"$.s","StringEqualsPath":"$.s2"}`, true},
		{`{"Variable":"$.s","StringEqualsPath":"$.s3"}`, false},
		{`{"Variable":"$.s","StringLessThan":"gamma"}`, true},
		{`{"Variable":"$.s","StringLessThan":"beta"}`, false},
		{`{"Variable":"$.s","StringLessThanEquals":"beta"}`, true},
		{`{"Variable":"$.s","StringGreaterThan":"alpha"}`, true},
		{`{"Variable":"$.s","StringGreaterThanEquals":"beta"}`, true},
		{`{"Variable":"$.s","StringGreaterThanEquals":"c"}`, false},
		{`{"Variable":"$.s","StringLessThanPath":"$.s3"}`, true},
		{`{"Variable":"$.s","StringLessThanEqualsPath":"$.s2"}`, true},
		{`{"Variable":"$.s","StringGreaterThanPath":"$.s3"}`, false},
		{`{"Variable":"$.s3","StringGreaterThanEqualsPath":"$.s"}`, true},
		{`{"Variable":"$.file","StringMatches":"log-*.txt"}`, true},
		{`{"Variable":"$.file","StringMatches":"*.txt"}`, true},
		{`{"Variable":"$.file","StringMatches":"log-*.csv"}`, false},
		{`{"Variable":"$.file","StringMatches":"log-2026.txt"}`, true},
		{`{"Variable":"$.file","StringMatches":"*"}`, true},
		{`{"Variable":"$.star","StringMatches":"a\\*b"}`, true},
		{`{"Variable":"$.file","StringMatches":"log\\*"}`, false},
		{`{"Variable":"$.n","NumericEquals":5}`, true},
		{`{"Variable":"$.n2","NumericEquals":5}`, true},
		{`{"Variable":"$.n","NumericEquals":6}`, false},
		{`{"Variable":"$.big","NumericEquals":12345678901234567891}`, false},
		{`{"Variable":"$.n","NumericEqualsPath":"$.n2"}`, true},
		{`{"Variable":"$.n","NumericLessThan":5.5}`, true},
		{`{"Variable":"$.n","NumericLessThan":5}`, false},
		{`{"Variable":"$.n","NumericLessThanEquals":5}`, true},
		{`{"Variable":"$.n","NumericGreaterThan":4}`, true},
		{`{"Variable":"$.n","NumericGreaterThanEquals":6}`, false},
		{`{"Variable":"$.n","NumericLessThanPath":"$.n3"}`, true},
		{`{"Variable":"$.n","NumericLessThanEqualsPath":"$.n2"}`, true},
		{`{"Variable":"$.n3","NumericGreaterThanPath":"$.n"}`, true},
		{`{"Variable":"$.n","NumericGreaterThanEqualsPath":"$.n3"}`, false},
		{`{"Variable":"$.b","BooleanEquals":true}`, true},
		{`{"Variable":"$.b","BooleanEquals":false}`, false},
		{`{"Variable":"$.b","BooleanEqualsPath":"$.b2"}`, true},
		{`{"Variable":"$.ts","TimestampEquals":"2026-11-27T05:12:08Z"}`, true},
		{`{"Variable":"$.ts2","TimestampEquals":"2026-11-27T05:00:00Z"}`, true},
		{`{"Variable":"$.ts","TimestampLessThan":"2026-11-27T05:12:09Z"}`, true},
		{`{"Variable":"$.ts","TimestampLessThanEquals":"2026-11-27T05:12:08Z"}`, true},
		{`{"Variable":"$.ts","TimestampGreaterThan":"2026-11-27T05:12:08Z"}`, false},
		{`{"Variable":"$.ts","TimestampGreaterThanEquals":"2026-01-01T00:00:00Z"}`, true},
		{`{"Variable":"$.ts","TimestampEqualsPath":"$.ts"}`, true},
		{`{"Variable":"$.ts","TimestampLessThanPath":"$.ts3"}`, true},
		{`{"Variable":"$.ts","TimestampLessThanEqualsPath":"$.ts2"}`, false},
		{`{"Variable":"$.ts3","TimestampGreaterThanPath":"$.ts"}`, true},
		{`{"Variable":"$.ts","TimestampGreaterThanEqualsPath":"$.ts3"}`, false},
		// Type tests.
		{`{"Variable":"$.nul","IsNull":true}`, true},
		{`{"Variable":"$.s","IsNull":true}`, false},
		{`{"Variable":"$.s","IsNull":false}`, true},
		{`{"Variable":"$.s","IsPresent":true}`, true},
		{`{"Variable":"$.missing","IsPresent":true}`, false},
		{`{"Variable":"$.missing","IsPresent":false}`, true},
		{`{"Variable":"$.nul","IsPresent":true}`, true},
		{`{"Variable":"$.n","IsNumeric":true}`, true},
		{`{"Variable":"$.s","IsNumeric":true}`, false},
		{`{"Variable":"$.s","IsString":true}`, true},
		{`{"Variable":"$.n","IsString":true}`, false},
		{`{"Variable":"$.b","IsBoolean":true}`, true},
		{`{"Variable":"$.s","IsBoolean":true}`, false},
		{`{"Variable":"$.ts","IsTimestamp":true}`, true},
		{`{"Variable":"$.s","IsTimestamp":true}`, false},
		{`{"Variable":"$.n","IsTimestamp":false}`, true},
		// Type mismatches are false, not errors.
		{`{"Variable":"$.n","StringEquals":"5"}`, false},
		{`{"Variable":"$.s","NumericEquals":5}`, false},
		{`{"Variable":"$.s","BooleanEquals":true}`, false},
		{`{"Variable":"$.s","TimestampEquals":"2026-11-27T05:12:08Z"}`, false},
		{`{"Variable":"$.obj","StringEquals":"x"}`, false},
		{`{"Variable":"$.arr","NumericEquals":1}`, false},
		{`{"Variable":"$.s","NumericEqualsPath":"$.n"}`, false},
		// Boolean combinators.
		{`{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Variable":"$.s","StringEquals":"beta"}]}`, true},
		{`{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Variable":"$.s","StringEquals":"x"}]}`, false},
		{`{"Or":[{"Variable":"$.n","NumericGreaterThan":10},{"Variable":"$.s","StringEquals":"beta"}]}`, true},
		{`{"Or":[{"Variable":"$.n","NumericGreaterThan":10},{"Variable":"$.s","StringEquals":"x"}]}`, false},
		{`{"Not":{"Variable":"$.s","StringEquals":"x"}}`, true},
		{`{"Not":{"Variable":"$.s","StringEquals":"beta"}}`, false},
		{`{"And":[{"Not":{"Variable":"$.missing","IsPresent":true}},{"Or":[{"Variable":"$.b","BooleanEquals":false},{"Variable":"$.n","NumericEquals":5}]}]}`, true},
		// Short-circuit: the second rule's path would be invalid.
		{`{"And":[{"Variable":"$.missing","IsPresent":true},{"Variable":"$.missing","StringEquals":"x"}]}`, false},
		// Context object paths.
		{`{"Variable":"$$.State.Name","StringEquals":"C"}`, true},
	}
	for _, c := range cases {
		got, err := evalRule(t, c.rule, in)
		if err != nil {
			t.Errorf("%s: error %v", c.rule, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %v want %v", c.rule, got, c.want)
		}
	}
}

func TestChoiceInvalidPathIsRuntime(t *testing.T) {
	for _, rule := range []string{
		`{"Variable":"$.missing","StringEquals":"x"}`,
		`{"Variable":"$.s","StringEqualsPath":"$.missing"}`,
	} {
		_, err := evalRule(t, rule, `{"s":"x"}`)
		if err == nil || err.name != ErrRuntime || !strings.Contains(err.cause, "Invalid path") {
			t.Errorf("%s: err %v, want States.Runtime", rule, err)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c*e", "abcde", true},
		{"a*c*e", "abcdf", false},
		{`a\*c`, "a*c", true},
		{`a\*c`, "abc", false},
		{`a\\b`, `a\b`, true},
		{"**", "x", true},
		{"héllo*", "héllo wörld", true},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pat, c.s); got != c.want {
			t.Errorf("%q ~ %q: got %v want %v", c.pat, c.s, got, c.want)
		}
	}
}

func TestChoiceState(t *testing.T) {
	def := `{"StartAt":"C","States":{
	  "C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.v","Choices":[
	     {"Variable":"$.v","NumericLessThan":0,"Next":"Neg"},
	     {"And":[{"Variable":"$.v","NumericGreaterThanEquals":0},{"Variable":"$.v","NumericLessThan":10}],"Next":"Small"}],
	   "Default":"Big"},
	  "Neg":{"Type":"Pass","Result":"neg","End":true},
	  "Small":{"Type":"Pass","Parameters":{"small.$":"$"},"End":true},
	  "Big":{"Type":"Pass","Result":"big","End":true}}}`
	for in, want := range map[string]string{
		`{"in":{"v":-1}}`:  `"neg"`,
		`{"in":{"v":3}}`:   `{"small":3}`,
		`{"in":{"v":300}}`: `"big"`,
	} {
		e, _, _ := run(t, def, in, nil)
		succeeded(t, e, want)
	}
	// No match and no Default.
	e, _, _ := run(t, `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.v","StringEquals":"x","Next":"D"}]},"D":{"Type":"Succeed"}}}`, `{"v":"y"}`, nil)
	failed(t, e, ErrNoChoiceMatched)
	h := e.History()
	if got := eventTypes(h); strings.Join(got, ",") != "ExecutionStarted,ChoiceStateEntered,ExecutionFailed" {
		t.Fatalf("events %v", got)
	}
}
