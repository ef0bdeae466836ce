package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// The crash sweep: a function's process dies right after each AWS write it
// makes, in turn, and every run must end as the crash-free run does. The
// writes are not listed by hand: a crash-free run of each base scenario
// records every call the functions make, and each write (an operation that
// is not a Get, List or Describe) becomes one variant, the n-th call of that
// operation by that function. The crash is a KillCallerAfter fault: the
// write takes effect, the process dies before it reads the answer, Lambda
// reports Runtime.ExitError, and whoever invoked the function (the state
// machine's Retry, or Lambda's asynchronous retries for the trigger) runs it
// again in a new environment. `make test` runs the registration base;
// `make reliability` every base, and a crash right before each write too.

type crashBase struct {
	name string
	opts localcloud.Options
	run  func(e *env)
}

func crashBases() []crashBase {
	return []crashBase{
		{"registration", localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}},
			func(e *env) { e.register("cs-01", nil) }},
		{"compensation", localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}},
			func(e *env) { e.register("cs-01", map[string]any{"activationTimeoutMinutes": 5}) }},
		{"deregistration", localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: time.Minute}},
			func(e *env) {
				e.register("cs-01", nil)
				e.waitExecution("Registration", 1)
				e.settle()
				e.put("Deregister Cluster", map[string]any{"clusterName": "cs-01", "reason": "decommissioned"})
			}},
	}
}

// crashPoint is one write: the n-th call (1-based) of service:op by a
// function.
type crashPoint struct {
	caller, service, op string
	n                   int
}

func (p crashPoint) String() string {
	return fmt.Sprintf("%s/%s:%s#%d", p.caller, p.service, p.op, p.n)
}

// crashEndState is what a run ends with: its outcome (executions, outcome
// events, clusters) and what is stored (parameter names, live activations,
// managed instances).
func (e *env) crashEndState() string {
	e.c.Virtual.Advance(5 * time.Minute) // a deregistered cluster is gone after DELETING
	e.waitQuiet()
	live := 0
	for _, a := range e.c.SSM.Activations() {
		if !a.Expired {
			live++
		}
	}
	return fmt.Sprintf("%s | parameters %v | live activations %d | managed instances %d",
		e.outcome(), e.c.SSM.ParameterNames(), live, len(e.c.SSM.Instances()))
}

// runCrashCell runs base; with a crash point, the caller dies right after
// (or, before, right before) that call.
func runCrashCell(t *testing.T, b crashBase, p *crashPoint, before bool) (end string, writes []crashPoint, injected int) {
	e := start(t, b.opts)
	functions := map[string]bool{}
	for _, cr := range e.c.Credentials() {
		if cr.Kind == "function" {
			functions[cr.Name] = true
		}
	}
	var mu sync.Mutex
	seen := map[string]int{}
	e.onCall(func(c *awsproto.Call, _ int) {
		if c.Principal == nil || !functions[c.Principal.Name] || isRead(c.Op) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		k := c.Principal.Name + " " + c.Service + " " + c.Op
		seen[k]++
		writes = append(writes, crashPoint{c.Principal.Name, c.Service, c.Op, seen[k]})
	})
	if p != nil {
		e.countCase("crashsweep")
		e.c.Faults.Add(awsproto.Fault{Caller: p.caller, Service: p.service, Op: p.op, Skip: p.n - 1, FirstN: 1,
			KillCaller: before, KillCallerAfter: !before})
	}
	b.run(e)
	e.waitQuiet()
	end = e.crashEndState()
	if p != nil {
		injected = e.c.Faults.InjectedCount(p.service, p.op)
		// The crash is Lambda's: the function's invocation ended with
		// Runtime.ExitError.
		fn, _ := e.c.Template.Function(p.caller)
		exited := 0
		for _, inv := range e.c.Lambda.Log() {
			if inv.Function == fn.FunctionName && inv.ErrorType == lambda.ExitError {
				exited++
			}
		}
		if exited != 1 {
			t.Errorf("%d invocations of %s ended with %s, want 1", exited, p.caller, lambda.ExitError)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return end, slices.Clone(writes), injected
}

// Every function's process dies right after each of its AWS writes, one
// write per run: every run ends as the crash-free run does, and the end
// checks find nothing left behind and no code anywhere.
func TestCrashAfterEachWrite(t *testing.T) {
	t.Parallel()
	for _, b := range crashBases() {
		if !fullSweep() && b.name != "registration" {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			var want string
			var points []crashPoint
			t.Run("crash-free", func(t *testing.T) { want, points, _ = runCrashCell(t, b, nil, false) })
			if len(points) == 0 {
				t.Fatal("the crash-free run made no write")
			}
			t.Logf("crash-free: %d writes by the functions; end state %s", len(points), want)
			modes := []bool{false}
			if fullSweep() {
				modes = append(modes, true)
			}
			for _, before := range modes {
				when := "after"
				if before {
					when = "before"
				}
				for _, p := range points {
					t.Run(when+"/"+strings.ReplaceAll(p.String(), "/", "-"), func(t *testing.T) {
						t.Parallel()
						got, _, injected := runCrashCell(t, b, &p, before)
						if injected != 1 {
							t.Fatalf("%d crashes at %s, want 1", injected, p)
						}
						if got != want {
							t.Errorf("with a crash %s %s the run ended\n  %s\nwithout a crash it ends\n  %s", when, p, got, want)
						}
					})
				}
			}
		})
	}
}
