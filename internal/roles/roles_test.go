package roles

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// fakeIAM is a small in-memory IAM: roles with a trust policy, inline and
// attached policies. Documents come back URL-encoded, as IAM returns them.
type fakeIAM struct {
	roles    map[string]*fakeRole
	managed  map[string]string // policy ARN → document
	writes   []string
	sltaken  bool  // CreateServiceLinkedRole answers "has been taken"
	slErr    error // CreateServiceLinkedRole fails with this
	getErr   error // every GetRole fails with this
	boundary string
	path     string
	// PutRolePermissionsBoundary fails with this
	boundaryErr error
}

type fakeRole struct {
	arn      string
	trust    string
	inline   map[string]string
	attached []string
	boundary string // permissions boundary ARN, "" for none
}

// path is the role's path, from its ARN (…:role/<path/>Name), as IAM
// returns it in GetRole.
func (r *fakeRole) path() string {
	res := r.arn[strings.Index(r.arn, ":role/")+len(":role"):]
	return res[:strings.LastIndex(res, "/")+1]
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func newFake() *fakeIAM {
	return &fakeIAM{roles: map[string]*fakeRole{}, managed: map[string]string{}}
}

func (f *fakeIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	r, ok := f.roles[*in.RoleName]
	if !ok {
		return nil, apiErr("NoSuchEntity", "The role with name "+*in.RoleName+" cannot be found.")
	}
	role := &iamtypes.Role{Arn: aws.String(r.arn), RoleName: in.RoleName, Path: aws.String(r.path()), AssumeRolePolicyDocument: aws.String(url.QueryEscape(r.trust))}
	if r.boundary != "" {
		role.PermissionsBoundary = &iamtypes.AttachedPermissionsBoundary{
			PermissionsBoundaryArn: aws.String(r.boundary), PermissionsBoundaryType: iamtypes.PermissionsBoundaryAttachmentTypePolicy,
		}
	}
	return &iam.GetRoleOutput{Role: role}, nil
}

func (f *fakeIAM) PutRolePermissionsBoundary(_ context.Context, in *iam.PutRolePermissionsBoundaryInput, _ ...func(*iam.Options)) (*iam.PutRolePermissionsBoundaryOutput, error) {
	f.writes = append(f.writes, "PutRolePermissionsBoundary")
	if f.boundaryErr != nil {
		return nil, f.boundaryErr
	}
	f.roles[*in.RoleName].boundary = *in.PermissionsBoundary
	return &iam.PutRolePermissionsBoundaryOutput{}, nil
}

func (f *fakeIAM) CreateServiceLinkedRole(_ context.Context, in *iam.CreateServiceLinkedRoleInput, _ ...func(*iam.Options)) (*iam.CreateServiceLinkedRoleOutput, error) {
	f.writes = append(f.writes, "CreateServiceLinkedRole")
	if f.slErr != nil {
		return nil, f.slErr
	}
	if f.sltaken {
		f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
		return nil, apiErr("InvalidInput", "Service role name AWSServiceRoleForAmazonEKSConnector has been taken in this account, please try a different suffix.")
	}
	f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
	return &iam.CreateServiceLinkedRoleOutput{Role: &iamtypes.Role{Arn: aws.String(slrArn)}}, nil
}

func (f *fakeIAM) CreateRole(_ context.Context, in *iam.CreateRoleInput, _ ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	f.writes = append(f.writes, "CreateRole")
	f.boundary, f.path = aws.ToString(in.PermissionsBoundary), aws.ToString(in.Path)
	arn := "arn:aws:iam::123456789012:role" + aws.ToString(in.Path) + *in.RoleName
	f.roles[*in.RoleName] = &fakeRole{arn: arn, trust: *in.AssumeRolePolicyDocument, inline: map[string]string{}, boundary: f.boundary}
	return &iam.CreateRoleOutput{Role: &iamtypes.Role{Arn: aws.String(arn)}}, nil
}

func (f *fakeIAM) UpdateAssumeRolePolicy(_ context.Context, in *iam.UpdateAssumeRolePolicyInput, _ ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error) {
	f.writes = append(f.writes, "UpdateAssumeRolePolicy")
	f.roles[*in.RoleName].trust = *in.PolicyDocument
	return &iam.UpdateAssumeRolePolicyOutput{}, nil
}

func (f *fakeIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	d, ok := f.roles[*in.RoleName].inline[*in.PolicyName]
	if !ok {
		return nil, apiErr("NoSuchEntity", "The role policy with name "+*in.PolicyName+" cannot be found.")
	}
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String(url.QueryEscape(d))}, nil
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.writes = append(f.writes, "PutRolePolicy")
	f.roles[*in.RoleName].inline[*in.PolicyName] = *in.PolicyDocument
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *fakeIAM) ListRolePolicies(_ context.Context, in *iam.ListRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error) {
	var names []string
	for n := range f.roles[*in.RoleName].inline {
		names = append(names, n)
	}
	slices.Sort(names)
	return &iam.ListRolePoliciesOutput{PolicyNames: names}, nil
}

