package e2e

// The managed agent role's path and permissions boundary (EnsureRoles in
// managed mode): a boundary the stack configures is restored when someone
// removed it; a role with another boundary, or at another path, is refused
// with a failure that says what to do, and nothing is registered or changed.
// The boundary scenarios run with the boundary of the least-privilege
// check's "boundary" stack configuration (leastprivilege_test.go), so the
// iam:PutRolePermissionsBoundary grant is measured.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

const (
	agentRoleName = "AmazonEKSConnectorAgentRole"
	// boundaryParam is the least-privilege "boundary" configuration's
	// AgentRolePermissionsBoundary.
	boundaryParam = "arn:aws:iam::123456789012:policy/ConnectorAgentBoundary"
	otherBoundary = "arn:aws:iam::123456789012:policy/SecurityTeamBoundary"
)

// agentRoleWrites lists the IAM writes any principal asked for on the
// agent role.
func agentRoleWrites(e *env) []string {
	var out []string
	for _, c := range e.c.Policies.Checks() {
		switch c.Action {
		case "iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
			"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary":
			if strings.HasSuffix(c.Resource, "/"+agentRoleName) {
				out = append(out, c.Principal+" "+c.Action+" "+c.Resource)
			}
		}
	}
	return out
}

// A stack with AgentRolePermissionsBoundary creates the agent role with it;
// when someone removes the boundary, the next registration restores it
// (and only it), and the registration goes on.
func TestManagedAgentRoleBoundaryIsRestored(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{
		Parameters: map[string]string{"AgentRolePermissionsBoundary": boundaryParam},
		Agent:      agent.Config{Mode: agent.Connects, Delay: time.Minute},
	})
	createBoundaryPolicies(t, e, boundaryParam)
	e.register("boundary-01", nil)
	mustStatus(t, e.waitExecution("Registration", 1), "SUCCEEDED")
	role, ok := e.c.IAM.Role(agentRoleName)
	if !ok || role.PermissionsBoundary != boundaryParam {
		t.Fatalf("created agent role %+v, want the boundary %s", role, boundaryParam)
	}

	// Someone removes the boundary (the admin, through IAM's API).
	admin := iam.NewFromConfig(e.c.ConfigFor("admin"))
	if _, err := admin.DeleteRolePermissionsBoundary(e.ctx(), &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String(agentRoleName)}); err != nil {
		t.Fatal(err)
	}
	got, err := admin.GetRole(e.ctx(), &iam.GetRoleInput{RoleName: aws.String(agentRoleName)})
	if err != nil || got.Role.PermissionsBoundary != nil {
		t.Fatalf("after DeleteRolePermissionsBoundary: %+v %v", got, err)
	}
	e.register("boundary-02", nil)
	ex := e.waitExecution("Registration", 2)
	mustStatus(t, ex, "SUCCEEDED")
	after, _ := e.c.IAM.Role(agentRoleName)
	if after.PermissionsBoundary != boundaryParam {
		t.Errorf("boundary after the second registration %q, want %q restored", after.PermissionsBoundary, boundaryParam)
	}
	if after.TrustPolicy != role.TrustPolicy || after.InlinePolicies["eks-connector-agent"] != role.InlinePolicies["eks-connector-agent"] {
		t.Error("restoring the boundary changed the trust or the inline policy")
	}
	if cl := describe(t, e, "boundary-02"); aws.ToString(cl.ConnectorConfig.RoleArn) != role.ARN {
		t.Errorf("registered with role %s, want %s", aws.ToString(cl.ConnectorConfig.RoleArn), role.ARN)
	}
	var restores int
	for _, c := range e.c.Policies.Checks() {
		if c.Action == "iam:PutRolePermissionsBoundary" {
			restores += c.Count
			if c.Principal != "EnsureRolesFunction" || !c.Allowed || c.Resource != role.ARN {
				t.Errorf("check %+v, want EnsureRolesFunction allowed on %s", c, role.ARN)
			}
		}
	}
	if restores != 1 {
		t.Errorf("%d iam:PutRolePermissionsBoundary checks, want 1 (the restore)", restores)
	}
	if lines := e.logLines("ensure-roles", "roles ready"); len(lines) != 2 || !strings.Contains(fmt.Sprint(lines[1]["repairs"]), "permissions boundary: set "+boundaryParam) {
		t.Errorf("EnsureRoles logs %v, want the second to list the boundary repair", lines)
	}
}

