package trigger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/contract"
	"github.com/platform/eks-connector-registrar/internal/lambdamain/logtest"
	"github.com/platform/eks-connector-registrar/internal/lock"
	"github.com/platform/eks-connector-registrar/internal/lock/locktest"
	"github.com/platform/eks-connector-registrar/internal/trigger"
	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	regSM   = "arn:aws:states:eu-west-1:123456789012:stateMachine:Registration"
	deregSM = "arn:aws:states:eu-west-1:123456789012:stateMachine:Deregistration"
)

// fakeSFN models StartExecution's idempotency: the same name and input while
// running returns the running execution; otherwise ExecutionAlreadyExists.
type fakeSFN struct {
	*locktest.SFN
	mu       sync.Mutex
	inputs   map[string]string
	stops    []*sfn.StopExecutionInput
	startErr error
	view     map[string]sfntypes.ExecutionStatus
}

func newFakeSFN() *fakeSFN { return &fakeSFN{SFN: locktest.NewSFN(), inputs: map[string]string{}} }

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	arn := trigger.ExecutionArn(aws.ToString(in.StateMachineArn), aws.ToString(in.Name))
	if prev, ok := f.inputs[arn]; ok {
		if prev == aws.ToString(in.Input) && f.Status(arn) == sfntypes.ExecutionStatusRunning {
			return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
		}
		return nil, &sfntypes.ExecutionAlreadyExists{Message: aws.String("Execution Already Exists: '" + arn + "'")}
	}
	f.inputs[arn] = aws.ToString(in.Input)
	f.SetStatus(arn, sfntypes.ExecutionStatusRunning)
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String(arn)}, nil
}

func (f *fakeSFN) StopExecution(_ context.Context, in *sfn.StopExecutionInput, _ ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, in)
	arn := aws.ToString(in.ExecutionArn)
	if f.Status(arn) == "" {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
	}
	f.SetStatus(arn, sfntypes.ExecutionStatusAborted)
	return &sfn.StopExecutionOutput{}, nil
}

// DescribeExecution answers with the input, and as view says when set: Step
// Functions' reads are eventually consistent ("" in view: not visible yet).
func (f *fakeSFN) DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, opts ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	arn := aws.ToString(in.ExecutionArn)
	f.mu.Lock()
	view, lagged := f.view[arn]
	input := f.inputs[arn]
	f.mu.Unlock()
	if lagged {
		if view == "" {
			return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
		}
		return &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(arn), Status: view, Input: aws.String(input)}, nil
	}
	out, err := f.SFN.DescribeExecution(ctx, in, opts...)
	if out != nil {
		out.Input = aws.String(input)
	}
	return out, err
}

// lag makes DescribeExecution show arn as status ("" : not at all).
func (f *fakeSFN) lag(arn string, status sfntypes.ExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.view == nil {
		f.view = map[string]sfntypes.ExecutionStatus{}
	}
	f.view[arn] = status
}

func (f *fakeSFN) executions() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.inputs {
		out[k] = v
	}
	return out
}

type fakeEvents struct {
	mu      sync.Mutex
	entries []ebtypes.PutEventsRequestEntry
	fail    bool
}

func (f *fakeEvents) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []ebtypes.PutEventsResultEntry{{
			ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")}}}, nil
	}
	f.entries = append(f.entries, in.Entries...)
	return &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}, nil
}

// t0() is the test world's time: the real now, or the date LOCALCLOUD_START
// gives (`make test` runs this package at three dates). SSM stamps its
// writes with it and every event carries it.
//
// Read in the first test that needs it, not at package init: go test's cache
// records only the environment a running test reads.
var t0 = sync.OnceValue(clock.MustStart)

