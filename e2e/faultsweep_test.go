package e2e

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfnsdk "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// The fault sweep reruns the scenario matrix with a share of every call the
// project makes failing (throttling and 5xx, seeded: the same seed fails
// the same calls), and holds each run to the fault-free run's outcome; the
// end checks (leak check, secret scan) hold it to leave nothing behind.
// `make test` runs a few cells (sweepDefault); `make reliability`
// (RELIABILITY=full) runs every scenario with every seed.

const sweepRate = 0.30

var sweepSeeds = []uint64{1, 2, 3, 4, 5}

// sweepDefault are the cells `make test` runs: scenario name -> seeds.
var sweepDefault = map[string][]uint64{"connects-early": {1}, "never-connects": {2}, "deregistration-while-waiting": {3}, "pending-ours": {4}}

func fullSweep() bool { return os.Getenv("RELIABILITY") == "full" }

type sweepScenario struct {
	name string
	opts localcloud.Options
	// run puts the scenario's events (and sets up what it needs).
	run func(e *env)
}

func sweepScenarios() []sweepScenario {
	connects := func(d time.Duration) localcloud.Options {
		return localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: d}}
	}
	reg := func(extra map[string]any) func(e *env) {
		return func(e *env) { e.register("fs-01", extra) }
	}
	const roleName = "PlatformConnectorAgent"
	arn := "arn:aws:iam::123456789012:role/" + roleName
	return []sweepScenario{
		{"connects-early", connects(time.Minute), reg(nil)},
		{"connects-late", connects(25 * time.Minute), reg(map[string]any{"activationTimeoutMinutes": 30})},
		// A minute before the deadline, which counts from the request: the
		// agent is timed against it, not against Activation Ready, which a
		// fault may delay (a code lost to a RegisterCluster answer that
		// never came costs a re-registration, minutes of the 30).
		justBefore(),
		{"never-connects", localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}}, reg(map[string]any{"activationTimeoutMinutes": 10})},
		{"wrong-code", localcloud.Options{Agent: agent.Config{Mode: agent.WrongCode, Delay: time.Minute}}, reg(map[string]any{"activationTimeoutMinutes": 10})},
		{"after-expiry", localcloud.Options{Agent: agent.Config{Mode: agent.AfterExpiry}}, reg(nil)},
		{"connects-then-lost", localcloud.Options{Agent: agent.Config{Mode: agent.ConnectsThenLost, Delay: time.Minute, LostAfter: 3 * time.Minute}},
			reg(map[string]any{"activationTimeoutMinutes": 10})},
		{"already-active", connects(time.Minute), func(e *env) {
			e.register("fs-01", nil)
			e.waitExecution("Registration", 1)
			e.register("fs-01", nil)
		}},
		// A registration of ours left PENDING by an execution that was
		// stopped (no Catch ran, and the status-change event that would
		// compensate it is not delivered): the next request resumes it.
		{"pending-ours", connects(10 * time.Minute), func(e *env) {
			disableRule(e.t, e, "RegistrationEnded")
			release := e.freeze()
			defer release()
			e.register("fs-01", nil)
			for i := 0; i < 60; i++ { // the code stored: the registration is PENDING and ours
				if _, _, ok := e.c.SSM.Parameter("/eks-connector-registrar/clusters/fs-01/activation-code"); ok {
					break
				}
				e.sleep(30 * time.Second)
			}
			first := e.executions("Registration")[0]
			if _, err := sfnsdk.NewFromConfig(e.c.ConfigFor("operator")).StopExecution(e.ctx(), &sfnsdk.StopExecutionInput{
				ExecutionArn: aws.String(first.Arn), Error: aws.String("OperatorStopped"), Cause: aws.String("stopped by hand"),
			}); err != nil {
				e.t.Fatalf("StopExecution: %v", err)
			}
			e.register("fs-01", nil)
		}},
		{"pending-someone-elses", localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}}, func(e *env) {
			registerForeign(e.t, e, "fs-01")
			e.register("fs-01", nil)
		}},
		{"deregistration-while-waiting", localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}}, func(e *env) {
			release := e.freeze()
			e.register("fs-01", nil)
			e.sleep(12 * time.Minute)
			e.put("Deregister Cluster", map[string]any{"clusterName": "fs-01", "reason": "decommissioned"})
			release()
		}},
		{"existing-role-mode", localcloud.Options{Parameters: map[string]string{"AgentRoleMode": "existing", "ExistingAgentRoleArn": arn},
			Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}}, func(e *env) {
			createRole(e.t, e, roleName, ssmTrust, agentPolicy)
			e.register("fs-01", nil)
		}},
	}
}

