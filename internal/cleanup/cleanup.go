// Package cleanup holds the steps that end a registration: on activation
// (CompleteRegistration: drop the stored code, release the lock) and on
// failure or deregistration (Cleanup: deregister, remove the SSM activation
// and its managed instances, delete the stored parameters, release the lock).
package cleanup

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/lock"
	"github.com/platform/eks-connector-registrar/internal/registration"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// EKSAPI is what the cleanup steps use of EKS.
type EKSAPI interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	DeregisterCluster(ctx context.Context, in *eks.DeregisterClusterInput, optFns ...func(*eks.Options)) (*eks.DeregisterClusterOutput, error)
}

// SSMAPI is what the cleanup steps use of SSM (the lock is released through
// ReleaseFunc).
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error)
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
	DeleteActivation(ctx context.Context, in *ssm.DeleteActivationInput, optFns ...func(*ssm.Options)) (*ssm.DeleteActivationOutput, error)
	DeregisterManagedInstance(ctx context.Context, in *ssm.DeregisterManagedInstanceInput, optFns ...func(*ssm.Options)) (*ssm.DeregisterManagedInstanceOutput, error)
}

// EventsAPI is what the Cleanup function uses of EventBridge: the outcome
// event of a registration that ended without its own cleanup (Ended).
type EventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// ReleaseFunc releases the cluster's lock if executionArn holds it
// (lock.Release, bound to the SSM client and the parameter layout).
type ReleaseFunc func(ctx context.Context, cluster, executionArn string) error

// Modes of Cleanup.
const (
	// ModeCompensate undoes a failed registration of ours: deregister it
	// (unless it turned ACTIVE meanwhile: then it is kept), remove its SSM
	// activation and instances, delete the stored parameters, release the lock.
	ModeCompensate = "compensate"
	// ModeDiscard removes a registration whose code was lost, keeping the
	// lock and the intent: the state machine registers again.
	ModeDiscard = "discard"
	// ModeDeregister is the user's "Deregister Cluster": whoever registered it.
	ModeDeregister = "deregister"
	// ModeRelease only deletes this execution's intent and releases the lock
	// (failures before anything was registered).
	ModeRelease = "release"
)

// StepError is the {Error, Cause} a Catch puts in the state.
type StepError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Input is Cleanup's input.
type Input struct {
	Mode         string `json:"mode"`
	ClusterName  string `json:"clusterName"`
	ExecutionArn string `json:"executionArn"`
	// ReleaseLock overrides the mode's default (true except in discard).
	ReleaseLock *bool `json:"releaseLock,omitempty"`
	// Error is why the registration failed; it becomes Reason.
	Error *StepError `json:"error,omitempty"`
	// CleanupError is set when an earlier cleanup failed and this one only
	// releases the lock; Reason then says what may be left.
	CleanupError *StepError `json:"cleanupError,omitempty"`
	// Now is $$.State.EnteredTime (the activation time if the cluster is
	// found ACTIVE).
	Now string `json:"now,omitempty"`
	// Previous is what an earlier pass of the same execution removed (the
	// deregistration's takeover path deregisters, waits for the stopped
	// registration's in-flight Lambda, then checks again). The summary then
	// reports what both passes removed, so "Cluster Deregistered" says what
	// the deregistration did, not only what its re-check found.
	Previous *Removed `json:"previous,omitempty"`
}

// Removed is the part of a Summary that says what a pass removed.
type Removed struct {
	Deregistered          bool     `json:"deregistered"`
	ActivationIDs         []string `json:"activationIds"`
	InstancesDeregistered []string `json:"instancesDeregistered"`
	ParametersDeleted     []string `json:"parametersDeleted"`
}

// Summary is Cleanup's output.
type Summary struct {
	Mode                  string   `json:"mode"`
	ClusterName           string   `json:"clusterName"`
	Deregistered          bool     `json:"deregistered"`
	KeptActive            bool     `json:"keptActive"`
	LeftAlone             string   `json:"leftAlone,omitempty"`
	ActivationDeleted     bool     `json:"activationDeleted"`
	ActivationIDs         []string `json:"activationIds"`
	InstancesDeregistered []string `json:"instancesDeregistered"`
	ParametersDeleted     []string `json:"parametersDeleted"`
	LockReleased          bool     `json:"lockReleased"`
	// For KeptActive: the evidence CompleteRegistration reports.
	InstanceIDs []string `json:"instanceIds"`
	CheckedAt   string   `json:"checkedAt,omitempty"`
	// Error and Reason describe the failure for the failed event and the
	// Fail state (empty in deregister mode without an error).
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Published is the detail-type of the event this invocation put on the
	// bus (only Ended publishes; the state machines publish their own).
	Published string `json:"published,omitempty"`
}