type world struct {
	h      *trigger.Handler
	ssm    *locktest.SSM
	sfn    *fakeSFN
	events *fakeEvents
	params workflow.Parameters
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s, err := workflow.LoadSettings(func(k string) string {
		return map[string]string{
			"REGISTRATION_STATE_MACHINE_ARN":     regSM,
			"DEREGISTRATION_STATE_MACHINE_ARN":   deregSM,
			"DEFAULT_ACTIVATION_TIMEOUT_MINUTES": "60",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0() }
	w := &world{ssm: locktest.NewSSM(now), sfn: newFakeSFN(), events: &fakeEvents{}, params: s.Params()}
	w.h = &trigger.Handler{
		Settings: s,
		Locker:   &lock.Locker{SSM: w.ssm, SFN: w.sfn, Params: s.Params(), Now: now},
		SSM:      w.ssm,
		SFN:      w.sfn,
		Events:   w.events,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return w
}

func event(id, detailType, detail string) events.CloudWatchEvent {
	return events.CloudWatchEvent{
		Version: "0", ID: id, DetailType: detailType, Source: "eks-connector-registrar",
		AccountID: "123456789012", Region: "eu-west-1", Time: t0(),
		Resources: []string{}, Detail: json.RawMessage(detail),
	}
}

func register(id, cluster string) events.CloudWatchEvent {
	return event(id, "Register Cluster", `{"clusterName":"`+cluster+`","provider":"gke","consoleAccessArns":["arn:aws:iam::123456789012:role/Admin"]}`)
}

func deregister(id, cluster string) events.CloudWatchEvent {
	return event(id, "Deregister Cluster", `{"clusterName":"`+cluster+`","reason":"decommissioned"}`)
}

func (w *world) lockHolder(cluster string) string {
	v, _ := w.ssm.Value(w.params.Lock(cluster))
	return v
}

func TestValidRegisterStartsTheRegistration(t *testing.T) {
	w := newWorld(t)
	res, err := w.h.Handle(context.Background(), register("ev-1", "prod-eu"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != trigger.OutcomeStarted || !strings.HasPrefix(res.ExecutionArn, "arn:aws:states:eu-west-1:123456789012:execution:Registration:register-prod-eu-") {
		t.Fatalf("result %+v", res)
	}
	if w.lockHolder("prod-eu") != res.ExecutionArn {
		t.Fatalf("lock holds %q", w.lockHolder("prod-eu"))
	}
	var in workflow.RegistrationInput
	if err := json.Unmarshal([]byte(w.sfn.executions()[res.ExecutionArn]), &in); err != nil {
		t.Fatal(err)
	}
	want := workflow.RegistrationInput{ClusterName: "prod-eu", Provider: "GKE", ActivationTimeoutMinutes: 60,
		ConsoleAccessArns: []string{"arn:aws:iam::123456789012:role/Admin"}, EventID: "ev-1", Attempt: 1}
	if fmt.Sprint(in) != fmt.Sprint(want) {
		t.Fatalf("input %+v, want %+v", in, want)
	}
	if len(w.events.entries) != 0 {
		t.Fatalf("published %v", w.events.entries)
	}
}

func TestRedeliveredEventStartsNothingNew(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first, _ := w.h.Handle(ctx, register("ev-1", "c1"))
	again, err := w.h.Handle(ctx, register("ev-1", "c1"))
	if err != nil || again.Outcome != trigger.OutcomeStarted || again.ExecutionArn != first.ExecutionArn {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	if n := len(w.sfn.executions()); n != 1 {
		t.Fatalf("%d executions", n)
	}
}

// 50 duplicate events, some redeliveries of one id and some with new ids,
// arriving at once: one execution starts, the rest end quickly.
func TestFiftyDuplicateEventsStartOneExecution(t *testing.T) {
	w := newWorld(t)
	var wg sync.WaitGroup
	results := make([]trigger.Result, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("ev-", i)
			if i%2 == 0 {
				id = "ev-same"
			}
			res, err := w.h.Handle(context.Background(), register(id, "c1"))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	execs := w.sfn.executions()
	if len(execs) != 1 {
		t.Fatalf("%d executions started, want 1: %v", len(execs), execs)
	}
	for arn := range execs {
		for i, r := range results {
			switch {
			case r.Outcome == trigger.OutcomeStarted && r.ExecutionArn == arn:
			case r.Outcome == trigger.OutcomeAlreadyInProgress && r.HolderArn == arn:
			default:
				t.Errorf("event %d: %+v (the execution is %s)", i, r, arn)
			}
		}
	}
}

func TestInvalidEventsAreAnsweredNotRetried(t *testing.T) {
	cases := []struct {
		name  string
		ev    events.CloudWatchEvent
		field string
	}{
		{"dot in name", event("bad-1", "Register Cluster", `{"clusterName":"prod.eu","provider":"GKE"}`), "clusterName"},
		{"bad provider", event("bad-2", "Register Cluster", `{"clusterName":"c1","provider":"k3s"}`), "provider"},
		{"sts session", event("bad-3", "Register Cluster", `{"clusterName":"c1","provider":"GKE","consoleAccessArns":["arn:aws:sts::123456789012:assumed-role/Admin/alice"]}`), "consoleAccessArns[0]"},
		{"deregister without name", event("bad-4", "Deregister Cluster", `{}`), "clusterName"},
		{"other detail-type", event("bad-5", "Cluster Registered", `{"clusterName":"c1"}`), "detail-type"},
		{"other source", func() events.CloudWatchEvent {
			e := register("bad-6", "c1")
			e.Source = "someone-else"
			return e
		}(), "source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			res, err := w.h.Handle(context.Background(), tc.ev)
			if err != nil {
				t.Fatalf("error %v; a bad event must not be retried", err)
			}
			if res.Outcome != trigger.OutcomeRejected || res.Rejection == nil || res.Rejection.Field != tc.field {
				t.Fatalf("result %+v, want rejection of %s", res, tc.field)
			}
			if len(w.ssm.Names()) != 0 || len(w.sfn.executions()) != 0 {
				t.Fatalf("side effects: params %v, executions %v", w.ssm.Names(), w.sfn.executions())
			}
			if len(w.events.entries) != 1 {
				t.Fatalf("published %d events", len(w.events.entries))
			}
			e := w.events.entries[0]
			if aws.ToString(e.DetailType) != "Registration Rejected" || aws.ToString(e.Source) != "eks-connector-registrar" || aws.ToString(e.EventBusName) != "default" {
				t.Fatalf("entry %+v", e)
			}
			var d map[string]string
			if err := json.Unmarshal([]byte(aws.ToString(e.Detail)), &d); err != nil {
				t.Fatal(err)
			}
			if d["field"] != tc.field || d["eventId"] != tc.ev.ID || d["message"] == "" || d["rule"] == "" {
				t.Fatalf("detail %v", d)
			}
		})
	}
}

func TestRejectionDetailNamesTheCluster(t *testing.T) {
	w := newWorld(t)
	w.h.Handle(context.Background(), event("bad", "Register Cluster", `{"clusterName":"prod.eu","provider":"GKE"}`))
	var d map[string]string
	json.Unmarshal([]byte(aws.ToString(w.events.entries[0].Detail)), &d)
	if d["clusterName"] != "prod.eu" || d["value"] != "prod.eu" || !strings.Contains(d["message"], `clusterName "prod.eu" is invalid`) {
		t.Fatalf("detail %v", d)
	}
}

func TestRejectionThatCannotBePublishedIsRetried(t *testing.T) {
	w := newWorld(t)
	w.events.fail = true
	_, err := w.h.Handle(context.Background(), event("bad", "Register Cluster", `{}`))
	var e awserr.EventNotPublished
	if !errors.As(err, &e) || e.Code != "InternalFailure" {
		t.Fatalf("error %v, want EventNotPublished", err)
	}
}

func TestDeregisterStopsARunningRegistration(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	reg, _ := w.h.Handle(ctx, register("ev-r", "c1"))
	res, err := w.h.Handle(ctx, deregister("ev-d", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != trigger.OutcomeStarted || res.StoppedExecutionArn != reg.ExecutionArn || !trigger.IsExecutionOf(deregSM, res.ExecutionArn) {
		t.Fatalf("result %+v", res)
	}
	if len(w.sfn.stops) != 1 || aws.ToString(w.sfn.stops[0].Error) != "DeregistrationRequested" ||
		!strings.Contains(aws.ToString(w.sfn.stops[0].Cause), "decommissioned") {
		t.Fatalf("stops %+v", w.sfn.stops)
	}
	if w.lockHolder("c1") != res.ExecutionArn {
		t.Fatalf("lock holds %s", w.lockHolder("c1"))
	}
	var in workflow.DeregistrationInput
	json.Unmarshal([]byte(w.sfn.executions()[res.ExecutionArn]), &in)
	if in != (workflow.DeregistrationInput{ClusterName: "c1", Reason: "decommissioned", EventID: "ev-d", StoppedExecutionArn: reg.ExecutionArn}) {
		t.Fatalf("input %+v", in)
	}

	// The same deregistration event again: nothing new is stopped or started.
	again, err := w.h.Handle(ctx, deregister("ev-d", "c1"))
	if err != nil || again.Outcome != trigger.OutcomeStarted || again.ExecutionArn != res.ExecutionArn || len(w.sfn.stops) != 1 {
		t.Fatalf("redelivery %+v, %v, stops %d", again, err, len(w.sfn.stops))
	}
	// A register while deregistering is declined.
	r2, err := w.h.Handle(ctx, register("ev-r2", "c1"))
	if err != nil || r2.Outcome != trigger.OutcomeAlreadyInProgress || r2.HolderArn != res.ExecutionArn {
		t.Fatalf("register during deregistration: %+v, %v", r2, err)
	}
	// A second deregistration is declined.
	d2, err := w.h.Handle(ctx, deregister("ev-d2", "c1"))
	if err != nil || d2.Outcome != trigger.OutcomeAlreadyInProgress || len(w.sfn.stops) != 1 {
		t.Fatalf("second deregistration: %+v, %v", d2, err)
	}
}

func TestDeregisterOfAFreeClusterStartsDirectly(t *testing.T) {
	w := newWorld(t)
	res, err := w.h.Handle(context.Background(), deregister("ev-d", "c1"))
	if err != nil || res.Outcome != trigger.OutcomeStarted || res.StoppedExecutionArn != "" || len(w.sfn.stops) != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestDeregisterWhileARegistrationIsStarting(t *testing.T) {
	ctx := context.Background()
	// The registration's trigger holds the lock but has not started its
	// execution (written a minute before the deregistration event).
	regArn := trigger.ExecutionArn(regSM, contractName(register("x", "c1")))
	written := t0().Add(-time.Minute)

	t.Run("it never started: the deregistration takes over at once", func(t *testing.T) {
		w := newWorld(t)
		w.ssm.Set(w.params.Lock("c1"), regArn, written)
		res, err := w.h.Handle(ctx, deregister("ev-d", "c1"))
		if err != nil || res.Outcome != trigger.OutcomeStarted || res.StoppedExecutionArn != "" {
			t.Fatalf("%+v, %v; want started with nothing stopped", res, err)
		}
		if w.lockHolder("c1") != res.ExecutionArn {
			t.Fatalf("lock holds %s, want the deregistration", w.lockHolder("c1"))
		}
		if len(w.sfn.stops) != 1 || aws.ToString(w.sfn.stops[0].ExecutionArn) != regArn {
			t.Fatalf("stops %+v; want one attempt on the starting registration", w.sfn.stops)
		}
		// The registration's trigger, retried while the deregistration runs,
		// does not get the cluster ...
		reg := register("x", "c1")
		if got := trigger.ExecutionArn(regSM, contractName(reg)); got != regArn {
			t.Fatalf("test setup: the register event gives execution %s, not %s", got, regArn)
		}
		again, err := w.h.Handle(ctx, reg)
		if err != nil || again.Outcome != trigger.OutcomeAlreadyInProgress || again.HolderArn != res.ExecutionArn {
			t.Fatalf("registration retry: %+v, %v", again, err)
		}
		// ... nor after it has ended and released the lock: that retry
		// does not start the superseded registration.
		w.sfn.SetStatus(res.ExecutionArn, sfntypes.ExecutionStatusSucceeded)
		if err := lock.Release(ctx, w.ssm, w.params, "c1", res.ExecutionArn); err != nil {
			t.Fatal(err)
		}
		late, err := w.h.Handle(ctx, reg)
		if err != nil || late.Outcome != trigger.OutcomeSuperseded || late.HolderArn != res.ExecutionArn {
			t.Fatalf("registration retry after the deregistration: %+v, %v", late, err)
		}
		if w.lockHolder("c1") != "" || w.sfn.Status(regArn) != "" {
			t.Fatalf("lock %q, registration %q: want the lock free and the registration never started", w.lockHolder("c1"), w.sfn.Status(regArn))
		}
		// A new registration event is not affected.
		fresh, err := w.h.Handle(ctx, register("y", "c1"))
		if err != nil || fresh.Outcome != trigger.OutcomeStarted {
			t.Fatalf("a new registration: %+v, %v", fresh, err)
		}
	})

	t.Run("it started meanwhile: it is stopped and re-checked", func(t *testing.T) {
		w := newWorld(t)
		w.ssm.Set(w.params.Lock("c1"), regArn, written)
		// The registration starts between the deregistration's status check
		// and its takeover of the lock.
		w.ssm.BeforePut = func(in *ssm.PutParameterInput) {
			if strings.Contains(aws.ToString(in.Name), "/takeover-") {
				w.sfn.SetStatus(regArn, sfntypes.ExecutionStatusRunning)
			}
		}
		res, err := w.h.Handle(ctx, deregister("ev-d", "c1"))
		if err != nil || res.Outcome != trigger.OutcomeStarted || res.StoppedExecutionArn != regArn {
			t.Fatalf("%+v, %v; want started, with the registration stopped", res, err)
		}
		if w.sfn.Status(regArn) != sfntypes.ExecutionStatusAborted || w.lockHolder("c1") != res.ExecutionArn {
			t.Fatalf("registration %s, lock %s", w.sfn.Status(regArn), w.lockHolder("c1"))
		}
	})
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func TestThrottledStartKeepsTheLockForTheRetry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.sfn.startErr = apiErr("ThrottlingException")
	_, err := w.h.Handle(ctx, register("ev-1", "c1"))
	var te awserr.TransientAWSError
	if !errors.As(err, &te) {
		t.Fatalf("error %v, want TransientAWSError", err)
	}
	if w.lockHolder("c1") == "" {
		t.Fatal("lock released on a transient failure")
	}
	w.sfn.startErr = nil
	res, err := w.h.Handle(ctx, register("ev-1", "c1"))
	if err != nil || res.Outcome != trigger.OutcomeStarted {
		t.Fatalf("retry: %+v, %v", res, err)
	}
}

// A network failure is transient, never a permissions problem: the trigger
// keeps the lock for Lambda's retry of the event (issue 9: the trigger once
// had a classifier of its own that missed network errors).
func TestStartFailingOnTheNetworkKeepsTheLockForTheRetry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.sfn.startErr = &smithy.OperationError{ServiceID: "SFN", OperationName: "StartExecution",
		Err: &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}}
	_, err := w.h.Handle(ctx, register("ev-1", "c1"))
	var te awserr.TransientAWSError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want TransientAWSError", err, err)
	}
	if strings.Contains(err.Error(), "permission") {
		t.Errorf("a network failure is reported as a permissions problem: %v", err)
	}
	if w.lockHolder("c1") == "" {
		t.Fatal("lock released on a network failure")
	}
}

func TestDeniedStartReleasesTheLock(t *testing.T) {
	w := newWorld(t)
	w.sfn.startErr = apiErr("AccessDeniedException")
	_, err := w.h.Handle(context.Background(), register("ev-1", "c1"))
	var ae awserr.AWSCallFailed
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want AWSCallFailed", err)
	}
	if h := w.lockHolder("c1"); h != "" {
		t.Fatalf("lock still held by %s", h)
	}
}

func TestEventRedeliveredAfterItsExecutionEnded(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first, _ := w.h.Handle(ctx, register("ev-1", "c1"))
	w.sfn.SetStatus(first.ExecutionArn, sfntypes.ExecutionStatusSucceeded)
	lock.Release(ctx, w.ssm, w.params, "c1", first.ExecutionArn)

	res, err := w.h.Handle(ctx, register("ev-1", "c1"))
	if err != nil || res.Outcome != trigger.OutcomeAlreadyProcessed {
		t.Fatalf("%+v, %v", res, err)
	}
	if h := w.lockHolder("c1"); h != "" {
		t.Fatalf("lock left held by %s", h)
	}
}

// A redelivered event whose execution has ended, while Step Functions'
// eventually consistent reads still show it RUNNING or not at all. The
// strongly consistent StartExecution decides: ExecutionAlreadyExists for the
// event's own name and input means it has ended.
func TestRedeliveryWithinTheReadLag(t *testing.T) {
	ctx := context.Background()
	for _, view := range []sfntypes.ExecutionStatus{sfntypes.ExecutionStatusRunning, ""} {
		t.Run(fmt.Sprintf("reads show %q", view), func(t *testing.T) {
			w := newWorld(t)
			first, _ := w.h.Handle(ctx, register("ev-1", "c1"))
			// It ran its own ending: released its lock, then ended.
			lock.Release(ctx, w.ssm, w.params, "c1", first.ExecutionArn)
			w.sfn.SetStatus(first.ExecutionArn, sfntypes.ExecutionStatusFailed)
			w.sfn.lag(first.ExecutionArn, view)
			res, err := w.h.Handle(ctx, register("ev-1", "c1"))
			if err != nil || res.Outcome != trigger.OutcomeAlreadyProcessed {
				t.Fatalf("%+v, %v; want AlreadyProcessed", res, err)
			}
			if h := w.lockHolder("c1"); h != "" {
				t.Fatalf("the redelivery left the lock held by %s (its ending would be announced again)", h)
			}
		})
	}
	// Ended without releasing its lock (stopped by hand): the lock is left
	// for its RegistrationEnded cleanup; reads that do not show it yet make
	// the trigger retry rather than guess.
	t.Run("lock still names it", func(t *testing.T) {
		w := newWorld(t)
		first, _ := w.h.Handle(ctx, register("ev-1", "c1"))
		w.sfn.SetStatus(first.ExecutionArn, sfntypes.ExecutionStatusAborted)
		w.sfn.lag(first.ExecutionArn, "")
		_, err := w.h.Handle(ctx, register("ev-1", "c1"))
		var te awserr.TransientAWSError
		if !errors.As(err, &te) {
			t.Fatalf("error %v, want TransientAWSError while the reads lag", err)
		}
		w.sfn.lag(first.ExecutionArn, sfntypes.ExecutionStatusAborted)
		res, err := w.h.Handle(ctx, register("ev-1", "c1"))
		if err != nil || res.Outcome != trigger.OutcomeAlreadyProcessed {
			t.Fatalf("%+v, %v; want AlreadyProcessed", res, err)
		}
		if h := w.lockHolder("c1"); h != first.ExecutionArn {
			t.Fatalf("lock %q, want it left to the ended execution's cleanup", h)
		}
	})
}

func TestNewHandlerNeedsTheStateMachineArns(t *testing.T) {
	_, err := trigger.NewHandler(aws.Config{Region: "eu-west-1"}, func(string) string { return "" }, slog.Default(), func() time.Time { return t0() })
	if err == nil || !strings.Contains(err.Error(), "STATE_MACHINE_ARN") {
		t.Fatalf("error %v", err)
	}
	env := map[string]string{"REGISTRATION_STATE_MACHINE_ARN": regSM, "DEREGISTRATION_STATE_MACHINE_ARN": deregSM}
	if _, err := trigger.NewHandler(aws.Config{Region: "eu-west-1"}, func(k string) string { return env[k] }, slog.Default(), func() time.Time { return t0() }); err != nil {
		t.Fatal(err)
	}
}

func TestExecutionArn(t *testing.T) {
	got := trigger.ExecutionArn("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:Reg", "n")
	if got != "arn:aws-cn:states:cn-north-1:123456789012:execution:Reg:n" {
		t.Fatal(got)
	}
	if trigger.IsExecutionOf(regSM, trigger.ExecutionArn(regSM+"Other", "n")) {
		t.Fatal("prefix of another state machine matched")
	}
}

// A lock whose holder never started is judged by the event's time (a
// service timestamp, like the lock's LastModifiedDate), not the Lambda's
// clock: older than the grace period at the event's time, it is recovered.
func TestLockOfAHolderThatNeverStartedIsRecoveredByALaterEvent(t *testing.T) {
	w := newWorld(t)
	dead := trigger.ExecutionArn(regSM, "register-c1-dead")
	w.ssm.Set(w.params.Lock("c1"), dead, t0().Add(-10*time.Minute)) // the event's time is t0()
	res, err := w.h.Handle(context.Background(), register("ev-2", "c1"))
	if err != nil || res.Outcome != trigger.OutcomeStarted || w.lockHolder("c1") != res.ExecutionArn {
		t.Fatalf("%+v, %v; lock holds %s", res, err, w.lockHolder("c1"))
	}
}

// An event without a time (a direct invocation) judges the lock's age by the
// function's clock, Locker.Now: here the world's clock, t0().
func TestAnEventWithoutATimeJudgesTheLockByTheFunctionsClock(t *testing.T) {
	dead := trigger.ExecutionArn(regSM, "register-c1-dead")
	for _, tc := range []struct {
		name    string
		written time.Duration // before t0()
		started bool
	}{
		{"within the grace: the holder may still start", time.Minute, false},
		{"past the grace: the lock is recovered", lock.DefaultGrace + time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.ssm.Set(w.params.Lock("c1"), dead, t0().Add(-tc.written))
			ev := register("ev-3", "c1")
			ev.Time = time.Time{}
			res, err := w.h.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if started := res.Outcome == trigger.OutcomeStarted; started != tc.started {
				t.Fatalf("outcome %s, lock holds %s; want started = %v", res.Outcome, w.lockHolder("c1"), tc.started)
			}
		})
	}
}

// contractName is the registration execution name the trigger derives from ev.
func contractName(ev events.CloudWatchEvent) string {
	var d struct {
		ClusterName string `json:"clusterName"`
	}
	_ = json.Unmarshal(ev.Detail, &d)
	return contract.ExecutionName(trigger.RegisterPrefix, d.ClusterName, ev.ID)
}

// Every line an invocation logs carries its Lambda request id, through
// Lambda's own log handler (which adds it only for the invocation's context).
func TestEveryLogLineCarriesTheRequestID(t *testing.T) {
	w := newWorld(t)
	c := logtest.New(t)
	w.h.Log = c.Logger
	if _, err := w.h.Handle(logtest.Invocation("req-start"), register("ev-1", "c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.h.Handle(logtest.Invocation("req-busy"), register("ev-2", "c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.h.Handle(logtest.Invocation("req-bad"), event("bad", "Register Cluster", `{}`)); err != nil {
		t.Fatal(err)
	}
	lines := c.Lines()
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for i, id := range []string{"req-start", "req-busy", "req-bad"} {
		logtest.AssertEveryLineHas(t, lines[i:i+1], id)
	}
}
