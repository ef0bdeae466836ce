package lambdamain_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localssm "github.com/platform/eks-connector-registrar/localcloud/ssm"
)

// configuredSSM builds an SSM client the way every function gets its
// configuration (lambdamain.Configured), with env as the function's
// environment, against a local SSM.
func configuredSSM(t *testing.T, env map[string]string) (*ssm.Client, *awsproto.TestEndpoint, *localssm.Store) {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	store, svc := localssm.New(localssm.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	cfg := te.Config
	cfg.Retryer = func() aws.Retryer { // the standard retryer, without its real-time backoff
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	var client *ssm.Client
	f := lambdamain.Configured(func(cfg aws.Config, _ func(string) string, _ *slog.Logger, _ func() time.Time) (lambda.Handler, error) {
		client = ssm.NewFromConfig(cfg)
		return nil, nil
	})
	if _, err := f(cfg, func(k string) string { return env[k] }, slog.Default(), time.Now); err != nil {
		t.Fatal(err)
	}
	return client, te, store
}

// A call whose first attempt hangs is retried by the SDK after the attempt
// timeout, within the invocation, and succeeds: the hang costs one attempt,
// not the function's whole timeout.
func TestAHungAttemptIsRetriedAfterTheAttemptTimeout(t *testing.T) {
	client, te, store := configuredSSM(t, map[string]string{lambdamain.AttemptTimeoutVar: "200ms"})
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 1, Latency: time.Minute})
	start := time.Now()
	_, err := client.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"),
		Type: ssmtypes.ParameterTypeString})
	if err != nil {
		t.Fatalf("a hung first attempt should be retried: %v", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Errorf("the call took %s: want about one attempt timeout (200ms)", el)
	}
	if _, _, ok := store.Parameter("/p"); !ok {
		t.Error("the retried attempt did not write")
	}
	if n := te.Router.Faults.InjectedCount("ssm", "PutParameter"); n != 1 {
		t.Errorf("%d hangs, want 1", n)
	}
}

// When every attempt hangs the call fails with a timeout the project
// classifies as transient (the state machine retries the step).
func TestEveryAttemptHangingIsATransientFailure(t *testing.T) {
	client, te, _ := configuredSSM(t, map[string]string{lambdamain.AttemptTimeoutVar: "100ms"})
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "GetParameter", Fraction: 1, Latency: time.Minute})
	_, err := client.GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/p")})
	var to interface{ Timeout() bool }
	if err == nil || !errors.As(err, &to) || !to.Timeout() {
		t.Fatalf("want a timeout, got %v", err)
	}
	if n := te.Router.Faults.InjectedCount("ssm", "GetParameter"); n != 3 {
		t.Errorf("%d attempts hung, want the standard retryer's 3", n)
	}
	if !awserr.IsTransient(err) {
		t.Errorf("%v is not classified transient", err)
	}
}

// The default (template.yaml sets 10s) applies when the variable is unset,
// and a value that is not a positive duration stops the cold start.
func TestAttemptTimeoutSetting(t *testing.T) {
	cfg, err := lambdamain.Configure(aws.Config{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if hc, ok := cfg.HTTPClient.(interface{ GetTimeout() time.Duration }); !ok || hc.GetTimeout() != lambdamain.DefaultAttemptTimeout {
		t.Errorf("HTTP client %T: want a timeout of %s", cfg.HTTPClient, lambdamain.DefaultAttemptTimeout)
	}
	for _, bad := range []string{"10", "-1s", "0s", "soon"} {
		_, err := lambdamain.Configure(aws.Config{}, func(string) string { return bad })
		if err == nil || !strings.Contains(err.Error(), lambdamain.AttemptTimeoutVar) {
			t.Errorf("%s=%q: want an error naming the variable, got %v", lambdamain.AttemptTimeoutVar, bad, err)
		}
	}
}
