package registration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// EKSAPI is what RegisterCluster uses of EKS.
type EKSAPI interface {
	EKSDescriber
	RegisterCluster(ctx context.Context, in *eks.RegisterClusterInput, optFns ...func(*eks.Options)) (*eks.RegisterClusterOutput, error)
}

// SSMAPI is what RegisterCluster uses of SSM.
type SSMAPI interface {
	SSMReader
	SSMWriter
}

// RegisterInput is RegisterCluster's input.
type RegisterInput struct {
	// Execution is $$.Execution.Input, the trigger's RegistrationInput.
	Execution    workflow.RegistrationInput `json:"execution"`
	ExecutionArn string                     `json:"executionArn"`
	// Attempt is the state machine's attempt counter (1, then +1 per
	// replaced registration); with ExecutionArn it makes the request token.
	Attempt      int    `json:"attempt"`
	AgentRoleArn string `json:"agentRoleArn"`
}

// Registration describes a registration waiting for its agent. It is
// RegisterCluster's output, and CheckCluster's for PendingOurs. It never
// holds the activation code: only the name of the parameter that does.
type Registration struct {
	ClusterName      string `json:"clusterName"`
	ClusterArn       string `json:"clusterArn"`
	ActivationID     string `json:"activationId"`
	ActivationExpiry string `json:"activationExpiry"` // RFC 3339, from EKS
	RegisteredAt     string `json:"registeredAt"`     // RFC 3339, EKS createdAt
	Region           string `json:"region"`
	Provider         string `json:"provider"`
	Attempt          int    `json:"attempt"`
	CodeParameter    string `json:"codeParameter"`
	InstallCommand   string `json:"installCommand"`
}

func (a Activation) registration(cluster, codeParameter string, consoleArns []string) Registration {
	r := Registration{
		ClusterName: cluster, ClusterArn: a.ClusterArn, ActivationID: a.ActivationID,
		ActivationExpiry: a.ActivationExpiry.UTC().Format(time.RFC3339), Region: a.Region,
		Provider: a.Provider, Attempt: a.Attempt, CodeParameter: codeParameter,
	}
	if !a.RegisteredAt.IsZero() {
		r.RegisteredAt = a.RegisteredAt.UTC().Format(time.RFC3339)
	}
	r.InstallCommand = InstallCommand(r.ActivationID, r.Region, codeParameter, consoleArns)
	return r
}

// RequestToken is RegisterCluster's clientRequestToken for an execution's
// attempt: the same on every retry of the step, new for a new attempt.
// 32 hex characters fit every token charset and length AWS uses.
func RequestToken(executionArn string, attempt int) string {
	sum := sha256.Sum256([]byte(executionArn + "#" + strconv.Itoa(attempt)))
	return hex.EncodeToString(sum[:16])
}

// Registrar runs RegisterCluster.
type Registrar struct {
	EKS      EKSAPI
	SSM      SSMAPI
	Settings workflow.Settings
	Region   string
	Log      *slog.Logger
	Now      func() time.Time // only for the intent's informational writtenAt
}

// NewRegisterHandler is the RegisterCluster function's lambdamain.Factory.
func NewRegisterHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	r := &Registrar{EKS: eks.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Settings: s, Region: cfg.Region, Log: log, Now: now}
	return lambda.NewHandler(r.Handle), nil
}

