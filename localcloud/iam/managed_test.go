package iam_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
)

const (
	ssmCore     = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
	controlOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssmmessages:CreateControlChannel","Resource":"arn:aws:eks:*:*:cluster/*"}]}`
)

// wantErr checks an error's code, HTTP status and (when msg is not empty)
// that its message contains msg.
func wantErr(t *testing.T, what string, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	if ae.ErrorCode() != code || httpStatus(t, err) != status || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s: %s %d %q, want %s %d containing %q", what, ae.ErrorCode(), httpStatus(t, err), ae.ErrorMessage(), code, status, msg)
	}
}

func TestCreatePolicyAndGetPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	out, err := e.api.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String("ConnectorAgentSSM"), Path: aws.String("/platform/"), PolicyDocument: aws.String(agentPolicy),
		Description: aws.String("what the connector agent needs"),
		Tags:        []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Policy
	const arn = "arn:aws:iam::123456789012:policy/platform/ConnectorAgentSSM"
	if aws.ToString(p.Arn) != arn || aws.ToString(p.Path) != "/platform/" || aws.ToString(p.PolicyName) != "ConnectorAgentSSM" {
		t.Errorf("created %s at %s named %s", aws.ToString(p.Arn), aws.ToString(p.Path), aws.ToString(p.PolicyName))
	}
	id := aws.ToString(p.PolicyId)
	if len(id) != 21 || !strings.HasPrefix(id, "ANPA") || strings.ToUpper(id) != id {
		t.Errorf("policy id %q", id)
	}
	if aws.ToString(p.DefaultVersionId) != "v1" || aws.ToInt32(p.AttachmentCount) != 0 || aws.ToInt32(p.PermissionsBoundaryUsageCount) != 0 || !p.IsAttachable {
		t.Errorf("created policy %+v", p)
	}
	if !p.CreateDate.Equal(t0) || !p.UpdateDate.Equal(t0) {
		t.Errorf("dates %v %v", p.CreateDate, p.UpdateDate)
	}
	if p.Description != nil {
		t.Errorf("CreatePolicy answered the description %q (IAM gives it only with GetPolicy)", aws.ToString(p.Description))
	}
	if len(p.Tags) != 1 || aws.ToString(p.Tags[0].Key) != "team" {
		t.Errorf("tags %+v", p.Tags)
	}

	e.clk.Advance(time.Hour)
	got, err := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	g := got.Policy
	if aws.ToString(g.PolicyId) != id || aws.ToString(g.Description) != "what the connector agent needs" || !g.CreateDate.Equal(t0) || len(g.Tags) != 1 {
		t.Errorf("GetPolicy %+v", g)
	}

	v, err := e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	if err != nil {
		t.Fatal(err)
	}
	raw := aws.ToString(v.PolicyVersion.Document)
	if strings.ContainsAny(raw, "{\" ") {
		t.Errorf("document not URL-encoded: %s", raw)
	}
	if decode(t, raw) != agentPolicy {
		t.Errorf("document round trip: %s", decode(t, raw))
	}
	if aws.ToString(v.PolicyVersion.VersionId) != "v1" || !v.PolicyVersion.IsDefaultVersion || !v.PolicyVersion.CreateDate.Equal(t0) {
		t.Errorf("version %+v", v.PolicyVersion)
	}
	if snap, ok := e.store.ManagedPolicy(arn); !ok || snap.Versions["v1"] != agentPolicy || snap.DefaultVersion != "v1" {
		t.Errorf("snapshot %+v", snap)
	}
}

func TestCreatePolicyErrors(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createPolicy(t, "Taken", agentPolicy)
	tags := func(keys ...string) []iamtypes.Tag {
		var out []iamtypes.Tag
		for _, k := range keys {
			out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String("v")})
		}
		return out
	}
	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[` +
		strings.Repeat(`"arn:aws:s3:::bucket/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",`, 64) +
		`"arn:aws:s3:::bucket/z"]}]}`
	tests := []struct {
		name   string
		in     iam.CreatePolicyInput
		code   string
		status int
		msg    string
	}{
		{"name taken", iam.CreatePolicyInput{PolicyName: aws.String("Taken"), PolicyDocument: aws.String(agentPolicy)},
			"EntityAlreadyExists", 409, "A policy called Taken already exists. Duplicate names are not allowed."},
		{"names are case-insensitive, whatever the path", iam.CreatePolicyInput{PolicyName: aws.String("taken"), Path: aws.String("/other/"), PolicyDocument: aws.String(agentPolicy)},
			"EntityAlreadyExists", 409, "A policy called taken already exists."},
		{"not JSON", iam.CreatePolicyInput{PolicyName: aws.String("P1"), PolicyDocument: aws.String("{nope")},
			"MalformedPolicyDocument", 400, "This policy contains invalid Json"},
		{"a principal", iam.CreatePolicyInput{PolicyName: aws.String("P2"), PolicyDocument: aws.String(ssmTrust)},
			"MalformedPolicyDocument", 400, "Policy document should not specify a principal."},
		{"no resource", iam.CreatePolicyInput{PolicyName: aws.String("P3"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}`)},
			"MalformedPolicyDocument", 400, "Policy statement must contain resources."},
		{"too large", iam.CreatePolicyInput{PolicyName: aws.String("P4"), PolicyDocument: aws.String(big)},
			"LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144"},
		{"bad name", iam.CreatePolicyInput{PolicyName: aws.String("a/b"), PolicyDocument: aws.String(agentPolicy)},
			"ValidationError", 400, "Value 'a/b' at 'policyName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"},
		{"path without a trailing slash", iam.CreatePolicyInput{PolicyName: aws.String("P5"), Path: aws.String("/platform"), PolicyDocument: aws.String(agentPolicy)},
			"ValidationError", 400, "Value '/platform' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/"},
		{"path with an asterisk", iam.CreatePolicyInput{PolicyName: aws.String("P6"), Path: aws.String("/a*/"), PolicyDocument: aws.String(agentPolicy)},
			"ValidationError", 400, "at 'path'"},
		{"empty document", iam.CreatePolicyInput{PolicyName: aws.String("P7"), PolicyDocument: aws.String("")},
			"ValidationError", 400, "Value '' at 'policyDocument' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"description too long", iam.CreatePolicyInput{PolicyName: aws.String("P8"), PolicyDocument: aws.String(agentPolicy), Description: aws.String(strings.Repeat("d", 1001))},
			"ValidationError", 400, "Member must have length less than or equal to 1000"},
		{"duplicate tag keys", iam.CreatePolicyInput{PolicyName: aws.String("P9"), PolicyDocument: aws.String(agentPolicy), Tags: tags("k", "K")},
			"InvalidInput", 400, "Duplicate tag keys found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.api.CreatePolicy(ctx, &tt.in)
			wantErr(t, "CreatePolicy", err, tt.code, tt.status, tt.msg)
			if name := aws.ToString(tt.in.PolicyName); name != "Taken" && name != "taken" {
				if _, ok := e.store.ManagedPolicy("arn:aws:iam::123456789012:policy/" + name); ok {
					t.Errorf("the refused policy %s was created", name)
				}
			}
		})
	}
}

