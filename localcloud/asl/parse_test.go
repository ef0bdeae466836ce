package asl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRefuses(t *testing.T) {
	pass := `"Ok":{"Type":"Pass","End":true}`
	cases := []struct {
		name, def, want string
	}{
		{"not JSON", `{`, "INVALID_JSON_DESCRIPTION"},
		{"JSONata top level", `{"QueryLanguage":"JSONata","StartAt":"Ok","States":{` + pass + `}}`, "QueryLanguage JSONata is not supported"},
		{"JSONata state", `{"StartAt":"Ok","States":{"Ok":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}}`, `state "Ok": QueryLanguage JSONata is not supported`},
		{"StartAt missing state", `{"StartAt":"Nope","States":{` + pass + `}}`, `StartAt "Nope" is not a state`},
		{"no StartAt", `{"States":{` + pass + `}}`, "StartAt must be a non-empty string"},
		{"empty States", `{"StartAt":"A","States":{}}`, "States must be a non-empty object"},
		{"unknown top field", `{"StartAt":"Ok","Foo":1,"States":{` + pass + `}}`, `unknown field "Foo"`},
		{"Next target missing", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, `state "A": MISSING_TRANSITION_TARGET: "B" is not a state`},
		{"Default target missing", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"Ok"}],"Default":"X"},` + pass + `}}`, `state "C": MISSING_TRANSITION_TARGET: "X"`},
		{"Catch target missing", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Catch":[{"ErrorEquals":["States.ALL"],"Next":"X"}],"End":true}}}`, `state "T": MISSING_TRANSITION_TARGET: "X"`},
		{"unreachable", `{"StartAt":"Ok","States":{` + pass + `,"Lost":{"Type":"Succeed"}}}`, `state "Lost": UNREACHABLE_STATE`},
		{"both Next and End", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Ok","End":true},` + pass + `}}`, `state "A": SCHEMA_VALIDATION_FAILED: a Pass state needs exactly one of Next or "End": true`},
		{"neither Next nor End", `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"r"}}}`, `state "A": SCHEMA_VALIDATION_FAILED: a Task state needs exactly one of Next or "End": true`},
		{"Choice with End", `{"StartAt":"C","States":{"C":{"Type":"Choice","End":true,"Choices":[{"Variable":"$.a","IsPresent":true,"Next":"Ok"}]},` + pass + `}}`, `state "C": SCHEMA_VALIDATION_FAILED: a Choice state cannot have End`},
		{"Choice without Choices", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[],"Default":"Ok"},` + pass + `}}`, "needs a non-empty Choices array"},
		{"Choice rule without Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true}],"Default":"Ok"},` + pass + `}}`, "every top-level choice rule needs Next"},
		{"Choice rule two operators", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","NumericEquals":1,"Next":"Ok"}]},` + pass + `}}`, "exactly one of And, Or, Not or a comparison operator"},
		{"Choice operand type", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":"1","Next":"Ok"}]},` + pass + `}}`, "NumericEquals must be a number"},
		{"Choice bad timestamp", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","TimestampEquals":"yesterday","Next":"Ok"}]},` + pass + `}}`, "TimestampEquals must be an RFC3339 timestamp"},
		{"nested rule with Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsPresent":true,"Next":"Ok"},"Next":"Ok"}]},` + pass + `}}`, "nested inside And, Or or Not must not have Next"},
		{"Succeed with Next", `{"StartAt":"S","States":{"S":{"Type":"Succeed","Next":"Ok"},` + pass + `}}`, `state "S": SCHEMA_VALIDATION_FAILED: a Succeed state cannot have Next`},
		{"Fail with End", `{"StartAt":"F","States":{"F":{"Type":"Fail","End":true}}}`, `state "F": SCHEMA_VALIDATION_FAILED: a Fail state cannot have End`},
		{"Fail Error and ErrorPath", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","ErrorPath":"$.e"}}}`, "use only one of Error and ErrorPath"},
		{"Wait with two durations", `{"StartAt":"Wait1","States":{"Wait1":{"Type":"Wait","Seconds":5,"SecondsPath":"$.s","End":true}}}`, `state "Wait1": Wait needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath`},
		{"Wait with none", `{"StartAt":"Wait1","States":{"Wait1":{"Type":"Wait","End":true}}}`, `state "Wait1": Wait needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath`},
		{"Wait negative", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":-1,"End":true}}}`, "Seconds must be an integer from 0"},
		{"Wait bad timestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2026-11-27 10:00","End":true}}}`, "Timestamp must be an RFC3339 timestamp"},
		{"States.ALL not alone", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["States.ALL","E"]}],"End":true}}}`, "Retry[0]: States.ALL must appear alone in ErrorEquals"},
		{"States.ALL not last", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Ok"},{"ErrorEquals":["E"],"Next":"Ok"}],"End":true},` + pass + `}}`, "Catch[0]: States.ALL must be in the last Catcher"},
		{"empty ErrorEquals", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":[]}],"End":true}}}`, "ErrorEquals must be a non-empty array"},
		{"bad BackoffRate", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5}],"End":true}}}`, "BackoffRate must be a number >= 1.0"},
		{"bad JitterStrategy", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["E"],"JitterStrategy":"HALF"}],"End":true}}}`, "JitterStrategy must be FULL or NONE"},
		{"bad MaxAttempts", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["E"],"MaxAttempts":-1}],"End":true}}}`, "MaxAttempts must be an integer from 0"},
		{"unknown retrier field", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["E"],"Interval":1}],"End":true}}}`, `Retry[0]: unknown field "Interval"`},
		{"unknown state field", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Foo":1,"End":true}}}`, `state "T": SCHEMA_VALIDATION_FAILED: unknown field "Foo" for a Task state`},
		{"Result on Task", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Result":1,"End":true}}}`, `unknown field "Result" for a Task state`},
		{"bad Type", `{"StartAt":"T","States":{"T":{"Type":"Lambda","End":true}}}`, "Type must be one of"},
		{"Task without Resource", `{"StartAt":"T","States":{"T":{"Type":"Task","End":true}}}`, "a Task state needs Resource"},
		{"TimeoutSeconds wrong type", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","TimeoutSeconds":"10","End":true}}}`, "TimeoutSeconds must be an integer"},
		{"Heartbeat >= Timeout", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","TimeoutSeconds":10,"HeartbeatSeconds":10,"End":true}}}`, "HeartbeatSeconds must be smaller than TimeoutSeconds"},
		{"name too long", `{"StartAt":"` + strings.Repeat("n", 81) + `","States":{"` + strings.Repeat("n", 81) + `":{"Type":"Succeed"}}}`, "a state name must be 1 to 80 characters long"},
		{"Assign refused", `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"x":1},"End":true}}}`, `field "Assign" belongs to JSONata or variables; this project uses JSONPath without variables`},
		{"Output refused", `{"StartAt":"P","States":{"P":{"Type":"Pass","Output":{"x":1},"End":true}}}`, `field "Output" belongs to JSONata or variables`},
		{"Arguments refused", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Arguments":{},"End":true}}}`, `field "Arguments" belongs to JSONata or variables`},
		{"ResultPath not a reference path", `{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`, "ResultPath must be a reference path"},
		{"ResultPath context", `{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$$.Execution","End":true}}}`, "ResultPath must be a reference path"},
		{"bad InputPath", `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"a.b","End":true}}}`, "must begin with '$'"},
		{"bad Parameters path", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$..a"},"End":true}}}`, "recursive descent"},
		{"bad intrinsic", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.Nope()"},"End":true}}}`, `unknown function "States.Nope"`},
		{".$ value not string", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":1},"End":true}}}`, `must be a path or intrinsic function string`},
		{"duplicate names across branches", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"P","States":{"P":{"Type":"Succeed"}}}]}}}`, "DUPLICATE_STATE_NAME"},
		{"nested branch invalid", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"B","States":{"B":{"Type":"Wait","End":true}}}]}}}`, `state "B": Wait needs exactly one`},
		{"nested transition to outer state", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"Ok","Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","Next":"Ok"}}}]},` + pass + `}}`, `state "B": MISSING_TRANSITION_TARGET: "Ok" is not a state in the same scope`},
		{"nested Map unreachable", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed"},"J":{"Type":"Succeed"}}}}}}`, `state "J": UNREACHABLE_STATE`},
		{"Map without processor", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true}}}`, "a Map state needs ItemProcessor"},
		{"distributed Map", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"I","States":{"I":{"Type":"Succeed"}}}}}}`, "DISTRIBUTED (distributed Map) is not supported"},
		{"ItemReader", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemReader":{},"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}}}}}`, `"ItemReader" is for a distributed Map`},
		{"Parallel without branches", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true}}}`, "needs a non-empty Branches array"},
		{"top TimeoutSeconds", `{"TimeoutSeconds":0,"StartAt":"Ok","States":{` + pass + `}}`, "top-level TimeoutSeconds must be a positive integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.def))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err %v, want *ValidationError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, c.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	def := `{"Comment":"c","Version":"1.0","QueryLanguage":"JSONPath","TimeoutSeconds":300,"StartAt":"T","States":{
	  "T":{"Type":"Task","Comment":"x","Resource":"arn:aws:lambda:eu-west-1:1:function:a","HeartbeatSeconds":5,"TimeoutSeconds":10,
	       "Retry":[{"ErrorEquals":["Lambda.ServiceException","Lambda.TooManyRequestsException"],"IntervalSeconds":2,"MaxAttempts":6,"BackoffRate":2,"MaxDelaySeconds":60,"JitterStrategy":"FULL"},{"ErrorEquals":["States.ALL"]}],
	       "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"F"}],"Next":"P"},
	  "P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents","End":true}}}],"Next":"M"},
	  "M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"I","States":{"I":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:1:function:a","End":true}}},"Next":"C"},
	  "C":{"Type":"Choice","Choices":[{"Variable":"$.x","IsPresent":true,"Next":"S"}],"Default":"W"},
	  "W":{"Type":"Wait","Seconds":1,"Next":"S"},
	  "S":{"Type":"Succeed"},
	  "F":{"Type":"Fail","Error":"E","Cause":"c"}}}`
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.StateNames(), []string{"B", "C", "F", "I", "M", "P", "S", "T", "W"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("StateNames %v", got)
	}
	if got, want := d.TaskResources(), []string{"arn:aws:lambda:eu-west-1:1:function:a", "arn:aws:states:::events:putEvents"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("TaskResources %v", got)
	}
	if d.TimeoutSeconds() != 300 {
		t.Fatalf("TimeoutSeconds %d", d.TimeoutSeconds())
	}
}

func TestParseCollectsAllProblems(t *testing.T) {
	_, err := Parse([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Z"},"Wait1":{"Type":"Wait","End":true}}}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) < 3 {
		t.Fatalf("%v", err)
	}
}
