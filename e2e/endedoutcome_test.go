package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	sfnlocal "github.com/platform/eks-connector-registrar/localcloud/sfn"
)

// Helpers for the scenarios of a registration that ends without its own
// cleanup (this file and cleanupfailure_test.go).

// waitingRegistration registers cluster with the clock frozen and lets wait
// of virtual time pass: the registration is RUNNING, waiting for its agent.
// It returns the execution and the stored activation code (to search for
// later); the clock stays frozen until release is called.
func waitingRegistration(t *testing.T, e *env, cluster string, wait time.Duration) (ex *sfnlocal.Execution, code string, release func()) {
	t.Helper()
	release = e.freeze()
	e.register(cluster, nil)
	e.sleep(wait)
	xs := e.executions("Registration")
	if len(xs) != 1 || xs[0].Status() != "RUNNING" {
		release()
		t.Fatalf("want 1 running registration after %s, have %d", wait, len(xs))
	}
	code, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/" + cluster + "/activation-code")
	if !ok || code == "" {
		release()
		t.Fatal("no activation code stored while the registration waits")
	}
	return xs[0], code, release
}

// stopByHand stops the execution as an operator would.
func stopByHand(t *testing.T, e *env, ex *sfnlocal.Execution, errName, cause string) {
	t.Helper()
	if _, err := sfn.NewFromConfig(e.c.ConfigFor("operator")).StopExecution(e.ctx(), &sfn.StopExecutionInput{
		ExecutionArn: aws.String(ex.Arn), Error: aws.String(errName), Cause: aws.String(cause),
	}); err != nil {
		t.Fatalf("StopExecution: %v", err)
	}
}

// statusChange is the "Step Functions Execution Status Change" event the
// bus carried for the execution, as its targets received it.
func statusChange(t *testing.T, e *env, executionArn string) events.Event {
	t.Helper()
	for _, ev := range e.eventsOf("Step Functions Execution Status Change") {
		if slices.Contains(ev.Resources, executionArn) {
			return ev
		}
	}
	t.Fatalf("no status change on the bus for %s", executionArn)
	return events.Event{}
}

// invokeCleanup invokes the Cleanup function synchronously with payload, as
// an operator redriving a status change would (RequestResponse), and returns
// its answer.
func invokeCleanup(t *testing.T, e *env, payload []byte) map[string]any {
	t.Helper()
	fn, _ := e.c.Template.Function("CleanupFunction")
	out, err := lambda.NewFromConfig(e.c.ConfigFor("admin")).Invoke(e.ctx(), &lambda.InvokeInput{
		FunctionName: aws.String(fn.FunctionName), Payload: payload})
	if err != nil {
		t.Fatalf("Invoke CleanupFunction: %v", err)
	}
	if out.FunctionError != nil {
		t.Fatalf("CleanupFunction failed: %s", out.Payload)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Payload, &m); err != nil {
		t.Fatalf("CleanupFunction answered %s: %v", out.Payload, err)
	}
	return m
}

// A registration stopped by hand runs no Catch, so its own "Cluster
// Registration Failed" never comes. The Cleanup function, compensating from
// Step Functions' status change, publishes it instead: exactly one, in the
// state machine's detail shape, with a reason that says how the execution
// ended (status, error, cause) and what was removed, and never the code. A
// second delivery of the same status change finds nothing left to announce.
func TestStoppedRegistrationIsAnnounced(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	ex, code, release := waitingRegistration(t, e, "stopev-01", 3*time.Minute)
	stopByHand(t, e, ex, "OperatorStopped", "wrong cluster: stopped by the platform team")
	release()
	e.settle()
	defer assertSecretNowhere(t, e, code)
	mustStatus(t, ex, "ABORTED")

	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	ev := failed[0]
	if ev.Source != "eks-connector-registrar" || ev.Bus != "default" || !slices.Contains(ev.Resources, ex.Arn) {
		t.Errorf("event source %q on bus %q with resources %v, want the stack's source and bus, naming the execution", ev.Source, ev.Bus, ev.Resources)
	}
	d := detailOf(t, ev)
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"clusterName", "error", "executionArn", "reason"}; !slices.Equal(keys, want) {
		t.Errorf("detail fields %v, want the state machine's PublishRegistrationFailed shape %v", keys, want)
	}
	if d["clusterName"] != "stopev-01" || d["error"] != "ExecutionAborted" || d["executionArn"] != ex.Arn {
		t.Errorf("detail %v, want cluster stopev-01, error ExecutionAborted, the stopped execution", d)
	}
	reason, _ := d["reason"].(string)
	for _, want := range []string{"stopped by hand", "ABORTED", "OperatorStopped", "wrong cluster: stopped by the platform team",
		ex.Name, "The registration was removed", "send Register Cluster again"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	assertNothingLeft(t, e)
	if lockHeld(e, "stopev-01") {
		t.Error("the stopped registration's lock is still held")
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors: %+v", n, e.c.Lambda.Log())
	}

	// The same status change again (EventBridge delivers at least once):
	// it compensates again, finds nothing, and announces nothing.
	again := invokeCleanup(t, e, statusChange(t, e, ex.Arn).JSON)
	if again["published"] != nil || again["deregistered"] != false {
		t.Errorf("second delivery answered %v, want nothing removed and nothing published", again)
	}
	if n := len(e.eventsOf("Cluster Registration Failed")); n != 1 {
		t.Errorf("%d Cluster Registration Failed events after a second delivery, want still 1", n)
	}
}

