package awserr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/platform/eks-connector-registrar/internal/awserr"
)

// wire wraps err as the SDK returns an answer of HTTP status code: an
// OperationError around a ResponseError around the deserialized error.
func wire(status int, err error) error {
	return &smithy.OperationError{ServiceID: "X", OperationName: "Op", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

// network is a failure to send a request, as the SDK returns it.
func network(err error) error {
	return &smithy.OperationError{ServiceID: "X", OperationName: "Op", Err: &smithyhttp.RequestSendError{Err: err}}
}

type timeout struct{}

func (timeout) Error() string   { return "i/o timeout" }
func (timeout) Timeout() bool   { return true }
func (timeout) Temporary() bool { return false }

func TestIsTransient(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		// Server faults, by the fault the SDK gives the modeled error.
		{"EKS ServerException", wire(500, &ekstypes.ServerException{}), true},
		{"EKS ServiceUnavailableException", wire(503, &ekstypes.ServiceUnavailableException{}), true},
		{"SSM InternalServerError", wire(500, &ssmtypes.InternalServerError{}), true},
		{"IAM ServiceFailure", wire(500, &iamtypes.ServiceFailureException{}), true},
		{"a server fault without a response", &smithy.GenericAPIError{Code: "Anything", Fault: smithy.FaultServer}, true},
		// By the HTTP status when the code is not modeled, or no error parsed.
		{"unmodeled code, 502", wire(502, &smithy.GenericAPIError{Code: "BadGateway"}), true},
		{"body that did not parse, 503", wire(503, &smithy.DeserializationError{Err: errors.New("EOF")}), true},
		{"unmodeled 429", wire(429, &smithy.GenericAPIError{Code: "SlowDown"}), true},
		// Throttling and concurrent modification.
		{"ThrottlingException", wire(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), true},
		{"Throttling", wire(400, &smithy.GenericAPIError{Code: "Throttling"}), true},
		{"TooManyRequestsException", wire(429, &smithy.GenericAPIError{Code: "TooManyRequestsException"}), true},
		{"IAM ConcurrentModification", wire(409, &iamtypes.ConcurrentModificationException{}), true},
		{"SSM TooManyUpdates", wire(400, &ssmtypes.TooManyUpdates{}), true},
		// The SDK's own retries.
		{"retry quota exceeded", &smithy.OperationError{Err: fmt.Errorf("failed to get rate limit token: %w", ratelimit.QuotaExceededError{Available: 0, Requested: 5})}, true},
		{"attempts exhausted on a 5xx", &smithy.OperationError{Err: &retry.MaxAttemptsError{Attempt: 3, Err: wire(500, &ssmtypes.InternalServerError{})}}, true},
		{"attempts exhausted on a denial", &smithy.OperationError{Err: &retry.MaxAttemptsError{Attempt: 3, Err: wire(400, &smithy.GenericAPIError{Code: "AccessDeniedException"})}}, false},
		// Network errors and timeouts: no AWS answer at all.
		{"connection refused", network(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"connection reset", network(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"net timeout", network(timeout{}), true},
		{"the invocation's deadline", network(context.DeadlineExceeded), true},
		// Permanent answers, whatever their name.
		{"AccessDeniedException", wire(400, &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}), false},
		{"ParameterNotFound", wire(400, &ssmtypes.ParameterNotFound{}), false},
		{"a 5xx-sounding code answered as a client fault", wire(400, &smithy.GenericAPIError{Code: "ServerException", Fault: smithy.FaultClient}), false},
		{"unknown host", network(&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}), false},
		{"a plain error", errors.New("encoding failed"), false},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := awserr.IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if tt.err == nil {
				return
			}
			var te awserr.TransientAWSError
			var fe awserr.AWSCallFailed
			step := awserr.Step("x:Op", tt.err)
			if tt.want && !errors.As(step, &te) || !tt.want && !errors.As(step, &fe) {
				t.Errorf("Step = %T, want transient %v", step, tt.want)
			}
			if !errors.Is(step, tt.err) {
				t.Errorf("Step(%v) does not wrap it", tt.err)
			}
		})
	}
}

// A call the SDK did not retry because its retry budget ran out is a
// TransientAWSError (the state machine retries it), and its message says why
// the function did not retry it itself.
func TestStepNamesAnExhaustedRetryBudget(t *testing.T) {
	quota := &smithy.OperationError{ServiceID: "EKS", OperationName: "DescribeCluster",
		Err: fmt.Errorf("failed to get rate limit token: %w", ratelimit.QuotaExceededError{Available: 0, Requested: 14})}
	err := awserr.Step("eks:DescribeCluster", quota)
	var te awserr.TransientAWSError
	if !errors.As(err, &te) {
		t.Fatalf("Step gave %T (%v), want TransientAWSError", err, err)
	}
	if want := "retry budget of this execution environment is used up"; !strings.Contains(te.Message, want) {
		t.Errorf("message %q does not say %q", te.Message, want)
	}
	plain := awserr.Step("eks:DescribeCluster", &smithy.OperationError{Err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}})
	if errors.As(plain, &te) && strings.Contains(te.Message, "retry budget") {
		t.Errorf("a throttled call's message %q speaks of the retry budget", te.Message)
	}
}