func TestGetPolicyErrors(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	arn := e.createPolicy(t, "P", agentPolicy)
	_, err := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/Nope")})
	wantErr(t, "GetPolicy of a missing policy", err, "NoSuchEntity", 404, "Policy arn:aws:iam::123456789012:policy/Nope was not found.")
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Errorf("not a NoSuchEntityException: %T", err)
	}
	_, err = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/other/P")})
	wantErr(t, "GetPolicy at another path", err, "NoSuchEntity", 404, "was not found.")
	_, err = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::aws:policy/NotKnownHere")})
	wantErr(t, "GetPolicy of an AWS managed policy the local cloud does not know", err, "NoSuchEntity", 404, "was not found.")
	_, err = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:s3:::bucket/objectkey")})
	wantErr(t, "GetPolicy of another ARN", err, "InvalidInput", 400, "ARN arn:aws:s3:::bucket/objectkey is not valid.")
	_, err = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam")})
	wantErr(t, "GetPolicy with a short ARN", err, "ValidationError", 400, "Member must have length greater than or equal to 20")
	_, err = e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")})
	wantErr(t, "GetPolicyVersion of a missing version", err, "NoSuchEntity", 404, "Policy "+arn+" version v2 does not exist or is not attachable.")
	_, err = e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("1")})
	wantErr(t, "GetPolicyVersion with a bad id", err, "ValidationError", 400, "Value '1' at 'versionId' failed to satisfy constraint")
	_, err = e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/Nope"), VersionId: aws.String("v1")})
	wantErr(t, "GetPolicyVersion of a missing policy", err, "NoSuchEntity", 404, "")
}

