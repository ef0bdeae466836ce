package asl

import (
	"strings"
	"testing"
)

func TestPathGet(t *testing.T) {
	doc, _ := decodeJSON([]byte(`{"detail-type":"Reg","detail":{"a b":1,"list":[10,20,30],"objs":[{"n":"x"},{"n":"y"}]},"s":"str"}`))
	cases := []struct {
		path string
		want string // JSON; "" = not found
	}{
		{"$", `{"detail-type":"Reg","detail":{"a b":1,"list":[10,20,30],"objs":[{"n":"x"},{"n":"y"}]},"s":"str"}`},
		{"$.detail-type", `"Reg"`},
		{"$['detail-type']", `"Reg"`},
		{`$["detail-type"]`, `"Reg"`},
		{"$.detail['a b']", `1`},
		{"$.detail.list[1]", `20`},
		{"$.detail.list[-1]", `30`},
		{"$.detail.list[3]", ``},
		{"$.detail.list[*]", `[10,20,30]`},
		{"$.detail.list[0:2]", `[10,20]`},
		{"$.detail.list[1:]", `[20,30]`},
		{"$.detail.objs[*].n", `["x","y"]`},
		{"$.detail.missing", ``},
		{"$.s.x", ``},
		{"$.detail.list.x", ``},
	}
	for _, c := range cases {
		p, err := parsePath(c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		v, found := p.get(doc)
		if c.want == "" {
			if found {
				t.Errorf("%s: found %s, want nothing", c.path, jsonText(v))
			}
			continue
		}
		if !found {
			t.Errorf("%s: not found", c.path)
			continue
		}
		w, _ := decodeJSON([]byte(c.want))
		if !jsonEqual(v, w) {
			t.Errorf("%s: got %s want %s", c.path, jsonText(v), c.want)
		}
	}
}

func TestPathParseErrors(t *testing.T) {
	for path, want := range map[string]string{
		"detail":           "must begin with '$'",
		"$..a":             "recursive descent",
		"$.a[?(@.b == 1)]": "filter",
		"$.a['x','y']":     "unions",
		"$.a[1,2]":         "unions",
		"$.a[":             "unterminated",
		"$.a[x]":           "bad array index",
		"$.":               "empty field name",
	} {
		_, err := parsePath(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want it to mention %q", path, err, want)
		}
	}
}

func TestPathSet(t *testing.T) {
	cases := []struct {
		in, path, val, want, err string
	}{
		{`{"a":1}`, "$.b", `2`, `{"a":1,"b":2}`, ""},
		{`{"a":1}`, "$.x.y.z", `true`, `{"a":1,"x":{"y":{"z":true}}}`, ""},
		{`{"a":{"k":1}}`, "$.a.m", `2`, `{"a":{"k":1,"m":2}}`, ""},
		{`{"a":[1,2]}`, "$.a[1]", `9`, `{"a":[1,9]}`, ""},
		{`{"a":[1,2]}`, "$.a[5]", `9`, ``, "index 5"},
		{`{"a":"s"}`, "$.a.b", `1`, ``, "not inside an object"},
		{`"str"`, "$.a", `1`, ``, "not inside an object"},
		{`{"detail-type":1}`, "$.detail-type", `2`, `{"detail-type":2}`, ""},
	}
	for _, c := range cases {
		p, err := parsePath(c.path)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := decodeJSON([]byte(c.in))
		val, _ := decodeJSON([]byte(c.val))
		out, err := p.set(in, val)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s on %s: err %v, want %q", c.path, c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s on %s: %v", c.path, c.in, err)
			continue
		}
		w, _ := decodeJSON([]byte(c.want))
		if !jsonEqual(out, w) {
			t.Errorf("%s on %s: got %s want %s", c.path, c.in, jsonText(out), c.want)
		}
		// The input must not be modified.
		orig, _ := decodeJSON([]byte(c.in))
		if !jsonEqual(in, orig) {
			t.Errorf("%s mutated its input: %s", c.path, jsonText(in))
		}
	}
}

