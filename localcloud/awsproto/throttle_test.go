package awsproto_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localssm "github.com/platform/eks-connector-registrar/localcloud/ssm"
)

// answer is one HTTP response the SDK received.
type answer struct {
	Status     int
	RetryAfter string
}

// recordingClient is the SDK's HTTP client with every answer recorded.
type recordingClient struct {
	mu      sync.Mutex
	answers []answer
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultClient.Do(r)
	if err == nil {
		c.mu.Lock()
		c.answers = append(c.answers, answer{resp.StatusCode, resp.Header.Get("x-amz-retry-after")})
		c.mu.Unlock()
	}
	return resp, err
}

func (c *recordingClient) take() []answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.answers
	c.answers = nil
	return a
}

// ssmClient is a real SSM client against the local SSM with the SDK's
// standard retryer: its defaults (3 attempts, 500-token budget, 5 tokens per
// throttling retry, x-amz-retry-after honoured) except for a 1 ms backoff, so
// the tests do not spend the 1 s throttling base delay in real time.
func ssmClient(t *testing.T) (*ssm.Client, *awsproto.TestEndpoint, *recordingClient) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	_, svc := localssm.New(localssm.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	rec := &recordingClient{}
	cli := ssm.NewFromConfig(te.Config, func(o *ssm.Options) {
		o.HTTPClient = rec
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	_, err := cli.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"),
		Type: ssmtypes.ParameterTypeString})
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	return cli, te, rec
}

func TestThrottlingRetryAfterIsSentAndHonoured(t *testing.T) {
	cli, te, rec := ssmClient(t)
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "GetParameter", FirstN: 2, Code: "ThrottlingException",
		Message: "Rate exceeded", RetryAfterMillis: 40})
	start := time.Now()
	out, err := cli.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")})
	if err != nil || aws.ToString(out.Parameter.Value) != "v" {
		t.Fatalf("the third attempt should succeed: %v", err)
	}
	got := rec.take()
	want := []answer{{400, "40"}, {400, "40"}, {200, ""}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("answers %+v, want %+v", got, want)
	}
	// The SDK waits max(backoff, retry-after) (capped at backoff+5 s): with a
	// 1 ms backoff, the two retries took at least 2×40 ms because of the header.
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("the call took %v; the SDK did not wait for x-amz-retry-after", d)
	}
	if n := te.Router.Faults.InjectedCount("ssm", "GetParameter"); n != 2 {
		t.Errorf("%d faults injected, want 2", n)
	}
}

func TestThrottlingWithoutRetryAfterSendsNoHeader(t *testing.T) {
	cli, te, rec := ssmClient(t)
	// Every throttling code the SDK retries, whichever service sends it: the
	// fault mechanism is under test, not SSM, which sends only the first, so
	// the wire check (which would refuse the others for SSM) is off.
	te.Router.NoWireCheck = true
	for _, code := range []string{"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"} {
		te.Router.Faults.Clear()
		te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "GetParameter", FirstN: 1, Code: code})
		if _, err := cli.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")}); err != nil {
			t.Fatalf("%s: a throttled call should be retried: %v", code, err)
		}
		got := rec.take()
		if len(got) != 2 || got[0] != (answer{400, ""}) || got[1].Status != 200 {
			t.Errorf("%s: answers %+v; want a 400 without x-amz-retry-after, then 200", code, got)
		}
	}
}

// A run of throttling drains the SDK's retry budget at 5 tokens per retry
// (core v1.48.0 defaults: 500 tokens, DefaultThrottlingRetryCost 5; other
// retryable errors cost 14, see e2e/retrybudget_test.go). Calls that fail all
// 3 attempts spend 10 tokens each and get nothing back, so 50 such calls
// exhaust the budget and the 51st is not retried at all.
func TestThrottlingRunCostsFiveTokensPerRetry(t *testing.T) {
	cli, te, _ := ssmClient(t)
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "GetParameter", Fraction: 1, Code: "ThrottlingException",
		Message: "Rate exceeded"})
	for call := 1; call <= 52; call++ {
		before := te.Router.Faults.InjectedCount("ssm", "GetParameter")
		_, err := cli.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")})
		attempts := te.Router.Faults.InjectedCount("ssm", "GetParameter") - before
		var q ratelimit.QuotaExceededError
		exhausted := errors.As(err, &q)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
			t.Fatalf("call %d: %v should carry ThrottlingException", call, err)
		}
		want, wantExhausted := 3, false
		if call > 50 {
			want, wantExhausted = 1, true
		}
		if attempts != want || exhausted != wantExhausted {
			t.Fatalf("call %d: %d attempts, budget exhausted %v; want %d, %v (%v)", call, attempts, exhausted, want, wantExhausted, err)
		}
	}
}
