package cleanup

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/registration"
)

// CompleteInput is CompleteRegistration's input.
type CompleteInput struct {
	ClusterName  string `json:"clusterName"`
	ExecutionArn string `json:"executionArn"`
	// Provider and ClusterArn fill the event when no activation record exists
	// (a cluster found ACTIVE that this project did not register).
	Provider   string `json:"provider,omitempty"`
	ClusterArn string `json:"clusterArn,omitempty"`
	// ActivatedAt is the service time the activation was seen
	// ($$.State.EnteredTime of that check).
	ActivatedAt       string   `json:"activatedAt,omitempty"`
	InstanceIDs       []string `json:"instanceIds,omitempty"`
	AlreadyRegistered bool     `json:"alreadyRegistered,omitempty"`
}

// Completion is CompleteRegistration's output and the "Cluster Registered"
// event's detail.
type Completion struct {
	ClusterName           string   `json:"clusterName"`
	ClusterArn            string   `json:"clusterArn"`
	Provider              string   `json:"provider"`
	InstanceIDs           []string `json:"instanceIds"`
	TimeToActivateSeconds *int64   `json:"timeToActivateSeconds,omitempty"`
	AlreadyRegistered     bool     `json:"alreadyRegistered"`
	DeletedCodeParameter  string   `json:"deletedCodeParameter,omitempty"`
	ActivationID          string   `json:"activationId,omitempty"`
}

// NewCompleteHandler is the CompleteRegistration function's lambdamain.Factory.
func NewCompleteHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	c, err := newCleaner(cfg, getenv, log)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(c.Complete), nil
}

// Complete deletes the stored activation code (useless once the agent is in,
// and a risk to keep) and the intent, keeps the non-secret activation record,
// and releases the lock. Errors: TransientAWSError, AWSCallFailed.
func (c *Cleaner) Complete(ctx context.Context, in CompleteInput) (Completion, error) {
	if in.ClusterName == "" || in.ExecutionArn == "" {
		return Completion{}, awserr.StepInputInvalid{Step: "CompleteRegistration", Problems: []string{"clusterName and executionArn are required"}}
	}
	out, err := c.finish(ctx, in)
	if err != nil {
		return Completion{}, err
	}
	if err := c.Release(ctx, in.ClusterName, in.ExecutionArn); err != nil {
		return Completion{}, awserr.Step("ssm:DeleteParameter (lock release)", err)
	}
	lambdamain.Logger(ctx, c.Log).Info("registration complete", "cluster", in.ClusterName, "execution", in.ExecutionArn, "instances", out.InstanceIDs,
		"deletedCodeParameter", out.DeletedCodeParameter, "alreadyRegistered", out.AlreadyRegistered)
	return out, nil
}

// finish is Complete without the lock release: Ended announces the
// registration before it gives up the lock (see Ended).
func (c *Cleaner) finish(ctx context.Context, in CompleteInput) (Completion, error) {
	cluster := in.ClusterName
	out := Completion{ClusterName: cluster, ClusterArn: in.ClusterArn, Provider: in.Provider, InstanceIDs: in.InstanceIDs, AlreadyRegistered: in.AlreadyRegistered}
	if out.InstanceIDs == nil {
		out.InstanceIDs = []string{}
	}
	rec, found, err := registration.ReadActivation(ctx, c.SSM, c.Params, cluster)
	if err != nil {
		return Completion{}, err
	}
	if found {
		out.ActivationID = rec.ActivationID
		if rec.ClusterArn != "" {
			out.ClusterArn = rec.ClusterArn
		}
		if rec.Provider != "" {
			out.Provider = rec.Provider
		}
		if at, err := time.Parse(time.RFC3339Nano, in.ActivatedAt); err == nil && !rec.RegisteredAt.IsZero() && !in.AlreadyRegistered {
			secs := int64(at.Sub(rec.RegisteredAt).Round(time.Second) / time.Second)
			out.TimeToActivateSeconds = &secs
		}
	}
	code := c.Params.ActivationCode(cluster)
	del, err := c.SSM.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{code, c.Params.Intent(cluster)}})
	if err != nil {
		return Completion{}, awserr.Step("ssm:DeleteParameters", err)
	}
	for _, n := range del.DeletedParameters {
		if n == code {
			out.DeletedCodeParameter = code
		}
	}
	return out, nil
}
