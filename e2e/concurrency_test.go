package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// 50 "Register Cluster" events for one cluster at the same instant: 25 new
// events through EventBridge, and 25 deliveries of one and the same event
// (Lambda's at-least-once asynchronous delivery) invoked on the trigger
// directly. One execution and one RegisterCluster call; every other
// invocation ends without error and reports the execution in progress.
func TestFiftyDuplicateAndConcurrentTriggersRegisterOnce(t *testing.T) {
	t.Parallel()
	// A lock's age must be judged by service timestamps only, or a holder
	// that has not started yet looks stale and is taken over; `make test`
	// runs this at three dates (LOCALCLOUD_START) to show no other clock
	// takes part.
	e := start(t, localcloud.Options{
		Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	trig, ok := e.c.Template.Function("TriggerFunction")
	if !ok {
		t.Fatal("no TriggerFunction in the template")
	}
	const cluster, dupID = "dup-01", "5f3c1f9e-0d1b-4c43-9f0e-redelivered01"
	envelope := registerEnvelope(e, cluster, dupID, e.c.Clock.Now())
	var ds []delivery
	for i := range 50 {
		if i%2 == 0 {
			ds = append(ds, registerDelivery(cluster, "other"))
		} else {
			ds = append(ds, delivery{envelope: envelope})
		}
	}

	release := e.freeze() // all 50 arrive at the same virtual instant
	deliverAtOnce(t, e, ds)
	release()

	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")
	e.settle()
	if n := len(e.executions("Registration")); n != 1 {
		t.Fatalf("%d registration executions, want 1", n)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls, want 1", n)
	}
	if n := len(e.triggerInvocations(trig.FunctionName)); n != 50 {
		t.Errorf("%d trigger invocations, want 50 (none retried)", n)
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors, want 0", n)
	}

	// Outcomes, from the trigger's log: deliveries of the event that won the
	// lock start (or find) its execution; every other event reports the
	// execution in progress.
	var in struct {
		EventID string `json:"eventId"`
	}
	_ = json.Unmarshal([]byte(ex.Input), &in)
	started := e.logLines("trigger", "started execution")
	waiting := e.logLines("trigger", "already in progress; not starting another")
	if len(started)+len(waiting) != 50 {
		t.Errorf("%d started + %d in progress outcomes, want 50 in all", len(started), len(waiting))
	}
	if len(started) < 1 {
		t.Error("no invocation reports starting the execution")
	}
	for _, l := range started {
		if l["eventId"] != in.EventID || l["executionArn"] != ex.Arn {
			t.Errorf("event %v reports starting %v; only the winner %s may, and only %s", l["eventId"], l["executionArn"], in.EventID, ex.Arn)
		}
	}
	for _, l := range waiting {
		if l["holder"] != ex.Arn {
			t.Errorf("event %v reports holder %v, want %s", l["eventId"], l["holder"], ex.Arn)
		}
	}
	wantWaiting := 49 // the winner was one of the 25 new events
	if in.EventID == dupID {
		wantWaiting = 25 // the redelivered event won: its other deliveries find its execution
	}
	if len(waiting) != wantWaiting {
		t.Errorf("%d invocations report the execution in progress, want %d (winner %s)", len(waiting), wantWaiting, in.EventID)
	}
}

func (e *env) triggerInvocations(name string) []string {
	var out []string
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == name {
			out = append(out, inv.Type)
		}
	}
	return out
}
