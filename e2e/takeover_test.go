package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/lock"
	"github.com/platform/eks-connector-registrar/internal/trigger"
	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Stale-lock takeover under concurrency, on the local cloud: the real
// trigger, SSM's conditional PutParameter, Step Functions' DescribeExecution,
// many events at one virtual instant. The lock's age is judged on service
// timestamps (the event's time against the parameter's LastModifiedDate), so
// the virtual clock ages it.

var lockParams = workflow.Parameters{Prefix: "/eks-connector-registrar"}

const burstSize = 24

// A registration's lock names a deregistration that ended without releasing
// it (its Cleanup could not delete the lock: LockNotReleased). 24 "Register
// Cluster" events with different ids then arrive at once: exactly one takes
// the stale lock over and starts its execution, which registers once; the
// other 23 answer AlreadyInProgress; no invocation fails.
func TestBurstTakesOverALockWhoseHolderEnded(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	const cluster = "stale-01"

	// A deregistration whose Cleanup may not delete the lock ends FAILED
	// with the lock still naming it.
	e.c.Faults.Add(awsproto.Fault{Service: "ssm", Op: "DeleteParameter", Caller: "CleanupFunction", Fraction: 1,
		Code: "AccessDeniedException", Status: 400, Message: "injected: not authorized to perform ssm:DeleteParameter"})
	e.put("Deregister Cluster", map[string]any{"clusterName": cluster})
	dereg := e.waitExecution("Deregistration", 1)
	mustStatus(t, dereg, "FAILED")
	if entered(dereg, "LockNotReleased") != 1 {
		t.Fatalf("deregistration states %v, want LockNotReleased", statesEntered(dereg))
	}
	e.settle()
	e.c.Faults.Clear()
	if holder, _ := lockValue(e, cluster); holder != dereg.Arn {
		t.Fatalf("lock names %q, want the ended deregistration %s", holder, dereg.Arn)
	}
	errorsBefore := e.c.Lambda.Errors()

	b := burst(t, e, cluster, burstSize, false)
	if b.started != 1 || b.inProgress != burstSize-1 || b.tookOver != 1 {
		t.Fatalf("outcomes: %s; want 1 started (after taking over), %d AlreadyInProgress", b, burstSize-1)
	}
	if b.staleHolders[0] != dereg.Arn {
		t.Errorf("took over %v, want the ended deregistration %s", b.staleHolders, dereg.Arn)
	}
	assertRegisteredOnce(t, e, errorsBefore)
	assertOnlyRecordLeft(t, e, cluster)
	t.Logf("%s: %s; 1 execution, %d RegisterCluster call; %s real time",
		cluster, b, e.c.EKS.RegisterCalls(), time.Since(began).Round(time.Millisecond))
}

// A registration's trigger dies (its sandbox is killed) between taking the
// lock and StartExecution, on every one of Lambda's three attempts: the lock
// names an execution that never starts. Within the 5-minute grace, measured
// on service timestamps, a burst of events respects it (the holder may still
// be starting); past the grace, the next burst takes it over, exactly once.
func TestBurstTakesOverALockWhoseHolderNeverStarted(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	const cluster = "stale-02"

	e.c.Faults.Add(awsproto.Fault{Service: "states", Op: "StartExecution", Caller: "TriggerFunction", FirstN: 3, KillCaller: true})
	e.register(cluster, nil)
	e.settle() // the first attempt and Lambda's two retries, 1 and 2 minutes apart
	if n := e.c.Faults.InjectedCount("states", "StartExecution"); n != 3 {
		t.Fatalf("%d trigger sandboxes killed at StartExecution, want 3", n)
	}
	dead, modified := lockValue(e, cluster)
	if !strings.Contains(dead, ":execution:") || len(e.c.SFN.Executions()) != 0 {
		t.Fatalf("lock %q, %d executions: want the lock naming an execution that never started", dead, len(e.c.SFN.Executions()))
	}
	if q := failureQueueMessages(e); q != 1 {
		t.Errorf("%d messages in TriggerFailureQueue, want the dead trigger's event", q)
	}
	errorsBefore := e.c.Lambda.Errors()

	// Within the grace: the holder may still be starting.
	if age := e.c.Clock.Now().Sub(modified); age >= lock.DefaultGrace {
		t.Fatalf("the lock is %s old already; the test needs it younger than the grace", age)
	}
	early := burst(t, e, cluster, burstSize, false)
	if early.started != 0 || early.inProgress != burstSize || early.holderStatuses[lock.StatusStarting] != burstSize {
		t.Fatalf("within the grace: %s; want all %d AlreadyInProgress, holder STARTING", early, burstSize)
	}

	// Past the grace.
	e.c.Virtual.Advance(lock.DefaultGrace)
	late := burst(t, e, cluster, burstSize, false)
	if late.started != 1 || late.inProgress != burstSize-1 || late.tookOver != 1 || late.staleHolders[0] != dead {
		t.Fatalf("past the grace: %s; want 1 started after taking over %s, %d AlreadyInProgress", late, dead, burstSize-1)
	}
	assertRegisteredOnce(t, e, errorsBefore)
	assertOnlyRecordLeft(t, e, cluster)
	t.Logf("%s: within grace %s; past grace %s; 1 execution, 1 RegisterCluster call; %s real time",
		cluster, early, late, time.Since(began).Round(time.Millisecond))
}

