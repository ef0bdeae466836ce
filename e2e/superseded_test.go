package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// "Deregister Cluster" arrives while the registration's trigger holds the
// lock but has not started its execution (StartExecution is throttled, so
// Lambda retries the trigger a minute later). The deregistration must not
// wait for it, fail, or end in the on-failure queue: it takes the lock over
// at once and runs. The registration's retried trigger, before and after the
// deregistration has ended, does not start the superseded registration.
func TestDeregistrationSupersedesAStartingRegistration(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	// The SDK makes 3 attempts per call: the trigger's first invocation
	// fails with TransientAWSError, and Lambda retries it about a minute later.
	e.c.Faults.Add(awsproto.Fault{Service: "states", Op: "StartExecution", FirstN: 3, Code: "ThrottlingException", Status: 400,
		Message: "injected: Rate exceeded"})
	release := e.freeze()
	e.register("sup-01", nil)
	e.waitFor("the trigger's first attempt to fail", func() bool { return len(triggerRuns(e, true)) == 1 })
	if !lockHeld(e, "sup-01") {
		release()
		t.Fatal("the registration's trigger does not hold the lock after its throttled start")
	}

	e.put("Deregister Cluster", map[string]any{"clusterName": "sup-01", "reason": "never mind"})
	e.waitFor("the deregistration to start", func() bool { return len(e.executions("Deregistration")) == 1 })
	release()
	dereg := e.waitExecution("Deregistration", 1)
	mustStatus(t, dereg, "SUCCEEDED")
	// Nothing was running: no wait for an in-flight Lambda.
	if entered(dereg, "WaitForStoppedExecution") != 0 {
		t.Errorf("deregistration states %v: it waited for a registration that never started", statesEntered(dereg))
	}
	if n := len(e.eventsOf("Cluster Deregistered")); n != 1 {
		t.Errorf("%d Cluster Deregistered events, want 1", n)
	}

	// The registration's trigger is retried (about 1 and 3 minutes after
	// its first attempt); neither retry starts it.
	e.c.Virtual.Advance(5 * time.Minute)
	e.settle()
	if n := len(e.executions("Registration")); n != 0 {
		t.Errorf("%d registration executions, want none: the registration was superseded", n)
	}
	if n := e.c.EKS.RegisterCalls(); n != 0 {
		t.Errorf("%d RegisterCluster calls, want 0", n)
	}
	if lines := e.logLines("trigger", "superseded this registration"); len(lines) != 1 {
		t.Errorf("%d trigger runs declined the superseded registration, want 1 (trigger runs: %+v)", len(lines), triggerRuns(e, false))
	}
	for _, q := range e.c.Template.Queues {
		if msgs := e.c.SQS.Messages(q.Arn); len(msgs) != 0 {
			t.Errorf("%d messages in %s, want none", len(msgs), q.LogicalID)
		}
	}
	// Only the superseded marker remains (Release collects it a day later).
	for _, n := range e.c.SSM.ParameterNames() {
		if !strings.Contains(n, "/locks/sup-01/superseded-") {
			t.Errorf("parameter left: %s", n)
		}
	}

	// A new Register Cluster is not affected.
	e.register("sup-01", map[string]any{"activationTimeoutMinutes": 5})
	again := e.waitExecution("Registration", 1)
	if entered(again, "RegisterCluster") != 1 {
		t.Errorf("a new registration's states %v, want RegisterCluster", statesEntered(again))
	}
}

// triggerRuns lists the trigger's invocations (only the failed ones if failed).
func triggerRuns(e *env, failed bool) []string {
	fn, _ := e.c.Template.Function("TriggerFunction")
	var out []string
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == fn.FunctionName && (!failed || inv.ErrorType != "") {
			out = append(out, inv.ErrorType)
		}
	}
	return out
}

// A registration whose lock is taken over after it started (a deregistration
// that saw it STARTING and took over just before StartExecution went
// through) changes nothing: CheckCluster, or RegisterCluster if the takeover
// came later still, sees the lock naming someone else. The execution fails
// as RegistrationSuperseded, registers nothing, and leaves the lock to its
// holder.
func TestARegistrationWhoseLockWasTakenOverChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		service  string // the takeover happens right after this call
		op       string
		stepSeen string // the step that notices
	}{
		{name: "before CheckCluster", service: "iam", op: "PutRolePolicy", stepSeen: "CheckCluster"},
		{name: "between CheckCluster and RegisterCluster", service: "eks", op: "DescribeCluster", stepSeen: "RegisterCluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, localcloud.Options{})
			cluster := "sup-" + tc.service
			holder := "arn:aws:states:us-east-1:123456789012:execution:local-DeregistrationStateMachine:deregister-" + cluster + "-x"
			lockName := "/eks-connector-registrar/locks/" + cluster + "/lock"
			var once sync.Once
			e.onCall(func(c *awsproto.Call, status int) {
				if c.Service == tc.service && c.Op == tc.op {
					once.Do(func() {
						_, err := ssm.NewFromConfig(e.c.ConfigFor("admin")).PutParameter(context.Background(), &ssm.PutParameterInput{
							Name: aws.String(lockName), Value: aws.String(holder), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
						if err != nil {
							t.Errorf("overwriting the lock: %v", err)
						}
					})
				}
			})
			e.expectLeft("parameter", lockName, "the test's own lock, for a deregistration that never runs")
			e.register(cluster, nil)
			reg := e.waitExecution("Registration", 1)
			mustStatus(t, reg, "FAILED")
			if errName, cause := reg.Engine().Error(); errName != "RegistrationSuperseded" || !strings.Contains(cause, holder) {
				t.Errorf("failed with %s (%s), want RegistrationSuperseded naming the holder", errName, cause)
			}
			if n := e.c.EKS.RegisterCalls(); n != 0 {
				t.Errorf("%d RegisterCluster calls, want 0", n)
			}
			if entered(reg, tc.stepSeen) != 1 || (tc.stepSeen == "CheckCluster" && entered(reg, "RegisterCluster") != 0) {
				t.Errorf("states %v", statesEntered(reg))
			}
			if n := taskFailures(reg); tc.stepSeen == "CheckCluster" && len(n) != 0 {
				t.Errorf("task failures %v: CheckCluster reports a superseded execution as a state, not an error", n)
			}
			failed := e.eventsOf("Cluster Registration Failed")
			if len(failed) != 1 || !strings.Contains(detailOf(t, failed[0])["reason"].(string), holder) {
				t.Errorf("Cluster Registration Failed events %v, want one naming the holder", failed)
			}
			e.settle() // the status-change event reaches the Cleanup function
			if v, _, ok := e.c.SSM.Parameter(lockName); !ok || v != holder {
				t.Errorf("lock = %q (%v), want it left to %s", v, ok, holder)
			}
			for _, n := range e.c.SSM.ParameterNames() {
				if n != lockName {
					t.Errorf("parameter left: %s", n)
				}
			}
		})
	}
}
