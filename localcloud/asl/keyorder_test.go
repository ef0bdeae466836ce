package asl

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// keyOrderReference holds, for each case of testdata/key_order_cases.json,
// the execution output text that the independent ASL engine
// aws-local-stepfunctions 3.0.0 (npm) produced for it on this project's
// development machine (Node 20), printed by
// scripts/asl-key-order-reference.cjs; rerun that script where npm is
// reachable to regenerate them. Step Functions itself keeps an object's keys
// in insertion order (doc: ResultPath, "appended to the original input";
// see localcloud/FIDELITY.md), and so does that engine.
var keyOrderReference = map[string]string{
	"JsonToString keeps the input's order":                       "{\"s\":\"{\\\"b\\\":2,\\\"a\\\":1}\"}",
	"JsonToString of nested objects and arrays":                  "{\"s\":\"{\\\"y\\\":1,\\\"x\\\":[{\\\"q\\\":1,\\\"p\\\":2}],\\\"w\\\":{\\\"n\\\":null,\\\"m\\\":true}}\",\"z\":{\"y\":1,\"x\":[{\"q\":1,\"p\":2}],\"w\":{\"n\":null,\"m\":true}}}",
	"JsonMerge shallow with an overlapping key":                  "{\"merged\":{\"c\":1,\"a\":5,\"b\":3,\"d\":4,\"e\":6}}",
	"Format with an object rendered by JsonToString":             "{\"f\":\"object={\\\"k2\\\":\\\"v\\\",\\\"k1\\\":[2,1]}\"}",
	"StringToJson keeps the text's order":                        "{\"j\":{\"b\":1,\"a\":{\"d\":2,\"c\":3}}}",
	"Parameters template order, static and dynamic fields mixed": "{\"zeta\":1,\"alpha\":2,\"Mid\":{\"y\":\"static\",\"x\":1},\"list\":[{\"k\":1,\"c\":1}]}",
	"Pass Result order, added by ResultPath at the end":          "{\"m\":1,\"b\":2,\"res\":{\"z\":1,\"a\":{\"d\":1,\"c\":2}}}",
	"ResultPath onto an existing key keeps its place":            "{\"c\":1,\"b\":\"X\",\"a\":3}",
	"ResultPath into a nested object appends there":              "{\"o\":{\"z\":1,\"a\":2,\"new\":{\"y\":1,\"x\":2}},\"k\":0}",
	"Task result order through ResultSelector and ResultPath":    "{\"q\":1,\"b\":2,\"r\":{\"second\":{\"y\":2,\"x\":3},\"first\":1,\"whole\":{\"zz\":1,\"aa\":{\"y\":2,\"x\":3}}}}",
	"Wildcard over an object follows its order":                  "{\"vals\":[1,2,3]}",
	"Execution output across states, Map with ItemSelector":      "{\"out\":[{\"v\":2,\"i\":0,\"n\":\"b\"},{\"v\":1,\"i\":1,\"n\":\"a\"}],\"kept\":{\"y\":1,\"x\":2},\"first\":{\"n\":\"b\",\"v\":2}}",
	"Catch adds the error object at the end":                     "{\"z\":1,\"a\":2,\"err\":{\"Error\":\"Custom.Failure\",\"Cause\":\"boom\"}}",
}

type keyOrderCase struct {
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input"`
	Definition json.RawMessage `json:"definition"`
	TaskResult string          `json:"taskResult"`
	TaskError  *struct {
		Error string `json:"error"`
		Cause string `json:"cause"`
	} `json:"taskError"`
}

// The engine's output text, byte for byte, is the reference engine's: no
// object's keys are reordered, whether they come from the execution input,
// a payload template, a Pass Result, a task result, an intrinsic function
// (JsonToString, JsonMerge, StringToJson, Format) or a ResultPath merge. The
// history's ExecutionStarted input is the input text as given and its
// ExecutionSucceeded output is the output text.
func TestKeyOrderMatchesReferenceEngine(t *testing.T) {
	raw, err := os.ReadFile("testdata/key_order_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []keyOrderCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != len(keyOrderReference) {
		t.Fatalf("%d cases but %d reference outputs: rerun scripts/asl-key-order-reference.cjs", len(cases), len(keyOrderReference))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := keyOrderReference[c.Name]
			if !ok {
				t.Fatalf("no reference output for %q: rerun scripts/asl-key-order-reference.cjs", c.Name)
			}
			e, _, _ := run(t, string(c.Definition), string(c.Input), func(context.Context, TaskRequest, int) (json.RawMessage, error) {
				if c.TaskError != nil {
					return nil, &TaskFailure{ErrorName: c.TaskError.Error, Cause: c.TaskError.Cause}
				}
				return json.RawMessage(c.TaskResult), nil
			})
			if e.Status() != StatusSucceeded {
				n, cause := e.Error()
				t.Fatalf("status %s (%s: %s)", e.Status(), n, cause)
			}
			if got := string(e.Output()); got != want {
				t.Errorf("output\n got  %s\n want %s (aws-local-stepfunctions 3.0.0)", got, want)
			}
			h := e.History()
			if in := h[0].Details["input"]; in != string(c.Input) {
				t.Errorf("ExecutionStarted input %v, want the input text as given %s", in, c.Input)
			}
			if out := h[len(h)-1].Details["output"]; out != want {
				t.Errorf("ExecutionSucceeded output %v, want %s", out, want)
			}
		})
	}
}

// The engine's own encoder writes strings exactly as encoding/json does
// without HTML escaping, and the ordered decoder refuses what
// encoding/json refuses.
func TestEncodeAndDecodeAgreeWithEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `<a href="x">&</a>`, "tab\tnl\ncr\r", "\x00\x01\x1f", "back\\slash",
		"\u2028\u2029", "é€😀", "bad\xffutf8", "\xe2\x82"} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got, want := jsonText(s), strings.TrimSuffix(b.String(), "\n"); got != want {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `{1:2}`, `{"a":1} x`, `nul`, `"\x01"`} {
		_, err := decodeJSON([]byte(bad))
		var v any
		if err == nil || json.Unmarshal([]byte(bad), &v) == nil {
			t.Errorf("%q: decodeJSON err %v; encoding/json must refuse it too", bad, err)
		}
	}
	v, err := decodeJSON([]byte(` {"b": [1, {"d": null, "c": "x"}], "a": 1.50, "b": true} `))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonText(v), `{"b":true,"a":1.50}`; got != want {
		t.Errorf("got %s want %s (a repeated key keeps its first place and takes its last value)", got, want)
	}
}
