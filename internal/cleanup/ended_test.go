package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
)

const regSM = "arn:aws:states:eu-west-1:123456789012:stateMachine:register"

// bus records the events put, and whether the cluster's lock still named
// the execution when each was put (the lock must outlive the publish).
type bus struct {
	w         *world
	entries   []ebtypes.PutEventsRequestEntry
	lockHeld  []bool
	err       error // the call fails
	failEntry bool  // the call succeeds, the entry fails
}

func (b *bus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.failEntry {
		return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{{
			ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("an internal failure")}}}, nil
	}
	b.entries = append(b.entries, in.Entries...)
	b.lockHeld = append(b.lockHeld, b.w.params[p.Lock(cluster)] == me)
	return &eventbridge.PutEventsOutput{Entries: []ebtypes.PutEventsResultEntry{{EventId: aws.String("ev-1")}}}, nil
}

func (b *bus) details(t *testing.T, detailType string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range b.entries {
		if aws.ToString(e.DetailType) != detailType {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &m); err != nil {
			t.Fatalf("detail %s: %v", aws.ToString(e.Detail), err)
		}
		out = append(out, m)
	}
	return out
}

func endedCleaner(w *world) (*Cleaner, *bus) {
	b := &bus{w: w}
	c := w.cleaner()
	c.Events, c.Bus, c.Source = b, "platform-bus", "eks-connector-registrar"
	return c, b
}

func statusChange(status, errName, cause string) StatusChange {
	ev := StatusChange{DetailType: "Step Functions Execution Status Change"}
	ev.Detail.ExecutionArn, ev.Detail.StateMachineArn, ev.Detail.Status = me, regSM, status
	ev.Detail.Input = `{"clusterName":"edge-1","provider":"GKE","activationTimeoutMinutes":60,"consoleAccessArns":[],"eventId":"e","attempt":1}`
	if errName != "" {
		ev.Detail.Error = aws.String(errName)
	}
	if cause != "" {
		ev.Detail.Cause = aws.String(cause)
	}
	return ev
}

func TestStoppedRegistrationIsCompensatedAndAnnouncedOnce(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
	c, b := endedCleaner(w)
	ev := statusChange("ABORTED", "OperatorStopped", "wrong cluster")
	s, err := c.Ended(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Deregistered || !s.LockReleased || s.Published != DetailTypeRegistrationFailed || len(w.params) != 0 {
		t.Fatalf("summary %+v, parameters left %v", s, w.params)
	}
	if len(b.entries) != 1 {
		t.Fatalf("%d events, want 1", len(b.entries))
	}
	e := b.entries[0]
	if aws.ToString(e.EventBusName) != "platform-bus" || aws.ToString(e.Source) != "eks-connector-registrar" ||
		!slices.Equal(e.Resources, []string{regSM, me}) {
		t.Errorf("entry bus %q source %q resources %v", aws.ToString(e.EventBusName), aws.ToString(e.Source), e.Resources)
	}
	if !b.lockHeld[0] {
		t.Error("the lock was released before the event was put: a failed put could never be retried")
	}
	d := b.details(t, DetailTypeRegistrationFailed)[0]
	reason, _ := d["reason"].(string)
	if want := map[string]any{"clusterName": cluster, "error": "ExecutionAborted", "executionArn": me, "reason": reason}; !reflect.DeepEqual(d, want) {
		t.Errorf("detail %v, want %v", d, want)
	}
	for _, want := range []string{"registration execution mine of cluster edge-1 was stopped by hand (ABORTED, error OperatorStopped: wrong cluster)",
		"The registration was removed", "send Register Cluster again"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}

	// A repeated delivery: nothing left, the lock gone: nothing announced.
	s, err = c.Ended(context.Background(), ev)
	if err != nil || s.Deregistered || s.Published != "" || len(b.entries) != 1 {
		t.Errorf("repeated delivery: %+v, %v, %d events", s, err, len(b.entries))
	}
}

func TestEndedActsOnlyWhileTheLockNamesTheExecution(t *testing.T) {
	for _, tt := range []struct {
		name     string
		lock     string // "" : no lock
		wantLock string
	}{
		// Its own cleanup ran and announced: a late compensation could only
		// hit a newer registration of ours.
		{"the execution released it (its own cleanup ran and announced)", "", ""},
		// That one took the cluster over and owns what this one left.
		{"another execution took it over", "arn:other", "arn:other"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
			delete(w.params, p.Lock(cluster))
			if tt.lock != "" {
				w.params[p.Lock(cluster)] = tt.lock
			}
			c, b := endedCleaner(w)
			s, err := c.Ended(context.Background(), statusChange("FAILED", "ActivationTimedOut", "deadline"))
			if err != nil {
				t.Fatal(err)
			}
			// Nothing is touched, nothing announced.
			if s.Mode != "none" || s.Published != "" || len(b.entries) != 0 || w.deregistered != 0 {
				t.Errorf("summary %+v, %d events, %d deregistrations; want nothing done", s, len(b.entries), w.deregistered)
			}
			if got := w.params[p.Lock(cluster)]; got != tt.wantLock {
				t.Errorf("lock %q, want %q", got, tt.wantLock)
			}
		})
	}
}