// Cleaner runs Cleanup and CompleteRegistration.
type Cleaner struct {
	EKS     EKSAPI
	SSM     SSMAPI
	Release ReleaseFunc
	Params  workflow.Parameters
	Log     *slog.Logger
	// Events, Bus and Source publish Ended's outcome event on the stack's
	// bus (EVENT_BUS_NAME, EVENT_SOURCE), as the state machines do.
	Events      EventsAPI
	Bus, Source string
}

func newCleaner(cfg aws.Config, getenv func(string) string, log *slog.Logger) (*Cleaner, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	sc := ssm.NewFromConfig(cfg)
	p := s.Params()
	return &Cleaner{
		EKS: eks.NewFromConfig(cfg), SSM: sc, Params: p, Log: log,
		Events: eventbridge.NewFromConfig(cfg), Bus: s.EventBusName, Source: s.EventSource,
		Release: func(ctx context.Context, cluster, executionArn string) error {
			return lock.Release(ctx, sc, p, cluster, executionArn)
		},
	}, nil
}

// NewCleanupHandler is the Cleanup function's lambdamain.Factory.
func NewCleanupHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	c, err := newCleaner(cfg, getenv, log)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(c.handle), nil
}

// Cleanup runs the step. It is idempotent: every part treats "already gone"
// as done. Errors: ManagedClusterExists (deregister mode), StepInputInvalid,
// TransientAWSError, AWSCallFailed.
func (c *Cleaner) Cleanup(ctx context.Context, in Input) (Summary, error) {
	switch in.Mode {
	case ModeCompensate, ModeDiscard, ModeDeregister, ModeRelease:
	default:
		return Summary{}, awserr.StepInputInvalid{Step: "Cleanup", Problems: []string{"mode " + in.Mode + " is not compensate, discard, deregister or release"}}
	}
	if in.ClusterName == "" || in.ExecutionArn == "" {
		return Summary{}, awserr.StepInputInvalid{Step: "Cleanup", Problems: []string{"clusterName and executionArn are required"}}
	}
	cluster := in.ClusterName
	log := lambdamain.Logger(ctx, c.Log).With("cluster", cluster, "execution", in.ExecutionArn, "mode", in.Mode)
	s := Summary{Mode: in.Mode, ClusterName: cluster, ActivationIDs: []string{}, InstancesDeregistered: []string{}, ParametersDeleted: []string{}, InstanceIDs: []string{}}

	intent, intentFound, err := registration.ReadIntent(ctx, c.SSM, c.Params, cluster)
	if err != nil {
		return Summary{}, err
	}
	intentOurs := intentFound && intent.ExecutionArn == in.ExecutionArn
	var toDelete []string
	foreignID := ""

	if in.Mode == ModeRelease {
		if intentOurs {
			toDelete = append(toDelete, c.Params.Intent(cluster))
		}
	} else {
		rec, recFound, err := registration.ReadActivation(ctx, c.SSM, c.Params, cluster)
		if err != nil {
			return Summary{}, err
		}
		out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
		if err != nil && !awserr.IsNotFound(err) {
			return Summary{}, awserr.Step("eks:DescribeCluster", err)
		}
		if err == nil {
			cl := out.Cluster
			cc := cl.ConnectorConfig
			switch {
			case cc == nil && in.Mode == ModeDeregister:
				return Summary{}, registration.ManagedClusterExists{Cluster: cluster, ClusterArn: aws.ToString(cl.Arn)}
			case cc == nil:
				s.LeftAlone = "an EKS managed cluster of this name (not ours) was left alone"
			default:
				id := aws.ToString(cc.ActivationId)
				// Compensate and discard remove only this execution's own
				// registration (the one ownership rule of CheckCluster and
				// RegisterCluster); deregister is the user's request to
				// remove whatever holds the name.
				ours := in.Mode == ModeDeregister ||
					registration.Ours(cl, registration.Evidence{Activation: rec, ActivationFound: recFound, Intent: intent, IntentFound: intentFound}, in.ExecutionArn)
				switch {
				case !ours:
					foreignID = id
					s.LeftAlone = "the connected cluster of this name (activation " + id + ") is not this execution's registration and was left alone"
				case cl.Status == ekstypes.ClusterStatusActive && in.Mode != ModeDeregister:
					// The agent connected after the last check: keep it.
					// The state machine completes the registration instead.
					s.KeptActive, s.CheckedAt = true, in.Now
					if s.InstanceIDs, _, err = c.instances(ctx, id); err != nil {
						return Summary{}, err
					}
					log.Info("the cluster turned ACTIVE; keeping it", "activationId", id)
					return s, nil
				default:
					s.ActivationIDs = append(s.ActivationIDs, id)
					if cl.Status != ekstypes.ClusterStatusDeleting {
						_, err := c.EKS.DeregisterCluster(ctx, &eks.DeregisterClusterInput{Name: aws.String(cluster)})
						switch {
						case err == nil || awserr.IsNotFound(err):
						case awserr.IsResourceInUse(err):
							return Summary{}, awserr.TransientAWSError{Operation: "eks:DeregisterCluster", Code: awserr.Code(err), Message: awserr.Message(err)}
						default:
							return Summary{}, awserr.Step("eks:DeregisterCluster", err)
						}
					}
					s.Deregistered = true
				}
			}
		}
		if recFound && !slices.Contains(s.ActivationIDs, rec.ActivationID) && rec.ActivationID != foreignID {
			s.ActivationIDs = append(s.ActivationIDs, rec.ActivationID)
		}
		for _, id := range s.ActivationIDs {
			if err := c.removeActivation(ctx, id, &s); err != nil {
				return Summary{}, err
			}
		}
		toDelete = append(toDelete, c.Params.ActivationCode(cluster), c.Params.Activation(cluster))
		if in.Mode != ModeDiscard {
			toDelete = append(toDelete, c.Params.Intent(cluster))
		}
	}

	if len(toDelete) > 0 {
		out, err := c.SSM.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: toDelete})
		if err != nil {
			return Summary{}, awserr.Step("ssm:DeleteParameters", err)
		}
		s.ParametersDeleted = append(s.ParametersDeleted, out.DeletedParameters...)
		slices.Sort(s.ParametersDeleted)
	}

	release := in.Mode != ModeDiscard
	if in.ReleaseLock != nil {
		release = *in.ReleaseLock
	}
	if release {
		if err := c.Release(ctx, cluster, in.ExecutionArn); err != nil {
			return Summary{}, awserr.Step("ssm:DeleteParameter (lock release)", err)
		}
		s.LockReleased = true
	}
	if p := in.Previous; p != nil {
		s.Deregistered = s.Deregistered || p.Deregistered
		s.ActivationIDs = union(p.ActivationIDs, s.ActivationIDs)
		s.InstancesDeregistered = union(p.InstancesDeregistered, s.InstancesDeregistered)
		s.ParametersDeleted = union(p.ParametersDeleted, s.ParametersDeleted)
		slices.Sort(s.ParametersDeleted)
	}
	if in.Error != nil {
		s.Error = in.Error.Error
		s.Reason = Reason(cluster, *in.Error, in.CleanupError, s)
	}
	log.Info("cleanup done", "deregistered", s.Deregistered, "activations", s.ActivationIDs, "instances", s.InstancesDeregistered,
		"parameters", s.ParametersDeleted, "lockReleased", s.LockReleased, "leftAlone", s.LeftAlone)
	return s, nil
}