// A takeover's winner dies after creating its takeover marker and before
// overwriting the lock (its sandbox is killed, on every attempt Lambda
// makes): the lock still names the stale holder and the marker names a
// winner that never starts. Events within the marker's grace wait for that
// winner; past it, the next events take the claim over through the chain of
// markers, exactly once, and every marker is gone at the end.
func TestBurstRecoversATakeoverWhoseWinnerDied(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	const cluster = "stale-03"

	// A lock whose holder never started, past the grace.
	stale := staleLock(t, e, cluster)

	// The next event's trigger creates the takeover marker; from then on
	// every call of the trigger kills it, so it dies before overwriting the
	// lock, and so do Lambda's two retries.
	armed := false
	e.onCall(func(c *awsproto.Call, status int) {
		if !armed && c.Principal != nil && c.Principal.Name == "TriggerFunction" && c.Op == "PutParameter" && status == 200 {
			armed = true
			e.c.Faults.Add(awsproto.Fault{Caller: "TriggerFunction", Fraction: 1, KillCaller: true})
		}
	})
	e.register(cluster, nil)
	e.settle()
	e.c.Faults.Clear()
	marker := lockParams.Takeover(cluster, lock.HolderID(stale))
	winner, _, ok := e.c.SSM.Parameter(marker)
	if holder, _ := lockValue(e, cluster); !ok || holder != stale || !strings.Contains(winner, ":execution:") || len(e.c.SFN.Executions()) != 0 {
		t.Fatalf("lock %q, marker %q (%v), %d executions: want the stale lock, a marker naming a winner that never started",
			holder, winner, ok, len(e.c.SFN.Executions()))
	}
	if n := e.c.Faults.InjectedCount("ssm", "GetParameter") + e.c.Faults.InjectedCount("ssm", "PutParameter"); n != 3 {
		t.Errorf("%d trigger sandboxes killed, want 3 (the attempt and Lambda's two retries)", n)
	}
	errorsBefore := e.c.Lambda.Errors()

	// The marker is younger than the grace: its winner may still be starting.
	early := burst(t, e, cluster, burstSize, false)
	if early.started != 0 || early.inProgress != burstSize || early.holders[winner] != burstSize {
		t.Fatalf("within the marker's grace: %s; want all %d AlreadyInProgress, naming the winner %s", early, burstSize, winner)
	}

	e.c.Virtual.Advance(lock.DefaultGrace)
	late := burst(t, e, cluster, burstSize, false)
	if late.started != 1 || late.inProgress != burstSize-1 || late.tookOver != 1 || late.staleHolders[0] != stale {
		t.Fatalf("past the marker's grace: %s; want 1 started after taking over %s, %d AlreadyInProgress", late, stale, burstSize-1)
	}
	assertRegisteredOnce(t, e, errorsBefore)
	chained := lockParams.Takeover(cluster, lock.HolderID(winner))
	for _, m := range []string{marker, chained} {
		if _, _, ok := e.c.SSM.Parameter(m); ok {
			t.Errorf("takeover marker %s is left", m)
		}
	}
	assertOnlyRecordLeft(t, e, cluster)
	t.Logf("%s: within grace %s; past grace %s; 1 execution, 1 RegisterCluster call; %s real time",
		cluster, early, late, time.Since(began).Round(time.Millisecond))
}

