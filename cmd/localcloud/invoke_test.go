package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Binaries as Lambda runs them: every file of events/ is given to its
// function's real bootstrap (built by the Makefile's build-<LogicalId>
// recipe, for the host's architecture), running behind aws-lambda-rie
// against the local cloud, with the environment from template.yaml and
// events/env.json, exactly as `make invoke` does.

// eventCase is what one events/ file must give.
type eventCase struct {
	fn string // logical id
	// setup prepares the state the payload needs (nil: a fresh cloud).
	setup func(*localcloud.Cloud) error
	// check asserts the answer: out on success, or the function error.
	check func(t *testing.T, out map[string]any, errType, errMsg string)
}

var eventCases = map[string]eventCase{
	"register-cluster.json":   {fn: "TriggerFunction", check: started("RegistrationStateMachine")},
	"deregister-cluster.json": {fn: "TriggerFunction", check: started("DeregistrationStateMachine")},

	"invalid-register-bad-provider.json": {fn: "TriggerFunction", check: rejected("prod-eu-2", "provider",
		"must be one of EKS_ANYWHERE, ANTHOS, GKE, AKS, OPENSHIFT, TANZU, RANCHER, EC2, OTHER (case-insensitive)")},
	"invalid-register-dotted-name.json": {fn: "TriggerFunction", check: rejected("prod.eu", "clusterName",
		`a dot is not allowed in an EKS connected-cluster name; use '-' instead (e.g. "prod-eu"); only letters, digits, '-' and '_' are allowed, starting with a letter or digit (EKS pattern ^[0-9A-Za-z][A-Za-z0-9\-_]*)`)},
	"invalid-register-sts-session-arn.json": {fn: "TriggerFunction", check: rejected("prod-eu-3", "consoleAccessArns[0]",
		"is an STS assumed-role session ARN; Kubernetes sees the IAM role, so use the role ARN (arn:aws:iam::123456789012:role/PlatformAdmins, with the role's path if it has one)")},

	// A step runs only for the execution the cluster's lock names (the
	// trigger writes it before StartExecution).
	"step-check-cluster.json": {fn: "CheckClusterFunction", setup: holdLock("step-check-cluster.json"), check: succeeds(map[string]any{"state": "Absent", "gone": true})},
	"step-ensure-roles.json": {fn: "EnsureRolesFunction", check: succeeds(map[string]any{
		"agentRoleArn":             "arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole",
		"serviceLinkedRoleCreated": true, "agentRoleCreated": true, "agentRoleRepaired": false,
	})},
	// RegisterCluster needs the roles EnsureRoles makes in the step before it.
	"step-register-cluster.json": {fn: "RegisterClusterFunction", setup: all(holdLock("step-register-cluster.json"), invokeFirst("EnsureRolesFunction", "step-ensure-roles.json")),
		check: succeeds(map[string]any{
			"clusterName": "prod-eu-1",
			"clusterArn":  "arn:aws:eks:us-east-1:123456789012:cluster/prod-eu-1",
		})},
	"step-complete-registration.json": {fn: "CompleteRegistrationFunction", check: succeeds(map[string]any{
		"clusterName": "prod-eu-1", "alreadyRegistered": false,
	})},
	// The payload names an activation no fresh cloud has: the poll reports
	// the registration gone with the typed error the state machine catches.
	"step-check-activation.json": {fn: "CheckActivationFunction", check: fails("RegistrationDisappeared",
		"the registration of cluster prod-eu-1 (activation 8b1f2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d) disappeared while waiting for its agent: it was deregistered outside this workflow; send Register Cluster again to start over")},
	// A registration stopped by hand: its status change compensates; with
	// nothing of that execution left, that is a success.
	// A stopped registration that still holds its lock: compensated (nothing
	// registered), announced, and its lock released.
	"step-cleanup-execution-ended.json": {fn: "CleanupFunction", setup: holdLock("step-cleanup-execution-ended.json"), check: succeeds(map[string]any{
		"mode": "compensate", "clusterName": "prod-eu-1", "deregistered": false,
		"published": "Cluster Registration Failed", "lockReleased": true})},
	// Compensation with nothing registered converges: nothing to remove is success.
	"step-cleanup.json": {fn: "CleanupFunction", check: succeeds(map[string]any{"mode": "compensate", "clusterName": "prod-eu-1", "deregistered": false})},
}

