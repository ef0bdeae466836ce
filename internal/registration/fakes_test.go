package registration

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

// serverErr is a 5xx answer: the SDK gives its modeled errors the server fault.
func serverErr(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultServer}
}

type param struct {
	value, typ, keyID string
	modified          time.Time // LastModifiedDate, when the fake has a clock
}

// fakeSSM is a parameter store with per-name write failures and a call log.
type fakeSSM struct {
	params  map[string]param
	failPut map[string]error
	calls   *[]string
	// gets lists every GetParameter name, to prove what is never read.
	gets []string
	// now, when set, is SSM's clock: PutParameter records it as the
	// LastModifiedDate GetParameter reports.
	now time.Time
}

func newSSM(calls *[]string) *fakeSSM {
	return &fakeSSM{params: map[string]param{}, failPut: map[string]error{}, calls: calls}
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.gets = append(f.gets, *in.Name)
	p, ok := f.params[*in.Name]
	if !ok {
		return nil, apiErr("ParameterNotFound", "")
	}
	v := p.value
	if p.typ == "SecureString" && !aws.ToBool(in.WithDecryption) {
		v = "AQICAHencrypted"
	}
	out := &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}
	if !p.modified.IsZero() {
		out.LastModifiedDate = aws.Time(p.modified)
	}
	return &ssm.GetParameterOutput{Parameter: out}, nil
}

func (f *fakeSSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	*f.calls = append(*f.calls, "PutParameter "+*in.Name)
	if err := f.failPut[*in.Name]; err != nil {
		return nil, err
	}
	if _, ok := f.params[*in.Name]; ok && !aws.ToBool(in.Overwrite) {
		return nil, apiErr("ParameterAlreadyExists", "")
	}
	f.params[*in.Name] = param{value: *in.Value, typ: string(in.Type), keyID: aws.ToString(in.KeyId), modified: f.now}
	return &ssm.PutParameterOutput{}, nil
}

// fakeEKS holds at most one cluster. RegisterCluster registers unless err is
// set; a replayed token answers without the code (replayErr, if set, instead).
type fakeEKS struct {
	cluster     *ekstypes.Cluster
	registerErr error
	replayErr   error
	tokens      map[string]bool
	lastInput   *eks.RegisterClusterInput
	calls       *[]string
	code        string
}

func (f *fakeEKS) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	if f.cluster == nil || *f.cluster.Name != *in.Name {
		return nil, apiErr("ResourceNotFoundException", "No cluster found for name: "+*in.Name)
	}
	c := *f.cluster
	if c.ConnectorConfig != nil {
		cc := *c.ConnectorConfig
		cc.ActivationCode = nil // DescribeCluster never returns it
		c.ConnectorConfig = &cc
	}
	return &eks.DescribeClusterOutput{Cluster: &c}, nil
}

func (f *fakeEKS) RegisterCluster(_ context.Context, in *eks.RegisterClusterInput, _ ...func(*eks.Options)) (*eks.RegisterClusterOutput, error) {
	*f.calls = append(*f.calls, "RegisterCluster")
	f.lastInput = in
	if f.registerErr != nil {
		return nil, f.registerErr
	}
	if f.tokens == nil {
		f.tokens = map[string]bool{}
	}
	if f.tokens[*in.ClientRequestToken] {
		if f.replayErr != nil {
			return nil, f.replayErr
		}
		c := *f.cluster
		cc := *c.ConnectorConfig
		cc.ActivationCode = nil
		c.ConnectorConfig = &cc
		return &eks.RegisterClusterOutput{Cluster: &c}, nil
	}
	if f.cluster != nil {
		return nil, apiErr("ResourceInUseException", "Cluster already exists with name: "+*in.Name)
	}
	f.tokens[*in.ClientRequestToken] = true
	created := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	f.cluster = &ekstypes.Cluster{
		Name: in.Name, Arn: aws.String("arn:aws:eks:eu-west-1:123456789012:cluster/" + *in.Name),
		CreatedAt: aws.Time(created), Status: ekstypes.ClusterStatusPending,
		ConnectorConfig: &ekstypes.ConnectorConfigResponse{
			ActivationId: aws.String("7d5f0e3c-1111-2222-3333-444455556666"), ActivationCode: aws.String(f.code),
			ActivationExpiry: aws.Time(created.Add(72 * time.Hour)), Provider: aws.String(string(in.ConnectorConfig.Provider)),
			RoleArn: in.ConnectorConfig.RoleArn,
		},
	}
	c := *f.cluster
	return &eks.RegisterClusterOutput{Cluster: &c}, nil
}
