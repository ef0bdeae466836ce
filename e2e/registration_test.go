package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

func TestAgentConnectsAfterSevenMinutes(t *testing.T) {
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 7 * time.Minute}})
	e.register("edge-01", map[string]any{"provider": "eks_anywhere"})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s: %s %s", ex.Status(), errName, cause)
	}

	// The cluster is connected, as the EKS API reports it.
	out, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DescribeCluster(e.ctx(), &eks.DescribeClusterInput{Name: aws.String("edge-01")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Cluster.Status != ekstypes.ClusterStatusActive {
		t.Errorf("cluster status %s, want ACTIVE", out.Cluster.Status)
	}
	if out.Cluster.ConnectorConfig == nil || out.Cluster.ConnectorConfig.Provider == nil || *out.Cluster.ConnectorConfig.Provider != "EKS_ANYWHERE" {
		t.Errorf("connector provider = %v, want the canonical EKS_ANYWHERE", out.Cluster.ConnectorConfig)
	}

	// The operator was told how to install, and never given the code.
	ready := e.eventsOf("Activation Ready")
	if len(ready) != 1 {
		t.Fatalf("%d Activation Ready events, want 1", len(ready))
	}
	d := detailOf(t, ready[0])
	for _, k := range []string{"clusterName", "activationId", "activationExpiry", "region", "codeParameter", "installCommand"} {
		if d[k] == nil || d[k] == "" {
			t.Errorf("Activation Ready lacks %s: %v", k, d)
		}
	}
	if cmd, _ := d["installCommand"].(string); !strings.Contains(cmd, "--with-decryption") || !strings.Contains(cmd, d["codeParameter"].(string)) {
		t.Errorf("install command does not read the code from SSM: %s", cmd)
	}
	codes := e.c.Agent.CodesRead()
	if len(codes) != 1 || len(codes[0]) < 10 {
		t.Fatalf("the agent read %d codes", len(codes))
	}
	assertSecretNowhere(t, e, codes[0])

	registered := e.eventsOf("Cluster Registered")
	if len(registered) != 1 {
		t.Fatalf("%d Cluster Registered events, want 1", len(registered))
	}
	rd := detailOf(t, registered[0])
	if ids, _ := rd["instanceIds"].([]any); len(ids) != 2 {
		t.Errorf("Cluster Registered instanceIds = %v, want the 2 agent replicas", rd["instanceIds"])
	}

	// Nothing is left but what a connected cluster needs: the code is gone,
	// the lock is released.
	for _, n := range e.c.SSM.ParameterNames() {
		if strings.HasSuffix(n, "/activation-code") || strings.HasSuffix(n, "/lock") {
			t.Errorf("parameter %s is still there after activation", n)
		}
	}
	// A healthy registration has no Lambda errors and no failed tasks.
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("%d Lambda errors in a healthy registration: %+v", n, e.c.Lambda.Log())
	}
	for _, ev := range ex.Engine().History() {
		if strings.HasSuffix(ev.Type, "Failed") || strings.HasSuffix(ev.Type, "TimedOut") {
			t.Errorf("a healthy registration has a %s event (%v)", ev.Type, ev.Details)
		}
	}
}

func TestAgentNeverConnectsCleansUpEverything(t *testing.T) {
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	e.register("edge-02", map[string]any{"activationTimeoutMinutes": 4320})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "FAILED" {
		t.Fatalf("registration %s, want FAILED", ex.Status())
	}
	// With the default 72-hour timeout the deadline is the activation's own
	// expiry, so either name tells the operator what happened.
	if errName, _ := ex.Engine().Error(); errName != "ActivationTimedOut" && errName != "ActivationExpired" {
		t.Errorf("error %q, want ActivationTimedOut or ActivationExpired", errName)
	}
	if elapsed := e.c.Clock.Now().Sub(ex.Engine().StartDate()); elapsed < 72*time.Hour-time.Minute {
		t.Errorf("gave up after %s, want the full 72 h", elapsed)
	}
	assertNothingLeft(t, e)
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	if r, _ := detailOf(t, failed[0])["reason"].(string); r == "" {
		t.Errorf("failure event has no reason")
	}
}

