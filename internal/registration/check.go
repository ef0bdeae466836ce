// Package registration holds the steps that find out what exists for a
// cluster name (CheckCluster) and that register it (RegisterCluster).
package registration

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// EKSDescriber is the EKS read operation.
type EKSDescriber interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

// States CheckCluster reports (the state machine's Choice compares them).
const (
	StateAbsent      = "Absent"      // nothing of that name: register
	StateActive      = "Active"      // connected and ACTIVE: done, nothing changes
	StatePendingOurs = "PendingOurs" // our registration, code stored: resume waiting
	StateLostOurs    = "LostOurs"    // our registration, code not stored: replace it
	StateExpiredOurs = "ExpiredOurs" // our registration, activation expired: replace it
	StateDeleting    = "Deleting"    // being deregistered: wait and check again
	StateUpdating    = "Updating"    // being updated: wait and check again
	// StateSuperseded: the cluster's lock does not name this execution (a
	// deregistration took it over before this execution began, or another
	// registration recovered a lock this one claimed but did not start
	// within the grace period). This execution must change nothing.
	StateSuperseded = "Superseded"
)

// Modes of CheckCluster.
const (
	ModeExisting = "existing" // default: what exists for this name
	ModeGone     = "gone"     // after a deregistration: is it gone yet
)

// CheckInput is CheckCluster's input.
type CheckInput struct {
	Mode              string   `json:"mode,omitempty"`
	ClusterName       string   `json:"clusterName"`
	ExecutionArn      string   `json:"executionArn"`
	ConsoleAccessArns []string `json:"consoleAccessArns,omitempty"`
	// Now is $$.State.EnteredTime: an activation past its expiry is dead even
	// if EKS still says PENDING.
	Now string `json:"now,omitempty"`
}

// CheckResult is CheckCluster's output.
type CheckResult struct {
	State string `json:"state,omitempty"`
	Gone  bool   `json:"gone"`
	// LockHolder is the execution that holds the cluster's lock instead of
	// this one (State Superseded); "" when no one does.
	LockHolder       string `json:"lockHolder"`
	Status           string `json:"status,omitempty"`
	ClusterArn       string `json:"clusterArn,omitempty"`
	ActivationID     string `json:"activationId,omitempty"`
	ActivationExpiry string `json:"activationExpiry,omitempty"`
	CodeParameter    string `json:"codeParameter,omitempty"`
	// Registration is set for PendingOurs: the same shape RegisterCluster
	// returns, so the state machine resumes with it.
	Registration *Registration `json:"registration,omitempty"`
}

// Checker runs CheckCluster.
type Checker struct {
	EKS    EKSDescriber
	SSM    SSMReader
	Params workflow.Parameters
	Region string
	Log    *slog.Logger
}

// NewCheckHandler is the CheckCluster function's lambdamain.Factory.
func NewCheckHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	c := &Checker{EKS: eks.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Params: s.Params(), Region: cfg.Region, Log: log}
	return lambda.NewHandler(c.Handle), nil
}