// Handle runs the step. Errors: RolePropagationDelay, ServiceLinkedRoleMissing,
// RegisteredClustersQuotaExceeded, ClusterOwnedElsewhere, ActivationCodeLost,
// ActivationCodeStoreRefused,
// StepInputInvalid, TransientAWSError, AWSCallFailed.
func (r *Registrar) Handle(ctx context.Context, in RegisterInput) (Registration, error) {
	cluster := in.Execution.ClusterName
	var problems []string
	if cluster == "" {
		problems = append(problems, "execution.clusterName is empty")
	}
	if in.ExecutionArn == "" {
		problems = append(problems, "executionArn is empty")
	}
	if in.AgentRoleArn == "" {
		problems = append(problems, "agentRoleArn is empty")
	}
	if in.Attempt < 1 {
		problems = append(problems, "attempt must be 1 or more")
	}
	if len(problems) > 0 {
		return Registration{}, awserr.StepInputInvalid{Step: "RegisterCluster", Problems: problems}
	}
	log := lambdamain.Logger(ctx, r.Log).With("cluster", cluster, "execution", in.ExecutionArn, "attempt", in.Attempt)
	p := r.Settings.Params()
	codeParam := p.ActivationCode(cluster)

	// A rerun of a step that finished everything but reporting back.
	rec, recFound, err := ReadActivation(ctx, r.SSM, p, cluster)
	if err != nil {
		return Registration{}, err
	}
	if recFound && rec.ExecutionArn == in.ExecutionArn && rec.Attempt == in.Attempt {
		if done, err := r.alreadyDone(ctx, cluster, rec); err != nil {
			return Registration{}, err
		} else if done {
			log.Info("this attempt already registered and stored its code; reporting it again", "activationId", rec.ActivationID)
			return rec.registration(cluster, codeParam, in.Execution.ConsoleAccessArns), nil
		}
	}

	// Nothing is written unless this execution still holds the cluster: a
	// deregistration may have taken it over since CheckCluster.
	holder, err := LockHolder(ctx, r.SSM, p, cluster)
	if err != nil {
		return Registration{}, err
	}
	if holder != in.ExecutionArn {
		return Registration{}, RegistrationSuperseded{Cluster: cluster, Holder: holder}
	}

	prior, priorFound, err := ReadIntent(ctx, r.SSM, p, cluster)
	if err != nil {
		return Registration{}, err
	}
	// A retry of this same attempt keeps the intent it wrote first: its
	// LastModifiedDate must stay before the registration that retry may
	// have created (the ownership rule compares the two).
	if !(priorFound && prior.ExecutionArn == in.ExecutionArn && prior.Attempt == in.Attempt) {
		if err := writeJSON(ctx, r.SSM, p.Intent(cluster), Intent{Cluster: cluster, ExecutionArn: in.ExecutionArn, Attempt: in.Attempt, WrittenAt: r.Now().UTC()}); err != nil {
			return Registration{}, err
		}
	}

	req := &eks.RegisterClusterInput{
		Name:               aws.String(cluster),
		ClientRequestToken: aws.String(RequestToken(in.ExecutionArn, in.Attempt)),
		ConnectorConfig: &ekstypes.ConnectorConfigRequest{
			Provider: ekstypes.ConnectorConfigProvider(in.Execution.Provider),
			RoleArn:  aws.String(in.AgentRoleArn),
		},
	}
	if len(in.Execution.Tags) > 0 {
		req.Tags = in.Execution.Tags
	}
	out, err := r.EKS.RegisterCluster(ctx, req)
	switch {
	case err == nil:
	case awserr.IsRolePropagation(err):
		return Registration{}, RolePropagationDelay{Cluster: cluster, RoleArn: in.AgentRoleArn, Message: awserr.Message(err)}
	case awserr.IsServiceLinkedRoleMissing(err):
		return Registration{}, ServiceLinkedRoleMissing{Cluster: cluster, Message: awserr.Message(err)}
	case awserr.IsQuotaExceeded(err):
		return Registration{}, RegisteredClustersQuotaExceeded{Cluster: cluster, Region: r.Region}
	case awserr.IsResourceInUse(err):
		// The name is taken. It is ours (an earlier run of this execution
		// registered, then died before storing the code, or its store
		// failed) only by the ownership rule: the activation record, or this
		// execution's intent written before the cluster was created.
		// The intent judged is the one read before this run wrote its own:
		// only an intent of this execution from before this run can prove
		// a registration that exists already.
		ours, err := r.ownsExisting(ctx, cluster, in.ExecutionArn, prior, priorFound)
		if err != nil {
			return Registration{}, err
		}
		if ours {
			return Registration{}, ActivationCodeLost{Cluster: cluster, Reason: "a registration by this execution exists but its code was never stored"}
		}
		return Registration{}, ClusterOwnedElsewhere{Cluster: cluster}
	default:
		return Registration{}, awserr.Step("eks:RegisterCluster", err)
	}

	cl := out.Cluster
	if cl == nil || cl.ConnectorConfig == nil || aws.ToString(cl.ConnectorConfig.ActivationId) == "" {
		return Registration{}, ActivationCodeLost{Cluster: cluster, Reason: "RegisterCluster answered without a connector configuration"}
	}
	cc := cl.ConnectorConfig
	code := NewActivationCode(aws.ToString(cc.ActivationCode))
	cc.ActivationCode = nil // from here on only the redacting type holds it
	if code.Empty() {
		// A replayed request token answers without the code.
		return Registration{}, ActivationCodeLost{Cluster: cluster, Reason: "RegisterCluster answered without an activation code (a replayed request)"}
	}
	put := &ssm.PutParameterInput{
		Name: aws.String(codeParam), Value: aws.String(code.Reveal()), Type: ssmtypes.ParameterTypeSecureString,
		Overwrite:   aws.Bool(true),
		Description: aws.String("EKS Connector activation code of cluster " + cluster + "; deleted once the agent connects"),
	}
	if r.Settings.KMSKeyID != "" {
		put.KeyId = aws.String(r.Settings.KMSKeyID)
	}
	if _, err := r.SSM.PutParameter(ctx, put); err != nil {
		msg := strings.ReplaceAll(awserr.Message(err), code.Reveal(), "<redacted>")
		if !awserr.IsTransient(err) {
			// Permanent: a new registration's code would be refused too.
			return Registration{}, ActivationCodeStoreRefused{Cluster: cluster, Parameter: codeParam, KeyID: r.Settings.KMSKeyID,
				KeyProblem: awserr.IsKeyUnusable(err), Code: awserr.Code(err), Message: msg}
		}
		return Registration{}, ActivationCodeLost{Cluster: cluster, Reason: "storing it in " + codeParam + " failed transiently (" +
			awserr.Code(err) + ": " + msg + ")"}
	}
	act := Activation{
		ActivationID: aws.ToString(cc.ActivationId), Region: r.Region, Provider: in.Execution.Provider,
		ExecutionArn: in.ExecutionArn, ClusterArn: aws.ToString(cl.Arn), Attempt: in.Attempt,
	}
	if cc.ActivationExpiry != nil {
		act.ActivationExpiry = cc.ActivationExpiry.UTC()
	}
	if cl.CreatedAt != nil {
		act.RegisteredAt = cl.CreatedAt.UTC()
	}
	if err := writeJSON(ctx, r.SSM, p.Activation(cluster), act); err != nil {
		return Registration{}, ActivationCodeLost{Cluster: cluster, Reason: "storing the activation record failed: " + err.Error()}
	}
	log.Info("registered; activation code stored", "activationId", act.ActivationID, "activationExpiry", act.ActivationExpiry, "codeParameter", codeParam)
	return act.registration(cluster, codeParam, in.Execution.ConsoleAccessArns), nil
}