func TestEveryEventBehindRIE(t *testing.T) {
	root := app.RepoRoot()
	rie := filepath.Join(root, "bin", "aws-lambda-rie")
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("aws-lambda-rie is not installed at %s: run `make tools` (make test does it)", rie)
	}
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json (%v)", err)
	}
	var names []string
	for _, f := range files {
		if base := filepath.Base(f); base != "env.json" {
			names = append(names, base)
		}
	}
	for _, n := range names {
		if _, ok := eventCases[n]; !ok {
			t.Errorf("events/%s has no expected result: add it to eventCases in %s", n, "cmd/localcloud/invoke_test.go")
		}
	}
	for n := range eventCases {
		if _, err := os.Stat(filepath.Join(root, "events", n)); err != nil {
			t.Errorf("eventCases names events/%s, which does not exist", n)
		}
	}
	overrides, err := ReadEnvVars(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	bootstraps := buildHostBootstraps(t, root)
	dirOf := func(id string) string { return filepath.Join(bootstraps, id) }

	sort.Strings(names)
	for _, n := range names {
		tc, ok := eventCases[n]
		if !ok {
			continue
		}
		t.Run(strings.TrimSuffix(n, ".json"), func(t *testing.T) {
			event, err := os.ReadFile(filepath.Join(root, "events", n))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			in := invocation{Function: tc.fn, Event: event, Overrides: overrides, RIEPath: rie,
				BootstrapDir: dirOf, Logs: &syncWriter{w: &logs}}
			if tc.setup != nil {
				in.Setup = func(c *localcloud.Cloud) error { return tc.setup(c) }
			}
			res, err := invokeOnce(in)
			if err != nil {
				t.Fatalf("invoking %s with events/%s: %v\n%s", tc.fn, n, err, logs.String())
			}
			t.Logf("%s: %s", tc.fn, res.Duration.Round(time.Millisecond))
			var out map[string]any
			errType, errMsg := "", ""
			if res.Error != nil {
				errType, errMsg = res.Error.Type, res.Error.Message
			} else if err := json.Unmarshal(res.Output, &out); err != nil {
				t.Fatalf("%s answered %q, not a JSON object: %v", tc.fn, res.Output, err)
			}
			tc.check(t, out, errType, errMsg)
			if t.Failed() {
				t.Logf("emulator and function output:\n%s", logs.String())
			}
		})
	}
}