// The agent role has a boundary other than the stack's: the registration
// fails before anything is registered, the failure names both boundaries
// and what to do, and the role keeps its boundary (and is not repaired).
func TestManagedAgentRoleWithAnotherBoundaryFails(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Parameters: map[string]string{"AgentRolePermissionsBoundary": boundaryParam}})
	createBoundaryPolicies(t, e, boundaryParam, otherBoundary)
	admin := iam.NewFromConfig(e.c.ConfigFor("admin"))
	const brokenTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	out, err := admin.CreateRole(e.ctx(), &iam.CreateRoleInput{RoleName: aws.String(agentRoleName),
		AssumeRolePolicyDocument: aws.String(brokenTrust), PermissionsBoundary: aws.String(otherBoundary)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.Role.Arn)
	e.register("boundary-03", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	errName, cause := ex.Engine().Error()
	if errName != "AgentRoleBoundaryMismatch" {
		t.Errorf("execution error %s (%s), want AgentRoleBoundaryMismatch", errName, cause)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	reason, _ := d["reason"].(string)
	if d["error"] != "AgentRoleBoundaryMismatch" {
		t.Errorf("event error %v, want AgentRoleBoundaryMismatch", d["error"])
	}
	for _, want := range []string{arn, otherBoundary, boundaryParam, "AgentRolePermissionsBoundary=" + otherBoundary,
		"put-role-permissions-boundary", "Nothing registered"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	assertNothingRegistered(t, e, "boundary-03")
	role, _ := e.c.IAM.Role(agentRoleName)
	if role.PermissionsBoundary != otherBoundary || role.TrustPolicy != brokenTrust || len(role.InlinePolicies) != 0 {
		t.Errorf("the refused role was changed: boundary %s, trust %s, inline %v", role.PermissionsBoundary, role.TrustPolicy, role.InlinePolicies)
	}
	if w := agentRoleWrites(e); len(w) != 0 { // the admin's calls are not recorded
		t.Errorf("IAM writes on the agent role: %v", w)
	}
}

// The agent role exists at another path than AgentRolePath: IAM cannot move
// it, so the registration fails before anything is registered, naming the
// role, both paths and what to do; the role is left as it is.
func TestManagedAgentRoleAtAnotherPathFails(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{}) // AgentRolePath "/"
	admin := iam.NewFromConfig(e.c.ConfigFor("admin"))
	out, err := admin.CreateRole(e.ctx(), &iam.CreateRoleInput{RoleName: aws.String(agentRoleName), Path: aws.String("/legacy/"),
		AssumeRolePolicyDocument: aws.String(ssmTrust)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.Role.Arn)
	e.register("path-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if errName, cause := ex.Engine().Error(); errName != "AgentRolePathMismatch" {
		t.Errorf("execution error %s (%s), want AgentRolePathMismatch", errName, cause)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	reason, _ := d["reason"].(string)
	if d["error"] != "AgentRolePathMismatch" {
		t.Errorf("event error %v, want AgentRolePathMismatch", d["error"])
	}
	for _, want := range []string{arn, "at path /legacy/", "AgentRolePath is /,", "AgentRolePath=/legacy/",
		"ExistingAgentRoleArn=" + arn, "cannot move", "Nothing registered"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	assertNothingRegistered(t, e, "path-01")
	if w := agentRoleWrites(e); len(w) != 0 {
		t.Errorf("IAM writes on the agent role: %v", w)
	}
	role, _ := e.c.IAM.Role(agentRoleName)
	if role.ARN != arn || len(role.InlinePolicies) != 0 {
		t.Errorf("the refused role was changed: %+v", role)
	}
	if names := e.c.IAM.RoleNames(); strings.Count(strings.Join(names, ","), agentRoleName) != 1 {
		t.Errorf("roles %v, want the one agent role", names)
	}
}

// assertNothingRegistered: no RegisterCluster call, no cluster, none of the
// cluster's parameters left (the lock was released).
func assertNothingRegistered(t *testing.T, e *env, cluster string) {
	t.Helper()
	if n := e.c.EKS.RegisterCalls(); n != 0 || len(e.c.EKS.ClusterNames()) != 0 {
		t.Errorf("%d RegisterCluster calls, clusters %v: nothing may be registered", n, e.c.EKS.ClusterNames())
	}
	if left := ourParameters(e, cluster); len(left) != 0 {
		t.Errorf("parameters left: %v", left)
	}
}