// ownsExisting applies Ours to the cluster that holds the name.
func (r *Registrar) ownsExisting(ctx context.Context, cluster, executionArn string, intent Intent, intentFound bool) (bool, error) {
	out, err := r.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if awserr.IsNotFound(err) {
		// Gone meanwhile: a retry of the step registers afresh.
		return false, awserr.TransientAWSError{Operation: "eks:RegisterCluster", Code: "ResourceInUseException", Message: "the cluster holding the name is gone; retry"}
	}
	if err != nil {
		return false, awserr.Step("eks:DescribeCluster", err)
	}
	ev := Evidence{Intent: intent, IntentFound: intentFound}
	if ev.Activation, ev.ActivationFound, err = ReadActivation(ctx, r.SSM, r.Settings.Params(), cluster); err != nil {
		return false, err
	}
	return Ours(out.Cluster, ev, executionArn), nil
}

// alreadyDone: the cluster exists with the recorded activation. The
// activation record is written only after the code's PutParameter
// succeeded, so the record alone proves the code is stored; the code
// parameter itself is never read.
func (r *Registrar) alreadyDone(ctx context.Context, cluster string, rec Activation) (bool, error) {
	out, err := r.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if awserr.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, awserr.Step("eks:DescribeCluster", err)
	}
	cc := out.Cluster.ConnectorConfig
	return cc != nil && aws.ToString(cc.ActivationId) == rec.ActivationID, nil
}
