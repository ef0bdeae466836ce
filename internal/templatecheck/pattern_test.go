package templatecheck_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/contract"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// The EventBridge rule in template.yaml, resolved as CloudFormation would and
// run through the local cloud's pattern matcher (whose own tests follow
// EventBridge's documented rules), takes every request envelope in events/
// (the invalid ones too: they must reach the trigger to be answered), and
// nothing from another source, with another detail-type, or the stack's own
// outcome events (which travel on the same bus and would loop).
func TestTheRulePatternTakesExactlyTheRequests(t *testing.T) {
	for _, params := range []map[string]string{nil, {"EventSource": "platform.clusters"}} {
		tpl, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{Parameters: params})
		if err != nil {
			t.Fatal(err)
		}
		source := tpl.Parameters["EventSource"]
		fn, ok := tpl.Function("TriggerFunction")
		if !ok {
			t.Fatal("template.yaml has no TriggerFunction")
		}
		var pattern []byte
		for _, r := range tpl.Rules {
			for _, tg := range r.Targets {
				if tg.Arn == fn.Arn {
					pattern = r.Pattern
				}
			}
		}
		if pattern == nil {
			t.Fatal("no EventBridge rule targets TriggerFunction")
		}
		matches := func(name string, envelope map[string]any) bool {
			t.Helper()
			b, _ := json.Marshal(envelope)
			ok, err := events.MatchPattern(pattern, b)
			if err != nil {
				t.Fatalf("the rule's pattern %s is invalid: %v", pattern, err)
			}
			return ok
		}

		files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
		requests := 0
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var env map[string]any
			if json.Unmarshal(raw, &env) != nil || env["detail-type"] == nil {
				continue // a step payload or env.json, not an EventBridge envelope
			}
			if src, _ := env["source"].(string); strings.HasPrefix(src, "aws.") {
				// An AWS service's event (Step Functions' status change):
				// the trigger must not take it.
				if matches(filepath.Base(f), env) {
					t.Errorf("the trigger's rule takes the AWS event events/%s", filepath.Base(f))
				}
				continue
			}
			requests++
			name := filepath.Base(f)
			env["source"] = source
			if !matches(name, env) {
				t.Errorf("the rule (source %q) does not take events/%s: fix the pattern in template.yaml", source, name)
			}
			other := clone(env)
			other["source"] = source + ".other"
			if matches(name, other) {
				t.Errorf("the rule takes events/%s from source %q too", name, other["source"])
			}
			other = clone(env)
			other["detail-type"] = "Scan Cluster"
			if matches(name, other) {
				t.Errorf("the rule takes events/%s with detail-type %q", name, other["detail-type"])
			}
		}
		if requests < 2 {
			t.Fatalf("events/ holds %d EventBridge envelopes, want at least Register and Deregister", requests)
		}
		for _, dt := range []string{contract.DetailTypeRegister, contract.DetailTypeDeregister} {
			if !matches(dt, map[string]any{"source": source, "detail-type": dt, "detail": map[string]any{}}) {
				t.Errorf("the rule does not take %q", dt)
			}
		}
		for _, dt := range []string{"Registration Rejected", "Activation Ready", "Cluster Registered", "Cluster Registration Failed", "Cluster Deregistered"} {
			if matches(dt, map[string]any{"source": source, "detail-type": dt, "detail": map[string]any{"clusterName": "x"}}) {
				t.Errorf("the rule takes the stack's own %q events: the trigger would answer its own output", dt)
			}
		}
	}
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// The Cleanup function's rule takes Step Functions' status change for a
// registration that ended ABORTED, TIMED_OUT or FAILED, and nothing else.
func TestTheCleanupRuleTakesEndedRegistrations(t *testing.T) {
	tpl, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn, _ := tpl.Function("CleanupFunction")
	sm, ok := tpl.StateMachine("RegistrationStateMachine")
	if !ok {
		t.Fatal("no RegistrationStateMachine")
	}
	var pattern []byte
	for _, r := range tpl.Rules {
		for _, tg := range r.Targets {
			if tg.Arn == fn.Arn {
				pattern = r.Pattern
			}
		}
	}
	if pattern == nil {
		t.Fatal("no EventBridge rule targets CleanupFunction")
	}
	raw, err := os.ReadFile(filepath.Join(root, "events", "step-cleanup-execution-ended.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	detail := env["detail"].(map[string]any)
	for _, c := range []struct {
		status, machine string
		want            bool
	}{
		{"ABORTED", sm.Arn, true}, {"TIMED_OUT", sm.Arn, true}, {"FAILED", sm.Arn, true},
		{"SUCCEEDED", sm.Arn, false}, {"RUNNING", sm.Arn, false},
		{"ABORTED", strings.Replace(sm.Arn, "Registration", "Deregistration", 1), false},
	} {
		detail["status"], detail["stateMachineArn"] = c.status, c.machine
		b, _ := json.Marshal(env)
		got, err := events.MatchPattern(pattern, b)
		if err != nil {
			t.Fatalf("the Cleanup rule's pattern is invalid: %v", err)
		}
		if got != c.want {
			t.Errorf("the Cleanup rule takes a %s execution of %s: %v, want %v", c.status, c.machine, got, c.want)
		}
	}
}
