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
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// The RegisterCluster function dies (its sandbox is killed) after
// eks:RegisterCluster answered and before the code's ssm:PutParameter is
// served: the one moment when the code exists only in the dead process.
// Lambda reports Runtime.ExitError; Step Functions retries the step; the
// retry's replayed request token gets the registration back without its
// code (ActivationCodeLost), so the useless registration is discarded, the
// workflow waits until it is gone and registers again with attempt 2.
func TestRegisterClusterCrashBeforeStoringTheCode(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 2 * time.Minute}})
	crashBetweenRegisterAndStore(t, e, "crash-01")
}

// The same crash with RegisterCluster's real bootstrap (built for this host
// by the Makefile's recipe) behind aws-lambda-rie: the bootstrap process is
// killed with SIGKILL and the emulator reports its death.
func TestRegisterClusterCrashBeforeStoringTheCodeBehindRIE(t *testing.T) {
	t.Parallel()
	root := app.RepoRoot()
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("aws-lambda-rie is not installed at %s: run `make tools` (make test does it)", rie)
	}
	const fn = "RegisterClusterFunction"
	// Built where cmd/localcloud's tests build it (.aws-sam-local/test-host):
	// go build finds it up to date there, at each of make test's dates and
	// in the next run, and this package's result stays cacheable.
	began := time.Now()
	dir, err := app.BuildHostBootstrap(root, fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the %s bootstrap in %s", fn, time.Since(began).Round(time.Millisecond))

	logs := &syncBuffer{}
	o := localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 2 * time.Minute},
		RIE: &localcloud.RIEOptions{RIEPath: rie, Logs: logs, BootstrapDir: func(id string) string {
			if id == fn {
				return dir
			}
			return "" // the other functions run in-process
		}}}
	c, err := app.Start(o, logs)
	if err != nil {
		t.Fatalf("starting the local cloud: %v", err)
	}
	c.CheckWire(t)
	t.Cleanup(func() { recordPolicies(c) })
	t.Cleanup(func() {
		c.Close()
		if t.Failed() && os.Getenv("E2E_LOGS") != "" {
			t.Logf("function and emulator logs:\n%s", logs.String())
		}
	})
	e := &env{t: t, c: c, logs: logs}
	e.armEndChecks()
	crashBetweenRegisterAndStore(t, e, "crash-rie-01")
	// The emulator itself saw the runtime die.
	if !strings.Contains(logs.String(), "Runtime exited with error: signal: killed") {
		t.Errorf("the emulator did not report the bootstrap's death:\n%s", logs.String())
	}
}