// sweepAttemptTimeout is the functions' SDK_ATTEMPT_TIMEOUT in the sweep
// (both runs of a cell): a hung call costs this much real time, not the
// template's 10 s. Still far above what a local call takes, so a call that
// is not hung is not cut short.
const sweepAttemptTimeout = "200ms"

// sweepHang is how long a hung call is held: beyond any attempt timeout, so
// its caller always gives up first.
const sweepHang = time.Minute

// justBefore is the scenario whose agent installs 29 minutes after the
// request, with a 30-minute timeout.
func justBefore() sweepScenario {
	var mu sync.Mutex
	var requested time.Time
	o := localcloud.Options{Agent: agent.Config{Mode: agent.Connects, InstallAt: func(string) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return requested.Add(29 * time.Minute)
	}}}
	return sweepScenario{"connects-just-before-deadline", o, func(e *env) {
		mu.Lock()
		requested = e.c.Clock.Now()
		mu.Unlock()
		e.register("fs-01", map[string]any{"activationTimeoutMinutes": 30})
	}}
}

// injectSweepFaults makes rate of the calls of every operation the
// project's functions and state machines make fail. A function's calls
// fail a third each with the service's throttling error, a 5xx, and a hang
// beyond the SDK's attempt timeout (half of the hung calls never served,
// half served with the answer lost); a state machine's calls (Step
// Functions' own service integrations, which are no SDK client of ours)
// fail half with throttling, half with a 5xx.
func injectSweepFaults(e *env, rate float64) {
	for _, cr := range e.c.Credentials() {
		if cr.Kind != "function" && cr.Kind != "state machine" {
			continue
		}
		for _, svc := range []string{"iam", "sts", "eks", "ssm", "sqs", "events", "lambda", "states"} {
			// Codes every service may answer (the Common Errors pages; the
			// wire checker holds injected faults to them too).
			throttle := awsproto.Fault{Caller: cr.Name, Service: svc, Code: "ThrottlingException", Status: 400,
				Message: "injected: Rate exceeded"}
			internal := awsproto.Fault{Caller: cr.Name, Service: svc, Code: "InternalFailure", Status: 500,
				Message: "injected: We encountered an internal error. Please try again."}
			unavailable := awsproto.Fault{Caller: cr.Name, Service: svc, Code: "ServiceUnavailable", Status: 503,
				Message: "injected: Service unavailable"}
			hung := awsproto.Fault{Caller: cr.Name, Service: svc, Latency: sweepHang}
			answerLost := awsproto.Fault{Caller: cr.Name, Service: svc, Latency: sweepHang, AnswerLate: true}
			if cr.Kind == "function" {
				addShares(e, rate, []awsproto.Fault{throttle, internal, unavailable, hung, answerLost}, []float64{2, 1, 1, 1, 1})
			} else {
				addShares(e, rate, []awsproto.Fault{throttle, internal, unavailable}, []float64{2, 1, 1})
			}
		}
	}
}

// addShares adds faults so that rate of the matching calls are selected,
// split between them by weight. A fault draws only when the ones before it
// missed, so each one's Fraction is its share of the calls left.
func addShares(e *env, rate float64, faults []awsproto.Fault, weights []float64) {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	left := 1.0
	for i, f := range faults {
		share := rate * weights[i] / total
		f.Fraction = share / left
		left -= share
		e.c.Faults.Add(f)
	}
}

