package e2e

// Existing agent role mode, with the role's permissions in managed policies:
// many IAM teams grant a role its permissions through policies they attach
// (a customer managed policy of theirs, or AWS's AmazonSSMManagedInstanceCore)
// rather than inline. EnsureRoles reads every attached policy's default
// version (iam:ListAttachedRolePolicies, iam:GetPolicy,
// iam:GetPolicyVersion). These scenarios run with the least-privilege
// check's "existing" stack configuration (leastprivilege_test.go), so those
// grants are measured. And a stack's AgentRolePermissionsBoundary must name
// a policy that exists, as on AWS.

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

const ssmCorePolicy = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

// existingStack returns the parameters of the least-privilege check's
// "existing" configuration and its ExistingAgentRoleArn.
func existingStack(t *testing.T) (map[string]string, string) {
	t.Helper()
	for _, c := range lpConfigs {
		if c.Name == "existing" {
			params := map[string]string{}
			for k, v := range c.Params {
				params[k] = v
			}
			return params, params["ExistingAgentRoleArn"]
		}
	}
	t.Fatal("no \"existing\" configuration in lpConfigs")
	return nil, ""
}

// createExistingRole creates the role of arn (path and name from the ARN) as
// the platform's IAM team would (admin), trusted by ssm.amazonaws.com, with
// no inline policy, and attaches the given managed policies.
func createExistingRole(t *testing.T, e *env, arn string, attach ...string) {
	t.Helper()
	res := arn[strings.Index(arn, ":role/")+len(":role"):]
	i := strings.LastIndex(res, "/")
	path, name := res[:i+1], res[i+1:]
	c := iam.NewFromConfig(e.c.ConfigFor("admin"))
	out, err := c.CreateRole(e.ctx(), &iam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path),
		AssumeRolePolicyDocument: aws.String(ssmTrust)})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", arn, err)
	}
	if got := aws.ToString(out.Role.Arn); got != arn {
		t.Fatalf("created %s, want %s", got, arn)
	}
	for _, p := range attach {
		if _, err := c.AttachRolePolicy(e.ctx(), &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(p)}); err != nil {
			t.Fatalf("AttachRolePolicy %s to %s: %v", p, name, err)
		}
	}
}

