// Package roles makes sure the two IAM roles EKS Connector needs exist: the
// service-linked role AWSServiceRoleForAmazonEKSConnector, and the agent role
// the connector's SSM agent assumes. In managed mode it creates and repairs
// the agent role; in existing mode it only reads and verifies it, making no
// IAM write call at all.
package roles

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// The service-linked role of EKS Connector.
const (
	ServiceLinkedRoleName    = "AWSServiceRoleForAmazonEKSConnector"
	ServiceLinkedRoleService = "eks-connector.amazonaws.com"
	ServiceLinkedRolePath    = "/aws-service-role/eks-connector.amazonaws.com/"
)

// IAMAPI lists the IAM operations this package uses. In existing mode only
// the read operations are called.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateServiceLinkedRole(ctx context.Context, in *iam.CreateServiceLinkedRoleInput, optFns ...func(*iam.Options)) (*iam.CreateServiceLinkedRoleOutput, error)
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(ctx context.Context, in *iam.UpdateAssumeRolePolicyInput, optFns ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	PutRolePermissionsBoundary(ctx context.Context, in *iam.PutRolePermissionsBoundaryInput, optFns ...func(*iam.Options)) (*iam.PutRolePermissionsBoundaryOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, optFns ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, optFns ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, optFns ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, optFns ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// Input is what the state machine passes (for logging; the roles are the
// same for every cluster).
type Input struct {
	ClusterName  string `json:"clusterName"`
	ExecutionArn string `json:"executionArn"`
}

// Result is the step's output.
type Result struct {
	AgentRoleArn             string   `json:"agentRoleArn"`
	ServiceLinkedRoleArn     string   `json:"serviceLinkedRoleArn"`
	ServiceLinkedRoleCreated bool     `json:"serviceLinkedRoleCreated"`
	AgentRoleCreated         bool     `json:"agentRoleCreated"`
	AgentRoleRepaired        bool     `json:"agentRoleRepaired"`
	Repairs                  []string `json:"repairs,omitempty"`
}

// AgentRoleInvalid: the agent role (existing mode) does not let the EKS
// Connector agent work. Missing lists what is missing.
type AgentRoleInvalid struct {
	RoleArn string
	Missing []string
}

func (e AgentRoleInvalid) Error() string {
	return fmt.Sprintf("agent role %s cannot serve the EKS Connector agent: missing %s; fix the role "+
		"(trust ssm.amazonaws.com for sts:AssumeRole, allow ssmmessages:CreateControlChannel on "+
		"arn:<partition>:eks:*:*:cluster/* and ssmmessages:CreateDataChannel, OpenDataChannel, "+
		"OpenControlChannel on *) or deploy the stack with AgentRoleMode=managed",
		e.RoleArn, strings.Join(e.Missing, "; "))
}

// AgentRolePathMismatch: the managed agent role exists, but at another path
// than AgentRolePath. IAM cannot move a role, so the workflow cannot repair
// this; it changes nothing.
type AgentRolePathMismatch struct {
	RoleName, RoleArn   string
	Found, ExpectedPath string
}

func (e AgentRolePathMismatch) Error() string {
	return fmt.Sprintf("the agent role %s exists at path %s (%s), but the stack's AgentRolePath is %s, and IAM cannot move a role "+
		"to another path; nothing was changed. Either deploy the stack with AgentRolePath=%s (the role is then checked and repaired "+
		"where it is), or use it as it is with AgentRoleMode=existing and ExistingAgentRoleArn=%s, or, if no registered cluster's agent "+
		"uses it, delete the role so that the next registration creates it at %s; then send Register Cluster again",
		e.RoleName, e.Found, e.RoleArn, e.ExpectedPath, e.Found, e.RoleArn, e.ExpectedPath)
}

// AgentRoleBoundaryNotFound: AgentRolePermissionsBoundary names a managed
// policy that does not exist, so IAM refuses to create the agent role with
// it (or to set it). Nothing was changed.
type AgentRoleBoundaryNotFound struct{ Boundary, Message string }

func (e AgentRoleBoundaryNotFound) Error() string {
	return fmt.Sprintf("the stack's AgentRolePermissionsBoundary %s is not a managed policy IAM can attach in this account (%s); "+
		"nothing was changed. Create that policy, or deploy the stack with the ARN of an existing one (or none), "+
		"then send Register Cluster again", e.Boundary, e.Message)
}

// AgentRoleBoundaryMismatch: the managed agent role has a permissions
// boundary other than AgentRolePermissionsBoundary. A boundary is a
// guardrail someone set on purpose, so the workflow does not replace it; it
// changes nothing.
type AgentRoleBoundaryMismatch struct {
	RoleName, RoleArn       string
	Found, ExpectedBoundary string
}

func (e AgentRoleBoundaryMismatch) Error() string {
	return fmt.Sprintf("the agent role %s (%s) has the permissions boundary %s, but the stack's AgentRolePermissionsBoundary is %s; "+
		"the workflow does not replace a boundary someone set, so nothing was changed. Either deploy the stack with "+
		"AgentRolePermissionsBoundary=%s, or, if %s is the boundary the role must have, set it yourself "+
		"(aws iam put-role-permissions-boundary --role-name %s --permissions-boundary %s), then send Register Cluster again",
		e.RoleName, e.RoleArn, e.Found, e.ExpectedBoundary, e.Found, e.ExpectedBoundary, e.RoleName, e.ExpectedBoundary)
}

// Roles ensures the roles for the given settings.
type Roles struct {
	IAM      IAMAPI
	Settings workflow.Settings
	Log      *slog.Logger
}

// NewHandler is the EnsureRoles function's lambdamain.Factory.
func NewHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	r := &Roles{IAM: iam.NewFromConfig(cfg), Settings: s, Log: log}
	return lambda.NewHandler(r.Handle), nil
}

// Handle runs the step. Errors are TransientAWSError, AWSCallFailed,
// AgentRoleInvalid (existing mode), AgentRolePathMismatch or
// AgentRoleBoundaryMismatch (managed mode), returned unwrapped.
func (r *Roles) Handle(ctx context.Context, in Input) (Result, error) {
	log := lambdamain.Logger(ctx, r.Log).With("cluster", in.ClusterName, "execution", in.ExecutionArn)
	var res Result
	var err error
	res.ServiceLinkedRoleArn, res.ServiceLinkedRoleCreated, err = r.serviceLinkedRole(ctx)
	if err != nil {
		return Result{}, err
	}
	if r.Settings.AgentRoleMode == workflow.RoleModeExisting {
		if err := r.verifyExisting(ctx, r.Settings.AgentRoleArn); err != nil {
			return Result{}, err
		}
		res.AgentRoleArn = r.Settings.AgentRoleArn
	} else {
		res.AgentRoleArn, res.AgentRoleCreated, res.Repairs, err = r.ensureManaged(ctx)
		if err != nil {
			return Result{}, err
		}
		res.AgentRoleRepaired = len(res.Repairs) > 0
	}
	log.Info("roles ready", "agentRoleArn", res.AgentRoleArn, "serviceLinkedRoleArn", res.ServiceLinkedRoleArn,
		"agentRoleCreated", res.AgentRoleCreated, "repairs", res.Repairs, "serviceLinkedRoleCreated", res.ServiceLinkedRoleCreated)
	return res, nil
}

// serviceLinkedRole reads the role, and creates it only if it is missing (and
// only in managed mode: existing mode makes no IAM write call; EKS creates
// the role itself on the first registration, and RegisterCluster says so
// clearly if it cannot).
func (r *Roles) serviceLinkedRole(ctx context.Context) (arn string, created bool, err error) {
	out, err := r.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(ServiceLinkedRoleName)})
	if err == nil {
		return aws.ToString(out.Role.Arn), false, nil
	}
	if !awserr.IsNotFound(err) {
		return "", false, awserr.Step("iam:GetRole", err)
	}
	if r.Settings.AgentRoleMode == workflow.RoleModeExisting {
		lambdamain.Logger(ctx, r.Log).Warn("service-linked role " + ServiceLinkedRoleName + " is missing; existing mode makes no IAM write, so EKS must create it on RegisterCluster")
		return "", false, nil
	}
	cr, err := r.IAM.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(ServiceLinkedRoleService)})
	switch {
	case err == nil:
		return aws.ToString(cr.Role.Arn), true, nil
	case awserr.IsServiceLinkedRoleTaken(err):
		// Created meanwhile (another Region, another execution): done.
		out, gerr := r.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(ServiceLinkedRoleName)})
		if gerr != nil {
			return "", false, awserr.Step("iam:GetRole", gerr)
		}
		return aws.ToString(out.Role.Arn), false, nil
	default:
		return "", false, awserr.Step("iam:CreateServiceLinkedRole", err)
	}
}