// removeActivation deregisters the activation's managed instances (ids
// eks_c:<cluster>_…; DeleteActivation does not) and deletes the activation.
func (c *Cleaner) removeActivation(ctx context.Context, id string, s *Summary) error {
	_, all, err := c.instances(ctx, id)
	if err != nil {
		return err
	}
	_, err = c.SSM.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(id)})
	switch {
	case err == nil:
		s.ActivationDeleted = true
	case awserr.IsActivationGone(err):
		// Deleted already (EKS's deregistration may do it), or not visible.
	default:
		return awserr.Step("ssm:DeleteActivation", err)
	}
	for _, iid := range all {
		_, err := c.SSM.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String(iid)})
		switch {
		case err == nil:
			s.InstancesDeregistered = append(s.InstancesDeregistered, iid)
		case awserr.IsInstanceGone(err):
		default:
			return awserr.Step("ssm:DeregisterManagedInstance", err)
		}
	}
	return nil
}

// instances lists the activation's managed instances: the Online ones, and all.
func (c *Cleaner) instances(ctx context.Context, activationID string) (online, all []string, err error) {
	online, all = []string{}, []string{}
	p := ssm.NewDescribeInstanceInformationPaginator(c.SSM, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("ActivationIds"), Values: []string{activationID}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, awserr.Step("ssm:DescribeInstanceInformation", err)
		}
		for _, i := range page.InstanceInformationList {
			id := aws.ToString(i.InstanceId)
			all = append(all, id)
			if i.PingStatus == ssmtypes.PingStatusOnline {
				online = append(online, id)
			}
		}
	}
	slices.Sort(online)
	slices.Sort(all)
	return online, all, nil
}

// union appends to a the elements of b it does not hold yet.
func union(a, b []string) []string {
	out := append([]string{}, a...)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