// Handle runs the step. Errors: ManagedClusterExists, ClusterOwnedElsewhere,
// StepInputInvalid, TransientAWSError, AWSCallFailed.
func (c *Checker) Handle(ctx context.Context, in CheckInput) (CheckResult, error) {
	if in.ClusterName == "" {
		return CheckResult{}, awserr.StepInputInvalid{Step: "CheckCluster", Problems: []string{"clusterName is empty"}}
	}
	log := lambdamain.Logger(ctx, c.Log).With("cluster", in.ClusterName, "execution", in.ExecutionArn)
	if in.Mode != ModeGone {
		// An execution proceeds only while it holds the cluster's lock: the
		// trigger writes the lock before StartExecution, so a lock naming
		// someone else means this execution was superseded before it began.
		holder, err := LockHolder(ctx, c.SSM, c.Params, in.ClusterName)
		if err != nil {
			return CheckResult{}, err
		}
		if holder != in.ExecutionArn {
			log.Info("the cluster's lock is not held by this execution; changing nothing", "lockHolder", holder)
			return CheckResult{State: StateSuperseded, LockHolder: holder}, nil
		}
	}
	out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(in.ClusterName)})
	if awserr.IsNotFound(err) {
		log.Info("no cluster of that name", "mode", in.Mode)
		return CheckResult{State: StateAbsent, Gone: true}, nil
	}
	if err != nil {
		return CheckResult{}, awserr.Step("eks:DescribeCluster", err)
	}
	cl := out.Cluster
	res := CheckResult{Status: string(cl.Status), ClusterArn: aws.ToString(cl.Arn)}
	if in.Mode == ModeGone {
		log.Info("cluster not gone yet", "status", res.Status)
		return res, nil
	}
	cc := cl.ConnectorConfig
	if cc == nil {
		return CheckResult{}, ManagedClusterExists{Cluster: in.ClusterName, ClusterArn: res.ClusterArn}
	}
	res.ActivationID = aws.ToString(cc.ActivationId)
	if cc.ActivationExpiry != nil {
		res.ActivationExpiry = cc.ActivationExpiry.UTC().Format(time.RFC3339)
	}
	switch cl.Status {
	case ekstypes.ClusterStatusActive:
		res.State = StateActive
		log.Info("cluster is already registered and active")
		return res, nil
	case ekstypes.ClusterStatusDeleting:
		res.State = StateDeleting
		return res, nil
	case ekstypes.ClusterStatusUpdating:
		res.State = StateUpdating
		return res, nil
	}

	rec, recFound, err := ReadActivation(ctx, c.SSM, c.Params, in.ClusterName)
	if err != nil {
		return CheckResult{}, err
	}
	intent, intentFound, err := ReadIntent(ctx, c.SSM, c.Params, in.ClusterName)
	if err != nil {
		return CheckResult{}, err
	}
	ours := Ours(cl, Evidence{Activation: rec, ActivationFound: recFound, Intent: intent, IntentFound: intentFound}, in.ExecutionArn)
	if !ours {
		return CheckResult{}, ClusterOwnedElsewhere{Cluster: in.ClusterName, Status: res.Status, ActivationID: res.ActivationID}
	}
	now, _ := time.Parse(time.RFC3339Nano, in.Now)
	expired := cl.Status == ekstypes.ClusterStatusFailed ||
		(!now.IsZero() && cc.ActivationExpiry != nil && !now.Before(*cc.ActivationExpiry))
	if expired {
		res.State = StateExpiredOurs
		log.Info("our earlier registration expired; it will be replaced", "activationId", res.ActivationID)
		return res, nil
	}
	res.CodeParameter = c.Params.ActivationCode(in.ClusterName)
	// "Code stored" is decided from the activation record, never by reading
	// the code parameter (no function may read it): RegisterCluster writes
	// the record only after the code's PutParameter succeeded, so a record
	// naming this activation proves the code was stored.
	codeStored := recFound && rec.ActivationID == res.ActivationID
	if !codeStored {
		res.State = StateLostOurs
		log.Info("our earlier registration has no stored activation code; it will be replaced", "activationId", res.ActivationID)
		return res, nil
	}
	res.State = StatePendingOurs
	reg := rec.registration(in.ClusterName, res.CodeParameter, in.ConsoleAccessArns)
	if reg.Region == "" {
		reg.Region = c.Region
	}
	if reg.RegisteredAt == "" && cl.CreatedAt != nil {
		reg.RegisteredAt = cl.CreatedAt.UTC().Format(time.RFC3339)
	}
	reg.InstallCommand = InstallCommand(reg.ActivationID, reg.Region, reg.CodeParameter, in.ConsoleAccessArns)
	res.Registration = &reg
	log.Info("resuming the wait for our pending registration", "activationId", res.ActivationID)
	return res, nil
}

// LockHolder is the execution ARN the cluster's lock names ("" if none).
// Only an execution the lock names may change anything for the cluster.
func LockHolder(ctx context.Context, c SSMReader, p workflow.Parameters, cluster string) (string, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(p.Lock(cluster))})
	if awserr.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", awserr.Step("ssm:GetParameter", err)
	}
	if out.Parameter == nil {
		return "", nil
	}
	return aws.ToString(out.Parameter.Value), nil
}
