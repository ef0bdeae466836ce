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

// A name still DELETING from an earlier registration: the workflow waits
// until it is gone, then registers.
func TestRegistrationWaitsForADeletingClusterToGo(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	registerForeign(t, e, "busy-02")
	if _, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DeregisterCluster(e.ctx(), &eks.DeregisterClusterInput{Name: aws.String("busy-02")}); err != nil {
		t.Fatal(err)
	}
	e.register("busy-02", nil)
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s: %s %s", ex.Status(), errName, cause)
	}
	if !strings.Contains(history(ex), "WaitWhileBusy") {
		t.Error("the registration did not wait for the DELETING cluster")
	}
}

// A name that stays DELETING for hours: the wait ends after about an hour
// with a named error, nothing registered, the lock released.
func TestClusterBusyTooLongEndsTheWait(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{ClusterDeletionDuration: 5 * time.Hour})
	registerForeign(t, e, "busy-03")
	if _, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DeregisterCluster(e.ctx(), &eks.DeregisterClusterInput{Name: aws.String("busy-03")}); err != nil {
		t.Fatal(err)
	}
	e.register("busy-03", nil)
	ex := e.waitExecution("Registration", 1)
	if errName, _ := ex.Engine().Error(); ex.Status() != "FAILED" || errName != "ClusterBusyTooLong" {
		t.Fatalf("registration %s %s, want FAILED ClusterBusyTooLong", ex.Status(), errName)
	}
	if waited := ex.Engine().StopDate().Sub(ex.Engine().StartDate()); waited < 55*time.Minute || waited > 70*time.Minute {
		t.Errorf("waited %s, want about an hour", waited)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d registrations, want only the foreign one", n)
	}
	for _, n := range e.c.SSM.ParameterNames() {
		if strings.Contains(n, "busy-03") {
			t.Errorf("parameter %s left behind", n)
		}
	}
	if len(e.eventsOf("Cluster Registration Failed")) != 1 {
		t.Error("no Cluster Registration Failed event")
	}
}
