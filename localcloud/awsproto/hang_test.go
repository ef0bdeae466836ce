package awsproto_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localssm "github.com/platform/eks-connector-registrar/localcloud/ssm"
)

// hangClient is an SSM client whose attempts time out after attemptTimeout
// (http.Client.Timeout) and are retried at once, against a local SSM.
func hangClient(t *testing.T, attemptTimeout time.Duration, maxAttempts int) (*ssm.Client, *awsproto.TestEndpoint, *localssm.Store) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	store, svc := localssm.New(localssm.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	cli := ssm.NewFromConfig(te.Config, func(o *ssm.Options) {
		o.HTTPClient = &http.Client{Timeout: attemptTimeout}
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	return cli, te, store
}

func put(cli *ssm.Client, name string) error {
	_, err := cli.PutParameter(context.Background(), &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"),
		Type: ssmtypes.ParameterTypeString})
	return err
}

// A hang (latency with a selector and no code) delays only the selected
// calls; the caller's timeout ends the attempt, the call is never served,
// and the SDK's retry succeeds.
func TestHangIsNotServedWhenTheCallerGivesUp(t *testing.T) {
	cli, te, store := hangClient(t, 150*time.Millisecond, 3)
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 1, Latency: time.Minute})
	start := time.Now()
	if err := put(cli, "/a"); err != nil {
		t.Fatalf("the retry after a hung attempt should succeed: %v", err)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 10*time.Second {
		t.Errorf("the call took %s: want one attempt timeout (150ms) and a prompt retry", el)
	}
	if n := te.Router.Faults.InjectedCount("ssm", "PutParameter"); n != 1 {
		t.Errorf("%d hangs injected, want 1", n)
	}
	if _, _, ok := store.Parameter("/a"); !ok {
		t.Error("the retried PutParameter did not write")
	}
	// The hung attempt alone, never retried: nothing was written.
	cli1, te1, store1 := hangClient(t, 150*time.Millisecond, 1)
	te1.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 1, Latency: time.Minute})
	err := put(cli1, "/b")
	var te2 interface{ Timeout() bool }
	if err == nil || !errors.As(err, &te2) || !te2.Timeout() {
		t.Fatalf("a hung attempt should fail with a timeout, got %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, _, ok := store1.Parameter("/b"); ok {
		t.Error("a hung call the caller gave up on was served")
	}
	// Calls the fault did not select are not delayed.
	start = time.Now()
	if err := put(cli1, "/c"); err != nil || time.Since(start) > 100*time.Millisecond {
		t.Errorf("an unselected call: %v after %s", err, time.Since(start))
	}
}

// AnswerLate: the hung call is served, only its answer is lost; the SDK's
// retry meets what the first attempt wrote.
func TestAnswerLateHangIsServedAndItsAnswerLost(t *testing.T) {
	cli, te, store := hangClient(t, 150*time.Millisecond, 1)
	te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 1, Latency: time.Minute, AnswerLate: true})
	err := put(cli, "/a")
	var to interface{ Timeout() bool }
	if err == nil || !errors.As(err, &to) || !to.Timeout() {
		t.Fatalf("the late answer should time out, got %v", err)
	}
	if _, _, ok := store.Parameter("/a"); !ok {
		t.Fatal("an AnswerLate hang should be served before its answer is held")
	}
	err = put(cli, "/a") // the caller's retry: the parameter is there now
	if err == nil {
		t.Fatal("PutParameter without Overwrite on an existing parameter should fail")
	}
	// A latency shorter than the caller's timeout: the answer arrives late but arrives.
	cli2, te2, _ := hangClient(t, 2*time.Second, 1)
	te2.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", FirstN: 1, Latency: 50 * time.Millisecond, AnswerLate: true})
	start := time.Now()
	if err := put(cli2, "/x"); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("a late answer within the timeout: %v after %s", err, time.Since(start))
	}
}

// Fraction-selected hangs are drawn from the seeded source: the same seed
// hangs the same calls.
func TestHangFractionIsSeeded(t *testing.T) {
	pattern := func() string {
		cli, te, _ := hangClient(t, 30*time.Millisecond, 1)
		te.Router.Faults.Add(awsproto.Fault{Service: "ssm", Op: "PutParameter", Fraction: 0.3, Latency: time.Minute})
		s := ""
		for i := 0; i < 20; i++ {
			if err := put(cli, fmt.Sprintf("/p%d", i)); err != nil {
				s += "H"
			} else {
				s += "."
			}
		}
		return s
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Errorf("same seed, different hangs:\n%s\n%s", a, b)
	}
	if n := strings.Count(a, "H"); n == 0 || n == len(a) {
		t.Errorf("pattern %s: a 30%% fraction should hang some calls, not all or none", a)
	}
}