// waitQuiet waits (real time, 120 s cap) until every execution has ended
// and every event and asynchronous invocation is done.
func (e *env) waitQuiet() {
	e.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for stable := 0; stable < 3; {
		e.settle()
		running := false
		for _, ex := range e.c.SFN.Executions() {
			if ex.Status() == "RUNNING" {
				running = true
			}
		}
		if running || (e.c.Agent != nil && e.c.Agent.Pending()) {
			stable = 0
		} else {
			stable++
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("executions still running after 120 s of real time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// outcome is what a run ended with: each execution's kind, status and
// error; each outcome event's type and error; each cluster's status.
func (e *env) outcome() string {
	var parts []string
	for _, kind := range []string{"Registration", "Deregistration"} {
		for _, ex := range e.executions(kind) {
			name, _ := ex.Engine().Error()
			parts = append(parts, fmt.Sprintf("%s %s %s", kind, ex.Status(), name))
		}
	}
	for _, ev := range e.c.Events.Log() {
		if slices.Contains(outcomeTypes, ev.DetailType) {
			errName, _ := detailOf(e.t, ev)["error"].(string)
			parts = append(parts, fmt.Sprintf("event %q %s", ev.DetailType, errName))
		}
	}
	for _, c := range e.c.EKS.Clusters() {
		if c.Status != "DELETING" {
			parts = append(parts, "cluster "+c.Name+" "+c.Status)
		}
	}
	sort.Strings(parts)
	out := strings.Join(parts, "; ")
	// With the default timeout (the activation's 72-hour lifetime) the
	// deadline is the earlier of the execution's start plus 72 hours and
	// the activation's expiry, which EKS sets when RegisterCluster runs:
	// when they fall in the same second the check says expired, when a
	// retried step delays RegisterCluster it says timed out. Both name the
	// same end, as the README says; the sweep counts them as one.
	return strings.ReplaceAll(out, "ActivationExpired", "ActivationTimedOut")
}

// sweepResult is one cell of the sweep.
type sweepResult struct {
	scenario string
	seed     uint64 // 0: fault-free
	outcome  string
	injected int
	hung     int
	path     string // the states each registration entered (shown when a run differs)
}

func runSweepCell(t *testing.T, sc sweepScenario, seed uint64) sweepResult {
	o := sc.opts
	o.Seed = seed
	o.NoSDKBackoff = true // both runs alike
	o.FunctionEnv = map[string]string{lambdamain.AttemptTimeoutVar: sweepAttemptTimeout}
	e := start(t, o)
	if seed != 0 {
		injectSweepFaults(e, sweepRate)
		e.countCase("faultsweep")
	}
	sc.run(e)
	e.waitQuiet()
	injected := 0
	for _, n := range e.c.Faults.Injected {
		injected += n
	}
	var path []string
	for _, ex := range e.executions("Registration") {
		path = append(path, strings.Join(statesEntered(ex), " "))
	}
	return sweepResult{scenario: sc.name, seed: seed, outcome: e.outcome(), injected: injected, hung: e.c.Faults.Hung,
		path: strings.Join(path, "\n  ")}
}

// Every scenario under 30 % failing calls ends as it does without faults,
// and leaves nothing behind.
func TestFaultSweep(t *testing.T) {
	t.Parallel()
	for _, sc := range sweepScenarios() {
		seeds := sweepSeeds
		if !fullSweep() {
			seeds = sweepDefault[sc.name]
			if len(seeds) == 0 {
				continue
			}
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var want sweepResult
			t.Run("fault-free", func(t *testing.T) { want = runSweepCell(t, sc, 0) })
			for _, seed := range seeds {
				t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
					got := runSweepCell(t, sc, seed)
					if got.outcome != want.outcome {
						t.Errorf("with %.0f%% of calls failing (seed %d, %d faults injected) the run ended\n  %s\nwithout faults it ends\n  %s\nstates entered:\n  %s",
							sweepRate*100, seed, got.injected, got.outcome, want.outcome, got.path)
					}
					if got.injected == 0 {
						t.Errorf("no fault was injected")
					}
					t.Logf("%d faults injected, %d of them hangs", got.injected, got.hung)
				})
			}
		})
	}
}
