package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// While our registration waits for its agent, someone deregisters it and
// registers the name again themselves (after our intent was written).
// CheckActivation sees another activation id; the compensation must leave
// their registration alone: our activation record names our own attempt's
// activation, so our intent no longer proves anything about the name.
func TestCompensationLeavesAReRegistrationBySomeoneElseAlone(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	release := e.freeze()
	e.register("own-01", nil)
	e.sleep(3 * time.Minute)
	if xs := e.executions("Registration"); len(xs) != 1 || xs[0].Status() != "RUNNING" {
		release()
		t.Fatal("want the registration waiting for its agent after 3 minutes")
	}
	ours := aws.ToString(describe(t, e, "own-01").ConnectorConfig.ActivationId)
	if _, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DeregisterCluster(e.ctx(), &eks.DeregisterClusterInput{Name: aws.String("own-01")}); err != nil {
		release()
		t.Fatalf("DeregisterCluster: %v", err)
	}
	for range 10 {
		if len(e.c.EKS.ClusterNames()) == 0 {
			break
		}
		e.sleep(time.Minute)
	}
	if n := e.c.EKS.ClusterNames(); len(n) != 0 {
		release()
		t.Fatalf("clusters %v still there after the deregistration", n)
	}
	theirs := aws.ToString(registerForeign(t, e, "own-01").ConnectorConfig.ActivationId)
	release()

	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if entered(ex, "Compensate") != 1 {
		t.Errorf("states %v, want one Compensate", statesEntered(ex))
	}
	cl := describe(t, e, "own-01")
	if got := aws.ToString(cl.ConnectorConfig.ActivationId); got != theirs || cl.Status == "DELETING" {
		t.Fatalf("cluster %s with activation %s, want their registration %s untouched (ours was %s)", cl.Status, got, theirs, ours)
	}
	if ids := e.c.SSM.ActivationIDs(); len(ids) != 1 || ids[0] != theirs {
		t.Errorf("activations %v, want only theirs %s", ids, theirs)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	if reason, _ := detailOf(t, failed[0])["reason"].(string); !strings.Contains(reason, "left alone") || !strings.Contains(reason, theirs) {
		t.Errorf("failure reason %q, want it to say their registration %s was left alone", reason, theirs)
	}
	if left := ourParameters(e, "own-01"); len(left) != 0 {
		t.Errorf("parameters left: %v (ours deleted, lock released)", left)
	}
}
