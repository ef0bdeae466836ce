package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// disableRule disables the template rule whose logical id ends with suffix.
func disableRule(t *testing.T, e *env, suffix string) {
	t.Helper()
	for _, r := range e.c.Template.Rules {
		if strings.HasSuffix(r.LogicalID, suffix) {
			_, err := eventbridge.NewFromConfig(e.c.ConfigFor("admin")).DisableRule(e.ctx(), &eventbridge.DisableRuleInput{
				Name: aws.String(r.Name), EventBusName: aws.String(r.BusName)})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("template.yaml has no rule %s", suffix)
}

// A registration stopped by hand runs no Catch; Step Functions' status-change
// event reaches the Cleanup function, which compensates for that execution:
// nothing of it is left, and the lock is free for the next request.
func TestStoppedRegistrationIsCompensated(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	release := e.freeze()
	e.register("stop-01", nil)
	e.sleep(3 * time.Minute)
	xs := e.executions("Registration")
	if len(xs) != 1 || xs[0].Status() != "RUNNING" {
		release()
		t.Fatalf("want 1 running registration after 3 minutes, have %d", len(xs))
	}
	code, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/stop-01/activation-code")
	if !ok {
		release()
		t.Fatal("no activation code stored while the registration waits")
	}
	if _, err := sfn.NewFromConfig(e.c.ConfigFor("operator")).StopExecution(e.ctx(), &sfn.StopExecutionInput{
		ExecutionArn: aws.String(xs[0].Arn), Error: aws.String("OperatorStopped"), Cause: aws.String("stopped by hand"),
	}); err != nil {
		release()
		t.Fatalf("StopExecution: %v", err)
	}
	release()
	e.settle()
	mustStatus(t, xs[0], "ABORTED")
	assertNothingLeft(t, e)
	if lockHeld(e, "stop-01") {
		t.Error("the stopped registration's lock is still held")
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors: %+v", n, e.c.Lambda.Log())
	}
	assertSecretNowhere(t, e, code)
}