// TestEnvVarsMatchTheLocalCloud: events/env.json's overrides that name a
// resource must name the one the local cloud deploys (stack "local", also
// what `serve` deploys), or the function calls something that is not there.
func TestEnvVarsMatchTheLocalCloud(t *testing.T) {
	root := app.RepoRoot()
	ev, err := ReadEnvVars(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.Start(localcloud.Options{NoAgent: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	for _, f := range c.Template.Functions {
		for k, v := range ev[f.LogicalID] {
			want, declared := f.Environment[k]
			if declared && strings.HasPrefix(v, "arn:") && v != want {
				t.Errorf("events/env.json %s.%s is %s, but the local cloud deploys %s: use that ARN", f.LogicalID, k, v, want)
			}
		}
	}
}

func started(stateMachine string) func(*testing.T, map[string]any, string, string) {
	return func(t *testing.T, out map[string]any, errType, errMsg string) {
		t.Helper()
		if errType != "" {
			t.Fatalf("want outcome Started, got %s: %s", errType, errMsg)
		}
		if out["outcome"] != "Started" || out["clusterName"] != "prod-eu-1" {
			t.Errorf("want outcome Started for prod-eu-1, got %v", out)
		}
		if arn, _ := out["executionArn"].(string); !strings.Contains(arn, ":execution:"+stateMachine+"-") {
			t.Errorf("executionArn %q is not an execution of %s", arn, stateMachine)
		}
	}
}

func rejected(cluster, field, rule string) func(*testing.T, map[string]any, string, string) {
	return func(t *testing.T, out map[string]any, errType, errMsg string) {
		t.Helper()
		if errType != "" {
			t.Fatalf("an invalid event must be answered (success, outcome Rejected), got %s: %s", errType, errMsg)
		}
		rej, _ := out["rejection"].(map[string]any)
		if out["outcome"] != "Rejected" || out["clusterName"] != cluster || rej == nil || rej["field"] != field {
			t.Errorf("want outcome Rejected for %s naming field %s, got %v", cluster, field, out)
		}
		if got, _ := rej["rule"].(string); got != rule {
			t.Errorf("the rejection's rule is %q, want %q", got, rule)
		}
	}
}

func succeeds(want map[string]any) func(*testing.T, map[string]any, string, string) {
	return func(t *testing.T, out map[string]any, errType, errMsg string) {
		t.Helper()
		if errType != "" {
			t.Fatalf("want success, got %s: %s", errType, errMsg)
		}
		for k, v := range want {
			if fmt.Sprint(out[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %v, want %v (whole answer %v)", k, out[k], v, out)
			}
		}
	}
}

func fails(typ, msgPrefix string) func(*testing.T, map[string]any, string, string) {
	return func(t *testing.T, out map[string]any, errType, errMsg string) {
		t.Helper()
		if errType != typ || !strings.HasPrefix(errMsg, msgPrefix) {
			t.Errorf("want error %s %q…, got type %q message %q (answer %v)", typ, msgPrefix, errType, errMsg, out)
		}
	}
}

// invokeFirst runs another function (its bootstrap, behind RIE too) with an
// events/ payload, as the step before it would.
// holdLock writes the cluster's lock for the execution eventFile names, as
// the trigger does before StartExecution.
func holdLock(eventFile string) func(*localcloud.Cloud) error {
	return func(c *localcloud.Cloud) error {
		raw, err := os.ReadFile(filepath.Join(app.RepoRoot(), "events", eventFile))
		if err != nil {
			return err
		}
		var p struct {
			ClusterName  string `json:"clusterName"`
			ExecutionArn string `json:"executionArn"`
			Execution    struct {
				ClusterName string `json:"clusterName"`
			} `json:"execution"`
			Detail struct { // a Step Functions status change
				ExecutionArn string `json:"executionArn"`
				Input        string `json:"input"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		var input struct {
			ClusterName string `json:"clusterName"`
		}
		if p.Detail.Input != "" {
			if err := json.Unmarshal([]byte(p.Detail.Input), &input); err != nil {
				return err
			}
		}
		cluster := cmp.Or(p.ClusterName, p.Execution.ClusterName, input.ClusterName)
		p.ExecutionArn = cmp.Or(p.ExecutionArn, p.Detail.ExecutionArn)
		fn, _ := c.Template.Function("TriggerFunction")
		params := workflow.Parameters{Prefix: fn.Environment["PARAMETER_PREFIX"]}
		_, err = ssm.NewFromConfig(c.ConfigFor("admin")).PutParameter(context.Background(), &ssm.PutParameterInput{
			Name: aws.String(params.Lock(cluster)), Value: aws.String(p.ExecutionArn), Type: ssmtypes.ParameterTypeString,
		})
		return err
	}
}

func all(setups ...func(*localcloud.Cloud) error) func(*localcloud.Cloud) error {
	return func(c *localcloud.Cloud) error {
		for _, s := range setups {
			if err := s(c); err != nil {
				return err
			}
		}
		return nil
	}
}

func invokeFirst(fn, eventFile string) func(*localcloud.Cloud) error {
	return func(c *localcloud.Cloud) error {
		payload, err := os.ReadFile(filepath.Join(app.RepoRoot(), "events", eventFile))
		if err != nil {
			return err
		}
		tf, ok := c.Template.Function(fn)
		if !ok {
			return fmt.Errorf("no function %s", fn)
		}
		f, _ := c.Lambda.Lookup(tf.Arn)
		if _, ferr := c.Lambda.InvokeSync(context.Background(), f, payload, "RequestResponse", 1); ferr != nil {
			return fmt.Errorf("%s: %s: %s", fn, ferr.Type, ferr.Message)
		}
		return nil
	}
}

// The bootstraps are built once per test binary, by the Makefile's own
// build-<LogicalId> recipes for this host (app.BuildHostBootstrap), into
// .aws-sam-local/test-host/<LogicalId>, where go build finds an up-to-date
// bootstrap and does not link it again: make test's runs at its three dates,
// and the next make test, link each bootstrap once instead of every time.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func buildHostBootstraps(t *testing.T, root string) string {
	t.Helper()
	buildOnce.Do(func() {
		c, err := app.Start(localcloud.Options{NoAgent: true}, nil)
		if err != nil {
			buildErr = err
			return
		}
		var ids []string
		for _, f := range c.Template.Functions {
			ids = append(ids, f.LogicalID)
		}
		c.Close()
		start := time.Now()
		errs := make([]error, len(ids))
		sem := make(chan struct{}, max(1, runtime.NumCPU()/2))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				_, errs[i] = app.BuildHostBootstrap(root, id)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				buildErr = err
				return
			}
		}
		buildDir = filepath.Dir(app.HostBuildDir(root, ids[0]))
		fmt.Fprintf(os.Stderr, "built %d host bootstraps in %s\n", len(ids), time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func TestMain(m *testing.M) {
	// invokeOnce starts clouds no test can reach: their answers are checked
	// against the AWS models too, and a violation fails the run.
	os.Exit(awsproto.WireExitCode(m.Run()))
}

// syncWriter serialises writes from the emulator processes' copiers.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