func (f *fakeIAM) ListAttachedRolePolicies(_ context.Context, in *iam.ListAttachedRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	var ps []iamtypes.AttachedPolicy
	for _, a := range f.roles[*in.RoleName].attached {
		ps = append(ps, iamtypes.AttachedPolicy{PolicyArn: aws.String(a)})
	}
	return &iam.ListAttachedRolePoliciesOutput{AttachedPolicies: ps}, nil
}

func (f *fakeIAM) GetPolicy(_ context.Context, in *iam.GetPolicyInput, _ ...func(*iam.Options)) (*iam.GetPolicyOutput, error) {
	return &iam.GetPolicyOutput{Policy: &iamtypes.Policy{Arn: in.PolicyArn, DefaultVersionId: aws.String("v3")}}, nil
}

func (f *fakeIAM) GetPolicyVersion(_ context.Context, in *iam.GetPolicyVersionInput, _ ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error) {
	if *in.VersionId != "v3" {
		return nil, apiErr("NoSuchEntity", "no such version")
	}
	return &iam.GetPolicyVersionOutput{PolicyVersion: &iamtypes.PolicyVersion{Document: aws.String(url.QueryEscape(f.managed[*in.PolicyArn]))}}, nil
}

const (
	slrArn   = "arn:aws:iam::123456789012:role/aws-service-role/eks-connector.amazonaws.com/AWSServiceRoleForAmazonEKSConnector"
	agentArn = "arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole"
)