// A "Deregister Cluster" and 24 "Register Cluster" events race for a stale
// lock. Exactly one of them owns the cluster at a time, and the deregistration
// is never lost: it either wins outright or takes the cluster over from the
// registration that won first. The events are concurrent, so registrations
// whose trigger runs after the deregistration has ended may register afresh;
// the end state must be that of some serial order (nothing registered while
// the deregistration owned the cluster survives it, at most one registration
// completes, and only after the deregistration). Run with -count to see the
// orders.
//
// It once caught a real bug: the deregistration stopped the registration R1
// that had won, then took R1's lock over; but a stopped R1 has ended, so
// another registration R2 of the burst could judge R1's lock stale and win
// the takeover first, and the deregistration was dropped. The trigger now
// takes the lock over before it stops anything, and supersedes a
// registration that gets in first in turn.
func TestDeregistrationAndRegistrationsRaceForAStaleLock(t *testing.T) {
	t.Parallel()
	began := time.Now()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute}})
	const cluster = "stale-04"
	staleLock(t, e, cluster)

	b := burst(t, e, cluster, burstSize, true)
	if b.deregStarted != 1 {
		for _, l := range e.logLines("trigger", "") {
			if l["detailType"] == "Deregister Cluster" || l["level"] != "INFO" {
				t.Logf("trigger: %v", l)
			}
		}
		t.Fatalf("outcomes %s: the deregistration's trigger must start it", b)
	}
	dereg := e.waitExecution("Deregistration", 1)
	mustStatus(t, dereg, "SUCCEEDED")
	regs := e.executions("Registration")
	for i := range regs {
		e.waitExecution("Registration", i+1)
	}
	e.settle()
	e.c.Virtual.Advance(5 * time.Minute) // a deregistered cluster shows DELETING for a while
	e.settle()

	if n := len(e.executions("Deregistration")); n != 1 {
		t.Errorf("%d deregistration executions, want 1", n)
	}
	if b.deregStarted != 1 {
		t.Errorf("outcomes %s: the deregistration's trigger must start it", b)
	}
	// The events are concurrent, so any order is right as long as the end
	// state is that of some serial order: registrations whose trigger ran
	// after the deregistration had ended may register afresh, but nothing
	// registered while the deregistration owned the cluster survives it.
	succeeded := 0
	for _, r := range regs {
		if r.Status() == "SUCCEEDED" {
			succeeded++
		}
	}
	if succeeded > 1 {
		t.Errorf("%d registrations SUCCEEDED, want at most 1", succeeded)
	}
	var lastDeregistered, lastRegistered = -1, -1
	for i, ev := range e.c.Events.Log() {
		switch ev.DetailType {
		case "Cluster Deregistered":
			lastDeregistered = i
		case "Cluster Registered":
			lastRegistered = i
		}
	}
	if lastDeregistered < 0 {
		t.Errorf("no Cluster Deregistered event")
	}
	registeredAfter := lastRegistered > lastDeregistered
	if succeeded == 1 && !registeredAfter {
		t.Errorf("a registration SUCCEEDED and announced itself before the deregistration ended")
	}
	// A superseded registration may fail its RegisterCluster step (the
	// takeover landed between CheckCluster and RegisterCluster); nothing
	// else may fail.
	for _, inv := range e.c.Lambda.Log() {
		if inv.ErrorType != "" && inv.ErrorType != "RegistrationSuperseded" {
			t.Errorf("Lambda error %s: %s (%s)", inv.ErrorType, inv.Message, inv.Function)
		}
	}
	wantClusters := 0
	if succeeded == 1 {
		wantClusters = 1
	}
	if names := e.c.EKS.ClusterNames(); len(names) != wantClusters || os.Getenv("E2E_DEBUG") != "" {
		for _, r := range append(regs, dereg) {
			en, ca := r.Engine().Error()
			t.Logf("execution %s %s %s %.300s states %v", r.Name, r.Status(), en, ca, statesEntered(r))
		}
		for _, ev := range e.c.Events.Log() {
			t.Logf("event %s %.400s", ev.DetailType, ev.Detail)
		}
	}
	if names := e.c.EKS.ClusterNames(); len(names) != wantClusters {
		t.Errorf("clusters left: %v, want %d (%d registration SUCCEEDED after the deregistration)", names, wantClusters, succeeded)
	}
	if ids := e.c.SSM.ActivationIDs(); len(ids) != wantClusters {
		t.Errorf("activations left: %v, want %d", ids, wantClusters)
	}
	for _, n := range ourParameters(e, cluster) {
		kept := strings.Contains(n, "/superseded-") || // kept a day for the superseded trigger's retries
			(succeeded == 1 && strings.HasSuffix(n, "/activation")) // a completed registration's record
		if !kept {
			t.Errorf("parameter left: %s", n)
		}
	}
	order := "the deregistration won the stale lock outright"
	if len(regs) == 1 {
		order = fmt.Sprintf("registration %s won first and ended %s", regs[0].Name, regs[0].Status())
	} else if b.superseded > 0 || b.deregSuperseded > 0 {
		order = "a registration won first and was superseded before it started"
	}
	t.Logf("%s: %s; %s; %d registration executions, %d RegisterCluster calls; %s real time",
		cluster, b, order, len(regs), e.c.EKS.RegisterCalls(), time.Since(began).Round(time.Millisecond))
}

