package activation

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

type fakeEKS struct {
	status ekstypes.ClusterStatus
	gone   bool
	err    error
	actID  string
}

func (f fakeEKS) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.gone {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}
	}
	id := f.actID
	if id == "" {
		id = "act-1"
	}
	return &eks.DescribeClusterOutput{Cluster: &ekstypes.Cluster{Name: in.Name, Status: f.status, ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String(id)}}}, nil
}

type fakeSSM struct {
	instances map[string]ssmtypes.PingStatus
	err       error
}

func (f fakeSSM) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	if len(in.Filters) != 1 || aws.ToString(in.Filters[0].Key) != "ActivationIds" || in.Filters[0].Values[0] != "act-1" {
		return &ssm.DescribeInstanceInformationOutput{}, nil
	}
	var out []ssmtypes.InstanceInformation
	for id, ps := range f.instances {
		out = append(out, ssmtypes.InstanceInformation{InstanceId: aws.String(id), PingStatus: ps, ActivationId: aws.String("act-1")})
	}
	return &ssm.DescribeInstanceInformationOutput{InstanceInformationList: out}, nil
}

func TestCheck(t *testing.T) {
	in := func(now string) Input {
		return Input{ClusterName: "edge-1", ActivationID: "act-1", ActivationExpiry: "2025-03-04T10:00:05Z",
			ActivationTimeoutMinutes: 60, ExecutionStartTime: "2025-03-01T10:00:00.123Z", Now: now}
	}
	tests := []struct {
		name   string
		eks    fakeEKS
		ssm    fakeSSM
		in     Input
		want   Result
		errTyp string
	}{
		{name: "agent not connected yet", eks: fakeEKS{status: "PENDING"}, in: in("2025-03-01T10:01:00.5Z"),
			want: Result{Status: "PENDING", InstanceIDs: []string{}, NextCheckAt: "2025-03-01T10:01:28Z"}},
		{name: "SSM sees an instance Online first", eks: fakeEKS{status: "PENDING"},
			ssm: fakeSSM{instances: map[string]ssmtypes.PingStatus{"eks_c:edge-1_abcdefghijklmnopq": "Online", "eks_c:edge-1_zzzzzzzzzzzzzzzzz": "ConnectionLost"}},
			in:  in("2025-03-01T10:01:00Z"), want: Result{Activated: true, Status: "PENDING", InstanceIDs: []string{"eks_c:edge-1_abcdefghijklmnopq"}, NextCheckAt: "2025-03-01T10:01:28Z"}},
		{name: "EKS says ACTIVE, SSM denied", eks: fakeEKS{status: "ACTIVE"}, ssm: fakeSSM{err: &smithy.GenericAPIError{Code: "AccessDeniedException"}},
			in: in("2025-03-01T10:01:00Z"), want: Result{Activated: true, Status: "ACTIVE", InstanceIDs: []string{}, NextCheckAt: "2025-03-01T10:01:28Z"}},
		{name: "EKS says FAILED: expired", eks: fakeEKS{status: "FAILED"}, in: in("2025-03-01T10:30:00Z"),
			want: Result{Expired: true, Status: "FAILED", InstanceIDs: []string{}, NextCheckAt: "2025-03-01T10:32:59Z"}},
		{name: "at the deadline", eks: fakeEKS{status: "PENDING"}, in: in("2025-03-01T11:00:00.2Z"),
			want: Result{DeadlineReached: true, Status: "PENDING", InstanceIDs: []string{}, NextCheckAt: "2025-03-01T11:00:00Z"}},
		{name: "connected just before the deadline: kept", eks: fakeEKS{status: "ACTIVE"}, in: in("2025-03-01T11:00:00.2Z"),
			want: Result{Activated: true, DeadlineReached: true, Status: "ACTIVE", InstanceIDs: []string{}, NextCheckAt: "2025-03-01T11:00:00Z"}},
		{name: "cluster deregistered meanwhile", eks: fakeEKS{gone: true}, in: in("2025-03-01T10:01:00Z"), errTyp: "RegistrationDisappeared"},
		{name: "replaced by another registration", eks: fakeEKS{status: "PENDING", actID: "act-2"}, in: in("2025-03-01T10:01:00Z"), errTyp: "RegistrationDisappeared"},
		{name: "EKS throttled", eks: fakeEKS{err: &smithy.GenericAPIError{Code: "ThrottlingException"}}, in: in("2025-03-01T10:01:00Z"), errTyp: "TransientAWSError"},
		{name: "SSM throttled", eks: fakeEKS{status: "PENDING"}, ssm: fakeSSM{err: &smithy.GenericAPIError{Code: "ThrottlingException"}}, in: in("2025-03-01T10:01:00Z"), errTyp: "TransientAWSError"},
		{name: "bad timestamp", eks: fakeEKS{status: "PENDING"}, in: in("yesterday"), errTyp: "StepInputInvalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{EKS: tt.eks, SSM: tt.ssm, DefaultTimeout: 72 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			got, err := c.Handle(context.Background(), tt.in)
			if tt.errTyp != "" {
				if err == nil || reflect.TypeOf(err).Name() != tt.errTyp {
					t.Fatalf("err = %T %v, want %s", err, err, tt.errTyp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Deadline = "2025-03-01T11:00:00Z"
			tt.want.CheckedAt = got.CheckedAt
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
