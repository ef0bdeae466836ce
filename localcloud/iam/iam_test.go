package iam_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	lciam "github.com/platform/eks-connector-registrar/localcloud/iam"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
)

const (
	ssmTrust = `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}]
}`
	agentPolicy = `{"Version":"2012-10-17","Statement":[` +
		`{"Sid":"SsmControlChannel","Effect":"Allow","Action":["ssmmessages:CreateControlChannel"],"Resource":"arn:aws:eks:*:*:cluster/*"},` +
		`{"Sid":"ssmDataplaneOperations","Effect":"Allow","Action":["ssmmessages:CreateDataChannel","ssmmessages:OpenDataChannel","ssmmessages:OpenControlChannel"],"Resource":"*"}]}`
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	clk   *clock.Virtual
	store *lciam.Store
	api   *iam.Client
	te    *awsproto.TestEndpoint
}

func newEnv(t *testing.T) *env {
	clk := clock.NewVirtual(t0)
	store, svc := lciam.New(lciam.Config{Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	return &env{clk: clk, store: store, api: iam.NewFromConfig(te.Config), te: te}
}

func (e *env) createRole(t *testing.T, name, trust string) *iamtypes.Role {
	t.Helper()
	out, err := e.api.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	return out.Role
}

// createPolicy creates a customer managed policy at path "/" and returns
// its ARN.
func (e *env) createPolicy(t *testing.T, name, doc string) string {
	t.Helper()
	out, err := e.api.CreatePolicy(awsproto.Ctx(), &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatalf("CreatePolicy %s: %v", name, err)
	}
	return aws.ToString(out.Policy.Arn)
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode()
}

func httpStatus(t *testing.T, err error) int {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a response error, got %v", err)
	}
	return re.HTTPStatusCode()
}

func decode(t *testing.T, s string) string {
	t.Helper()
	d, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatalf("policy document is not URL-encoded: %v", err)
	}
	return d
}