func settings(t *testing.T, env map[string]string) workflow.Settings {
	t.Helper()
	s, err := workflow.LoadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, f *fakeIAM, env map[string]string) (Result, error) {
	t.Helper()
	r := &Roles{IAM: f, Settings: settings(t, env), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return r.Handle(context.Background(), Input{ClusterName: "c1"})
}

func mustParse(t *testing.T, doc string) document {
	t.Helper()
	d, err := parseDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestManagedModeCreatesEverythingOnAFreshAccount(t *testing.T) {
	f := newFake()
	res, err := run(t, f, map[string]string{"AGENT_ROLE_PATH": "/eks/", "AGENT_ROLE_PERMISSIONS_BOUNDARY": "arn:aws:iam::123456789012:policy/Boundary"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServiceLinkedRoleCreated || !res.AgentRoleCreated || res.AgentRoleRepaired {
		t.Errorf("flags = %+v", res)
	}
	if res.AgentRoleArn != "arn:aws:iam::123456789012:role/eks/AmazonEKSConnectorAgentRole" || res.ServiceLinkedRoleArn != slrArn {
		t.Errorf("arns = %+v", res)
	}
	if f.path != "/eks/" || f.boundary != "arn:aws:iam::123456789012:policy/Boundary" {
		t.Errorf("create used path %q boundary %q", f.path, f.boundary)
	}
	role := f.roles["AmazonEKSConnectorAgentRole"]
	if !mustParse(t, role.trust).trusts("ssm.amazonaws.com") {
		t.Errorf("trust %s", role.trust)
	}
	if m := missingGrants("aws", []document{mustParse(t, role.inline[InlinePolicyName])}); len(m) > 0 {
		t.Errorf("inline policy misses %v", m)
	}
}

func TestServiceLinkedRole(t *testing.T) {
	tests := []struct {
		name        string
		exists      bool
		taken       bool
		createErr   error
		wantCreated bool
		wantWrites  int
		wantErr     string
	}{
		{name: "exists: no create call", exists: true, wantWrites: 0},
		{name: "missing: created", wantCreated: true, wantWrites: 1},
		{name: "created meanwhile: 'has been taken' is success", taken: true, wantWrites: 1},
		{name: "other InvalidInput is a real error", createErr: apiErr("InvalidInput", "Invalid service name"), wantErr: "AWSCallFailed", wantWrites: 1},
		{name: "throttled create is transient", createErr: apiErr("Throttling", "Rate exceeded"), wantErr: "TransientAWSError", wantWrites: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.roles["AmazonEKSConnectorAgentRole"] = &fakeRole{arn: agentArn, trust: trustDocument(), inline: map[string]string{InlinePolicyName: agentPolicy("aws")}}
			if tt.exists {
				f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
			}
			f.sltaken, f.slErr = tt.taken, tt.createErr
			res, err := run(t, f, nil)
			if got := len(f.writes); got != tt.wantWrites {
				t.Errorf("writes = %v, want %d", f.writes, tt.wantWrites)
			}
			if tt.wantErr != "" {
				if err == nil || typeName(err) != tt.wantErr {
					t.Fatalf("err = %T %v, want %s", err, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.ServiceLinkedRoleArn != slrArn || res.ServiceLinkedRoleCreated != tt.wantCreated {
				t.Errorf("res = %+v", res)
			}
		})
	}
}

func typeName(err error) string {
	switch err.(type) {
	case awserr.TransientAWSError:
		return "TransientAWSError"
	case awserr.AWSCallFailed:
		return "AWSCallFailed"
	case AgentRoleInvalid:
		return "AgentRoleInvalid"
	case AgentRolePathMismatch:
		return "AgentRolePathMismatch"
	case AgentRoleBoundaryMismatch:
		return "AgentRoleBoundaryMismatch"
	case AgentRoleBoundaryNotFound:
		return "AgentRoleBoundaryNotFound"
	}
	return "other"
}

func TestManagedModeRepairsOnlyWhatIsMissingAndKeepsOthersStatements(t *testing.T) {
	f := newFake()
	f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
	foreignTrust := `{"Version":"2012-10-17","Statement":{"Sid":"Theirs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}}`
	foreignInline := `{"Version":"2012-10-17","Statement":[{"Sid":"TheirS3","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},` +
		`{"Effect":"Allow","Action":"ssmmessages:CreateControlChannel","Resource":"arn:aws:eks:*:*:cluster/*"}]}`
	f.roles["AmazonEKSConnectorAgentRole"] = &fakeRole{arn: agentArn, trust: foreignTrust, inline: map[string]string{InlinePolicyName: foreignInline}}
	res, err := run(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.AgentRoleCreated || !res.AgentRoleRepaired || len(res.Repairs) != 2 {
		t.Errorf("res = %+v", res)
	}
	role := f.roles["AmazonEKSConnectorAgentRole"]
	for _, want := range []string{`"Sid":"Theirs"`, "ssm.amazonaws.com"} {
		if !strings.Contains(role.trust, want) {
			t.Errorf("trust %s lacks %s", role.trust, want)
		}
	}
	if !strings.Contains(role.inline[InlinePolicyName], `"Sid":"TheirS3"`) {
		t.Errorf("foreign inline statement removed: %s", role.inline[InlinePolicyName])
	}
	if strings.Count(role.inline[InlinePolicyName], "CreateControlChannel") != 1 {
		t.Errorf("control channel statement duplicated: %s", role.inline[InlinePolicyName])
	}
	if m := missingGrants("aws", []document{mustParse(t, role.inline[InlinePolicyName])}); len(m) > 0 {
		t.Errorf("still missing %v", m)
	}

	// A second run finds nothing to do.
	f.writes = nil
	res, err = run(t, f, nil)
	if err != nil || res.AgentRoleRepaired || len(f.writes) != 0 {
		t.Errorf("second run: res=%+v err=%v writes=%v", res, err, f.writes)
	}
}

func TestExistingModeOnlyVerifies(t *testing.T) {
	dataOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssmmessages:CreateDataChannel","ssmmessages:OpenDataChannel","ssmmessages:OpenControlChannel"],"Resource":"*"}]}`
	control := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssmmessages:*","Resource":"arn:aws:eks:*:*:*"}]}`
	tests := []struct {
		name        string
		arn         string
		role        *fakeRole
		managed     map[string]string
		wantMissing []string
	}{
		{name: "inline plus attached policies grant everything", arn: agentArn,
			role:    &fakeRole{arn: agentArn, trust: trustDocument(), inline: map[string]string{"data": dataOnly}, attached: []string{"arn:aws:iam::123456789012:policy/control"}},
			managed: map[string]string{"arn:aws:iam::123456789012:policy/control": control}},
		{name: "no trust, no control channel", arn: agentArn,
			role:        &fakeRole{arn: agentArn, trust: `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, inline: map[string]string{"data": dataOnly}},
			wantMissing: []string{"trust policy", "ssmmessages:CreateControlChannel"}},
		{name: "role absent", arn: agentArn, wantMissing: []string{"the role itself"}},
		{name: "same name, other path", arn: "arn:aws:iam::123456789012:role/other/AmazonEKSConnectorAgentRole",
			role: &fakeRole{arn: agentArn, trust: trustDocument(), inline: map[string]string{InlinePolicyName: agentPolicy("aws")}}, wantMissing: []string{"exactly this ARN"}},
		{name: "not a role ARN", arn: "arn:aws:iam::123456789012:user/bob", wantMissing: []string{"valid IAM role ARN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake() // the service-linked role is missing too: still no write
			if tt.role != nil {
				f.roles["AmazonEKSConnectorAgentRole"] = tt.role
			}
			f.managed = tt.managed
			res, err := run(t, f, map[string]string{"AGENT_ROLE_MODE": "existing", "AGENT_ROLE_ARN": tt.arn})
			if len(f.writes) != 0 {
				t.Errorf("existing mode wrote to IAM: %v", f.writes)
			}
			if tt.wantMissing == nil {
				if err != nil || res.AgentRoleArn != tt.arn {
					t.Fatalf("res=%+v err=%v", res, err)
				}
				return
			}
			var inv AgentRoleInvalid
			if !errors.As(err, &inv) || typeName(err) != "AgentRoleInvalid" {
				t.Fatalf("err = %T %v, want AgentRoleInvalid", err, err)
			}
			for _, w := range tt.wantMissing {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "ssmmessages:CreateDataChannel on") {
				t.Errorf("error names a grant that is present: %v", err)
			}
		})
	}
}

func TestThrottledReadIsTransient(t *testing.T) {
	f := newFake()
	f.getErr = apiErr("Throttling", "Rate exceeded")
	_, err := run(t, f, nil)
	if typeName(err) != "TransientAWSError" {
		t.Fatalf("err = %T %v", err, err)
	}
}

func TestPolicyGrants(t *testing.T) {
	tests := []struct {
		doc, action, resource string
		want                  bool
	}{
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, "ssmmessages:OpenDataChannel", "*", true},
		{`{"Statement":{"Effect":"Allow","Action":"SSMMessages:Open*","Resource":"*"}}`, "ssmmessages:OpenDataChannel", "*", true},
		{`{"Statement":{"Effect":"Allow","Action":"ssmmessages:Open*","Resource":"arn:aws:eks:*"}}`, "ssmmessages:OpenDataChannel", "*", false},
		{`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`, "ssmmessages:OpenDataChannel", "*", false},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:x":"y"}}}}`, "ssmmessages:OpenDataChannel", "*", false},
		{`{"Statement":[{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel"],"Resource":["arn:aws:eks:*:*:cluster/*"]}]}`, "ssmmessages:CreateControlChannel", "arn:aws:eks:*:*:cluster/*", true},
		{`{"Statement":[{"Effect":"Allow","Action":["ssmmessages:CreateControlChannel"],"Resource":["arn:aws:eks:*:*:cluster/prod"]}]}`, "ssmmessages:CreateControlChannel", "arn:aws:eks:*:*:cluster/*", false},
	}
	for _, tt := range tests {
		d := mustParse(t, url.QueryEscape(tt.doc))
		if got := d.allows(tt.action, tt.resource); got != tt.want {
			t.Errorf("%s allows(%s, %s) = %v, want %v", tt.doc, tt.action, tt.resource, got, tt.want)
		}
	}
	var v any
	if err := json.Unmarshal([]byte(agentPolicy("aws-cn")), &v); err != nil || !strings.Contains(agentPolicy("aws-cn"), "arn:aws-cn:eks:*:*:cluster/*") {
		t.Errorf("agent policy %s", agentPolicy("aws-cn"))
	}
}

// The path and the permissions boundary of an existing managed agent role:
// a missing configured boundary is restored; another path or another
// boundary is refused with a typed error naming both values and what to
// do, before any write; with no boundary configured, the role's is left
// alone.
func TestManagedModeChecksPathAndBoundary(t *testing.T) {
	const (
		want  = "arn:aws:iam::123456789012:policy/ConnectorAgentBoundary"
		other = "arn:aws:iam::123456789012:policy/SecurityTeamBoundary"
	)
	eksArn := "arn:aws:iam::123456789012:role/eks/AmazonEKSConnectorAgentRole"
	tests := []struct {
		name         string
		roleArn      string // the existing role
		roleBoundary string
		env          map[string]string
		wantErr      string   // error type name; "" for success
		wantInErr    []string // in the error message
		wantWrites   []string
		wantBoundary string // the role's boundary afterwards
		wantRepairs  int
	}{
		{name: "missing boundary is restored", roleArn: agentArn, env: map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": want},
			wantWrites: []string{"PutRolePermissionsBoundary"}, wantBoundary: want, wantRepairs: 1},
		{name: "the configured boundary: nothing to do", roleArn: agentArn, roleBoundary: want, env: map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": want},
			wantBoundary: want},
		{name: "another boundary is refused", roleArn: agentArn, roleBoundary: other, env: map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": want},
			wantErr: "AgentRoleBoundaryMismatch", wantInErr: []string{agentArn, other, want, "AgentRolePermissionsBoundary=" + other, "put-role-permissions-boundary"},
			wantBoundary: other},
		{name: "no boundary configured: the role's is left alone", roleArn: agentArn, roleBoundary: other, wantBoundary: other},
		{name: "no boundary configured, none on the role: none set", roleArn: agentArn},
		{name: "configured path, role at the root", roleArn: agentArn, env: map[string]string{"AGENT_ROLE_PATH": "/eks/"},
			wantErr: "AgentRolePathMismatch", wantInErr: []string{agentArn, "at path /", "AgentRolePath is /eks/", "AgentRolePath=/", "ExistingAgentRoleArn=" + agentArn}},
		{name: "root path configured, role under /eks/", roleArn: eksArn,
			wantErr: "AgentRolePathMismatch", wantInErr: []string{eksArn, "at path /eks/", "AgentRolePath is /,", "cannot move"}},
		{name: "another path is refused before the boundary is restored", roleArn: eksArn,
			env:     map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": want},
			wantErr: "AgentRolePathMismatch", wantInErr: []string{eksArn}},
		{name: "the configured path: repaired where it is", roleArn: eksArn, env: map[string]string{"AGENT_ROLE_PATH": "/eks/", "AGENT_ROLE_PERMISSIONS_BOUNDARY": want},
			wantWrites: []string{"PutRolePermissionsBoundary"}, wantBoundary: want, wantRepairs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
			// Broken trust and no inline policy: a refused role must keep them.
			f.roles["AmazonEKSConnectorAgentRole"] = &fakeRole{arn: tt.roleArn, trust: trustDocument(),
				inline: map[string]string{InlinePolicyName: agentPolicy("aws")}, boundary: tt.roleBoundary}
			if tt.wantErr != "" {
				f.roles["AmazonEKSConnectorAgentRole"].trust = `{"Version":"2012-10-17","Statement":[]}`
				f.roles["AmazonEKSConnectorAgentRole"].inline = map[string]string{}
			}
			res, err := run(t, f, tt.env)
			if !slices.Equal(f.writes, tt.wantWrites) {
				t.Errorf("writes = %v, want %v", f.writes, tt.wantWrites)
			}
			if got := f.roles["AmazonEKSConnectorAgentRole"].boundary; got != tt.wantBoundary {
				t.Errorf("boundary afterwards %q, want %q", got, tt.wantBoundary)
			}
			if tt.wantErr != "" {
				if typeName(err) != tt.wantErr {
					t.Fatalf("err = %T %v, want %s", err, err, tt.wantErr)
				}
				for _, w := range tt.wantInErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Repairs) != tt.wantRepairs || res.AgentRoleRepaired != (tt.wantRepairs > 0) || res.AgentRoleArn != tt.roleArn {
				t.Errorf("res = %+v, want %d repairs of %s", res, tt.wantRepairs, tt.roleArn)
			}
			if tt.wantRepairs > 0 && !strings.Contains(strings.Join(res.Repairs, ";"), "permissions boundary: set "+tt.wantBoundary) {
				t.Errorf("repairs %v do not name the boundary", res.Repairs)
			}
			// A second run finds nothing to do.
			f.writes = nil
			if _, err := run(t, f, tt.env); err != nil || len(f.writes) != 0 {
				t.Errorf("second run: err=%v writes=%v", err, f.writes)
			}
		})
	}
}

// A refused PutRolePermissionsBoundary is the step's error, not a success
// without the guardrail.
func TestBoundaryRestoreFailureFailsTheStep(t *testing.T) {
	f := newFake()
	f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
	f.roles["AmazonEKSConnectorAgentRole"] = &fakeRole{arn: agentArn, trust: trustDocument(), inline: map[string]string{InlinePolicyName: agentPolicy("aws")}}
	f.boundaryErr = apiErr("AccessDenied", "not authorized to perform: iam:PutRolePermissionsBoundary")
	_, err := run(t, f, map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": "arn:aws:iam::123456789012:policy/B"})
	if typeName(err) != "AWSCallFailed" || !strings.Contains(err.Error(), "iam:PutRolePermissionsBoundary") {
		t.Fatalf("err = %T %v, want AWSCallFailed naming iam:PutRolePermissionsBoundary", err, err)
	}
}

// A configured boundary that does not exist: IAM's NoSuchEntity "Scope
// ARN ..." becomes AgentRoleBoundaryNotFound, when restoring it on an
// existing role as when creating the role; another NoSuchEntity does not.
func TestBoundaryThatDoesNotExist(t *testing.T) {
	const boundary = "arn:aws:iam::123456789012:policy/Missing"
	scope := apiErr("NoSuchEntity", "Scope ARN: "+boundary+" does not exist or is not attachable.")
	f := newFake()
	f.roles[ServiceLinkedRoleName] = &fakeRole{arn: slrArn}
	f.roles["AmazonEKSConnectorAgentRole"] = &fakeRole{arn: agentArn, trust: trustDocument(), inline: map[string]string{InlinePolicyName: agentPolicy("aws")}}
	f.boundaryErr = scope
	_, err := run(t, f, map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": boundary})
	if typeName(err) != "AgentRoleBoundaryNotFound" || !strings.Contains(err.Error(), "AgentRolePermissionsBoundary "+boundary) {
		t.Fatalf("restoring: err = %T %v, want AgentRoleBoundaryNotFound naming the parameter", err, err)
	}
	f.boundaryErr = apiErr("NoSuchEntity", "The role with name AmazonEKSConnectorAgentRole cannot be found.")
	if _, err := run(t, f, map[string]string{"AGENT_ROLE_PERMISSIONS_BOUNDARY": boundary}); typeName(err) != "AWSCallFailed" {
		t.Fatalf("a missing role: err = %T %v, want AWSCallFailed", err, err)
	}
}
