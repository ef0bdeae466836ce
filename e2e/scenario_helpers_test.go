package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	"github.com/platform/eks-connector-registrar/localcloud/sfn"
)

// Helpers shared by the scenario tests (scenarios_test.go,
// deregistration_test.go, concurrency_test.go).

// freeze holds a busy token: virtual time stands still until the returned
// func is called (the cloud keeps working at the current instant). While
// frozen, the test may pass virtual time on purpose with e.sleep.
func (e *env) freeze() (release func()) {
	e.t.Helper()
	return e.c.Virtual.Busy()
}

// sleep lets d of virtual time pass while the test holds a busy token
// (freeze): the cloud runs meanwhile, and time stands still again when the
// test wakes.
func (e *env) sleep(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // real-time cap
	defer cancel()
	if err := clock.Sleep(ctx, e.c.Clock, d); err != nil {
		e.t.Fatalf("virtual sleep of %s did not end within 60 s of real time: %v", d, err)
	}
}

// waitFor polls cond in real time (60 s cap) for something the cloud does at
// the current virtual instant.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// onCall chains f after the router's existing OnCall hook (if any). Set it
// before the first event is put.
func (e *env) onCall(f func(c *awsproto.Call, status int)) {
	prev := e.c.Router.OnCall
	e.c.Router.OnCall = func(c *awsproto.Call, status int) {
		if prev != nil {
			prev(c, status)
		}
		f(c, status)
	}
	// Every request takes a clock token first: taking the clock's lock here
	// orders the hook's installation before any request reads it.
	_ = e.c.Clock.Now()
}

// mustStatus fails the test unless ex ended with status want.
func mustStatus(t *testing.T, ex *sfn.Execution, want string) {
	t.Helper()
	if ex.Status() != want {
		errName, cause := ex.Engine().Error()
		t.Fatalf("execution %s is %s (%s: %s), want %s", ex.Name, ex.Status(), errName, cause, want)
	}
}

// statesEntered lists the names of the states the execution entered, in order.
func statesEntered(ex *sfn.Execution) []string {
	var out []string
	for _, ev := range ex.Engine().History() {
		if strings.HasSuffix(ev.Type, "StateEntered") {
			if n, ok := ev.Details["name"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func entered(ex *sfn.Execution, state string) int {
	n := 0
	for _, s := range statesEntered(ex) {
		if s == state {
			n++
		}
	}
	return n
}

// taskFailures counts the execution's LambdaFunctionFailed events by error name.
func taskFailures(ex *sfn.Execution) map[string]int {
	out := map[string]int{}
	for _, ev := range ex.Engine().History() {
		if ev.Type == "LambdaFunctionFailed" || ev.Type == "TaskFailed" {
			name, _ := ev.Details["error"].(string)
			out[name]++
		}
	}
	return out
}

// ourParameters lists this project's parameters for cluster (lock, takeover
// markers, intent, code, activation record).
func ourParameters(e *env, cluster string) []string {
	var out []string
	for _, n := range e.c.SSM.ParameterNames() {
		if strings.Contains(n, "/"+cluster+"/") {
			out = append(out, n)
		}
	}
	return out
}

func lockHeld(e *env, cluster string) bool {
	for _, n := range ourParameters(e, cluster) {
		if strings.HasSuffix(n, "/"+cluster+"/lock") {
			return true
		}
	}
	return false
}

func describe(t *testing.T, e *env, cluster string) *ekstypes.Cluster {
	t.Helper()
	out, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DescribeCluster(e.ctx(), &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil {
		t.Fatalf("DescribeCluster %s: %v", cluster, err)
	}
	return out.Cluster
}

const ssmTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

const agentPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"ssmmessages:CreateControlChannel","Resource":"arn:aws:eks:*:*:cluster/*"},
 {"Effect":"Allow","Action":["ssmmessages:CreateDataChannel","ssmmessages:OpenDataChannel","ssmmessages:OpenControlChannel"],"Resource":"*"}]}`

// createRole creates a role as the platform's IAM team would (admin), with
// the given trust policy and, if policy is not empty, an inline policy.
func createRole(t *testing.T, e *env, name, trust, policy string) string {
	t.Helper()
	c := iam.NewFromConfig(e.c.ConfigFor("admin"))
	out, err := c.CreateRole(e.ctx(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	if policy != "" {
		if _, err := c.PutRolePolicy(e.ctx(), &iam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String("eks-connector-agent"), PolicyDocument: aws.String(policy)}); err != nil {
			t.Fatalf("PutRolePolicy %s: %v", name, err)
		}
	}
	return aws.ToString(out.Role.Arn)
}

// registerForeign registers cluster directly with EKS, as someone outside
// this project would (admin, its own agent role).
func registerForeign(t *testing.T, e *env, cluster string) *ekstypes.Cluster {
	t.Helper()
	role := createRole(t, e, "ForeignAgentRole-"+cluster, ssmTrust, agentPolicy)
	out, err := eks.NewFromConfig(e.c.ConfigFor("admin")).RegisterCluster(e.ctx(), &eks.RegisterClusterInput{
		Name: aws.String(cluster),
		ConnectorConfig: &ekstypes.ConnectorConfigRequest{
			Provider: ekstypes.ConnectorConfigProviderOther, RoleArn: aws.String(role),
		},
	})
	if err != nil {
		t.Fatalf("foreign RegisterCluster %s: %v", cluster, err)
	}
	return out.Cluster
}

// logLines returns the function log records (JSON lines) of function dir
// whose msg contains msg.
func (e *env) logLines(function, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["function"] == function && strings.Contains(m["msg"].(string), msg) {
			out = append(out, m)
		}
	}
	return out
}