// A registration whose agent connected just after its last check, then was
// stopped by hand: the compensation keeps the ACTIVE cluster (as the state
// machine's Compensate does), so the outcome is not a failure. The Cleanup
// function finishes it as CompleteRegistration would (the stored code and the
// intent are deleted, the lock released) and announces "Cluster Registered".
func TestStoppedAfterTheAgentConnectedIsAnnouncedRegistered(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	// Checks run every 28 s from the start (2:48, then 3:16); the agent
	// installs at 3:00, so at 3:05 the cluster is ACTIVE and nobody has seen it.
	ex, code, release := waitingRegistration(t, e, "stopok-01", 3*time.Minute+5*time.Second)
	if st, _ := e.c.EKS.ClusterStatus("stopok-01"); st != "ACTIVE" {
		release()
		t.Fatalf("cluster %s at 3:05, want ACTIVE (the agent installs at 3:00)", st)
	}
	if n := len(e.eventsOf("Cluster Registered")); n != 0 {
		release()
		t.Fatalf("%d Cluster Registered events before the stop: the registration saw the agent itself", n)
	}
	stopByHand(t, e, ex, "OperatorStopped", "stopped by hand")
	release()
	e.settle()
	defer assertSecretNowhere(t, e, code)
	mustStatus(t, ex, "ABORTED")

	if n := len(e.eventsOf("Cluster Registration Failed")); n != 0 {
		t.Errorf("%d Cluster Registration Failed events for a cluster that is connected and kept", n)
	}
	done := e.eventsOf("Cluster Registered")
	if len(done) != 1 {
		t.Fatalf("%d Cluster Registered events, want 1", len(done))
	}
	d := detailOf(t, done[0])
	ids, _ := d["instanceIds"].([]any)
	if d["clusterName"] != "stopok-01" || d["provider"] != "OTHER" || d["alreadyRegistered"] != false || len(ids) != 2 ||
		!strings.HasSuffix(d["clusterArn"].(string), ":cluster/stopok-01") {
		t.Errorf("Cluster Registered = %v, want the connected cluster with its 2 agent instances", d)
	}
	if st, _ := e.c.EKS.ClusterStatus("stopok-01"); st != "ACTIVE" {
		t.Errorf("cluster %s, want it kept ACTIVE", st)
	}
	// What CompleteRegistration leaves: the non-secret activation record only.
	if left := ourParameters(e, "stopok-01"); !slices.Equal(left, []string{"/eks-connector-registrar/clusters/stopok-01/activation"}) {
		t.Errorf("parameters left %v, want only the activation record (code, intent and lock removed)", left)
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors: %+v", n, e.c.Lambda.Log())
	}
}

// A registration that fails through its own Catch (here: the agent never
// connects within 5 minutes) has released its lock and announced itself
// before it ended. Its FAILED status change still reaches the Cleanup
// function, which finds nothing of it left and must not announce it again.
func TestOwnFailureIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	e.register("once-01", map[string]any{"activationTimeoutMinutes": 5})
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	e.settle()

	fn, _ := e.c.Template.Function("CleanupFunction")
	handled := 0
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == fn.FunctionName && inv.Type == "Event" {
			handled++
			if inv.ErrorType != "" {
				t.Errorf("the status change failed: %s %s", inv.ErrorType, inv.Message)
			}
		}
	}
	if handled != 1 {
		t.Fatalf("the Cleanup function handled %d status changes, want the FAILED one", handled)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1 (the state machine's own)", len(failed))
	}
	if d := detailOf(t, failed[0]); d["error"] != "ActivationTimedOut" {
		t.Errorf("failure event %v, want the state machine's ActivationTimedOut", d)
	}
	assertNothingLeft(t, e)
}
