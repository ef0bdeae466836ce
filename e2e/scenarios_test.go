package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// The "existing state" scenarios of issue 2 (check existing state, register,
// role modes), each on its own cloud.

// A cluster that is already registered and connected: the second Register
// Cluster succeeds without registering again and says so.
func TestAlreadyActiveClusterIsNotRegisteredAgain(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	e.register("active-01", nil)
	mustStatus(t, e.waitExecution("Registration", 1), "SUCCEEDED")
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Fatalf("first registration made %d RegisterCluster calls", n)
	}
	activationsBefore := e.c.SSM.ActivationIDs()

	e.register("active-01", map[string]any{"provider": "gke"})
	second := e.waitExecution("Registration", 2)
	mustStatus(t, second, "SUCCEEDED")
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls, want still 1", n)
	}
	if entered(second, "RegisterCluster") != 0 || entered(second, "CompleteAlreadyActive") != 1 {
		t.Errorf("second execution's states %v, want CompleteAlreadyActive and no RegisterCluster", statesEntered(second))
	}
	registered := e.eventsOf("Cluster Registered")
	if len(registered) != 2 {
		t.Fatalf("%d Cluster Registered events, want 2", len(registered))
	}
	first, again := detailOf(t, registered[0]), detailOf(t, registered[1])
	if first["alreadyRegistered"] != false {
		t.Errorf("first Cluster Registered says alreadyRegistered=%v", first["alreadyRegistered"])
	}
	if again["alreadyRegistered"] != true || again["clusterName"] != "active-01" || again["clusterArn"] == "" {
		t.Errorf("second Cluster Registered = %v, want alreadyRegistered true with the cluster's ARN", again)
	}
	// Nothing changed: the same cluster, connected, with its activation.
	if cl := describe(t, e, "active-01"); cl.Status != "ACTIVE" || aws.ToString(cl.ConnectorConfig.Provider) != "OTHER" {
		t.Errorf("cluster %s provider %s, want ACTIVE OTHER (unchanged)", cl.Status, aws.ToString(cl.ConnectorConfig.Provider))
	}
	if after := e.c.SSM.ActivationIDs(); !slices.Equal(after, activationsBefore) {
		t.Errorf("activations %v, want unchanged %v", after, activationsBefore)
	}
	if lockHeld(e, "active-01") {
		t.Error("the lock is still held")
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors", n)
	}
}

// A registration whose execution was stopped (StopExecution runs no Catch:
// the registration, its stored code and the lock stay) while the
// status-change event that would compensate it is not delivered yet
// (EventBridge retries delivery for up to an hour). The next Register
// Cluster recovers the stale lock and resumes waiting for the same
// registration instead of registering again.
func TestPendingRegistrationOfAStoppedExecutionIsResumed(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 10 * time.Minute}})
	release := e.freeze()
	e.register("resume-01", nil)
	e.sleep(3 * time.Minute) // the first execution waits for its agent

	xs := e.executions("Registration")
	if len(xs) != 1 || xs[0].Status() != "RUNNING" {
		release()
		t.Fatalf("want 1 running registration after 3 minutes, have %d", len(xs))
	}
	first := xs[0]
	activationID := aws.ToString(describe(t, e, "resume-01").ConnectorConfig.ActivationId)
	disableRule(t, e, "RegistrationEnded")
	if _, err := sfn.NewFromConfig(e.c.ConfigFor("operator")).StopExecution(e.ctx(), &sfn.StopExecutionInput{
		ExecutionArn: aws.String(first.Arn), Error: aws.String("OperatorStopped"), Cause: aws.String("stopped by hand"),
	}); err != nil {
		release()
		t.Fatalf("StopExecution: %v", err)
	}
	if !lockHeld(e, "resume-01") {
		release()
		t.Fatal("a stopped execution runs no Catch, so its lock should still be there")
	}
	e.register("resume-01", nil)
	release()

	second := e.waitExecution("Registration", 2)
	mustStatus(t, first, "ABORTED")
	mustStatus(t, second, "SUCCEEDED")
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls, want 1 (the pending registration is resumed)", n)
	}
	if entered(second, "ResumePending") != 1 || entered(second, "RegisterCluster") != 0 {
		t.Errorf("second execution's states %v, want ResumePending and no RegisterCluster", statesEntered(second))
	}
	ready := e.eventsOf("Activation Ready")
	if len(ready) != 2 {
		t.Fatalf("%d Activation Ready events, want 2 (the resumed registration is announced again)", len(ready))
	}
	if d := detailOf(t, ready[1]); d["activationId"] != activationID || d["executionArn"] != second.Arn {
		t.Errorf("resumed Activation Ready = %v, want activation %s of execution %s", d, activationID, second.Arn)
	}
	if cl := describe(t, e, "resume-01"); cl.Status != "ACTIVE" || aws.ToString(cl.ConnectorConfig.ActivationId) != activationID {
		t.Errorf("cluster %s with activation %s, want ACTIVE with %s", cl.Status, aws.ToString(cl.ConnectorConfig.ActivationId), activationID)
	}
	if left := ourParameters(e, "resume-01"); len(left) != 1 || !strings.HasSuffix(left[0], "/activation") {
		t.Errorf("parameters left %v, want only the activation record", left)
	}
	var took bool
	for _, l := range e.logLines("trigger", "took over a stale lock") {
		took = took || l["staleHolder"] == first.Arn
	}
	if !took {
		t.Error("the trigger did not report taking over the stopped execution's lock")
	}
}

