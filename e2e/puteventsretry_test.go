package e2e

import (
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// A putEvents step whose call fails every SDK attempt with one of the
// common 5xx errors (InternalFailure 500, ServiceUnavailable 503) is
// retried by the state machine: before, only EventBridge.InternalException
// and ThrottlingException were, and such a failure compensated a good
// registration (found by the fault sweep, seed 3).
func TestPutEventsStepRetriesCommonServerErrors(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		code   string
		status int
	}{{"InternalFailure", 500}, {"ServiceUnavailable", 503}} {
		t.Run(f.code, func(t *testing.T) {
			e := start(t, localcloud.Options{NoSDKBackoff: true, Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
			e.c.Faults.Add(awsproto.Fault{Caller: "RegistrationStateMachine", Service: "events", Op: "PutEvents", FirstN: 3,
				Code: f.code, Status: f.status, Message: "injected"})
			e.register("pe-01", nil)
			e.waitQuiet()
			xs := e.executions("Registration")
			if len(xs) != 1 || xs[0].Status() != "SUCCEEDED" {
				t.Fatalf("outcome %s; want the registration SUCCEEDED", e.outcome())
			}
			if n := e.c.Faults.InjectedCount("events", "PutEvents"); n != 3 {
				t.Errorf("%d PutEvents attempts failed, want 3 (one call, every SDK attempt)", n)
			}
			if got := taskFailures(xs[0])["EventBridge."+f.code]; got != 1 {
				t.Errorf("%d task failures EventBridge.%s, want 1 (then retried)", got, f.code)
			}
		})
	}
}