// ensureManaged creates the agent role, or restores what is missing from it.
func (r *Roles) ensureManaged(ctx context.Context) (arn string, created bool, repairs []string, err error) {
	name := r.Settings.AgentRoleName
	role, err := r.getRole(ctx, name)
	if err != nil {
		return "", false, nil, err
	}
	if role == nil {
		in := &iam.CreateRoleInput{
			RoleName:                 aws.String(name),
			Path:                     aws.String(r.Settings.AgentRolePath),
			AssumeRolePolicyDocument: aws.String(trustDocument()),
			Description:              aws.String("Assumed by the Amazon EKS Connector agent (SSM) on registered clusters; managed by eks-connector-registrar"),
		}
		if r.Settings.AgentRolePermissionBoundary != "" {
			in.PermissionsBoundary = aws.String(r.Settings.AgentRolePermissionBoundary)
		}
		out, cerr := r.IAM.CreateRole(ctx, in)
		switch {
		case cerr == nil:
			role, created = out.Role, true
		case awserr.IsAlreadyExists(cerr):
			// Another execution created it between our read and our create.
			if role, err = r.getRole(ctx, name); err != nil {
				return "", false, nil, err
			}
			if role == nil {
				return "", false, nil, awserr.TransientAWSError{Operation: "iam:CreateRole", Code: awserr.Code(cerr), Message: "role reported as existing but not readable yet"}
			}
		case awserr.IsBoundaryNotFound(cerr):
			return "", false, nil, AgentRoleBoundaryNotFound{Boundary: r.Settings.AgentRolePermissionBoundary, Message: awserr.Message(cerr)}
		default:
			return "", false, nil, awserr.Step("iam:CreateRole", cerr)
		}
	}
	arn = aws.ToString(role.Arn)
	partition := partitionOf(arn)

	if !created {
		// What cannot be repaired, or must not be, is checked before any
		// write: a refused role is left exactly as it was found.
		if err := r.checkManaged(role); err != nil {
			return "", false, nil, err
		}
		if want := r.Settings.AgentRolePermissionBoundary; want != "" && boundaryOf(role) == "" {
			_, perr := r.IAM.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
				RoleName: aws.String(name), PermissionsBoundary: aws.String(want),
			})
			if awserr.IsBoundaryNotFound(perr) {
				return "", false, nil, AgentRoleBoundaryNotFound{Boundary: want, Message: awserr.Message(perr)}
			}
			if perr != nil {
				return "", false, nil, awserr.Step("iam:PutRolePermissionsBoundary", perr)
			}
			repairs = append(repairs, "permissions boundary: set "+want)
		}
		trust, perr := parseDocument(aws.ToString(role.AssumeRolePolicyDocument))
		if perr != nil {
			return "", false, nil, awserr.AWSCallFailed{Operation: "iam:GetRole", Message: "trust policy of " + arn + " cannot be read: " + perr.Error()}
		}
		if !trust.trusts(agentService) {
			_, uerr := r.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName:       aws.String(name),
				PolicyDocument: aws.String(trust.withStatements(trustStatement())),
			})
			if uerr != nil {
				return "", false, nil, awserr.Step("iam:UpdateAssumeRolePolicy", uerr)
			}
			repairs = append(repairs, "trust policy: added "+agentService+" sts:AssumeRole")
		}
	}

	doc, found, err := r.inlinePolicy(ctx, name, InlinePolicyName)
	if err != nil {
		return "", false, nil, err
	}
	var extra []string
	if found {
		var add []string
		for _, g := range agentGrants(partition) {
			if !doc.allows(g.Action, g.Resource) {
				add = append(add, g.Action)
			}
		}
		var stmts []json.RawMessage
		if contains(add, "ssmmessages:CreateControlChannel") {
			stmts = append(stmts, controlChannelStatement(partition))
		}
		if len(add) > 0 && !(len(add) == 1 && add[0] == "ssmmessages:CreateControlChannel") {
			stmts = append(stmts, dataChannelStatement())
		}
		if len(stmts) > 0 {
			extra = add
			if err := r.putInline(ctx, name, doc.withStatements(stmts...)); err != nil {
				return "", false, nil, err
			}
		}
	} else {
		if err := r.putInline(ctx, name, agentPolicy(partition)); err != nil {
			return "", false, nil, err
		}
		if !created {
			extra = []string{"inline policy " + InlinePolicyName}
		}
	}
	if len(extra) > 0 {
		repairs = append(repairs, "inline policy "+InlinePolicyName+": added "+strings.Join(extra, ", "))
	}
	return arn, created, repairs, nil
}

