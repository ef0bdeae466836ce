package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// "Deregister Cluster" while a registration waits for its agent: the
// deregistration stops it, takes over its lock, removes everything, and the
// cluster can be registered afresh afterwards.
func TestDeregistrationWhileARegistrationWaits(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	release := e.freeze()
	e.register("dereg-01", nil)
	e.sleep(12 * time.Minute)
	if xs := e.executions("Registration"); len(xs) != 1 || xs[0].Status() != "RUNNING" {
		release()
		t.Fatalf("want the registration still waiting after 12 minutes")
	}
	// The stored code, as the operator would read it, to search for later.
	code, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/dereg-01/activation-code")
	if !ok || code == "" {
		release()
		t.Fatal("no activation code stored while the registration waits")
	}
	e.put("Deregister Cluster", map[string]any{"clusterName": "dereg-01", "reason": "decommissioned"})
	release()
	defer assertSecretNowhere(t, e, code)

	dereg := e.waitExecution("Deregistration", 1)
	mustStatus(t, dereg, "SUCCEEDED")
	reg := e.waitExecution("Registration", 1)
	mustStatus(t, reg, "ABORTED")
	if errName, cause := reg.Engine().Error(); errName != "DeregistrationRequested" || !strings.Contains(cause, "decommissioned") {
		t.Errorf("registration stopped with %s (%s), want DeregistrationRequested with the reason", errName, cause)
	}
	// The takeover path: deregister, wait out any in-flight Lambda, check again.
	for _, s := range []string{"DeregisterBeforeRecheck", "WaitForStoppedExecution", "RecheckAfterStop", "PublishClusterDeregistered"} {
		if entered(dereg, s) != 1 {
			t.Errorf("deregistration states %v, want %s once", statesEntered(dereg), s)
		}
	}
	done := e.eventsOf("Cluster Deregistered")
	if len(done) != 1 {
		t.Fatalf("%d Cluster Deregistered events, want 1", len(done))
	}
	// It says what the deregistration removed, although the re-check after
	// the 900 s wait found nothing left.
	d := detailOf(t, done[0])
	ids, _ := d["activationIds"].([]any)
	params, _ := d["parametersDeleted"].([]any)
	if d["clusterName"] != "dereg-01" || d["deregistered"] != true || len(ids) != 1 || len(params) == 0 {
		t.Errorf("Cluster Deregistered = %v, want the registration, its activation and its parameters reported removed", d)
	}
	if n := len(e.eventsOf("Cluster Registration Failed")); n != 0 {
		t.Errorf("%d failure events for a stopped registration (StopExecution runs no Catch)", n)
	}
	assertNothingLeft(t, e) // includes the lock and the takeover markers

	// The lock was released: a new Register Cluster starts a fresh execution
	// and a fresh registration.
	e.register("dereg-01", map[string]any{"activationTimeoutMinutes": 5})
	again := e.waitExecution("Registration", 2)
	if entered(again, "RegisterCluster") != 1 {
		t.Errorf("the new registration's states %v, want a fresh RegisterCluster", statesEntered(again))
	}
	if n := e.c.EKS.RegisterCalls(); n != 2 {
		t.Errorf("%d registrations created, want 2", n)
	}
	mustStatus(t, again, "FAILED") // nobody installs the agent within 5 minutes
	if errName, _ := again.Engine().Error(); errName != "ActivationTimedOut" {
		t.Errorf("new registration failed with %s, want ActivationTimedOut", errName)
	}
	assertNothingLeft(t, e)
}

// A "Deregister Cluster" without a cluster name is answered with a
// "Registration Rejected" event; nothing starts.
func TestDeregisterWithoutClusterNameIsRejected(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	e.put("Deregister Cluster", map[string]any{"reason": "cleanup"})
	e.c.Events.Wait()
	e.settle()
	rej := e.eventsOf("Registration Rejected")
	if len(rej) != 1 {
		t.Fatalf("%d Registration Rejected events, want 1", len(rej))
	}
	d := detailOf(t, rej[0])
	if d["field"] != "clusterName" || d["detailType"] != "Deregister Cluster" || d["rule"] == nil || d["rule"] == "" {
		t.Errorf("rejection = %v, want field clusterName of a Deregister Cluster event, with the rule", d)
	}
	if n := len(e.c.SFN.Executions()); n != 0 {
		t.Errorf("%d executions started", n)
	}
	if n := len(e.c.SSM.ParameterNames()); n != 0 {
		t.Errorf("%d parameters created", n)
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors: a rejected event is answered, not thrown", n)
	}
}