// burst puts n "Register Cluster" events for cluster (and, with dereg, one
// "Deregister Cluster") through PutEvents at one virtual instant, waits until
// every trigger invocation they cause has ended, and reads the outcomes from
// the trigger's log.
func burst(t *testing.T, e *env, cluster string, n int, dereg bool) triggerTally {
	t.Helper()
	w := watchTrigger(e)
	var ds []delivery
	for i := range n {
		if dereg && i == n/2 {
			ds = append(ds, delivery{detailType: "Deregister Cluster", detail: map[string]any{"clusterName": cluster, "reason": "race"}})
		}
		ds = append(ds, registerDelivery(cluster, "OTHER"))
	}
	release := e.freeze()
	defer release()
	deliverAtOnce(t, e, ds)
	e.c.Lambda.WaitAsync()
	release()
	return w.report(cluster)
}

// staleLock makes cluster's lock name a registration that never started,
// past the grace, and returns that registration's ARN.
func staleLock(t *testing.T, e *env, cluster string) string {
	t.Helper()
	stale := trigger.ExecutionArn(stateMachineArn(t, e, "RegistrationStateMachine"), "register-"+cluster+"-neverstarted")
	writeParam(t, e, lockParams.Lock(cluster), stale)
	e.c.Virtual.Advance(lock.DefaultGrace + time.Minute)
	return stale
}

// assertRegisteredOnce waits for the registration a burst started to
// succeed, lets the cloud settle, and checks that it was the only
// registration, that it called RegisterCluster once, and that no Lambda
// invocation failed since errorsBefore.
func assertRegisteredOnce(t *testing.T, e *env, errorsBefore int) {
	t.Helper()
	mustStatus(t, e.waitExecution("Registration", 1), "SUCCEEDED")
	e.settle()
	if n := len(e.executions("Registration")); n != 1 {
		t.Errorf("%d registration executions, want 1", n)
	}
	if n := e.c.EKS.RegisterCalls(); n != 1 {
		t.Errorf("%d RegisterCluster calls, want 1", n)
	}
	if n := e.c.Lambda.Errors() - errorsBefore; n != 0 {
		t.Errorf("%d Lambda errors in the bursts, want 0", n)
	}
}

func lockValue(e *env, cluster string) (holder string, modified time.Time) {
	out, err := ssm.NewFromConfig(e.c.ConfigFor("admin")).GetParameter(e.ctx(), &ssm.GetParameterInput{Name: aws.String(lockParams.Lock(cluster))})
	if err != nil {
		return "", time.Time{}
	}
	return aws.ToString(out.Parameter.Value), aws.ToTime(out.Parameter.LastModifiedDate)
}

func writeParam(t *testing.T, e *env, name, value string) {
	t.Helper()
	if _, err := ssm.NewFromConfig(e.c.ConfigFor("admin")).PutParameter(e.ctx(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatalf("PutParameter %s: %v", name, err)
	}
}

func stateMachineArn(t *testing.T, e *env, logicalID string) string {
	t.Helper()
	for _, sm := range e.c.Template.StateMachines {
		if sm.LogicalID == logicalID {
			return sm.Arn
		}
	}
	t.Fatalf("no state machine %s in the template", logicalID)
	return ""
}

func failureQueueMessages(e *env) int {
	for _, q := range e.c.Template.Queues {
		if q.LogicalID == "TriggerFailureQueue" {
			return len(e.c.SQS.Messages(q.Arn))
		}
	}
	return -1
}

// assertOnlyRecordLeft: after a successful registration only its activation
// record remains (lock released, takeover markers deleted, code deleted).
func assertOnlyRecordLeft(t *testing.T, e *env, cluster string) {
	t.Helper()
	if left := ourParameters(e, cluster); !slices.Equal(left, []string{lockParams.Activation(cluster)}) {
		t.Errorf("parameters left %v, want only %s", left, lockParams.Activation(cluster))
	}
}
