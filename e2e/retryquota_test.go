package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// The SDK's client-side retry budget runs out in the middle of a
// registration, and the registration still ends as its fault-free twin:
// the step reports TransientAWSError saying the budget is used up, and the
// state machine retries it like any transient failure.
//
// The budget (aws-sdk-go-v2 v1.48.0, aws/retry/standard.go): 500 tokens
// per client, a retry costs 14 (5 after throttling), a first attempt that
// succeeds gives 1 back. A call whose 3 attempts all fail with a 5xx costs
// 28, so a warm execution environment needs about 18 of them in a row to
// run dry (e2e/retrybudget_test.go checks the SDK's arithmetic alone).
// A step entry may fail only 7 times (Retry MaxAttempts 6) before its Catch
// compensates, so no single entry can drain it: the window below spans
// four entries of CheckActivation, one warm environment, one EKS client.
// Each entry sees 5 invocations whose DescribeCluster fails every attempt
// (15 failing attempts), then one that succeeds and goes on polling:
//
//	entry 1..3: 500 → 360+1 → 221+1 → 82+1 = 83 tokens left
//	entry 4:    83 → 55 → 27 → the 3rd invocation's second retry finds 13
//	            tokens, fewer than 14: ratelimit.QuotaExceededError after
//	            2 attempts; the 4th invocation succeeds.
//
// 53 failing attempts in all (15+15+15+8), 18 failed invocations, of which
// exactly one is the quota error. Seeded, and the window counts calls, so
// the run repeats.
func TestRetryBudgetRunsOutMidRegistration(t *testing.T) {
	t.Parallel()
	seeds := []uint64{1}
	if fullSweep() {
		seeds = sweepSeeds
	}
	sc := quotaScenario()
	var want sweepResult
	t.Run("fault-free", func(t *testing.T) { want = runQuotaCell(t, sc, 0) })
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			got := runQuotaCell(t, sc, seed)
			if got.outcome != want.outcome {
				t.Errorf("with the retry budget run dry (seed %d) the run ended\n  %s\nwithout faults it ends\n  %s", seed, got.outcome, want.outcome)
			}
		})
	}
}

// quotaScenario is the sweep's connects-late: the agent connects 25
// minutes in, so CheckActivation is entered often enough.
func quotaScenario() sweepScenario {
	for _, sc := range sweepScenarios() {
		if sc.name == "connects-late" {
			return sc
		}
	}
	panic("no connects-late scenario")
}

// retryBudgetWindow is the DescribeCluster failures of CheckActivation:
// rounds of failing attempts, a success between two rounds. A round's fault
// skips the successes before it (each earlier success passed every later
// fault too, and counted as seen there).
var retryBudgetWindow = []int{15, 15, 15, 8}

func runQuotaCell(t *testing.T, sc sweepScenario, seed uint64) sweepResult {
	o := sc.opts
	o.Seed = seed
	o.NoSDKBackoff = true
	o.FunctionEnv = map[string]string{lambdamain.AttemptTimeoutVar: sweepAttemptTimeout}
	e := start(t, o)
	if seed != 0 {
		for i, n := range retryBudgetWindow {
			e.c.Faults.Add(awsproto.Fault{Caller: "CheckActivationFunction", Service: "eks", Op: "DescribeCluster", Skip: i, FirstN: n,
				Code: "InternalFailure", Status: 500, Message: "injected: We encountered an internal error. Please try again."})
		}
		e.countCase("retrybudget")
	}
	sc.run(e)
	e.waitQuiet()
	res := sweepResult{scenario: sc.name, seed: seed, outcome: e.outcome()}
	if seed == 0 {
		return res
	}
	total := 0
	for _, n := range retryBudgetWindow {
		total += n
	}
	if got := e.c.Faults.InjectedCount("eks", "DescribeCluster"); got != total {
		t.Errorf("%d DescribeCluster attempts failed, want the whole window's %d", got, total)
	}
	transient, quota := 0, 0
	for _, ex := range e.executions("Registration") {
		for _, ev := range ex.Engine().History() {
			if ev.Type != "LambdaFunctionFailed" {
				continue
			}
			name, _ := ev.Details["error"].(string)
			cause, _ := ev.Details["cause"].(string)
			if name != "TransientAWSError" || !strings.Contains(cause, "eks:DescribeCluster") {
				t.Errorf("unexpected task failure %s: %s", name, cause)
				continue
			}
			transient++
			if strings.Contains(cause, "retry budget") {
				quota++
			}
		}
	}
	if transient != 18 || quota != 1 {
		t.Errorf("CheckActivation failed %d times with TransientAWSError, %d of them saying the retry budget is used up; want 18 and 1", transient, quota)
	}
	return res
}