// crashBetweenRegisterAndStore runs the scenario and checks that it
// converges: one registered cluster under attempt 2, the first activation
// gone, no orphan, and neither code in any history, event or log.
func crashBetweenRegisterAndStore(t *testing.T, e *env, cluster string) {
	t.Helper()
	began := time.Now()
	reg, _ := e.c.Template.Function("RegisterClusterFunction")

	// What RegisterCluster answered: the first answer holds the code that
	// dies with the process.
	var mu sync.Mutex
	var answers []registerAnswer
	e.c.Router.OnAnswer = func(c *awsproto.Call, status int, body []byte) {
		if c.Service == "eks" && c.Op == "RegisterCluster" && status == 200 {
			var a registerAnswer
			_ = json.Unmarshal(body, &a)
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
		}
	}
	calls := map[string]int{} // RegisterClusterFunction's calls, "service:Op"
	armed := false
	e.onCall(func(c *awsproto.Call, status int) {
		if c.Principal == nil || c.Principal.Name != "RegisterClusterFunction" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		calls[c.Service+":"+c.Op]++
		// Runs before the answer reaches the function: its next
		// PutParameter, the code's, kills it.
		if c.Service == "eks" && c.Op == "RegisterCluster" && status == 200 && !armed {
			armed = true
			e.c.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", Caller: "RegisterClusterFunction",
				FirstN: 1, KillCaller: true})
		}
	})

	e.register(cluster, nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "SUCCEEDED")
	e.settle()

	if n := e.c.Faults.InjectedCount("ssm", "PutParameter"); n != 1 {
		t.Fatalf("%d sandboxes killed at ssm:PutParameter, want 1", n)
	}
	// The invocations of RegisterCluster: the crash, the retry that finds
	// the code lost, and attempt 2.
	var got []string
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == reg.FunctionName {
			got = append(got, inv.ErrorType)
		}
	}
	if want := []string{lambda.ExitError, "ActivationCodeLost", ""}; !slices.Equal(got, want) {
		t.Errorf("RegisterCluster invocations ended with %q, want %q", got, want)
	}
	for _, inv := range e.c.Lambda.Log() {
		if inv.ErrorType == lambda.ExitError && !strings.Contains(inv.Message, "Runtime exited with error: signal: killed") {
			t.Errorf("the crash reads %q, not Lambda's \"Runtime exited with error: signal: killed\"", inv.Message)
		}
	}
	if f := taskFailures(ex); len(f) != 2 || f[lambda.ExitError] != 1 || f["ActivationCodeLost"] != 1 {
		t.Errorf("task failures %v, want one %s (retried) and one ActivationCodeLost", f, lambda.ExitError)
	}
	if entered(ex, "RegisterCluster") != 2 || entered(ex, "NextAttempt") != 1 || entered(ex, "Compensate") != 0 {
		t.Errorf("states %v, want RegisterCluster twice (attempts 1 and 2), one NextAttempt, no compensation", statesEntered(ex))
	}
	for _, s := range []string{"DiscardRegistration", "WaitUntilGone", "CheckGone"} {
		if entered(ex, s) < 1 {
			t.Errorf("state %s never entered: %v", s, statesEntered(ex))
		}
	}
	if n := e.c.EKS.RegisterCalls(); n != 2 {
		t.Errorf("%d registrations created, want 2 (the one whose code died, and its replacement; the replay creates none)", n)
	}

	mu.Lock()
	ans := slices.Clone(answers)
	mu.Unlock()
	if len(ans) != 3 {
		t.Fatalf("%d RegisterCluster answers, want 3 (the first, the replay, attempt 2)", len(ans))
	}
	lost, lostID := ans[0].Cluster.ConnectorConfig.ActivationCode, ans[0].Cluster.ConnectorConfig.ActivationID
	if lost == "" || ans[1].Cluster.ConnectorConfig.ActivationCode != "" || ans[1].Cluster.ConnectorConfig.ActivationID != lostID {
		t.Errorf("answers %+v: want the code in the first only, and the replay naming the same activation", ans)
	}

	// One cluster, connected with the second activation; the first is gone.
	if names := e.c.EKS.ClusterNames(); !slices.Equal(names, []string{cluster}) {
		t.Fatalf("clusters %v, want exactly %s", names, cluster)
	}
	cl := describe(t, e, cluster)
	current := aws.ToString(cl.ConnectorConfig.ActivationId)
	if cl.Status != "ACTIVE" || current == lostID {
		t.Errorf("cluster %s with activation %s (lost %s), want ACTIVE with a new activation", cl.Status, current, lostID)
	}
	if ids := e.c.SSM.ActivationIDs(); !slices.Equal(ids, []string{current}) {
		t.Errorf("activations %v, want only %s (no orphan)", ids, current)
	}
	for _, id := range e.c.SSM.Instances() {
		if !strings.HasPrefix(id, "eks_c:"+cluster+"_") {
			t.Errorf("unexpected managed instance %s", id)
		}
	}
	rec, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/" + cluster + "/activation")
	var act struct {
		ActivationID string `json:"activationId"`
		Attempt      int    `json:"attempt"`
	}
	if !ok || json.Unmarshal([]byte(rec), &act) != nil || act.Attempt != 2 || act.ActivationID != current {
		t.Errorf("activation record %q, want attempt 2 of activation %s", rec, current)
	}
	if ready := e.eventsOf("Activation Ready"); len(ready) != 1 || detailOf(t, ready[0])["activationId"] != current {
		t.Errorf("%d Activation Ready events, want 1, for %s", len(ready), current)
	}
	if left := ourParameters(e, cluster); len(left) != 1 {
		t.Errorf("parameters left %v, want only the activation record (lock released, no code)", left)
	}
	// Neither code is in any history, event or log.
	assertSecretNowhere(t, e, lost)
	if codes := e.c.Agent.CodesRead(); len(codes) == 1 {
		assertSecretNowhere(t, e, codes[0])
	} else {
		t.Errorf("the agent read %d codes, want 1", len(codes))
	}

	mu.Lock()
	t.Logf("%s: 1 execution (%d states entered), %d RegisterCluster invocations, %d Lambda errors, calls by RegisterClusterFunction %v, %d registrations created; %s real time",
		cluster, len(statesEntered(ex)), len(got), e.c.Lambda.Errors(), calls, e.c.EKS.RegisterCalls(), time.Since(began).Round(time.Millisecond))
	mu.Unlock()
}

type registerAnswer struct {
	Cluster struct {
		ConnectorConfig struct {
			ActivationID   string `json:"activationId"`
			ActivationCode string `json:"activationCode"`
		} `json:"connectorConfig"`
	} `json:"cluster"`
}