func TestStoppedForADeregistrationIsLeftToIt(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
	c, b := endedCleaner(w)
	s, err := c.Ended(context.Background(), statusChange("ABORTED", "DeregistrationRequested", "Deregistration requested by event x"))
	if err != nil || s.Mode != "none" || len(b.entries) != 0 || w.deregistered != 0 || w.params[p.Lock(cluster)] != me {
		t.Errorf("%+v, %v, %d events, %d deregistrations, lock %q: want nothing done", s, err, len(b.entries), w.deregistered, w.params[p.Lock(cluster)])
	}
}

// The agent connected after the last check, then the execution was
// stopped: the cluster is kept, finished as CompleteRegistration would, and
// announced as registered, not failed.
func TestStoppedAfterTheAgentConnectedIsCompletedAndAnnouncedRegistered(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusActive, "act-1", me)
	c, b := endedCleaner(w)
	s, err := c.Ended(context.Background(), statusChange("ABORTED", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !s.KeptActive || s.Deregistered || s.Published != DetailTypeRegistered || w.cluster == nil {
		t.Fatalf("summary %+v", s)
	}
	if len(b.entries) != 1 || len(b.details(t, DetailTypeRegistered)) != 1 || !b.lockHeld[0] {
		t.Fatalf("events %+v (lock held at put: %v), want one Cluster Registered, put before the release", b.entries, b.lockHeld)
	}
	d := b.details(t, DetailTypeRegistered)[0]
	if d["clusterName"] != cluster || d["clusterArn"] != "arn:c" || d["provider"] != "OTHER" || d["alreadyRegistered"] != false ||
		d["deletedCodeParameter"] != p.ActivationCode(cluster) || !reflect.DeepEqual(d["instanceIds"], []any{"eks_c:edge-1_aaaaaaaaaaaaaaaaa"}) {
		t.Errorf("detail %v", d)
	}
	if _, ok := d["timeToActivateSeconds"]; ok {
		t.Errorf("timeToActivateSeconds %v: the activation time is not known on this path", d["timeToActivateSeconds"])
	}
	// What CompleteRegistration leaves: the activation record only.
	left := slices.Sorted(func(yield func(string) bool) {
		for n := range w.params {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(left, []string{p.Activation(cluster)}) {
		t.Errorf("parameters left %v, want only the activation record", left)
	}
}

func TestEndedPublishFailureIsATypedErrorAndTheRetryPublishes(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fail      func(*bus)
		wantError string
	}{
		{"throttled", func(b *bus) { b.err = apiErr("ThrottlingException") }, "TransientAWSError"},
		{"denied", func(b *bus) { b.err = apiErr("AccessDeniedException") }, "AWSCallFailed"},
		{"entry failed", func(b *bus) { b.failEntry = true }, "EventNotPublished"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
			c, b := endedCleaner(w)
			tt.fail(b)
			ev := statusChange("TIMED_OUT", "States.Timeout", "")
			_, err := c.Ended(context.Background(), ev)
			if err == nil || reflect.TypeOf(err).Name() != tt.wantError {
				t.Fatalf("error %T %v, want %s", err, err, tt.wantError)
			}
			if w.deregistered != 1 || w.params[p.Lock(cluster)] != me {
				t.Fatalf("%d deregistrations, lock %q: want compensated, lock still held for the retry", w.deregistered, w.params[p.Lock(cluster)])
			}
			// Lambda's retry, once the bus takes events again.
			b.err, b.failEntry = nil, false
			s, err := c.Ended(context.Background(), ev)
			if err != nil || s.Published != DetailTypeRegistrationFailed || len(b.entries) != 1 || w.deregistered != 1 {
				t.Fatalf("retry: %+v, %v, %d events, %d deregistrations", s, err, len(b.entries), w.deregistered)
			}
			d := b.details(t, DetailTypeRegistrationFailed)[0]
			if d["error"] != "ExecutionTimedOut" || !strings.Contains(d["reason"].(string), "exceeded its execution timeout (TIMED_OUT, error States.Timeout)") {
				t.Errorf("detail %v", d)
			}
			if _, held := w.params[p.Lock(cluster)]; held {
				t.Error("the lock is still held after the retry")
			}
		})
	}
	var e awserr.EventNotPublished
	if err := error(awserr.EventNotPublished{DetailType: "X", Code: "InternalFailure", Message: "m"}); !errors.As(err, &e) || !strings.Contains(err.Error(), `publishing "X" failed: InternalFailure: m`) {
		t.Errorf("message %q", err)
	}
}

func TestEndedErrorAndReason(t *testing.T) {
	long := strings.Repeat("x", 3000)
	for _, tt := range []struct {
		status, errName, cause string
		wantError              string
		wantReason             []string
		notInReason            []string
	}{
		{"ABORTED", "", "", "ExecutionAborted", []string{"was stopped by hand (ABORTED) before it finished"}, []string{"ABORTED, error", "ABORTED: "}},
		{"TIMED_OUT", "", "", "ExecutionTimedOut", []string{"exceeded its execution timeout (TIMED_OUT)"}, nil},
		{"FAILED", "States.Runtime", "An error occurred while executing the state 'X'", "States.Runtime",
			[]string{"cannot catch (FAILED, error States.Runtime: An error occurred while executing the state 'X')", "history"}, nil},
		{"FAILED", "", "", "ExecutionFailed", []string{"(FAILED)"}, nil},
		{"FAILED", "Lambda.Unknown", `The cause could not be determined because Lambda did not return an error type. Returned payload: {"errorMessage":"the function crashed"}`, "Lambda.Unknown",
			[]string{"error Lambda.Unknown: the function crashed"}, []string{"errorMessage", "could not be determined"}},
		{"FAILED", "Runtime.ExitError", `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3 Error: Runtime exited with error: exit status 1"}`, "Runtime.ExitError",
			[]string{"error Runtime.ExitError: RequestId: 1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3 Error: Runtime exited with error: exit status 1"}, []string{"errorType"}},
		{"ABORTED", "OperatorStopped", long, "ExecutionAborted", []string{strings.Repeat("x", maxEndedCause) + "…"}, []string{strings.Repeat("x", maxEndedCause+1)}},
	} {
		if got := endedError(tt.status, tt.errName); got != tt.wantError {
			t.Errorf("endedError(%s, %q) = %s, want %s", tt.status, tt.errName, got, tt.wantError)
		}
		r := EndedReason(cluster, me, tt.status, tt.errName, tt.cause, Summary{Mode: ModeCompensate})
		for _, want := range tt.wantReason {
			if !strings.Contains(r, want) {
				t.Errorf("reason %q does not say %q", r, want)
			}
		}
		for _, not := range tt.notInReason {
			if strings.Contains(r, not) {
				t.Errorf("reason %q says %q", r, not)
			}
		}
	}
}

func TestEndedNeedsTheExecutionAndItsCluster(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
	c, b := endedCleaner(w)
	ev := statusChange("ABORTED", "", "")
	ev.Detail.Input = `{"provider":"GKE"}`
	_, err := c.Ended(context.Background(), ev)
	var bad awserr.StepInputInvalid
	if !errors.As(err, &bad) || w.deregistered != 0 || len(b.entries) != 0 {
		t.Errorf("error %v, want StepInputInvalid and nothing done", err)
	}
}

// The Cleanup function takes both a state machine step and a status change.
func TestHandleRoutesAStatusChange(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
	c, b := endedCleaner(w)
	raw, _ := json.Marshal(statusChange("ABORTED", "OperatorStopped", ""))
	s, err := c.handle(context.Background(), raw)
	if err != nil || s.Published != DetailTypeRegistrationFailed || len(b.entries) != 1 {
		t.Errorf("status change: %+v, %v", s, err)
	}
	s, err = c.handle(context.Background(), json.RawMessage(`{"mode":"release","clusterName":"edge-1","executionArn":"`+me+`"}`))
	if err != nil || s.Mode != ModeRelease || s.Published != "" || len(b.entries) != 1 {
		t.Errorf("step: %+v, %v", s, err)
	}
}
