package e2e

// Scenarios for code paths the least-privilege check found no other scenario
// exercising: each grant of the template must be needed by one.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekssdk "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// lpSleep lets d of virtual time pass while the test holds a busy token.
func lpSleep(t *testing.T, e *env, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := clock.Sleep(ctx, e.c.Clock, d); err != nil {
		t.Fatalf("virtual sleep of %s: %v", d, err)
	}
}

func lpWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A managed agent role whose trust policy lost ssm.amazonaws.com is repaired
// (iam:UpdateAssumeRolePolicy), and the registration goes on.
func TestManagedAgentRoleWithBrokenTrustIsRepaired(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	c := iam.NewFromConfig(e.c.ConfigFor("admin"))
	if _, err := c.CreateRole(e.ctx(), &iam.CreateRoleInput{
		RoleName:                 aws.String("AmazonEKSConnectorAgentRole"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	}); err != nil {
		t.Fatal(err)
	}
	e.register("trust-01", nil)
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s: %s %s", ex.Status(), errName, cause)
	}
	role, _ := e.c.IAM.Role("AmazonEKSConnectorAgentRole")
	if !strings.Contains(role.TrustPolicy, "ssm.amazonaws.com") || !strings.Contains(role.TrustPolicy, "ec2.amazonaws.com") {
		t.Errorf("trust policy after the repair: %s; want ssm.amazonaws.com added and ec2.amazonaws.com kept", role.TrustPolicy)
	}
}

// A "Register Cluster" while a deregistration of that cluster runs starts
// nothing: the trigger sees the deregistration holding the lock
// (states:DescribeExecution on a deregistration execution).
func TestRegisterDuringADeregistrationStartsNothing(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	release := e.c.Virtual.Busy()
	defer func() { release() }()
	e.register("busy-01", nil)
	lpSleep(t, e, 12*time.Minute)
	e.put("Deregister Cluster", map[string]any{"clusterName": "busy-01", "reason": "decommissioned"})
	lpWaitFor(t, "the deregistration to wait for the stopped registration", func() bool {
		xs := e.executions("Deregistration")
		return len(xs) == 1 && strings.Contains(history(xs[0]), "WaitForStoppedExecution")
	})
	e.register("busy-01", nil)
	e.settle()
	if n := len(e.executions("Registration")); n != 1 {
		t.Errorf("%d registration executions, want only the first (stopped) one", n)
	}
	if n := len(e.eventsOf("Registration Rejected")); n != 0 {
		t.Errorf("%d Registration Rejected events: a busy cluster is not a bad event", n)
	}
	release()
	release = func() {}
	dereg := e.waitExecution("Deregistration", 1)
	if dereg.Status() != "SUCCEEDED" {
		errName, cause := dereg.Engine().Error()
		t.Fatalf("deregistration %s: %s %s", dereg.Status(), errName, cause)
	}
}