// A pending connected cluster that someone else registered: a clear failure,
// and their registration is left alone.
func TestPendingClusterOwnedElsewhereIsLeftAlone(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	foreign := registerForeign(t, e, "theirs-01")
	e.register("theirs-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if errName, cause := ex.Engine().Error(); errName != "ClusterOwnedElsewhere" || !strings.Contains(cause, "someone else") {
		t.Errorf("error %s (%s), want ClusterOwnedElsewhere saying who", errName, cause)
	}
	if entered(ex, "Compensate") != 0 || entered(ex, "ReleaseLock") != 1 {
		t.Errorf("states %v, want ReleaseLock and no compensation", statesEntered(ex))
	}
	cl := describe(t, e, "theirs-01")
	if cl.Status != "PENDING" || aws.ToString(cl.ConnectorConfig.ActivationId) != aws.ToString(foreign.ConnectorConfig.ActivationId) {
		t.Errorf("foreign cluster now %s with activation %s, want it untouched", cl.Status, aws.ToString(cl.ConnectorConfig.ActivationId))
	}
	if ids := e.c.SSM.ActivationIDs(); len(ids) != 1 || ids[0] != aws.ToString(foreign.ConnectorConfig.ActivationId) {
		t.Errorf("activations %v, want only the foreign one", ids)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls, want only the foreign one", n)
	}
	if left := ourParameters(e, "theirs-01"); len(left) != 0 {
		t.Errorf("parameters left: %v (lock released, nothing stored)", left)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	if reason, _ := d["reason"].(string); d["error"] != "ClusterOwnedElsewhere" || !strings.Contains(reason, "did not deregister") {
		t.Errorf("failure event %v", d)
	}
}

// An EKS managed cluster of that name: a clear failure, nothing touched.
func TestManagedClusterOfThatNameFails(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	e.c.EKS.AddManagedCluster("managed-01")
	e.register("managed-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if errName, cause := ex.Engine().Error(); errName != "ManagedClusterExists" || !strings.Contains(cause, "managed cluster") {
		t.Errorf("error %s (%s), want ManagedClusterExists", errName, cause)
	}
	if st, ok := e.c.EKS.ClusterStatus("managed-01"); !ok || st != "ACTIVE" {
		t.Errorf("managed cluster status %q (exists %v), want it untouched", st, ok)
	}
	if n := e.c.EKS.RegisterCalls(); n != 0 {
		t.Errorf("%d RegisterCluster calls", n)
	}
	if entered(ex, "Compensate") != 0 {
		t.Errorf("states %v: nothing was registered, so nothing is compensated", statesEntered(ex))
	}
	if left := ourParameters(e, "managed-01"); len(left) != 0 {
		t.Errorf("parameters left: %v", left)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 || detailOf(t, failed[0])["error"] != "ManagedClusterExists" {
		t.Errorf("failure events %d, want 1 ManagedClusterExists", len(failed))
	}
}

// The agent role is new and EKS cannot see it yet: RegisterCluster answers
// InvalidRequestException "Nonexistent role…" until it propagates, and the
// state machine retries instead of failing.
func TestAgentRolePropagationDelayIsRetried(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{RolePropagationDelay: 90 * time.Second,
		Agent: agent.Config{Mode: agent.Connects, Delay: 2 * time.Minute}})
	e.register("fresh-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")
	failures := taskFailures(ex)
	// Retries at 10, 25, 47.5, 77.5 and 107.5 s: the first four come before
	// the role is 90 s old.
	if n := failures["RolePropagationDelay"]; n < 1 || n > 8 {
		t.Errorf("%d RolePropagationDelay failures, want 1 to 8 (history failures %v)", n, failures)
	}
	if len(failures) != 1 {
		t.Errorf("task failures %v, want only RolePropagationDelay", failures)
	}
	var sawMessage bool
	for _, ev := range ex.Engine().History() {
		if ev.Type == "LambdaFunctionFailed" {
			cause, _ := ev.Details["cause"].(string)
			sawMessage = sawMessage || strings.Contains(cause, "Nonexistent role")
		}
	}
	if !sawMessage {
		t.Error("no failed task carries EKS's \"Nonexistent role\" message")
	}
	if entered(ex, "Compensate") != 0 || entered(ex, "ReleaseLock") != 0 || entered(ex, "DiscardRegistration") != 0 {
		t.Errorf("states %v, want no compensation", statesEntered(ex))
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls created a registration, want 1", n)
	}
	if len(e.eventsOf("Cluster Registration Failed")) != 0 {
		t.Error("a failure event was published")
	}
}

// The Region's "Registered clusters" quota is reached: a clear failure that
// names the quota, and nothing of ours left behind.
func TestRegisteredClustersQuotaReached(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{ClusterQuota: 1, Agent: agent.Config{Mode: agent.NeverConnects}})
	registerForeign(t, e, "someone-else")
	e.register("quota-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if errName, _ := ex.Engine().Error(); errName != "RegisteredClustersQuotaExceeded" {
		t.Errorf("error %s, want RegisteredClustersQuotaExceeded", errName)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	if reason, _ := d["reason"].(string); d["error"] != "RegisteredClustersQuotaExceeded" || !strings.Contains(reason, `"Registered clusters"`) {
		t.Errorf("failure event %v, want one naming the \"Registered clusters\" quota", d)
	}
	if names := e.c.EKS.ClusterNames(); !slices.Equal(names, []string{"someone-else"}) {
		t.Errorf("clusters %v, want only the foreign one", names)
	}
	if left := ourParameters(e, "quota-01"); len(left) != 0 {
		t.Errorf("parameters left: %v (intent, lock, code, record must all be gone)", left)
	}
	if n := len(e.c.SSM.ActivationIDs()); n != 1 {
		t.Errorf("%d activations, want only the foreign one", n)
	}
	if entered(ex, "Compensate") != 0 {
		t.Errorf("states %v: nothing registered, nothing to compensate", statesEntered(ex))
	}
}

// The code store fails transiently right after RegisterCluster answered (as a
// crash between the two: the code is gone for good). The useless
// registration is deregistered, the workflow waits until it is gone, and
// registers again with attempt 2.
func TestLostActivationCodeIsReplacedByANewRegistration(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 2 * time.Minute}})
	var firstActivation string
	armed := false
	e.onCall(func(c *awsproto.Call, status int) {
		// Runs before the RegisterCluster answer reaches the function, so the
		// next SSM PutParameter — the code's — is the one that fails.
		if c.Service == "eks" && c.Op == "RegisterCluster" && status == 200 && !armed {
			armed = true
			// A transient failure that outlasts the SDK's 3 attempts: the
			// code is lost (a permanent one fails fast: kms_test.go).
			e.c.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 3,
				Code: "InternalServerError", Status: 500,
				Message: "injected: service struggling (store of the activation code)"})
		}
	})
	e.register("lost-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")

	if n := e.c.Faults.InjectedCount("ssm", "PutParameter"); n != 3 {
		t.Fatalf("%d PutParameter faults injected, want 3 (the SDK's attempts at storing the code)", n)
	}
	if n := e.c.EKS.RegisterCalls(); n != 2 {
		t.Errorf("%d registrations created, want 2 (the lost one and its replacement)", n)
	}
	for _, s := range []string{"DiscardRegistration", "WaitUntilGone", "CheckGone", "NextAttempt"} {
		if entered(ex, s) < 1 {
			t.Errorf("state %s never entered: %v", s, statesEntered(ex))
		}
	}
	if entered(ex, "RegisterCluster") != 2 || entered(ex, "Compensate") != 0 {
		t.Errorf("states %v, want RegisterCluster twice and no compensation", statesEntered(ex))
	}
	if f := taskFailures(ex); f["ActivationCodeLost"] != 1 {
		t.Errorf("task failures %v, want one ActivationCodeLost", f)
	}
	for _, ev := range ex.Engine().History() {
		if ev.Type == "TaskStateExited" && ev.Details["name"] == "DiscardRegistration" {
			var out struct {
				Discard struct {
					Deregistered  bool     `json:"deregistered"`
					ActivationIDs []string `json:"activationIds"`
				} `json:"discard"`
			}
			_ = json.Unmarshal([]byte(ev.Details["output"].(string)), &out)
			if !out.Discard.Deregistered || len(out.Discard.ActivationIDs) != 1 {
				t.Errorf("discard result %+v, want the lost registration deregistered", out.Discard)
			} else {
				firstActivation = out.Discard.ActivationIDs[0]
			}
		}
	}

	// Exactly one cluster, connected with the second activation; the first
	// activation is gone (no orphan), and so is its code.
	if names := e.c.EKS.ClusterNames(); !slices.Equal(names, []string{"lost-01"}) {
		t.Fatalf("clusters %v, want exactly lost-01", names)
	}
	cl := describe(t, e, "lost-01")
	current := aws.ToString(cl.ConnectorConfig.ActivationId)
	if cl.Status != "ACTIVE" || current == firstActivation || firstActivation == "" {
		t.Errorf("cluster %s with activation %s (lost one %q), want ACTIVE with a new activation", cl.Status, current, firstActivation)
	}
	if ids := e.c.SSM.ActivationIDs(); !slices.Equal(ids, []string{current}) {
		t.Errorf("activations %v, want only %s (no orphan)", ids, current)
	}
	for _, id := range e.c.SSM.Instances() {
		if !strings.HasPrefix(id, "eks_c:lost-01_") {
			t.Errorf("unexpected managed instance %s", id)
		}
	}
	rec, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/lost-01/activation")
	var act struct {
		ActivationID string `json:"activationId"`
		Attempt      int    `json:"attempt"`
	}
	if !ok || json.Unmarshal([]byte(rec), &act) != nil || act.Attempt != 2 || act.ActivationID != current {
		t.Errorf("activation record %q, want attempt 2 of activation %s", rec, current)
	}
	// Only the replacement was announced: the lost code could not be installed.
	ready := e.eventsOf("Activation Ready")
	if len(ready) != 1 || detailOf(t, ready[0])["activationId"] != current {
		t.Errorf("%d Activation Ready events, want 1 for activation %s", len(ready), current)
	}
	if left := ourParameters(e, "lost-01"); len(left) != 1 {
		t.Errorf("parameters left %v, want only the activation record", left)
	}
}