func TestPolicyVersions(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	arn := e.createPolicy(t, "P", agentPolicy)
	e.clk.Advance(time.Minute)
	v2, err := e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(controlOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if pv := v2.PolicyVersion; aws.ToString(pv.VersionId) != "v2" || pv.IsDefaultVersion || pv.Document != nil || !pv.CreateDate.Equal(t0.Add(time.Minute)) {
		t.Errorf("CreatePolicyVersion answered %+v", pv)
	}
	get, _ := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if aws.ToString(get.Policy.DefaultVersionId) != "v1" || !get.Policy.UpdateDate.Equal(t0.Add(time.Minute)) {
		t.Errorf("after a non-default version: %+v", get.Policy)
	}
	if _, err := e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(agentPolicy), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
	get, _ = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if aws.ToString(get.Policy.DefaultVersionId) != "v3" {
		t.Errorf("default %s after SetAsDefault, want v3", aws.ToString(get.Policy.DefaultVersionId))
	}
	list, err := e.api.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range list.Versions {
		ids = append(ids, fmt.Sprintf("%s:%v:%v", aws.ToString(v.VersionId), v.IsDefaultVersion, v.Document != nil))
	}
	if got := strings.Join(ids, ","); got != "v3:true:false,v2:false:false,v1:false:false" {
		t.Errorf("ListPolicyVersions %s, want the newest first, without documents", got)
	}
	if _, err := e.api.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	v, _ := e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")})
	if !v.PolicyVersion.IsDefaultVersion || decode(t, aws.ToString(v.PolicyVersion.Document)) != controlOnly {
		t.Errorf("v2 after SetDefaultPolicyVersion: %+v", v.PolicyVersion)
	}
	_, err = e.api.SetDefaultPolicyVersion(ctx, &iam.SetDefaultPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v9")})
	wantErr(t, "SetDefaultPolicyVersion of a missing version", err, "NoSuchEntity", 404, "version v9")

	_, err = e.api.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v2")})
	wantErr(t, "DeletePolicyVersion of the default version", err, "DeleteConflict", 409, "Cannot delete the default version of a policy.")
	if _, err := e.api.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String("v1")})
	wantErr(t, "GetPolicyVersion of a deleted version", err, "NoSuchEntity", 404, "")

	_, err = e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(ssmTrust)})
	wantErr(t, "a malformed version", err, "MalformedPolicyDocument", 400, "")

	// Five versions at most; numbers are not reused.
	for i := 0; i < 3; i++ {
		if _, err := e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(agentPolicy)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), PolicyDocument: aws.String(agentPolicy)})
	wantErr(t, "a sixth version", err, "LimitExceeded", 409, "A managed policy can have up to 5 versions.")
	snap, _ := e.store.ManagedPolicy(arn)
	if _, ok := snap.Versions["v6"]; !ok || len(snap.Versions) != 5 {
		t.Errorf("versions %v, want v2..v6", snap.Versions)
	}
	_, err = e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/Nope"), PolicyDocument: aws.String(agentPolicy)})
	wantErr(t, "a version of a missing policy", err, "NoSuchEntity", 404, "was not found.")
	_, err = e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(ssmCore), PolicyDocument: aws.String(agentPolicy)})
	wantErr(t, "a version of an AWS managed policy", err, "AccessDenied", 403, "iam:CreatePolicyVersion")
}