// Lambda redelivers a "Register Cluster" event whose registration has ended,
// while the lock still names an execution that ended without releasing it
// (a crash between its end and its release): the trigger takes the stale
// lock over, finds the event's own execution already ended, starts nothing,
// and releases the lock with its takeover marker.
func TestRedeliveredEventAfterItsRegistrationEndedStartsNothing(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	e.register("redeliver-01", nil)
	first := e.waitExecution("Registration", 1)
	if first.Status() != "SUCCEEDED" {
		errName, cause := first.Engine().Error()
		t.Fatalf("registration %s: %s %s", first.Status(), errName, cause)
	}
	e.settle()
	var envelope []byte
	for _, ev := range e.eventsOf("Register Cluster") {
		envelope = ev.JSON
	}
	if envelope == nil {
		t.Fatal("the Register Cluster event is not in the bus's log")
	}
	e.put("Deregister Cluster", map[string]any{"clusterName": "redeliver-01", "reason": "test"})
	dereg := e.waitExecution("Deregistration", 1)
	if dereg.Status() != "SUCCEEDED" {
		errName, cause := dereg.Engine().Error()
		t.Fatalf("deregistration %s: %s %s", dereg.Status(), errName, cause)
	}
	e.settle()

	// The lock as the ended deregistration would have left it had it
	// crashed before releasing.
	if _, err := ssm.NewFromConfig(e.c.ConfigFor("admin")).PutParameter(e.ctx(), &ssm.PutParameterInput{
		Name: aws.String("/eks-connector-registrar/locks/redeliver-01/lock"), Value: aws.String(dereg.Arn),
		Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatal(err)
	}

	fn, _ := e.c.Template.Function("TriggerFunction")
	trigger, ok := e.c.Lambda.Lookup(fn.Arn)
	if !ok {
		t.Fatalf("no TriggerFunction at %s", fn.Arn)
	}
	e.c.Lambda.InvokeAsync(trigger, envelope)
	e.settle()

	if n := len(e.executions("Registration")); n != 1 {
		t.Errorf("%d registration executions after the redelivery, want 1", n)
	}
	for _, n := range e.c.SSM.ParameterNames() {
		if strings.HasPrefix(n, "/eks-connector-registrar/locks/redeliver-01/lock") ||
			strings.HasPrefix(n, "/eks-connector-registrar/locks/redeliver-01/takeover-") {
			t.Errorf("parameter %s is left after the redelivered event", n)
		}
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors: %+v", n, e.c.Lambda.Log())
	}
}

// Step Functions reruns the RegisterCluster step when the function finished
// everything but its answer was lost (Lambda.ServiceException): the rerun
// sees its own activation record and code, checks the cluster
// (eks:DescribeCluster), and reports the same registration without
// registering again.
func TestRerunOfAFinishedRegisterStepRegistersNothing(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 30 * time.Minute}})
	release := e.c.Virtual.Busy()
	defer func() { release() }()
	e.register("rerun-01", nil)
	var input string
	lpWaitFor(t, "the RegisterCluster step to finish", func() bool {
		xs := e.executions("Registration")
		if len(xs) != 1 {
			return false
		}
		input = ""
		scheduled := false
		for _, ev := range xs[0].Engine().History() {
			switch {
			case ev.Type == "LambdaFunctionScheduled" && strings.Contains(fmt.Sprint(ev.Details["resource"]), "RegisterClusterFunction"):
				input, _ = ev.Details["input"].(string)
				scheduled = true
			case ev.Type == "LambdaFunctionSucceeded" && scheduled:
				return input != ""
			}
		}
		return false
	})
	lpWaitFor(t, "the activation code to be stored", func() bool {
		for _, n := range e.c.SSM.ParameterNames() {
			if strings.HasSuffix(n, "/rerun-01/activation") {
				return true
			}
		}
		return false
	})

	fn, _ := e.c.Template.Function("RegisterClusterFunction")
	out, err := lambdasdk.NewFromConfig(e.c.ConfigFor("admin")).Invoke(e.ctx(), &lambdasdk.InvokeInput{
		FunctionName: aws.String(fn.Arn), Payload: []byte(input),
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.FunctionError != nil {
		t.Fatalf("the rerun failed: %s: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	var rerun map[string]any
	if err := json.Unmarshal(out.Payload, &rerun); err != nil {
		t.Fatalf("rerun answer %s: %v", out.Payload, err)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls after the rerun, want 1", n)
	}
	cl := describeAsAdmin(t, e, "rerun-01")
	if cl.ConnectorConfig == nil || rerun["activationId"] != aws.ToString(cl.ConnectorConfig.ActivationId) {
		t.Errorf("the rerun reported %v, want the registration's activation %v", rerun["activationId"], cl.ConnectorConfig)
	}
	release()
	release = func() {}
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s: %s %s", ex.Status(), errName, cause)
	}
}

func describeAsAdmin(t *testing.T, e *env, cluster string) *ekstypes.Cluster {
	t.Helper()
	out, err := ekssdk.NewFromConfig(e.c.ConfigFor("admin")).DescribeCluster(e.ctx(), &ekssdk.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Cluster
}