// Input and output processing, after the examples of the ASL specification
// ("Input and Output Processing") and the developer guide.
func TestInputOutputProcessing(t *testing.T) {
	task := func(fields string) string {
		return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke"` + fields + `,"End":true}}}`
	}
	cases := []struct {
		name, def, input, result, want, params string
	}{
		{
			// Spec: InputPath "$.lambda", ResultPath "$.data.lambdaresult", OutputPath "$.data".
			name:   "spec InputPath/ResultPath/OutputPath",
			def:    task(`,"InputPath":"$.lambda","ResultPath":"$.data.lambdaresult","OutputPath":"$.data"`),
			input:  `{"title":"Numbers to add","numbers":{"val1":3,"val2":4},"lambda":{"who":"AWS Step Functions","where":"Seattle"},"data":{"val1":23,"val2":17}}`,
			result: `"Hello, AWS Step Functions from Seattle!"`,
			want:   `{"val1":23,"val2":17,"lambdaresult":"Hello, AWS Step Functions from Seattle!"}`,
			params: `{"who":"AWS Step Functions","where":"Seattle"}`,
		},
		{
			name:   "defaults: result replaces input",
			def:    task(``),
			input:  `{"a":1}`,
			result: `{"r":2}`,
			want:   `{"r":2}`,
			params: `{"a":1}`,
		},
		{
			name:   "ResultPath $.x keeps input",
			def:    task(`,"ResultPath":"$.x"`),
			input:  `{"a":1}`,
			result: `{"r":2}`,
			want:   `{"a":1,"x":{"r":2}}`,
		},
		{
			name:   "ResultPath null discards result",
			def:    task(`,"ResultPath":null`),
			input:  `{"a":1}`,
			result: `{"r":2}`,
			want:   `{"a":1}`,
		},
		{
			name:   "InputPath null gives {}",
			def:    task(`,"InputPath":null,"ResultPath":"$.r"`),
			input:  `{"a":1}`,
			result: `3`,
			want:   `{"a":1,"r":3}`,
			params: `{}`,
		},
		{
			name:   "OutputPath null gives {}",
			def:    task(`,"OutputPath":null`),
			input:  `{"a":1}`,
			result: `3`,
			want:   `{}`,
		},
		{
			name:   "Parameters with paths, context and intrinsics",
			def:    task(`,"InputPath":"$.in","Parameters":{"static":"v","dt.$":"$.detail-type","exec.$":"$$.Execution.Id","name.$":"$$.State.Name","greet.$":"States.Format('hi {}', $.who)","nested":{"n.$":"$.n"},"arr":[{"x.$":"$.n"}]}`),
			input:  `{"in":{"detail-type":"Reg","who":"bob","n":5}}`,
			result: `1`,
			want:   `1`,
			params: `{"static":"v","dt":"Reg","exec":"` + testExecArn + `","name":"T","greet":"hi bob","nested":{"n":5},"arr":[{"x":5}]}`,
		},
		{
			name:   "ResultSelector then ResultPath then OutputPath",
			def:    task(`,"ResultSelector":{"code.$":"$.StatusCode","body.$":"$.Payload.body","k":"v"},"ResultPath":"$.res","OutputPath":"$.res"`),
			input:  `{"a":1}`,
			result: `{"StatusCode":200,"Payload":{"body":"ok"},"ExecutedVersion":"$LATEST"}`,
			want:   `{"code":200,"body":"ok","k":"v"}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, ft, _ := run(t, c.def, c.input, ok(c.result))
			succeeded(t, e, c.want)
			if c.params != "" {
				jsonEq(t, ft.calls[0].req.Parameters, c.params)
			}
		})
	}
}

func TestPassState(t *testing.T) {
	cases := []struct{ def, input, want string }{
		{`{"Type":"Pass","End":true}`, `{"a":1}`, `{"a":1}`},
		{`{"Type":"Pass","Result":{"x":[1,2]},"End":true}`, `{"a":1}`, `{"x":[1,2]}`},
		{`{"Type":"Pass","Result":"r","ResultPath":"$.b.c","End":true}`, `{"a":1}`, `{"a":1,"b":{"c":"r"}}`},
		{`{"Type":"Pass","Parameters":{"x.$":"$.a"},"ResultPath":"$.p","End":true}`, `{"a":1}`, `{"a":1,"p":{"x":1}}`},
		{`{"Type":"Pass","InputPath":"$.a","OutputPath":"$.k","End":true}`, `{"a":{"k":[true]}}`, `[true]`},
	}
	for _, c := range cases {
		e, _, _ := run(t, `{"StartAt":"P","States":{"P":`+c.def+`}}`, c.input, nil)
		succeeded(t, e, c.want)
	}
}

func TestContextObject(t *testing.T) {
	def := `{"StartAt":"W","States":{
	  "W":{"Type":"Wait","Seconds":1.0,"Next":"P"},
	  "P":{"Type":"Pass","Parameters":{"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","start.$":"$$.Execution.StartTime","input.$":"$$.Execution.Input","role.$":"$$.Execution.RoleArn","sm.$":"$$.StateMachine.Id","smName.$":"$$.StateMachine.Name","state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retry.$":"$$.State.RetryCount"},"End":true}}}`
	e, _, _ := run(t, def, `{"k":"v"}`, nil)
	succeeded(t, e, `{"id":"`+testExecArn+`","name":"run-1","start":"2026-11-27T00:00:00.000Z","input":{"k":"v"},"role":"arn:aws:iam::123456789012:role/sfn","sm":"`+testSMArn+`","smName":"sm","state":"P","entered":"2026-11-27T00:00:01.000Z","retry":0}`)
	// Task.Token is absent in a plain Task: referencing it is a States.Runtime failure.
	e, _, _ = run(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"t.$":"$$.Task.Token"},"End":true}}}`, `{}`, nil)
	failed(t, e, ErrRuntime)
}

func TestMissingPathIsRuntime(t *testing.T) {
	cases := []struct{ name, state, want string }{
		{"InputPath", `{"Type":"Pass","InputPath":"$.nope","End":true}`, "Invalid path '$.nope'"},
		{"OutputPath", `{"Type":"Pass","OutputPath":"$.nope","End":true}`, "Invalid path '$.nope'"},
		{"Parameters", `{"Type":"Pass","Parameters":{"x.$":"$.nope"},"End":true}`, "The JSONPath '$.nope' specified for the field 'x.$' could not be found in the input"},
		// A Catch on States.ALL does not catch States.Runtime.
		{"Task Parameters not caught", `{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"x.$":"$.nope"},"Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"End":true},"C":{"Type":"Succeed"}`, "could not be found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := run(t, `{"StartAt":"S","States":{"S":`+c.state+`}}`, `{"a":1}`, echo)
			cause := failed(t, e, ErrRuntime)
			if !strings.Contains(cause, c.want) {
				t.Fatalf("cause %q does not contain %q", cause, c.want)
			}
		})
	}
}

func TestResultPathMatchFailure(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","ResultPath":"$.a.b","End":true}}}`
	e, _, _ := run(t, def, `{"a":"string"}`, ok(`1`))
	failed(t, e, ErrResultPathMatch)
	// ...and it can be caught.
	def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","ResultPath":"$.a.b","Catch":[{"ErrorEquals":["States.ResultPathMatchFailure"],"ResultPath":"$.err","Next":"D"}],"End":true},"D":{"Type":"Succeed"}}}`
	e, _, _ = run(t, def, `{"a":"string"}`, ok(`1`))
	if e.Status() != StatusSucceeded || !strings.Contains(string(e.Output()), ErrResultPathMatch) {
		t.Fatalf("%s %s", e.Status(), e.Output())
	}
}