// checkManaged refuses an existing managed role whose path differs from
// AgentRolePath (IAM cannot move a role), or whose permissions boundary
// differs from a configured AgentRolePermissionsBoundary (someone's
// guardrail). With no boundary configured, whatever boundary the role has
// is left alone; a missing one is restored by the caller.
func (r *Roles) checkManaged(role *iamtypes.Role) error {
	name, arn := aws.ToString(role.RoleName), aws.ToString(role.Arn)
	if name == "" {
		name = r.Settings.AgentRoleName
	}
	if got, want := aws.ToString(role.Path), r.Settings.AgentRolePath; got != want {
		return AgentRolePathMismatch{RoleName: name, RoleArn: arn, Found: got, ExpectedPath: want}
	}
	if got, want := boundaryOf(role), r.Settings.AgentRolePermissionBoundary; want != "" && got != "" && got != want {
		return AgentRoleBoundaryMismatch{RoleName: name, RoleArn: arn, Found: got, ExpectedBoundary: want}
	}
	return nil
}

// boundaryOf is the ARN of the role's permissions boundary, or "".
func boundaryOf(role *iamtypes.Role) string {
	if role.PermissionsBoundary == nil {
		return ""
	}
	return aws.ToString(role.PermissionsBoundary.PermissionsBoundaryArn)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (r *Roles) putInline(ctx context.Context, role, doc string) error {
	_, err := r.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String(InlinePolicyName), PolicyDocument: aws.String(doc),
	})
	return awserr.Step("iam:PutRolePolicy", err)
}

