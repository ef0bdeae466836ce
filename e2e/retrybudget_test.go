package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// A long run of 5xx answers drains the SDK's client-side retry budget (core
// v1.48.0: 500 tokens, 14 per retry). After that a call is not retried at
// all: it fails at once with the quota error joined to the service error.
// The project classifies that as transient, so the state machine backs off
// instead of the Lambda hammering a struggling service.
func TestLongFaultRunExhaustsTheSDKRetryBudget(t *testing.T) {
	c, err := localcloud.Start(localcloud.Options{NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	c.Faults.Add(awsproto.Fault{Service: "ssm", Op: "GetParameter", Fraction: 1, Code: "InternalServerError", Status: 500,
		Message: "injected: service struggling"})
	client := ssm.NewFromConfig(c.ConfigFor("admin")) // one client: one retry budget
	ctx := context.Background()

	// 500 tokens, 14 per retry: 17 calls retry twice (476 tokens), the
	// 18th retries once (24 → 10 left), and from then on no call retries.
	var last error
	for call := 1; call <= 20; call++ {
		before := c.Faults.InjectedCount("ssm", "GetParameter")
		_, last = client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")})
		attempts := c.Faults.InjectedCount("ssm", "GetParameter") - before
		if last == nil {
			t.Fatal("a call succeeded under a 100% fault")
		}
		if !awserr.IsTransient(last) {
			t.Fatalf("call %d: %v is not classified transient", call, last)
		}
		var q ratelimit.QuotaExceededError
		exhausted := errors.As(last, &q)
		want, wantExhausted := 3, false
		switch {
		case call == 18:
			want, wantExhausted = 2, true
		case call > 18:
			want, wantExhausted = 1, true
		}
		if attempts != want || exhausted != wantExhausted {
			t.Fatalf("call %d: %d attempts, budget exhausted %v; want %d attempts, exhausted %v (error %v)",
				call, attempts, exhausted, want, wantExhausted, last)
		}
	}
	if awserr.Code(last) != "InternalServerError" {
		t.Errorf("the exhausted call's error %v should still carry the service's code", last)
	}
}