func TestAttachAndDetachRolePolicy(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	custom := e.createPolicy(t, "ConnectorAgentSSM", agentPolicy)
	for _, arn := range []string{custom, ssmCore, custom} { // attaching again changes nothing
		if _, err := e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("agent"), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatalf("AttachRolePolicy %s: %v", arn, err)
		}
	}
	out, err := e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range out.AttachedPolicies {
		got = append(got, aws.ToString(a.PolicyName)+"="+aws.ToString(a.PolicyArn))
	}
	if strings.Join(got, ",") != "ConnectorAgentSSM="+custom+",AmazonSSMManagedInstanceCore="+ssmCore || out.IsTruncated {
		t.Errorf("attached %v (truncated %v)", got, out.IsTruncated)
	}
	if snap, _ := e.store.Role("Agent"); len(snap.AttachedPolicies) != 2 {
		t.Errorf("role snapshot attached %v", snap.AttachedPolicies)
	}
	p, _ := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(custom)})
	if aws.ToInt32(p.Policy.AttachmentCount) != 1 {
		t.Errorf("AttachmentCount %d, want 1", aws.ToInt32(p.Policy.AttachmentCount))
	}
	// A path prefix filters by the policy's path.
	filtered, err := e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), PathPrefix: aws.String("/nowhere/")})
	if err != nil || len(filtered.AttachedPolicies) != 0 {
		t.Errorf("with PathPrefix /nowhere/: %+v %v", filtered, err)
	}
	_, err = e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), PathPrefix: aws.String("nowhere")})
	wantErr(t, "a PathPrefix without slashes", err, "ValidationError", 400, "at 'pathPrefix'")

	// DeleteRole refuses a role with attached policies; DeletePolicy a policy attached.
	_, err = e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Agent")})
	wantErr(t, "DeleteRole with attached policies", err, "DeleteConflict", 409, "must detach all policies first")
	_, err = e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(custom)})
	wantErr(t, "DeletePolicy while attached", err, "DeleteConflict", 409, "Cannot delete a policy attached to entities.")

	for _, arn := range []string{custom, ssmCore} {
		if _, err := e.api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatalf("DetachRolePolicy %s: %v", arn, err)
		}
	}
	_, err = e.api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(custom)})
	wantErr(t, "DetachRolePolicy of a policy not attached", err, "NoSuchEntity", 404, "Policy "+custom+" was not found.")
	if out, _ := e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent")}); len(out.AttachedPolicies) != 0 {
		t.Errorf("attached after detaching: %+v", out.AttachedPolicies)
	}
	if _, err := e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(custom)}); err != nil {
		t.Fatalf("DeletePolicy once detached: %v", err)
	}
	_, err = e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(custom)})
	wantErr(t, "GetPolicy of a deleted policy", err, "NoSuchEntity", 404, "was not found.")
	if _, err := e.api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Agent")}); err != nil {
		t.Errorf("DeleteRole once detached: %v", err)
	}
}

func TestAttachRolePolicyErrors(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	slr := e.store.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	slrName := slr[strings.LastIndex(slr, "/")+1:]
	custom := e.createPolicy(t, "P", agentPolicy)
	tests := []struct {
		name, role, arn, code string
		status                int
		msg                   string
	}{
		{"no such policy", "Agent", "arn:aws:iam::123456789012:policy/Nope", "NoSuchEntity", 404,
			"Policy arn:aws:iam::123456789012:policy/Nope does not exist or is not attachable."},
		{"an AWS managed policy the local cloud does not know", "Agent", "arn:aws:iam::aws:policy/NotKnownHere", "NoSuchEntity", 404,
			"does not exist or is not attachable."},
		{"no such role", "Nope", custom, "NoSuchEntity", 404, "The role with name Nope cannot be found."},
		{"not a policy ARN", "Agent", "arn:aws:s3:::bucket/objectkey", "InvalidInput", 400, "ARN arn:aws:s3:::bucket/objectkey is not valid."},
		{"service role policy", "Agent", "arn:aws:iam::aws:policy/aws-service-role/AmazonEKSConnectorServiceRolePolicy", "PolicyNotAttachable", 400,
			"Cannot attach a Service Role Policy to a Customer Role."},
		{"service-linked role", slrName, custom, "UnmodifiableEntity", 400, slrName},
		{"no ARN", "Agent", "", "ValidationError", 400, "Member must have length greater than or equal to 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(tt.role), PolicyArn: aws.String(tt.arn)})
			wantErr(t, "AttachRolePolicy", err, tt.code, tt.status, tt.msg)
		})
	}
	if snap, _ := e.store.Role("Agent"); len(snap.AttachedPolicies) != 0 {
		t.Errorf("refused attachments were made: %v", snap.AttachedPolicies)
	}
	_, err := e.api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("Nope"), PolicyArn: aws.String(custom)})
	wantErr(t, "DetachRolePolicy from a missing role", err, "NoSuchEntity", 404, "The role with name Nope cannot be found.")
	_, err = e.api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(slrName), PolicyArn: aws.String(
		"arn:aws:iam::aws:policy/aws-service-role/AmazonEKSConnectorServiceRolePolicy")})
	wantErr(t, "DetachRolePolicy from the service-linked role", err, "UnmodifiableEntity", 400, "")

	// PoliciesPerRole: 10 managed policies at most.
	for i := 0; i < 10; i++ {
		arn := e.createPolicy(t, fmt.Sprintf("Q%d", i), agentPolicy)
		if _, err := e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatalf("attachment %d: %v", i+1, err)
		}
	}
	_, err = e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(custom)})
	wantErr(t, "an eleventh attachment", err, "LimitExceeded", 409, "Cannot exceed quota for PoliciesPerRole: 10")
}

