// Package activation holds one poll of the wait for the EKS Connector agent
// (CheckActivation) and the poll schedule (schedule.go). The state machine
// loops Wait(nextCheckAt) → CheckActivation → Choice; a check never fails to
// say "not yet": a healthy registration has no Lambda errors.
package activation

import (
	"context"
	"log/slog"
	"slices"
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

// EKSAPI is what a check uses of EKS.
type EKSAPI interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

// SSMAPI is what a check uses of SSM.
type SSMAPI interface {
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

// Input is CheckActivation's input. The times are service timestamps:
// executionStartTime is $$.Execution.StartTime, now is $$.State.EnteredTime,
// activationExpiry is EKS's.
type Input struct {
	ClusterName              string `json:"clusterName"`
	ActivationID             string `json:"activationId"`
	ActivationExpiry         string `json:"activationExpiry"`
	ActivationTimeoutMinutes int    `json:"activationTimeoutMinutes"`
	ExecutionStartTime       string `json:"executionStartTime"`
	Now                      string `json:"now"`
}

// Result is CheckActivation's output. The Choice after it tests activated,
// then expired, then deadlineReached; otherwise it waits until nextCheckAt.
type Result struct {
	Activated       bool     `json:"activated"`
	Expired         bool     `json:"expired"`
	DeadlineReached bool     `json:"deadlineReached"`
	Status          string   `json:"status"`
	InstanceIDs     []string `json:"instanceIds"`
	NextCheckAt     string   `json:"nextCheckAt"`
	Deadline        string   `json:"deadline"`
	CheckedAt       string   `json:"checkedAt"`
}

// RegistrationDisappeared: the cluster's registration is gone while we waited
// for its agent (someone deregistered it).
type RegistrationDisappeared struct{ Cluster, ActivationID string }

func (e RegistrationDisappeared) Error() string {
	return "the registration of cluster " + e.Cluster + " (activation " + e.ActivationID + ") disappeared while waiting for its agent: " +
		"it was deregistered outside this workflow; send Register Cluster again to start over"
}

// Checker runs CheckActivation.
type Checker struct {
	EKS            EKSAPI
	SSM            SSMAPI
	DefaultTimeout time.Duration
	Log            *slog.Logger
}

// NewHandler is the CheckActivation function's lambdamain.Factory.
func NewHandler(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
	s, err := workflow.LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	c := &Checker{EKS: eks.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), DefaultTimeout: time.Duration(s.DefaultTimeoutMinutes) * time.Minute, Log: log}
	return lambda.NewHandler(c.Handle), nil
}

func parseTime(field, v string, problems *[]string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		*problems = append(*problems, field+" "+v+" is not an RFC 3339 timestamp")
	}
	return t
}

// Handle runs one check. Errors: RegistrationDisappeared, StepInputInvalid,
// TransientAWSError, AWSCallFailed.
func (c *Checker) Handle(ctx context.Context, in Input) (Result, error) {
	var problems []string
	start := parseTime("executionStartTime", in.ExecutionStartTime, &problems)
	now := parseTime("now", in.Now, &problems)
	expiry := parseTime("activationExpiry", in.ActivationExpiry, &problems)
	if in.ClusterName == "" || in.ActivationID == "" {
		problems = append(problems, "clusterName and activationId are required")
	}
	if len(problems) > 0 {
		return Result{}, awserr.StepInputInvalid{Step: "CheckActivation", Problems: problems}
	}
	timeout := time.Duration(in.ActivationTimeoutMinutes) * time.Minute
	if timeout <= 0 {
		timeout = c.DefaultTimeout
	}
	log := lambdamain.Logger(ctx, c.Log).With("cluster", in.ClusterName, "activationId", in.ActivationID)
	deadline := Deadline(start, timeout, expiry)
	res := Result{Deadline: deadline.Format(time.RFC3339), CheckedAt: now.UTC().Format(time.RFC3339Nano), InstanceIDs: []string{}}

	out, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(in.ClusterName)})
	if awserr.IsNotFound(err) {
		return Result{}, RegistrationDisappeared{Cluster: in.ClusterName, ActivationID: in.ActivationID}
	}
	if err != nil {
		return Result{}, awserr.Step("eks:DescribeCluster", err)
	}
	if cc := out.Cluster.ConnectorConfig; cc == nil || aws.ToString(cc.ActivationId) != in.ActivationID {
		// Replaced by another registration of the same name.
		return Result{}, RegistrationDisappeared{Cluster: in.ClusterName, ActivationID: in.ActivationID}
	}
	res.Status = string(out.Cluster.Status)

	online, err := c.onlineInstances(ctx, in.ActivationID)
	if err != nil {
		if awserr.IsTransient(err) {
			return Result{}, awserr.Step("ssm:DescribeInstanceInformation", err)
		}
		// EKS's status is the documented signal; SSM is the faster second
		// one. Without SSM the check still works, so log and go on.
		log.Error("cannot read SSM instance information; relying on the EKS status alone", "error", awserr.Step("ssm:DescribeInstanceInformation", err).Error())
	}
	res.InstanceIDs = online

	res.Activated = out.Cluster.Status == ekstypes.ClusterStatusActive || len(online) > 0
	if !res.Activated {
		res.Expired = out.Cluster.Status == ekstypes.ClusterStatusFailed || !now.Before(expiry)
	}
	next, reached := Next(start, now, deadline)
	res.DeadlineReached = reached
	res.NextCheckAt = next.Format(time.RFC3339)
	log.Info("activation check", "status", res.Status, "activated", res.Activated, "expired", res.Expired,
		"deadlineReached", res.DeadlineReached, "instances", online, "nextCheckAt", res.NextCheckAt, "deadline", res.Deadline)
	return res, nil
}

// onlineInstances lists the managed instances of the activation that are Online.
func (c *Checker) onlineInstances(ctx context.Context, activationID string) ([]string, error) {
	ids := []string{}
	p := ssm.NewDescribeInstanceInformationPaginator(c.SSM, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("ActivationIds"), Values: []string{activationID}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return ids, err
		}
		for _, i := range page.InstanceInformationList {
			if i.PingStatus == ssmtypes.PingStatusOnline {
				ids = append(ids, aws.ToString(i.InstanceId))
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}