// Existing agent role mode: the platform's IAM team owns the role; the
// workflow only verifies it and makes no IAM write call at all.
func TestExistingAgentRoleModeMakesNoIAMWrites(t *testing.T) {
	t.Parallel()
	const roleName = "PlatformConnectorAgent"
	arn := "arn:aws:iam::123456789012:role/" + roleName
	e := start(t, localcloud.Options{
		Parameters: map[string]string{"AgentRoleMode": "existing", "ExistingAgentRoleArn": arn},
		Agent:      agent.Config{Mode: agent.Connects, Delay: time.Minute},
	})
	if got := createRole(t, e, roleName, ssmTrust, agentPolicy); got != arn {
		t.Fatalf("role ARN %s, want %s", got, arn)
	}
	e.register("byo-role-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")
	if cl := describe(t, e, "byo-role-01"); aws.ToString(cl.ConnectorConfig.RoleArn) != arn {
		t.Errorf("registered with role %s, want %s", aws.ToString(cl.ConnectorConfig.RoleArn), arn)
	}
	assertNoIAMWrites(t, e)
	if _, ok := e.c.IAM.Role("AmazonEKSConnectorAgentRole"); ok {
		t.Error("the managed agent role was created in existing mode")
	}
}

// Existing mode with a role that the agent cannot assume: a clear failure
// before anything is registered.
func TestExistingAgentRoleWithoutSSMTrustFails(t *testing.T) {
	t.Parallel()
	const roleName = "PlatformConnectorAgent"
	arn := "arn:aws:iam::123456789012:role/" + roleName
	e := start(t, localcloud.Options{
		Parameters: map[string]string{"AgentRoleMode": "existing", "ExistingAgentRoleArn": arn},
	})
	createRole(t, e, roleName,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		agentPolicy)
	e.register("byo-role-02", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	errName, cause := ex.Engine().Error()
	if errName != "AgentRoleInvalid" || !strings.Contains(cause, arn) || !strings.Contains(cause, "ssm.amazonaws.com") {
		t.Errorf("error %s (%s), want AgentRoleInvalid naming the role and the missing ssm.amazonaws.com trust", errName, cause)
	}
	if n := e.c.EKS.RegisterCalls(); n != 0 || len(e.c.EKS.ClusterNames()) != 0 {
		t.Errorf("%d registrations, clusters %v: nothing may be registered", n, e.c.EKS.ClusterNames())
	}
	if left := ourParameters(e, "byo-role-02"); len(left) != 0 {
		t.Errorf("parameters left: %v", left)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 || detailOf(t, failed[0])["error"] != "AgentRoleInvalid" {
		t.Fatalf("failure events: %d, want 1 AgentRoleInvalid", len(failed))
	}
	assertNoIAMWrites(t, e)
	// The role is as its owners left it.
	role, _ := e.c.IAM.Role(roleName)
	if strings.Contains(role.TrustPolicy, "ssm.amazonaws.com") {
		t.Error("the workflow changed the existing role's trust policy")
	}
}

// assertNoIAMWrites: no function or state machine asked for an IAM action
// other than reads (iam:PassRole is checked by EKS on RegisterCluster; it
// is not a write).
func assertNoIAMWrites(t *testing.T, e *env) {
	t.Helper()
	reads := []string{"iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
		"iam:GetPolicy", "iam:GetPolicyVersion", "iam:PassRole"}
	var iamChecks int
	for _, c := range e.c.Policies.Checks() {
		if !strings.HasPrefix(c.Action, "iam:") {
			continue
		}
		iamChecks++
		if !slices.Contains(reads, c.Action) {
			t.Errorf("%s asked for %s on %s (allowed %v) in existing mode", c.Principal, c.Action, c.Resource, c.Allowed)
		}
	}
	if iamChecks == 0 {
		t.Error("no IAM check was recorded at all: the test cannot see IAM calls")
	}
}
