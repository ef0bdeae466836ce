package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// The agent connected, but finishing failed for good (the stored code cannot
// be deleted). The cluster must be kept, and the failure must say so: a
// connected cluster and a possibly remaining secret, not "nothing left".
func TestCompletionFailureKeepsTheClusterAndSaysWhatRemains(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 2 * time.Minute}})
	e.c.Faults.Add(awsproto.Fault{Service: "ssm", Op: "DeleteParameters", Fraction: 1, Code: "AccessDeniedException", Status: 400,
		Message: "injected: an SCP forbids deleting parameters"})
	// The outcome keeps the connected cluster, and the forbidden deletes
	// leave the code and the lock: what the failure event reports.
	e.expectLeft("cluster", "done-01", "the agent connected; finishing failed, so the cluster is kept")
	e.expectLeft("parameter", "/eks-connector-registrar/clusters/done-01/activation-code", "an SCP forbids deleting parameters")
	e.expectLeft("parameter", "/eks-connector-registrar/locks/done-01/lock", "an SCP forbids deleting parameters")
	e.register("done-01", nil)
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "FAILED" {
		t.Fatalf("registration %s, want FAILED (finishing failed)", ex.Status())
	}
	if errName, _ := ex.Engine().Error(); errName != "CompletionFailed" {
		t.Errorf("error %q, want CompletionFailed", errName)
	}
	if st, _ := e.c.EKS.ClusterStatus("done-01"); st != "ACTIVE" {
		t.Errorf("cluster status %q, want the connected cluster kept ACTIVE", st)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	reason, _ := detailOf(t, failed[0])["reason"].(string)
	for _, want := range []string{"connected (ACTIVE)", "activation-code", "not deregistered"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	if strings.Contains(reason, "Nothing registered") {
		t.Errorf("reason claims nothing was left: %q", reason)
	}
	if codes := e.c.Agent.CodesRead(); len(codes) == 1 {
		assertSecretNowhere(t, e, codes[0])
	}
}