// ListAttachedRolePolicies pages with Marker and MaxItems as IAM does, and
// the SDK's paginator reads every page.
func TestListAttachedRolePoliciesPages(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	var want []string
	for i := 0; i < 5; i++ {
		arn := e.createPolicy(t, fmt.Sprintf("P%d", i), agentPolicy)
		want = append(want, arn)
		if _, err := e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.AttachedPolicies) != 2 || !first.IsTruncated || aws.ToString(first.Marker) == "" {
		t.Fatalf("first page %+v", first)
	}
	var got []string
	pg := iam.NewListAttachedRolePoliciesPaginator(e.api, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), MaxItems: aws.Int32(2)})
	pages := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range out.AttachedPolicies {
			got = append(got, aws.ToString(a.PolicyArn))
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%d pages: %v, want 3 pages of %v", pages, got, want)
	}
	_, err = e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), MaxItems: aws.Int32(0)})
	wantErr(t, "MaxItems 0", err, "ValidationError", 400, "at 'maxItems'")
	_, err = e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent"), Marker: aws.String("%%%")})
	wantErr(t, "a marker IAM did not give", err, "InvalidInput", 400, "Invalid Marker.")
	_, err = e.api.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Nope")})
	wantErr(t, "a missing role", err, "NoSuchEntity", 404, "The role with name Nope cannot be found.")
}

func TestDeletePolicy(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	boundary := e.createPolicy(t, "Boundary", agentPolicy)
	if _, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("Agent"), PermissionsBoundary: aws.String(boundary)}); err != nil {
		t.Fatal(err)
	}
	p, _ := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(boundary)})
	if aws.ToInt32(p.Policy.PermissionsBoundaryUsageCount) != 1 || aws.ToInt32(p.Policy.AttachmentCount) != 0 {
		t.Errorf("a boundary's counts: %+v", p.Policy)
	}
	_, err := e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(boundary)})
	wantErr(t, "DeletePolicy of a role's boundary", err, "DeleteConflict", 409, "Cannot delete a policy attached to entities.")
	if _, err := e.api.DeleteRolePermissionsBoundary(ctx, &iam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String("Agent")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(boundary), PolicyDocument: aws.String(controlOnly)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(boundary)})
	wantErr(t, "DeletePolicy with two versions", err, "DeleteConflict", 409, "This policy has more than one version.")
	if _, err := e.api.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(boundary), VersionId: aws.String("v2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(boundary)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(boundary)})
	wantErr(t, "DeletePolicy again", err, "NoSuchEntity", 404, "Policy "+boundary+" was not found.")
	// Once deleted, the name is free, and the boundary is refused.
	_, err = e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("Agent"), PermissionsBoundary: aws.String(boundary)})
	wantErr(t, "a deleted policy as boundary", err, "NoSuchEntity", 404, "Scope ARN: "+boundary+" does not exist or is not attachable.")
	e.createPolicy(t, "boundary", agentPolicy)
	_, err = e.api.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(ssmCore)})
	wantErr(t, "DeletePolicy of an AWS managed policy", err, "AccessDenied", 403, "iam:DeletePolicy")
}

