package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// The compensation paths after our RegisterCluster succeeded: a step that
// then fails for good (the Activation Ready event denied), and an agent that
// connects while the compensation runs (CompleteKeptActive).

// editedTemplate writes template.yaml with anchor (which must occur once)
// replaced by with, next to a link to the state machine definitions, and
// returns its path.
func editedTemplate(t *testing.T, anchor, with string) string {
	t.Helper()
	root := app.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), anchor); n != 1 {
		t.Fatalf("template.yaml holds %q %d times; this test edits it there and needs it once", anchor, n)
	}
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(strings.Replace(string(raw), anchor, with, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "statemachine"), filepath.Join(dir, "statemachine")); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The registration state machine's role may publish every event but
// "Activation Ready" (an explicit Deny on the events:detail-type condition
// key, as a permissions boundary or a tightened policy would add). Our
// RegisterCluster has succeeded when AnnounceActivationReady fails: every
// entry denied, EventBridge refuses the call (AccessDeniedException), which
// Step Functions reports as EventBridge.AccessDeniedException. No Retry lists
// it: the Catch compensates at once. The registration, its activation and its
// parameters are removed, the lock released, and the failure event quotes
// the denial.
func TestActivationReadyDeniedIsCompensated(t *testing.T) {
	t.Parallel()
	const anchor = "                - !GetAtt CleanupFunction.Arn\n            - Sid: PublishOutcomes\n"
	tpl := editedTemplate(t, anchor, anchor[:strings.Index(anchor, "            - Sid")]+
		"            - Sid: NoActivationReady\n"+
		"              Effect: Deny\n"+
		"              Action: events:PutEvents\n"+
		"              Resource: \"*\"\n"+
		"              Condition:\n"+
		"                StringEquals:\n"+
		"                  events:detail-type: Activation Ready\n"+
		"            - Sid: PublishOutcomes\n")
	e := start(t, localcloud.Options{Template: tpl, Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	const cluster, deniedError = "denied-ready-01", "EventBridge.AccessDeniedException"
	e.register(cluster, nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	e.settle()

	if f := taskFailures(ex); len(f) != 1 || f[deniedError] != 1 {
		t.Errorf("task failures %v, want %s once (not retried)", f, deniedError)
	}
	for _, s := range []string{"RegisterCluster", "AnnounceActivationReady", "Compensate", "PublishRegistrationFailed"} {
		if entered(ex, s) != 1 {
			t.Errorf("state %s entered %d times, want once: %v", s, entered(ex, s), statesEntered(ex))
		}
	}
	if n := entered(ex, "CheckActivation") + entered(ex, "CompleteKeptActive") + entered(ex, "ReleaseAfterFailedCleanup"); n != 0 {
		t.Errorf("states %v: want no activation check, no kept registration, no failed cleanup", statesEntered(ex))
	}
	if errName, _ := ex.Engine().Error(); errName != deniedError {
		t.Errorf("execution error %s, want %s", errName, deniedError)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d registrations created, want 1", n)
	}
	if n := len(e.eventsOf("Activation Ready")); n != 0 {
		t.Errorf("%d Activation Ready events reached the bus, want 0 (denied)", n)
	}
	if codes := e.c.Agent.CodesRead(); len(codes) != 0 {
		t.Errorf("the agent read %d codes, want 0 (it was never told)", len(codes))
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	reason, _ := d["reason"].(string)
	for _, w := range []string{deniedError + ": ", "is not authorized to perform: events:PutEvents", "explicit deny", "The registration was removed"} {
		if !strings.Contains(reason, w) {
			t.Errorf("the failure reason does not say %q: %s", w, reason)
		}
	}
	if d["error"] != deniedError {
		t.Errorf("event error %v, want %s", d["error"], deniedError)
	}
	t.Logf("reason: %s", reason)
	assertNothingLeft(t, e)
}

// The agent connects while the compensation runs: after the last check
// found the activation unused and the deadline reached, and before Cleanup
// looked at the cluster. Cleanup finds it ACTIVE and ours and keeps it; the
// state machine completes the registration (CompleteKeptActive) and
// announces it: nothing is deregistered, the code is deleted, the lock
// released, and no failure is announced.
func TestAgentConnectingDuringCompensationIsKept(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Manual}})
	const cluster = "kept-01"

	var mu sync.Mutex
	var id, code string
	var instances []string
	var applyErr error
	e.c.Router.OnAnswer = func(c *awsproto.Call, status int, body []byte) {
		if c.Service == "eks" && c.Op == "RegisterCluster" && status == 200 {
			var a registerAnswer
			_ = json.Unmarshal(body, &a)
			mu.Lock()
			id, code = a.Cluster.ConnectorConfig.ActivationID, a.Cluster.ConnectorConfig.ActivationCode
			mu.Unlock()
		}
	}
	applied := false
	e.onCall(func(c *awsproto.Call, _ int) {
		// Cleanup's first call (it reads the intent) is answered: the
		// agent starts before Cleanup describes the cluster.
		if c.Principal == nil || c.Principal.Name != "CleanupFunction" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if applied {
			return
		}
		applied = true
		instances, applyErr = e.c.Agent.Apply(cluster, id, code)
	})

	e.register(cluster, map[string]any{"activationTimeoutMinutes": 5})
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")
	e.settle()

	mu.Lock()
	if !applied || applyErr != nil || len(instances) != 2 {
		t.Fatalf("the agent applied %v: %d instances, %v", applied, len(instances), applyErr)
	}
	mu.Unlock()
	for _, s := range []string{"ActivationTimedOut", "Compensate", "CompleteKeptActive", "PublishClusterRegistered"} {
		if entered(ex, s) != 1 {
			t.Errorf("state %s entered %d times, want once: %v", s, entered(ex, s), statesEntered(ex))
		}
	}
	if n := entered(ex, "CompleteRegistration") + entered(ex, "PublishRegistrationFailed"); n != 0 {
		t.Errorf("states %v: want neither CompleteRegistration nor a failure", statesEntered(ex))
	}
	if n := len(e.eventsOf("Cluster Registration Failed")); n != 0 {
		t.Errorf("%d Cluster Registration Failed events, want 0", n)
	}
	ok := e.eventsOf("Cluster Registered")
	if len(ok) != 1 {
		t.Fatalf("%d Cluster Registered events, want 1", len(ok))
	}
	d := detailOf(t, ok[0])
	if d["clusterName"] != cluster {
		t.Errorf("Cluster Registered names %v, want %s", d["clusterName"], cluster)
	}
	got, _ := json.Marshal(d)
	for _, iid := range instances {
		if !strings.Contains(string(got), iid) {
			t.Errorf("Cluster Registered %s does not name instance %s", got, iid)
		}
	}
	cl := describe(t, e, cluster)
	if cl.Status != "ACTIVE" || aws.ToString(cl.ConnectorConfig.ActivationId) != id {
		t.Errorf("cluster %s with activation %s, want ACTIVE with %s", cl.Status, aws.ToString(cl.ConnectorConfig.ActivationId), id)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d registrations created, want 1", n)
	}
	if ids := e.c.SSM.ActivationIDs(); !slices.Equal(ids, []string{id}) {
		t.Errorf("activations %v, want only %s", ids, id)
	}
	if _, _, found := e.c.SSM.Parameter("/eks-connector-registrar/clusters/" + cluster + "/activation-code"); found {
		t.Error("the activation code is still stored")
	}
	if lockHeld(e, cluster) {
		t.Error("the lock is still held")
	}
	assertSecretNowhere(t, e, code)
}