func TestShortTimeoutGivesUpAtTheRequestedDeadline(t *testing.T) {
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	e.register("edge-03", map[string]any{"activationTimeoutMinutes": 30})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "FAILED" {
		t.Fatalf("registration %s, want FAILED", ex.Status())
	}
	elapsed := ex.Engine().StopDate().Sub(ex.Engine().StartDate())
	if elapsed < 30*time.Minute || elapsed > 35*time.Minute {
		t.Errorf("gave up after %s, want just after the 30-minute deadline", elapsed)
	}
	assertNothingLeft(t, e)
}

func TestAgentConnectingJustBeforeTheDeadlineIsKept(t *testing.T) {
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 29 * time.Minute}})
	e.register("edge-04", map[string]any{"activationTimeoutMinutes": 30})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s (%s: %s), want the late agent kept", ex.Status(), errName, cause)
	}
	if len(e.c.EKS.ClusterNames()) != 1 {
		t.Errorf("clusters %v, want edge-04 kept", e.c.EKS.ClusterNames())
	}
}

func TestWrongActivationCodeTimesOutAndCleansUp(t *testing.T) {
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.WrongCode, Delay: time.Minute}})
	e.register("edge-05", map[string]any{"activationTimeoutMinutes": 15})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "FAILED" {
		t.Fatalf("registration %s, want FAILED", ex.Status())
	}
	var rejected bool
	for _, r := range e.c.Agent.Log() {
		if r.Err != nil && strings.Contains(r.Err.Error(), "InvalidActivation") {
			rejected = true
		}
	}
	if !rejected {
		t.Errorf("the agent's wrong code was not rejected with InvalidActivation: %+v", e.c.Agent.Log())
	}
	assertNothingLeft(t, e)
	// The agent read the real code before mangling it: the compensation path
	// must not have leaked it either.
	if codes := e.c.Agent.CodesRead(); len(codes) == 1 {
		assertSecretNowhere(t, e, codes[0])
	} else {
		t.Errorf("the agent read %d codes, want 1", len(codes))
	}
}

func TestInvalidEventIsRejectedWithoutSideEffects(t *testing.T) {
	e := start(t, localcloud.Options{})
	e.register("prod.eu", nil)
	e.settle()
	rej := e.eventsOf("Registration Rejected")
	if len(rej) != 1 {
		t.Fatalf("%d Registration Rejected events, want 1", len(rej))
	}
	d := detailOf(t, rej[0])
	if d["field"] != "clusterName" || d["value"] != "prod.eu" || d["rule"] == nil || d["rule"] == "" {
		t.Errorf("rejection = %v, want field clusterName, value prod.eu and the rule", d)
	}
	if n := len(e.c.SFN.Executions()); n != 0 {
		t.Errorf("%d executions started for an invalid event", n)
	}
	if n := len(e.c.SSM.ParameterNames()); n != 0 {
		t.Errorf("%d parameters created for an invalid event", n)
	}
	if n := e.c.Lambda.Errors(); n != 0 {
		t.Errorf("a rejected event is answered, not thrown: %d Lambda errors", n)
	}
}

func assertNothingLeft(t *testing.T, e *env) {
	t.Helper()
	// A deregistered cluster shows DELETING for a while, then is gone.
	e.c.Virtual.Advance(5 * time.Minute)
	if n := e.c.EKS.ClusterNames(); len(n) != 0 {
		t.Errorf("clusters left: %v", n)
	}
	if n := e.c.SSM.ParameterNames(); len(n) != 0 {
		t.Errorf("parameters left: %v", n)
	}
	if n := e.c.SSM.ActivationIDs(); len(n) != 0 {
		t.Errorf("activations left: %v", n)
	}
	if n := e.c.SSM.Instances(); len(n) != 0 {
		t.Errorf("managed instances left: %v", n)
	}
}

// assertSecretNowhere checks the activation code is in no execution
// history, no event, no function log and no Lambda output.
func assertSecretNowhere(t *testing.T, e *env, code string) {
	t.Helper()
	for _, ex := range e.c.SFN.Executions() {
		if strings.Contains(history(ex), code) {
			t.Errorf("the activation code is in the history of %s", ex.Name)
		}
	}
	for _, ev := range e.c.Events.Log() {
		if strings.Contains(string(ev.Detail), code) {
			t.Errorf("the activation code is in a %q event", ev.DetailType)
		}
	}
	if strings.Contains(e.logs.String(), code) {
		t.Errorf("the activation code is in the function logs")
	}
}