// The AWS managed policies the local cloud knows read as IAM gives them: the
// default version's document, URL-encoded.
func TestAWSManagedPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	p, err := e.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(ssmCore)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(p.Policy.PolicyName) != "AmazonSSMManagedInstanceCore" || aws.ToString(p.Policy.Path) != "/" ||
		aws.ToString(p.Policy.DefaultVersionId) != "v2" || !p.Policy.IsAttachable {
		t.Errorf("GetPolicy %+v", p.Policy)
	}
	v, err := e.api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(ssmCore), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, aws.ToString(v.PolicyVersion.Document))
	for _, a := range []string{"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"} {
		if !strings.Contains(doc, a) {
			t.Errorf("AmazonSSMManagedInstanceCore lacks %s: %s", a, doc)
		}
	}
	// Same id in every account.
	other := newEnv(t)
	q, _ := other.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(ssmCore)})
	if aws.ToString(q.Policy.PolicyId) != aws.ToString(p.Policy.PolicyId) {
		t.Errorf("ids %s and %s", aws.ToString(q.Policy.PolicyId), aws.ToString(p.Policy.PolicyId))
	}
}

func TestListPolicies(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	a := e.createPolicy(t, "Alpha", agentPolicy)
	if _, err := e.api.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Beta"), Path: aws.String("/platform/"),
		PolicyDocument: aws.String(agentPolicy), Description: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	b := "arn:aws:iam::123456789012:policy/platform/Beta"
	c := e.createPolicy(t, "Gamma", agentPolicy)
	if _, err := e.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(a)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("Agent"), PermissionsBoundary: aws.String(c)}); err != nil {
		t.Fatal(err)
	}
	list := func(in iam.ListPoliciesInput) string {
		t.Helper()
		var arns []string
		pg := iam.NewListPoliciesPaginator(e.api, &in)
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range out.Policies {
				if p.Description != nil || p.Tags != nil {
					t.Errorf("ListPolicies gave %s's description or tags", aws.ToString(p.Arn))
				}
				arns = append(arns, aws.ToString(p.Arn))
			}
		}
		return strings.Join(arns, ",")
	}
	tests := []struct {
		name string
		in   iam.ListPoliciesInput
		want string
	}{
		{"local", iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal}, a + "," + b + "," + c},
		{"local, by pages of one", iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, MaxItems: aws.Int32(1)}, a + "," + b + "," + c},
		{"AWS", iam.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeAws}, ssmCore},
		{"all", iam.ListPoliciesInput{}, a + "," + ssmCore + "," + b + "," + c},
		{"path prefix", iam.ListPoliciesInput{PathPrefix: aws.String("/platform/")}, b},
		{"only attached", iam.ListPoliciesInput{OnlyAttached: true}, a + "," + c},
		{"only attached as a permissions policy", iam.ListPoliciesInput{OnlyAttached: true, PolicyUsageFilter: iamtypes.PolicyUsageTypePermissionsPolicy}, a},
		{"only attached as a boundary", iam.ListPoliciesInput{OnlyAttached: true, PolicyUsageFilter: iamtypes.PolicyUsageTypePermissionsBoundary}, c},
	}
	for _, tt := range tests {
		if got := list(tt.in); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := e.api.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Mine"})
	wantErr(t, "a bad scope", err, "ValidationError", 400, "Value 'Mine' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]")
}