// getRole returns the role, or nil if it does not exist.
func (r *Roles) getRole(ctx context.Context, name string) (*iamtypes.Role, error) {
	out, err := r.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if awserr.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awserr.Step("iam:GetRole", err)
	}
	return out.Role, nil
}

func (r *Roles) inlinePolicy(ctx context.Context, role, policy string) (document, bool, error) {
	out, err := r.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policy)})
	if awserr.IsNotFound(err) {
		return document{}, false, nil
	}
	if err != nil {
		return document{}, false, awserr.Step("iam:GetRolePolicy", err)
	}
	d, perr := parseDocument(aws.ToString(out.PolicyDocument))
	if perr != nil {
		return document{}, false, awserr.AWSCallFailed{Operation: "iam:GetRolePolicy", Message: "policy " + policy + " of role " + role + " cannot be read: " + perr.Error()}
	}
	return d, true, nil
}

// verifyExisting checks a role the user manages; it only reads.
func (r *Roles) verifyExisting(ctx context.Context, arn string) error {
	name := roleNameOf(arn)
	if name == "" {
		return AgentRoleInvalid{RoleArn: arn, Missing: []string{"a valid IAM role ARN (arn:<partition>:iam::<account>:role/<path/>name)"}}
	}
	role, err := r.getRole(ctx, name)
	if err != nil {
		return err
	}
	if role == nil {
		return AgentRoleInvalid{RoleArn: arn, Missing: []string{"the role itself (no role named " + name + " in this account)"}}
	}
	if got := aws.ToString(role.Arn); got != arn {
		return AgentRoleInvalid{RoleArn: arn, Missing: []string{"a role with exactly this ARN (the role named " + name + " is " + got + ")"}}
	}
	var missing []string
	trust, perr := parseDocument(aws.ToString(role.AssumeRolePolicyDocument))
	if perr != nil || !trust.trusts(agentService) {
		missing = append(missing, "trust policy statement allowing "+agentService+" to call sts:AssumeRole")
	}
	docs, err := r.allPolicies(ctx, name)
	if err != nil {
		return err
	}
	for _, m := range missingGrants(partitionOf(arn), docs) {
		missing = append(missing, "permission "+m)
	}
	if len(missing) > 0 {
		return AgentRoleInvalid{RoleArn: arn, Missing: missing}
	}
	return nil
}

// allPolicies reads every inline and attached managed policy of the role.
func (r *Roles) allPolicies(ctx context.Context, role string) ([]document, error) {
	var docs []document
	lp := iam.NewListRolePoliciesPaginator(r.IAM, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return nil, awserr.Step("iam:ListRolePolicies", err)
		}
		for _, pn := range page.PolicyNames {
			d, found, err := r.inlinePolicy(ctx, role, pn)
			if err != nil {
				return nil, err
			}
			if found {
				docs = append(docs, d)
			}
		}
	}
	ap := iam.NewListAttachedRolePoliciesPaginator(r.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return nil, awserr.Step("iam:ListAttachedRolePolicies", err)
		}
		for _, p := range page.AttachedPolicies {
			pol, err := r.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: p.PolicyArn})
			if err != nil {
				return nil, awserr.Step("iam:GetPolicy", err)
			}
			v, err := r.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
			if err != nil {
				return nil, awserr.Step("iam:GetPolicyVersion", err)
			}
			d, perr := parseDocument(aws.ToString(v.PolicyVersion.Document))
			if perr != nil {
				return nil, awserr.AWSCallFailed{Operation: "iam:GetPolicyVersion", Message: "policy " + aws.ToString(p.PolicyArn) + " cannot be read: " + perr.Error()}
			}
			docs = append(docs, d)
		}
	}
	return docs, nil
}