func TestCreateRoleAndGetRole(t *testing.T) {
	e := newEnv(t)
	e.createPolicy(t, "Boundary", agentPolicy)
	out, err := e.api.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{
		RoleName:                 aws.String("AmazonEKSConnectorAgentRole"),
		AssumeRolePolicyDocument: aws.String(ssmTrust),
		Description:              aws.String("agent role"),
		Tags:                     []iamtypes.Tag{{Key: aws.String("app"), Value: aws.String("registrar")}},
		PermissionsBoundary:      aws.String("arn:aws:iam::123456789012:policy/Boundary"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Role
	if got := aws.ToString(r.Arn); got != "arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole" {
		t.Errorf("arn %s", got)
	}
	if aws.ToString(r.Path) != "/" {
		t.Errorf("path %q", aws.ToString(r.Path))
	}
	id := aws.ToString(r.RoleId)
	if len(id) != 21 || !strings.HasPrefix(id, "AROA") || strings.ToUpper(id) != id {
		t.Errorf("role id %q", id)
	}
	if !r.CreateDate.Equal(t0) {
		t.Errorf("create date %v", r.CreateDate)
	}
	raw := aws.ToString(r.AssumeRolePolicyDocument)
	if strings.ContainsAny(raw, "{\" ") {
		t.Errorf("trust policy not URL-encoded: %s", raw)
	}
	if decode(t, raw) != ssmTrust {
		t.Errorf("trust policy round trip: %s", decode(t, raw))
	}
	if len(r.Tags) != 1 || aws.ToString(r.Tags[0].Key) != "app" {
		t.Errorf("tags %+v", r.Tags)
	}

	got, err := e.api.GetRole(awsproto.Ctx(), &iam.GetRoleInput{RoleName: aws.String("amazoneksconnectoragentrole")})
	if err != nil {
		t.Fatal(err)
	}
	g := got.Role
	if aws.ToString(g.RoleName) != "AmazonEKSConnectorAgentRole" || aws.ToString(g.RoleId) != id {
		t.Errorf("GetRole by other case: %+v", g)
	}
	if aws.ToInt32(g.MaxSessionDuration) != 3600 || aws.ToString(g.Description) != "agent role" {
		t.Errorf("GetRole: max session %d, description %q", aws.ToInt32(g.MaxSessionDuration), aws.ToString(g.Description))
	}
	if g.PermissionsBoundary == nil || aws.ToString(g.PermissionsBoundary.PermissionsBoundaryArn) != "arn:aws:iam::123456789012:policy/Boundary" ||
		g.PermissionsBoundary.PermissionsBoundaryType != iamtypes.PermissionsBoundaryAttachmentTypePolicy {
		t.Errorf("boundary %+v", g.PermissionsBoundary)
	}
	if g.RoleLastUsed == nil {
		t.Error("GetRole should carry RoleLastUsed")
	}
	snap, ok := e.store.Role("AmazonEKSConnectorAgentRole")
	if !ok || snap.TrustPolicy != ssmTrust || snap.Tags["app"] != "registrar" || snap.PermissionsBoundary == "" {
		t.Errorf("snapshot %+v", snap)
	}
}

func TestCreateRolePath(t *testing.T) {
	e := newEnv(t)
	out, err := e.api.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{
		RoleName: aws.String("Agent"), Path: aws.String("/eks/connector/"), AssumeRolePolicyDocument: aws.String(ssmTrust)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Role.Arn); got != "arn:aws:iam::123456789012:role/eks/connector/Agent" {
		t.Errorf("arn %s", got)
	}
}

func TestCreateRoleErrors(t *testing.T) {
	cases := []struct {
		name   string
		in     iam.CreateRoleInput
		code   string
		status int
		msg    string
	}{
		{"duplicate name (other case)", iam.CreateRoleInput{RoleName: aws.String("EXISTING"), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"EntityAlreadyExists", 409, "Role with name EXISTING already exists."},
		{"bad name", iam.CreateRoleInput{RoleName: aws.String("has space"), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"ValidationError", 400, "at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"long name", iam.CreateRoleInput{RoleName: aws.String(strings.Repeat("a", 65)), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"ValidationError", 400, "Member must have length less than or equal to 64"},
		{"path without trailing slash", iam.CreateRoleInput{RoleName: aws.String("r"), Path: aws.String("/x"), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"ValidationError", 400, "at 'path'"},
		{"invalid json", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(`{"Version":`)},
			"MalformedPolicyDocument", 400, "This policy contains invalid Json"},
		{"resource in trust", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}]}`)},
			"MalformedPolicyDocument", 400, "Has prohibited field Resource"},
		{"no principal", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`)},
			"MalformedPolicyDocument", 400, "Missing required field Principal"},
		{"non-sts action", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"s3:GetObject"}]}`)},
			"MalformedPolicyDocument", 400, "AssumeRole policy may only specify STS AssumeRole actions."},
		{"bad service principal", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm"},"Action":"sts:AssumeRole"}]}`)},
			"MalformedPolicyDocument", 400, `Invalid principal in policy: "SERVICE":"ssm"`},
		{"nonexistent role principal", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/Nope"},"Action":"sts:AssumeRole"}]}`)},
			"MalformedPolicyDocument", 400, `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/Nope"`},
		{"bad version", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)},
			"MalformedPolicyDocument", 400, "valid version string"},
		{"max session too short", iam.CreateRoleInput{RoleName: aws.String("r"), MaxSessionDuration: aws.Int32(60), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"ValidationError", 400, "maxSessionDuration"},
		{"bad boundary", iam.CreateRoleInput{RoleName: aws.String("r"), PermissionsBoundary: aws.String("arn:aws:s3:::bucket/xyzzy"), AssumeRolePolicyDocument: aws.String(ssmTrust)},
			"InvalidInput", 400, "is not valid"},
		{"duplicate tag keys", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(ssmTrust),
			Tags: []iamtypes.Tag{{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("A"), Value: aws.String("2")}}},
			"InvalidInput", 400, "Duplicate tag keys"},
		{"trust policy over quota", iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", 2100) + `","Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)},
			"LimitExceeded", 409, "ACLSizePerRole"},
	}
	e := newEnv(t)
	e.createRole(t, "Existing", ssmTrust)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.api.CreateRole(awsproto.Ctx(), &tc.in)
			if err == nil {
				t.Fatal("want an error")
			}
			if got := apiCode(t, err); got != tc.code {
				t.Errorf("code %s, want %s (%v)", got, tc.code, err)
			}
			if got := httpStatus(t, err); got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %v, want it to contain %q", err, tc.msg)
			}
		})
	}
	var exists *iamtypes.EntityAlreadyExistsException
	_, err := e.api.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{RoleName: aws.String("Existing"), AssumeRolePolicyDocument: aws.String(ssmTrust)})
	if !errors.As(err, &exists) {
		t.Errorf("want *EntityAlreadyExistsException, got %T", err)
	}
	var mal *iamtypes.MalformedPolicyDocumentException
	_, err = e.api.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{RoleName: aws.String("x"), AssumeRolePolicyDocument: aws.String("nope")})
	if !errors.As(err, &mal) {
		t.Errorf("want *MalformedPolicyDocumentException, got %T", err)
	}
	if names := e.store.RoleNames(); len(names) != 1 || names[0] != "Existing" {
		t.Errorf("roles after failures: %v", names)
	}
}