// createManagedPolicy creates a customer managed policy as the platform's
// IAM team would (admin) and returns its ARN.
func createManagedPolicy(t *testing.T, e *env, name, path, doc string) string {
	t.Helper()
	out, err := iam.NewFromConfig(e.c.ConfigFor("admin")).CreatePolicy(e.ctx(), &iam.CreatePolicyInput{
		PolicyName: aws.String(name), Path: aws.String(path), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatalf("CreatePolicy %s: %v", name, err)
	}
	return aws.ToString(out.Policy.Arn)
}

// createBoundaryPolicies creates the customer managed policies of the given
// ARNs (arn:aws:iam::<account>:policy/<name>), for use as permissions
// boundaries: a boundary must exist before a role can have it.
func createBoundaryPolicies(t *testing.T, e *env, arns ...string) {
	t.Helper()
	for _, arn := range arns {
		name := arn[strings.LastIndex(arn, "/")+1:]
		if got := createManagedPolicy(t, e, name, "/", agentPolicy); got != arn {
			t.Fatalf("created %s, want %s", got, arn)
		}
	}
}

// assertReadManagedPolicy: EnsureRolesFunction was allowed to read the
// policy and its default version.
func assertReadManagedPolicy(t *testing.T, e *env, policyArn string) {
	t.Helper()
	want := map[string]bool{"iam:GetPolicy": false, "iam:GetPolicyVersion": false}
	for _, c := range e.c.Policies.Checks() {
		if _, ok := want[c.Action]; ok && c.Principal == "EnsureRolesFunction" && c.Resource == policyArn {
			if !c.Allowed {
				t.Errorf("EnsureRolesFunction was denied %s on %s: %s", c.Action, policyArn, c.Why)
			}
			want[c.Action] = true
		}
	}
	for a, seen := range want {
		if !seen {
			t.Errorf("EnsureRolesFunction did not ask for %s on %s", a, policyArn)
		}
	}
}

// The role's SSM permissions come from a customer managed policy attached
// to it: the role is verified, and the cluster is registered with it.
func TestExistingAgentRoleWithAttachedCustomerPolicy(t *testing.T) {
	t.Parallel()
	params, arn := existingStack(t)
	e := start(t, localcloud.Options{Parameters: params, Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	policyArn := createManagedPolicy(t, e, "ConnectorAgentSSM", "/platform/", agentPolicy)
	createExistingRole(t, e, arn, policyArn)

	e.register("managed-01", nil)
	mustStatus(t, e.waitExecution("Registration", 1), "SUCCEEDED")
	if cl := describe(t, e, "managed-01"); aws.ToString(cl.ConnectorConfig.RoleArn) != arn {
		t.Errorf("registered with role %s, want %s", aws.ToString(cl.ConnectorConfig.RoleArn), arn)
	}
	assertReadManagedPolicy(t, e, policyArn)
	assertNoIAMWrites(t, e)
}

// The role's SSM permissions come from AWS's AmazonSSMManagedInstanceCore:
// the role is verified against the AWS managed policy's default version.
func TestExistingAgentRoleWithAWSManagedPolicy(t *testing.T) {
	t.Parallel()
	params, arn := existingStack(t)
	e := start(t, localcloud.Options{Parameters: params, Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	createExistingRole(t, e, arn, ssmCorePolicy)

	e.register("managed-02", nil)
	mustStatus(t, e.waitExecution("Registration", 1), "SUCCEEDED")
	if cl := describe(t, e, "managed-02"); aws.ToString(cl.ConnectorConfig.RoleArn) != arn {
		t.Errorf("registered with role %s, want %s", aws.ToString(cl.ConnectorConfig.RoleArn), arn)
	}
	assertReadManagedPolicy(t, e, ssmCorePolicy)
	assertNoIAMWrites(t, e)
}

// Someone makes a new default version of the attached policy that drops
// ssmmessages:OpenDataChannel: the registration fails before anything is
// registered, naming the role and that one action; once the complete
// version is the default again, the next registration succeeds.
func TestExistingAgentRoleWhoseManagedPolicyLacksAnActionFails(t *testing.T) {
	t.Parallel()
	params, arn := existingStack(t)
	e := start(t, localcloud.Options{Parameters: params, Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}})
	policyArn := createManagedPolicy(t, e, "ConnectorAgentSSM", "/platform/", agentPolicy)
	createExistingRole(t, e, arn, policyArn)
	const withoutOpenDataChannel = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"ssmmessages:CreateControlChannel","Resource":"arn:aws:eks:*:*:cluster/*"},
 {"Effect":"Allow","Action":["ssmmessages:CreateDataChannel","ssmmessages:OpenControlChannel"],"Resource":"*"}]}`
	admin := iam.NewFromConfig(e.c.ConfigFor("admin"))
	if _, err := admin.CreatePolicyVersion(e.ctx(), &iam.CreatePolicyVersionInput{PolicyArn: aws.String(policyArn),
		PolicyDocument: aws.String(withoutOpenDataChannel), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}

	e.register("managed-03", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	errName, cause := ex.Engine().Error()
	if errName != "AgentRoleInvalid" || !strings.Contains(cause, arn) || !strings.Contains(cause, "permission ssmmessages:OpenDataChannel on *") {
		t.Errorf("error %s (%s), want AgentRoleInvalid naming the role and ssmmessages:OpenDataChannel", errName, cause)
	}
	for _, granted := range []string{"permission ssmmessages:CreateControlChannel", "permission ssmmessages:CreateDataChannel", "permission ssmmessages:OpenControlChannel", "trust policy"} {
		if strings.Contains(cause, granted) {
			t.Errorf("cause %q reports %q missing, which the role has", cause, granted)
		}
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	if d := detailOf(t, failed[0]); d["error"] != "AgentRoleInvalid" || !strings.Contains(d["reason"].(string), "ssmmessages:OpenDataChannel") {
		t.Errorf("failure event %v, want AgentRoleInvalid with a reason naming ssmmessages:OpenDataChannel", d)
	}
	assertNothingRegistered(t, e, "managed-03")
	assertReadManagedPolicy(t, e, policyArn)
	assertNoIAMWrites(t, e)
	if p, _ := e.c.IAM.ManagedPolicy(policyArn); p.DefaultVersion != "v2" || len(p.Versions) != 2 {
		t.Errorf("the workflow changed the policy: default %s, versions %v", p.DefaultVersion, p.Versions)
	}

	// The IAM team restores the complete version.
	if _, err := admin.SetDefaultPolicyVersion(e.ctx(), &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(policyArn), VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	e.register("managed-03", nil)
	mustStatus(t, e.waitExecution("Registration", 2), "SUCCEEDED")
}

// A stack whose AgentRolePermissionsBoundary names a policy that does not
// exist: IAM refuses to create the agent role with it (NoSuchEntity), and
// the registration fails before anything is registered, with
// AgentRoleBoundaryNotFound naming the parameter and what to do.
func TestManagedAgentRoleWithMissingBoundaryPolicyFails(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Parameters: map[string]string{"AgentRolePermissionsBoundary": boundaryParam}})
	e.register("boundary-04", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	errName, cause := ex.Engine().Error()
	if errName != "AgentRoleBoundaryNotFound" || !strings.Contains(cause, "AgentRolePermissionsBoundary "+boundaryParam) ||
		!strings.Contains(cause, "does not exist or is not attachable") || !strings.Contains(cause, "Create that policy") {
		t.Errorf("error %s (%s), want AgentRoleBoundaryNotFound naming the parameter %s, IAM's words and what to do", errName, cause, boundaryParam)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 || !strings.Contains(detailOf(t, failed[0])["reason"].(string), boundaryParam) {
		t.Errorf("failure events %d, want 1 whose reason names %s", len(failed), boundaryParam)
	}
	assertNothingRegistered(t, e, "boundary-04")
	if _, ok := e.c.IAM.Role(agentRoleName); ok {
		t.Error("the agent role was created without its boundary")
	}
}
