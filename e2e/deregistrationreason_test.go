package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfnsdk "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/events"
)

// "Cluster Deregistered" says why, in the request's words: on the takeover
// path (a registration was waiting and is stopped, so the state reaches
// PublishClusterDeregistered through the two Cleanup passes) and on the
// direct path. A request without a reason gives "" (the field is always
// there, so a consumer need not guess).
func TestClusterDeregisteredCarriesTheReason(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects, OnlyCluster: "why-01"}})
	_, code, release := waitingRegistration(t, e, "why-01", 3*time.Minute)
	e.put("Deregister Cluster", map[string]any{"clusterName": "why-01", "reason": "decommissioned: moved to eu-2"})
	e.put("Deregister Cluster", map[string]any{"clusterName": "why-02"})
	release()
	defer assertSecretNowhere(t, e, code)
	takeovers := 0
	for n := 1; n <= 2; n++ {
		x := e.waitExecution("Deregistration", n)
		mustStatus(t, x, "SUCCEEDED")
		takeovers += entered(x, "RecheckAfterStop")
	}
	if takeovers != 1 {
		t.Errorf("%d deregistrations took the takeover path, want 1 (why-01's)", takeovers)
	}
	e.settle()

	byCluster := map[string][]events.Event{}
	for _, ev := range e.eventsOf("Cluster Deregistered") {
		c, _ := detailOf(t, ev)["clusterName"].(string)
		byCluster[c] = append(byCluster[c], ev)
	}
	for _, tt := range []struct {
		cluster, reason string
		deregistered    bool
	}{
		{"why-01", "decommissioned: moved to eu-2", true},
		{"why-02", "", false},
	} {
		if len(byCluster[tt.cluster]) != 1 {
			t.Errorf("%d Cluster Deregistered events for %s, want 1", len(byCluster[tt.cluster]), tt.cluster)
			continue
		}
		d := detailOf(t, byCluster[tt.cluster][0])
		reason, ok := d["reason"].(string)
		if !ok || reason != tt.reason {
			t.Errorf("Cluster Deregistered for %s: reason %v (a string: %v), want %q", tt.cluster, d["reason"], ok, tt.reason)
		}
		if d["deregistered"] != tt.deregistered {
			t.Errorf("Cluster Deregistered for %s: deregistered %v, want %v", tt.cluster, d["deregistered"], tt.deregistered)
		}
	}
	if n := len(e.eventsOf("Cluster Registration Failed")); n != 0 {
		t.Errorf("%d Cluster Registration Failed events: the deregistration announces the stopped registration's end", n)
	}
	assertNothingLeft(t, e)
}

// A deregistration started by hand (the console, the CLI) with only a
// clusterName still runs to its end and says reason "": the definition
// defaults what the trigger would have set, rather than failing on a missing
// field after it has deregistered.
func TestHandStartedDeregistrationWithoutReason(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	_, err := sfnsdk.NewFromConfig(e.c.ConfigFor("admin")).StartExecution(e.ctx(), &sfnsdk.StartExecutionInput{
		StateMachineArn: aws.String(stateMachineArn(t, e, "DeregistrationStateMachine")),
		Input:           aws.String(`{"clusterName":"by-hand-01"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	x := e.waitExecution("Deregistration", 1)
	mustStatus(t, x, "SUCCEEDED")
	done := e.eventsOf("Cluster Deregistered")
	if len(done) != 1 {
		t.Fatalf("%d Cluster Deregistered events, want 1", len(done))
	}
	if d := detailOf(t, done[0]); d["reason"] != "" || d["clusterName"] != "by-hand-01" {
		t.Errorf("Cluster Deregistered = %v, want clusterName by-hand-01 and reason \"\"", d)
	}
}
