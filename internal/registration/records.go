package registration

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// ActivationCode is the one-time secret RegisterCluster returns. It goes
// from the response straight into an SSM SecureString; it never reaches a
// log, an error, an event or the state machine's state. Every way of printing
// or encoding it redacts; only Reveal gives the value, for PutParameter.
type ActivationCode struct{ v string }

const redacted = "[redacted activation code]"

// NewActivationCode wraps a code.
func NewActivationCode(v string) ActivationCode { return ActivationCode{v} }

// Reveal returns the code itself. Its only caller stores it in SSM.
func (c ActivationCode) Reveal() string { return c.v }

// Empty reports whether there is no code.
func (c ActivationCode) Empty() bool { return c.v == "" }

func (ActivationCode) String() string               { return redacted }
func (ActivationCode) GoString() string             { return redacted }
func (ActivationCode) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (ActivationCode) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (ActivationCode) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Intent is written before RegisterCluster, so that a registration left by a
// crash can be recognised as this project's own.
type Intent struct {
	Cluster      string    `json:"cluster"`
	ExecutionArn string    `json:"executionArn"`
	Attempt      int       `json:"attempt"`
	WrittenAt    time.Time `json:"writtenAt"`
}

// Activation is the non-secret record stored beside the code.
type Activation struct {
	ActivationID     string    `json:"activationId"`
	ActivationExpiry time.Time `json:"activationExpiry"`
	Region           string    `json:"region"`
	Provider         string    `json:"provider"`
	ExecutionArn     string    `json:"executionArn"`
	ClusterArn       string    `json:"clusterArn"`
	Attempt          int       `json:"attempt"`
	RegisteredAt     time.Time `json:"registeredAt"`
}

// SSMReader is the SSM read operation the records need.
type SSMReader interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SSMWriter is the SSM write operation the records need.
type SSMWriter interface {
	PutParameter(ctx context.Context, in *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// readJSON reads a String parameter holding JSON into v; found is false if
// the parameter is absent. A record that is not valid JSON counts as absent:
// it cannot prove anything.
func readJSON(ctx context.Context, c SSMReader, name string, v any) (found bool, err error) {
	_, found, err = readJSONModified(ctx, c, name, v)
	return found, err
}

// readJSONModified also returns the parameter's LastModifiedDate: SSM's own
// timestamp, comparable with other services' timestamps (EKS's createdAt),
// unlike any Lambda's clock.
func readJSONModified(ctx context.Context, c SSMReader, name string, v any) (modified time.Time, found bool, err error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if awserr.IsNotFound(err) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, awserr.Step("ssm:GetParameter", err)
	}
	if out.Parameter == nil || json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), v) != nil {
		return time.Time{}, false, nil
	}
	return aws.ToTime(out.Parameter.LastModifiedDate), true, nil
}

func writeJSON(ctx context.Context, c SSMWriter, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(string(b)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	})
	return awserr.Step("ssm:PutParameter", err)
}

// ReadIntent reads the cluster's intent record.
func ReadIntent(ctx context.Context, c SSMReader, p workflow.Parameters, cluster string) (Intent, bool, error) {
	var i Intent
	modified, found, err := readJSONModified(ctx, c, p.Intent(cluster), &i)
	// Judge "did the registration come after our intent" on service
	// timestamps: SSM's LastModifiedDate of the intent, EKS's createdAt.
	if !modified.IsZero() {
		i.WrittenAt = modified
	}
	return i, found, err
}

// ReadActivation reads the cluster's activation record.
func ReadActivation(ctx context.Context, c SSMReader, p workflow.Parameters, cluster string) (Activation, bool, error) {
	var a Activation
	found, err := readJSON(ctx, c, p.Activation(cluster), &a)
	return a, found && a.ActivationID != "", err
}