// Each operation is authorized on the resource IAM names: the policy ARN
// for the policy operations, the role ARN for the attachments, with the
// iam:PolicyARN condition key; ListPolicies on "*". Checked with the local
// cloud's policy engine, which records every check.
func TestManagedPolicyPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.createRole(t, "Agent", ssmTrust)
	allowedArn := e.createPolicy(t, "Allowed", agentPolicy)
	otherArn := e.createPolicy(t, "Other", agentPolicy)
	engine := policy.NewEngine()
	doc, err := policy.ParseDocument([]byte(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["iam:GetPolicy","iam:GetPolicyVersion","iam:CreatePolicy","iam:DeletePolicy","iam:CreatePolicyVersion",
	   "iam:ListPolicyVersions","iam:SetDefaultPolicyVersion","iam:DeletePolicyVersion"],
	  "Resource":["arn:aws:iam::123456789012:policy/Allowed","arn:aws:iam::123456789012:policy/New","arn:aws:iam::aws:policy/*"]},
	 {"Effect":"Allow","Action":["iam:AttachRolePolicy","iam:DetachRolePolicy","iam:ListAttachedRolePolicies"],"Resource":"arn:aws:iam::123456789012:role/Agent",
	  "Condition":{"ArnEqualsIfExists":{"iam:PolicyARN":"arn:aws:iam::123456789012:policy/Allowed"}}},
	 {"Effect":"Allow","Action":"iam:ListPolicies","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	engine.SetPolicies("Registrar", []policy.Policy{doc})
	e.te.Router.Authz = engine
	e.te.Router.Principals = func(key string) *awsproto.Principal {
		if key == "AKIDREGISTRAR" {
			return &awsproto.Principal{Name: "Registrar", ARN: "arn:aws:iam::123456789012:role/Registrar"}
		}
		return &awsproto.Principal{Name: "admin", ARN: "arn:aws:iam::123456789012:root", Admin: true}
	}
	cfg := e.te.Config.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDREGISTRAR", "secret", "")
	reg := iam.NewFromConfig(cfg)
	allowed := func(what string, err error, want bool) {
		t.Helper()
		switch {
		case want && err != nil:
			t.Errorf("%s: %v, want allowed", what, err)
		case !want:
			wantErr(t, what, err, "AccessDenied", 403, "Registrar is not authorized to perform")
		}
	}
	_, err = reg.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(allowedArn)})
	allowed("GetPolicy of the allowed policy", err, true)
	_, err = reg.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(otherArn)})
	allowed("GetPolicy of another policy", err, false)
	_, err = reg.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(ssmCore)})
	allowed("GetPolicy of an AWS managed policy", err, true)
	_, err = reg.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(otherArn), VersionId: aws.String("v1")})
	allowed("GetPolicyVersion of another policy", err, false)
	_, err = reg.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(allowedArn), VersionId: aws.String("v1")})
	allowed("GetPolicyVersion of the allowed policy", err, true)
	_, err = reg.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Elsewhere"), PolicyDocument: aws.String(agentPolicy)})
	allowed("CreatePolicy of another name", err, false)
	_, err = reg.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("New"), PolicyDocument: aws.String(agentPolicy)})
	allowed("CreatePolicy of the allowed name", err, true)
	_, err = reg.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(otherArn)})
	allowed("AttachRolePolicy of another policy (iam:PolicyARN)", err, false)
	_, err = reg.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(allowedArn)})
	allowed("AttachRolePolicy of the allowed policy", err, true)
	_, err = reg.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("Agent")})
	allowed("ListAttachedRolePolicies", err, true)
	_, err = reg.ListPolicies(ctx, &iam.ListPoliciesInput{})
	allowed("ListPolicies", err, true)
	_, err = reg.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("Agent"), PolicyArn: aws.String(allowedArn)})
	allowed("DetachRolePolicy of the allowed policy", err, true)
	_, err = reg.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(otherArn)})
	allowed("DeletePolicy of another policy", err, false)

	// Every decision is recorded, with the resource IAM names.
	want := map[string]bool{
		"iam:GetPolicy " + allowedArn + " true": false, "iam:GetPolicy " + otherArn + " false": false,
		"iam:GetPolicyVersion " + allowedArn + " true": false, "iam:GetPolicy " + ssmCore + " true": false,
		"iam:AttachRolePolicy arn:aws:iam::123456789012:role/Agent true":  false,
		"iam:AttachRolePolicy arn:aws:iam::123456789012:role/Agent false": false,
		"iam:ListPolicies * true": false, "iam:DeletePolicy " + otherArn + " false": false,
	}
	for _, c := range engine.Checks() {
		k := fmt.Sprintf("%s %s %v", c.Action, c.Resource, c.Allowed)
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if c.Principal != "Registrar" {
			t.Errorf("check %+v recorded for %s", c, c.Principal)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("no check %s recorded", k)
		}
	}
	if _, ok := e.store.ManagedPolicy(otherArn); !ok {
		t.Error("a denied DeletePolicy deleted the policy")
	}
}