func TestGetRoleNotFound(t *testing.T) {
	e := newEnv(t)
	_, err := e.api.GetRole(awsproto.Ctx(), &iam.GetRoleInput{RoleName: aws.String("Missing")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Fatalf("want *NoSuchEntityException, got %v", err)
	}
	if aws.ToString(nse.Message) != "The role with name Missing cannot be found." {
		t.Errorf("message %q", aws.ToString(nse.Message))
	}
	if httpStatus(t, err) != 404 {
		t.Errorf("status %d", httpStatus(t, err))
	}
}

func TestInlinePolicies(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	if _, err := e.api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Agent"),
		PolicyName: aws.String("eks-connector-agent"), PolicyDocument: aws.String(agentPolicy)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("Agent"), PolicyName: aws.String("eks-connector-agent")})
	if err != nil {
		t.Fatal(err)
	}
	raw := aws.ToString(got.PolicyDocument)
	if strings.Contains(raw, "{") || !strings.Contains(raw, "%7B%22Version%22%3A") {
		t.Errorf("policy document should be RFC 3986-encoded, got %s", raw)
	}
	if decode(t, raw) != agentPolicy || aws.ToString(got.RoleName) != "Agent" || aws.ToString(got.PolicyName) != "eks-connector-agent" {
		t.Errorf("GetRolePolicy %+v", got)
	}

	// A plus sign must survive url.QueryUnescape.
	plus := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a+b/*"}}`
	if _, err := e.api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Agent"),
		PolicyName: aws.String("plus"), PolicyDocument: aws.String(plus)}); err != nil {
		t.Fatal(err)
	}
	got, _ = e.api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("Agent"), PolicyName: aws.String("plus")})
	if decode(t, aws.ToString(got.PolicyDocument)) != plus {
		t.Errorf("plus sign lost: %s", decode(t, aws.ToString(got.PolicyDocument)))
	}

	list, err := e.api.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("Agent"), MaxItems: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.PolicyNames) != 1 || list.PolicyNames[0] != "eks-connector-agent" || !list.IsTruncated || list.Marker == nil {
		t.Fatalf("page 1 %+v", list)
	}
	list, err = e.api.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("Agent"), Marker: list.Marker})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.PolicyNames) != 1 || list.PolicyNames[0] != "plus" || list.IsTruncated {
		t.Fatalf("page 2 %+v", list)
	}

	// DeleteRole while inline policies remain.
	_, err = e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Agent")})
	var dc *iamtypes.DeleteConflictException
	if !errors.As(err, &dc) || aws.ToString(dc.Message) != "Cannot delete entity, must delete policies first." || httpStatus(t, err) != 409 {
		t.Fatalf("want DeleteConflict 409, got %v", err)
	}

	for _, p := range []string{"eks-connector-agent", "plus"} {
		if _, err := e.api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Agent"), PolicyName: aws.String(p)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("Agent"), PolicyName: aws.String("plus")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) || aws.ToString(nse.Message) != "The role policy with name plus cannot be found." {
		t.Fatalf("want NoSuchEntity for the policy, got %v", err)
	}
	_, err = e.api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Agent"), PolicyName: aws.String("plus")})
	if !errors.As(err, &nse) {
		t.Fatalf("DeleteRolePolicy twice: %v", err)
	}
	list, err = e.api.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("Agent")})
	if err != nil || len(list.PolicyNames) != 0 || list.IsTruncated {
		t.Fatalf("empty list %+v %v", list, err)
	}
	if _, err := e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Agent")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Agent")})
	if !errors.As(err, &nse) {
		t.Fatalf("DeleteRole twice: %v", err)
	}
	if len(e.store.RoleNames()) != 0 {
		t.Errorf("roles left: %v", e.store.RoleNames())
	}
}

func TestPutRolePolicyErrors(t *testing.T) {
	e := newEnv(t)
	e.createRole(t, "Agent", ssmTrust)
	cases := []struct {
		name, role, doc, code, msg string
	}{
		{"missing role", "Nope", agentPolicy, "NoSuchEntity", "The role with name Nope cannot be found."},
		{"invalid json", "Agent", `{`, "MalformedPolicyDocument", "This policy contains invalid Json"},
		{"principal", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`,
			"MalformedPolicyDocument", "Policy document should not specify a principal."},
		{"no resource", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`,
			"MalformedPolicyDocument", "Policy statement must contain resources."},
		{"no action", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`,
			"MalformedPolicyDocument", "Policy statement must contain actions."},
		{"no vendor", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`,
			"MalformedPolicyDocument", "Actions/Conditions must be prefaced by a vendor"},
		{"bad resource", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}]}`,
			"MalformedPolicyDocument", `Resource bucket must be in ARN format or "*".`},
		{"bad effect", "Agent", `{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}`,
			"MalformedPolicyDocument", "Syntax errors in policy."},
		{"too big", "Agent", `{"Version":"2012-10-17","Statement":[{"Sid":"` + strings.Repeat("x", 10300) + `","Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
			"LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role Agent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.api.PutRolePolicy(awsproto.Ctx(), &iam.PutRolePolicyInput{RoleName: aws.String(tc.role),
				PolicyName: aws.String("p"), PolicyDocument: aws.String(tc.doc)})
			if err == nil {
				t.Fatal("want an error")
			}
			if got := apiCode(t, err); got != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want %s %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestUpdateAssumeRolePolicy(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	lambdaTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role := e.createRole(t, "Agent", lambdaTrust)
	arn := aws.ToString(role.Arn)
	e.clk.Advance(time.Minute)
	if e.store.AssumableBy(arn, "ssm.amazonaws.com", 0) {
		t.Fatal("lambda trust should not be assumable by ssm")
	}
	if _, err := e.api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("Agent"), PolicyDocument: aws.String(ssmTrust)}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.api.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Agent")})
	if decode(t, aws.ToString(got.Role.AssumeRolePolicyDocument)) != ssmTrust {
		t.Error("trust policy not updated")
	}
	if e.store.AssumableBy(arn, "ssm.amazonaws.com", 10*time.Second) {
		t.Error("a trust change propagates like a new role")
	}
	e.clk.Advance(10 * time.Second)
	if !e.store.AssumableBy(arn, "ssm.amazonaws.com", 10*time.Second) {
		t.Error("updated trust should be assumable by ssm")
	}
	_, err := e.api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("Agent"), PolicyDocument: aws.String(`{}`)})
	if apiCode(t, err) != "MalformedPolicyDocument" {
		t.Errorf("empty document: %v", err)
	}
	_, err = e.api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("Nope"), PolicyDocument: aws.String(ssmTrust)})
	if apiCode(t, err) != "NoSuchEntity" {
		t.Errorf("missing role: %v", err)
	}
}

func TestServiceLinkedRole(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	out, err := e.api.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("eks-connector.amazonaws.com")})
	if err != nil {
		t.Fatal(err)
	}
	r := out.Role
	if aws.ToString(r.RoleName) != "AWSServiceRoleForAmazonEKSConnector" ||
		aws.ToString(r.Path) != "/aws-service-role/eks-connector.amazonaws.com/" ||
		aws.ToString(r.Arn) != "arn:aws:iam::123456789012:role/aws-service-role/eks-connector.amazonaws.com/AWSServiceRoleForAmazonEKSConnector" {
		t.Errorf("SLR %+v", r)
	}
	if !strings.Contains(decode(t, aws.ToString(r.AssumeRolePolicyDocument)), `"Service":"eks-connector.amazonaws.com"`) {
		t.Errorf("SLR trust %s", decode(t, aws.ToString(r.AssumeRolePolicyDocument)))
	}

	_, err = e.api.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("eks-connector.amazonaws.com")})
	var inv *iamtypes.InvalidInputException
	if !errors.As(err, &inv) || apiCode(t, err) != "InvalidInput" || httpStatus(t, err) != 400 {
		t.Fatalf("second SLR: want InvalidInput 400, got %v", err)
	}
	if want := "Service role name AWSServiceRoleForAmazonEKSConnector has been taken in this account, please try a different suffix."; aws.ToString(inv.Message) != want {
		t.Errorf("message %q", aws.ToString(inv.Message))
	}
	_, err = e.api.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("nothing.amazonaws.com")})
	if apiCode(t, err) != "InvalidInput" {
		t.Errorf("unknown service: %v", err)
	}

	// EnsureServiceLinkedRole finds the same role; protected from changes.
	if arn := e.store.EnsureServiceLinkedRole("eks-connector.amazonaws.com"); arn != aws.ToString(r.Arn) {
		t.Errorf("Ensure %s", arn)
	}
	att, err := e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: r.RoleName})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyName) != "AmazonEKSConnectorServiceRolePolicy" {
		t.Errorf("attached %+v %v", att, err)
	}
	_, err = e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: r.RoleName})
	var um *iamtypes.UnmodifiableEntityException
	if !errors.As(err, &um) {
		t.Errorf("DeleteRole on SLR: %v", err)
	}
	_, err = e.api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: r.RoleName, PolicyName: aws.String("x"), PolicyDocument: aws.String(agentPolicy)})
	if !errors.As(err, &um) {
		t.Errorf("PutRolePolicy on SLR: %v", err)
	}
}

func TestEnsureServiceLinkedRoleCreates(t *testing.T) {
	e := newEnv(t)
	arn := e.store.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	if arn != "arn:aws:iam::123456789012:role/aws-service-role/eks-connector.amazonaws.com/AWSServiceRoleForAmazonEKSConnector" {
		t.Fatalf("arn %s", arn)
	}
	snap, ok := e.store.Role("AWSServiceRoleForAmazonEKSConnector")
	if !ok || !snap.ServiceLinked {
		t.Fatalf("snapshot %+v", snap)
	}
	_, err := e.api.CreateServiceLinkedRole(awsproto.Ctx(), &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("eks-connector.amazonaws.com")})
	if apiCode(t, err) != "InvalidInput" {
		t.Errorf("after Ensure: %v", err)
	}
	if e.store.EnsureServiceLinkedRole("nothing.amazonaws.com") != "" {
		t.Error("unknown service should give no role")
	}
}

func TestAssumableBy(t *testing.T) {
	e := newEnv(t)
	docs := map[string]string{
		"string":   ssmTrust,
		"list":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","ssm.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		"wildcard": `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:*"}}`,
		"other":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		"deny":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		"saml":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRoleWithSAML"}]}`,
	}
	arns := map[string]string{}
	for name, doc := range docs {
		arns[name] = aws.ToString(e.createRole(t, name, doc).Arn)
	}
	if e.store.AssumableBy(arns["string"], "ssm.amazonaws.com", time.Second) {
		t.Error("a role created just now is not yet visible")
	}
	e.clk.Advance(time.Second)
	want := map[string]bool{"string": true, "list": true, "wildcard": true, "other": false, "deny": false, "saml": false}
	for name, w := range want {
		if got := e.store.AssumableBy(arns[name], "ssm.amazonaws.com", time.Second); got != w {
			t.Errorf("%s: AssumableBy %v, want %v", name, got, w)
		}
	}
	if e.store.AssumableBy("arn:aws:iam::123456789012:role/missing", "ssm.amazonaws.com", 0) {
		t.Error("missing role")
	}
	if e.store.AssumableBy("arn:aws:iam::123456789012:role/other/path/string", "ssm.amazonaws.com", 0) {
		t.Error("wrong path")
	}
}

func TestListRoles(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"b", "a", "c"} {
		e.createRole(t, n, ssmTrust)
	}
	e.store.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	var names []string
	p := iam.NewListRolesPaginator(e.api, &iam.ListRolesInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(awsproto.Ctx())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Roles {
			names = append(names, aws.ToString(r.RoleName))
		}
	}
	if strings.Join(names, ",") != "a,AWSServiceRoleForAmazonEKSConnector,b,c" {
		t.Errorf("roles %v", names)
	}
	out, err := e.api.ListRoles(awsproto.Ctx(), &iam.ListRolesInput{PathPrefix: aws.String("/aws-service-role/")})
	if err != nil || len(out.Roles) != 1 {
		t.Errorf("path prefix %+v %v", out, err)
	}
}

func TestFaultInjectionAndUnknownAction(t *testing.T) {
	clk := clock.NewVirtual(t0)
	_, svc := lciam.New(lciam.Config{Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	te.Router.Faults.Add(awsproto.Fault{Service: "iam", Op: "GetRole", FirstN: 1, Code: "ServiceFailure", Status: 500})
	api := iam.NewFromConfig(te.Config, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	_, err := api.GetRole(awsproto.Ctx(), &iam.GetRoleInput{RoleName: aws.String("x")})
	var sf *iamtypes.ServiceFailureException
	if !errors.As(err, &sf) {
		t.Errorf("injected fault: %v", err)
	}
	_, err = api.GetRole(awsproto.Ctx(), &iam.GetRoleInput{RoleName: aws.String("x")})
	if apiCode(t, err) != "NoSuchEntity" {
		t.Errorf("after the fault: %v", err)
	}
}

// boundaryOf reads the role's boundary through GetRole, as a caller sees it.
func (e *env) boundaryOf(t *testing.T, name string) *iamtypes.AttachedPermissionsBoundary {
	t.Helper()
	out, err := e.api.GetRole(awsproto.Ctx(), &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetRole %s: %v", name, err)
	}
	return out.Role.PermissionsBoundary
}

func TestPutAndDeleteRolePermissionsBoundary(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	const (
		b1 = "arn:aws:iam::123456789012:policy/ConnectorAgentBoundary"
		b2 = "arn:aws:iam::aws:policy/PowerUserAccess"
	)
	e.createRole(t, "Agent", ssmTrust)
	e.createPolicy(t, "ConnectorAgentBoundary", agentPolicy)
	if b := e.boundaryOf(t, "Agent"); b != nil {
		t.Fatalf("a role created without a boundary has %+v", b)
	}
	if _, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
		RoleName: aws.String("agent"), PermissionsBoundary: aws.String(b1), // names are case-insensitive
	}); err != nil {
		t.Fatal(err)
	}
	b := e.boundaryOf(t, "Agent")
	if b == nil || aws.ToString(b.PermissionsBoundaryArn) != b1 || b.PermissionsBoundaryType != iamtypes.PermissionsBoundaryAttachmentTypePolicy {
		t.Fatalf("boundary after Put: %+v", b)
	}
	if snap, _ := e.store.Role("Agent"); snap.PermissionsBoundary != b1 {
		t.Errorf("snapshot boundary %q", snap.PermissionsBoundary)
	}
	// Put replaces; an AWS managed policy may be a boundary, even one the
	// local cloud does not know.
	if _, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
		RoleName: aws.String("Agent"), PermissionsBoundary: aws.String(b2),
	}); err != nil {
		t.Fatal(err)
	}
	if b := e.boundaryOf(t, "Agent"); aws.ToString(b.PermissionsBoundaryArn) != b2 {
		t.Errorf("boundary after the second Put: %+v", b)
	}
	// ListRoles does not show boundaries (IAM's ListRoles omits them).
	lr, err := e.api.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil || len(lr.Roles) != 1 || lr.Roles[0].PermissionsBoundary != nil {
		t.Errorf("ListRoles %+v %v", lr, err)
	}
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Agent")}); err != nil {
		t.Fatal(err)
	}
	if b := e.boundaryOf(t, "Agent"); b != nil {
		t.Errorf("boundary after Delete: %+v", b)
	}
	// Deleting a boundary the role does not have succeeds and changes nothing.
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Agent")}); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestRolePermissionsBoundaryErrors(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	slr := e.store.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	slrName := slr[strings.LastIndex(slr, "/")+1:]
	tests := []struct {
		name, role, boundary string
		code                 string
		status               int
		msg                  string
	}{
		{"no such role", "Nope", "arn:aws:iam::123456789012:policy/B0123456789", "NoSuchEntity", 404, "The role with name Nope cannot be found."},
		{"not a policy ARN", "Agent", "arn:aws:s3:::bucket/xyzzy", "InvalidInput", 400, "ARN arn:aws:s3:::bucket/xyzzy is not valid."},
		{"not an ARN", "Agent", "ConnectorAgentBoundary", "InvalidInput", 400, "ARN ConnectorAgentBoundary is not valid."},
		{"too short", "Agent", "arn:aws:iam::aws:p", "ValidationError", 400, "Member must have length greater than or equal to 20"},
		{"bad role name", "a/b", "arn:aws:iam::123456789012:policy/B0123456789", "ValidationError", 400, "roleName"},
		{"service role policy", "Agent", "arn:aws:iam::aws:policy/aws-service-role/AmazonEKSConnectorServiceRolePolicy", "PolicyNotAttachable", 400, ""},
		{"service-linked role", slrName, "arn:aws:iam::123456789012:policy/B0123456789", "UnmodifiableEntity", 400, slrName},
		{"no such policy", "Agent", "arn:aws:iam::123456789012:policy/B0123456789", "NoSuchEntity", 404,
			"Scope ARN: arn:aws:iam::123456789012:policy/B0123456789 does not exist or is not attachable."},
		{"another account's policy", "Agent", "arn:aws:iam::210987654321:policy/B0123456789", "NoSuchEntity", 404,
			"Scope ARN: arn:aws:iam::210987654321:policy/B0123456789 does not exist or is not attachable."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(tt.role), PermissionsBoundary: aws.String(tt.boundary)})
			if err == nil {
				t.Fatal("no error")
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || httpStatus(t, err) != tt.status || !strings.Contains(ae.ErrorMessage(), tt.msg) {
				t.Errorf("got %v, want %s %d %q", err, tt.code, tt.status, tt.msg)
			}
		})
	}
	if b := e.boundaryOf(t, "Agent"); b != nil {
		t.Errorf("a refused Put set the boundary %+v", b)
	}
	var nse *iamtypes.NoSuchEntityException
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Nope")}); !errors.As(err, &nse) || httpStatus(t, err) != 404 {
		t.Errorf("Delete on a missing role: %v", err)
	}
	var um *iamtypes.UnmodifiableEntityException
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String(slrName)}); !errors.As(err, &um) {
		t.Errorf("Delete on the service-linked role: %v", err)
	}
	// CreateRole refuses the same boundaries.
	_, err := e.api.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("R2"), AssumeRolePolicyDocument: aws.String(ssmTrust),
		PermissionsBoundary: aws.String("arn:aws:iam::aws:policy/aws-service-role/AmazonEKSConnectorServiceRolePolicy")})
	if apiCode(t, err) != "PolicyNotAttachable" {
		t.Errorf("CreateRole with a service role policy as boundary: %v", err)
	}
	_, err = e.api.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("R3"), AssumeRolePolicyDocument: aws.String(ssmTrust),
		PermissionsBoundary: aws.String("arn:aws:iam::123456789012:policy/Missing")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchEntity" || httpStatus(t, err) != 404 ||
		ae.ErrorMessage() != "Scope ARN: arn:aws:iam::123456789012:policy/Missing does not exist or is not attachable." {
		t.Errorf("CreateRole with a boundary that does not exist: %v", err)
	}
	if _, ok := e.store.Role("R3"); ok {
		t.Error("CreateRole refused the boundary but created the role")
	}
}

// The iam:PermissionsBoundary condition key reaches policy evaluation: the
// boundary being set for CreateRole and PutRolePermissionsBoundary, the
// role's current one for actions on it (DeleteRolePermissionsBoundary,
// PutRolePolicy, DeleteRolePolicy), absent when it has none. Checked with
// the local cloud's policy engine and a policy that allows each action only
// with one boundary.
func TestPermissionsBoundaryConditionKey(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	const (
		good = "arn:aws:iam::123456789012:policy/ConnectorAgentBoundary"
		bad  = "arn:aws:iam::123456789012:policy/Other"
	)
	e.createRole(t, "Bounded", ssmTrust)
	e.createRole(t, "Unbounded", ssmTrust)
	e.createPolicy(t, "ConnectorAgentBoundary", agentPolicy)
	e.createPolicy(t, "Other", agentPolicy)
	if _, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("Bounded"), PermissionsBoundary: aws.String(good)}); err != nil {
		t.Fatal(err)
	}
	engine := policy.NewEngine()
	doc, err := policy.ParseDocument([]byte(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["iam:CreateRole","iam:PutRolePermissionsBoundary","iam:DeleteRolePermissionsBoundary","iam:PutRolePolicy","iam:DeleteRolePolicy"],
	  "Resource":"arn:aws:iam::123456789012:role/*","Condition":{"StringEquals":{"iam:PermissionsBoundary":"` + good + `"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	engine.SetPolicies("Registrar", []policy.Policy{doc})
	e.te.Router.Authz = engine
	e.te.Router.Principals = func(key string) *awsproto.Principal {
		if key == "AKIDREGISTRAR" {
			return &awsproto.Principal{Name: "Registrar", ARN: "arn:aws:iam::123456789012:role/Registrar"}
		}
		return &awsproto.Principal{Name: "admin", Admin: true}
	}
	cfg := e.te.Config.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDREGISTRAR", "secret", "")
	reg := iam.NewFromConfig(cfg)
	allowed := func(what string, err error, want bool) {
		t.Helper()
		var ae smithy.APIError
		switch {
		case want && err != nil:
			t.Errorf("%s: %v, want allowed", what, err)
		case !want && (!errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" || httpStatus(t, err) != 403):
			t.Errorf("%s: %v, want AccessDenied 403", what, err)
		}
	}
	create := func(name, boundary string) error {
		in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(ssmTrust)}
		if boundary != "" {
			in.PermissionsBoundary = aws.String(boundary)
		}
		_, err := reg.CreateRole(ctx, in)
		return err
	}
	put := func(role, boundary string) error {
		_, err := reg.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(role), PermissionsBoundary: aws.String(boundary)})
		return err
	}
	inline := func(role string) error {
		_, err := reg.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("p"), PolicyDocument: aws.String(agentPolicy)})
		return err
	}
	allowed("CreateRole with the boundary", create("C1", good), true)
	allowed("CreateRole with another boundary", create("C2", bad), false)
	allowed("CreateRole without a boundary", create("C3", ""), false)
	allowed("PutRolePermissionsBoundary with the boundary", put("Unbounded", good), true)
	allowed("PutRolePermissionsBoundary with another boundary", put("Bounded", bad), false)
	allowed("PutRolePolicy on a role with the boundary", inline("Bounded"), true)
	allowed("PutRolePolicy on a role with the boundary, set by Put", inline("Unbounded"), true)
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Unbounded")}); err != nil {
		t.Fatal(err)
	}
	allowed("PutRolePolicy on a role without a boundary", inline("Unbounded"), false)
	_, err = reg.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Unbounded"), PolicyName: aws.String("p")})
	allowed("DeleteRolePolicy on a role without a boundary", err, false)
	_, err = reg.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("Bounded"), PolicyName: aws.String("p")})
	allowed("DeleteRolePolicy on a role with the boundary", err, true)
	_, err = reg.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Bounded")})
	allowed("DeleteRolePermissionsBoundary of the boundary", err, true)
	_, err = reg.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Bounded")})
	allowed("DeleteRolePermissionsBoundary of a role without one", err, false)
	if b := e.boundaryOf(t, "Bounded"); b != nil {
		t.Errorf("boundary %+v after the allowed Delete", b)
	}
}
