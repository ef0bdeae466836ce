package sfn_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localsfn "github.com/platform/eks-connector-registrar/localcloud/sfn"
)

// Config.ReadLag: DescribeExecution and ListExecutions are eventually
// consistent, as AWS documents them; StartExecution's name rules,
// StopExecution, GetExecutionHistory, the status-change events and the
// Store's Go API are not.

// waitThenFailDef runs for a minute of virtual time, then fails.
const waitThenFailDef = `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"Next":"F"},
	"F":{"Type":"Fail","Error":"Custom.Late","Cause":"failed after a minute"}}}`

type statusChange struct {
	status string
	at     time.Time
}

type lagEnv struct {
	*env
	mu      sync.Mutex
	changes map[string]statusChange // execution ARN → its status-change event
}

func newLagEnv(t *testing.T, lag time.Duration) *lagEnv {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	le := &lagEnv{changes: map[string]statusChange{}}
	store, svc := localsfn.New(localsfn.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Seed: 1, ReadLag: lag,
		StatusChanged: func(ex *localsfn.Execution, detail map[string]any) {
			le.mu.Lock()
			defer le.mu.Unlock()
			le.changes[ex.Arn] = statusChange{status: detail["status"].(string), at: clk.Now()}
		}})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	le.env = &env{clk: clk, store: store, client: sfn.NewFromConfig(te.Config)}
	return le
}

func (e *lagEnv) change(arn string) (statusChange, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.changes[arn]
	return c, ok
}

func (e *env) describeErr(arn *string) (*sfn.DescribeExecutionOutput, error) {
	return e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: arn})
}

// listed returns the executions ListExecutions shows for sm (with filter, if
// not empty), by ARN.
func (e *env) listed(t *testing.T, sm string, filter sfntypes.ExecutionStatus) map[string]sfntypes.ExecutionListItem {
	t.Helper()
	out := map[string]sfntypes.ExecutionListItem{}
	p := sfn.NewListExecutionsPaginator(e.client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), StatusFilter: filter})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListExecutions: %v", err)
		}
		for _, x := range page.Executions {
			out[aws.ToString(x.ExecutionArn)] = x
		}
	}
	return out
}

func wait(t *testing.T, e *env, arn *string) *localsfn.Execution {
	t.Helper()
	ex, ok := e.store.Execution(aws.ToString(arn))
	if !ok {
		t.Fatalf("execution %s not in the store", aws.ToString(arn))
	}
	select {
	case <-ex.Engine().Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("execution %s did not end", aws.ToString(arn))
	}
	return ex
}

// For ReadLag after StartExecution, the reads do not see the execution;
// StartExecution itself, StopExecution and the history do.
func TestReadLagHidesAnExecutionThatJustStarted(t *testing.T) {
	const lag = 10 * time.Second
	e := newLagEnv(t, lag)
	sm := e.create(t, "wait", waitDef)
	release := e.clk.Busy() // time moves only when the test says so
	defer release()

	st := e.start(t, sm, "run", `{"a":1}`)
	var dne *sfntypes.ExecutionDoesNotExist
	if _, err := e.describeErr(st.ExecutionArn); !errors.As(err, &dne) {
		t.Fatalf("DescribeExecution at once: %v, want ExecutionDoesNotExist", err)
	}
	for _, f := range []sfntypes.ExecutionStatus{"", sfntypes.ExecutionStatusRunning} {
		if l := e.listed(t, sm, f); len(l) != 0 {
			t.Fatalf("ListExecutions (filter %q) at once lists %v, want nothing", f, l)
		}
	}

	// Strongly consistent: the name is taken, a repeat with the same input
	// is the same execution, another input is refused.
	again := e.start(t, sm, "run", `{"a":1}`)
	if aws.ToString(again.ExecutionArn) != aws.ToString(st.ExecutionArn) || !again.StartDate.Equal(*st.StartDate) {
		t.Fatalf("idempotent StartExecution = %s %v, want %s %v", aws.ToString(again.ExecutionArn), again.StartDate, aws.ToString(st.ExecutionArn), st.StartDate)
	}
	_, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("run"), Input: aws.String(`{"a":2}`)})
	var already *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &already) {
		t.Fatalf("same name, other input, before the reads see it: %v, want ExecutionAlreadyExists", err)
	}
	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: st.ExecutionArn})
	if err != nil || len(h.Events) == 0 || h.Events[0].Type != sfntypes.HistoryEventTypeExecutionStarted {
		t.Fatalf("GetExecutionHistory at once: %v, %v; want its ExecutionStarted", h, err)
	}
	if ex, ok := e.store.Execution(aws.ToString(st.ExecutionArn)); !ok || ex.Status() != "RUNNING" {
		t.Fatalf("the Store's Go API does not see the running execution")
	}

	e.clk.Advance(lag - time.Millisecond)
	if _, err := e.describeErr(st.ExecutionArn); !errors.As(err, &dne) {
		t.Fatalf("DescribeExecution just before the lag has passed: %v, want ExecutionDoesNotExist", err)
	}
	e.clk.Advance(time.Millisecond)
	d, err := e.describeErr(st.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusRunning || !d.StartDate.Equal(*st.StartDate) || d.StopDate != nil {
		t.Fatalf("DescribeExecution once the lag has passed: %+v, %v; want RUNNING since %v", d, err, st.StartDate)
	}
	if l := e.listed(t, sm, sfntypes.ExecutionStatusRunning); len(l) != 1 || !l[aws.ToString(st.ExecutionArn)].StartDate.Equal(*st.StartDate) {
		t.Fatalf("ListExecutions RUNNING once the lag has passed: %v", l)
	}

	// StopExecution acts on an execution the reads do not see yet; they
	// see it (and then its ending) a lag later.
	x := e.start(t, sm, "stopped", `{}`)
	stop, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn, Error: aws.String("Op.Cancel")})
	if err != nil || stop.StopDate == nil {
		t.Fatalf("StopExecution of an execution the reads do not see yet: %+v, %v", stop, err)
	}
	if c, ok := e.change(aws.ToString(x.ExecutionArn)); !ok || c.status != "ABORTED" {
		t.Fatalf("status change of the stopped execution: %+v %v, want ABORTED at once", c, ok)
	}
	if _, err := e.describeErr(x.ExecutionArn); !errors.As(err, &dne) {
		t.Fatalf("DescribeExecution of the stopped execution at once: %v, want ExecutionDoesNotExist", err)
	}
	e.clk.Advance(lag)
	d, err = e.describeErr(x.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusAborted || aws.ToString(d.Error) != "Op.Cancel" || !d.StopDate.Equal(*stop.StopDate) {
		t.Fatalf("DescribeExecution of the stopped execution a lag later: %+v, %v; want ABORTED Op.Cancel", d, err)
	}
}

// For ReadLag after an execution ends, the reads still show it RUNNING,
// without its stop date, output, error or cause; its name is nonetheless
// taken for good, and the status-change event goes out at once.
func TestReadLagShowsAnExecutionThatJustEndedRunning(t *testing.T) {
	const lag = 30 * time.Second
	e := newLagEnv(t, lag)
	sm := e.create(t, "wait", waitDef)
	failing := e.create(t, "late", waitThenFailDef)

	starting := e.clk.Busy() // both start at the same instant
	ok := e.start(t, sm, "ok", `{"in":1}`)
	ko := e.start(t, failing, "ko", `{}`)
	starting()
	okEx, koEx := wait(t, e.env, ok.ExecutionArn), wait(t, e.env, ko.ExecutionArn)
	release := e.clk.Busy()
	defer release()
	if okEx.Status() != "SUCCEEDED" || koEx.Status() != "FAILED" {
		t.Fatalf("executions ended %s and %s, want SUCCEEDED and FAILED", okEx.Status(), koEx.Status())
	}
	// The clock is at the later ending (the one-hour Wait); the failed
	// execution ended 59 minutes earlier, far more than a lag ago.
	okStop := okEx.Engine().StopDate()
	if now := e.clk.Now(); !now.Equal(okStop) {
		t.Fatalf("clock at %v, want the succeeded execution's stop date %v", now, okStop)
	}
	if c, found := e.change(aws.ToString(ok.ExecutionArn)); !found || c.status != "SUCCEEDED" || !c.at.Equal(okStop) {
		t.Fatalf("status change %+v %v, want SUCCEEDED at %v (not lagged)", c, found, okStop)
	}

	d, err := e.describeErr(ok.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusRunning || d.StopDate != nil || d.Output != nil || d.OutputDetails != nil ||
		!d.StartDate.Equal(*ok.StartDate) || aws.ToString(d.Input) != `{"in":1}` {
		t.Fatalf("DescribeExecution just after it ended: %+v, %v; want RUNNING with its input, no stopDate, no output", d, err)
	}
	l := e.listed(t, sm, "")
	if item := l[aws.ToString(ok.ExecutionArn)]; len(l) != 1 || item.Status != sfntypes.ExecutionStatusRunning || item.StopDate != nil {
		t.Fatalf("ListExecutions just after it ended: %+v, want it RUNNING without stopDate", l)
	}
	if l := e.listed(t, sm, sfntypes.ExecutionStatusSucceeded); len(l) != 0 {
		t.Fatalf("ListExecutions SUCCEEDED just after it ended: %v, want nothing", l)
	}
	if l := e.listed(t, sm, sfntypes.ExecutionStatusRunning); len(l) != 1 {
		t.Fatalf("ListExecutions RUNNING just after it ended: %v, want it", l)
	}
	// Strongly consistent: the ended execution's name cannot be started
	// again, even with the same input, although the reads say RUNNING.
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("ok"), Input: aws.String(`{"in":1}`)})
	var already *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &already) {
		t.Fatalf("restarting a just-ended execution's name with the same input: %v, want ExecutionAlreadyExists", err)
	}
	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: ok.ExecutionArn, ReverseOrder: true})
	if err != nil || h.Events[0].Type != sfntypes.HistoryEventTypeExecutionSucceeded {
		t.Fatalf("GetExecutionHistory just after it ended: %v; want it to end in ExecutionSucceeded", err)
	}

	// The failed execution ended long enough ago: its reads are final.
	d, err = e.describeErr(ko.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "Custom.Late" || d.StopDate == nil {
		t.Fatalf("DescribeExecution of the execution that failed an hour ago: %+v, %v", d, err)
	}

	e.clk.Advance(lag - time.Millisecond)
	if d, err := e.describeErr(ok.ExecutionArn); err != nil || d.Status != sfntypes.ExecutionStatusRunning {
		t.Fatalf("DescribeExecution just before the lag has passed: %+v, %v; want RUNNING", d, err)
	}
	e.clk.Advance(time.Millisecond)
	d, err = e.describeErr(ok.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusSucceeded || d.StopDate == nil || !d.StopDate.Equal(okStop) || aws.ToString(d.Output) != `{"in":1}` {
		t.Fatalf("DescribeExecution once the lag has passed: %+v, %v; want SUCCEEDED at %v with its output", d, err, okStop)
	}
	l = e.listed(t, sm, sfntypes.ExecutionStatusSucceeded)
	if item := l[aws.ToString(ok.ExecutionArn)]; len(l) != 1 || item.StopDate == nil || !item.StopDate.Equal(okStop) {
		t.Fatalf("ListExecutions SUCCEEDED once the lag has passed: %+v", l)
	}
}

// An execution that fails before it is visible: the reads never see it
// running longer than it ran; they see it ended a lag after it ended, with
// its error and cause.
func TestReadLagOfAnExecutionThatFailsWithinTheLag(t *testing.T) {
	const lag = 5 * time.Minute
	e := newLagEnv(t, lag)
	sm := e.create(t, "late", waitThenFailDef) // fails a minute after it starts
	st := e.start(t, sm, "ko", `{}`)
	ex := wait(t, e.env, st.ExecutionArn)
	release := e.clk.Busy()
	defer release()
	if ex.Status() != "FAILED" || !e.clk.Now().Equal(st.StartDate.Add(time.Minute)) {
		t.Fatalf("execution %s at %v, want FAILED a minute after its start %v", ex.Status(), e.clk.Now(), st.StartDate)
	}
	var dne *sfntypes.ExecutionDoesNotExist
	if _, err := e.describeErr(st.ExecutionArn); !errors.As(err, &dne) {
		t.Fatalf("DescribeExecution of an execution that ended within the lag: %v, want ExecutionDoesNotExist", err)
	}
	e.clk.Advance(lag - time.Minute) // a lag after its start: it shows as it was then, running
	if d, err := e.describeErr(st.ExecutionArn); err != nil || d.Status != sfntypes.ExecutionStatusRunning || d.Error != nil {
		t.Fatalf("DescribeExecution a lag after its start: %+v, %v; want RUNNING, no error", d, err)
	}
	e.clk.Advance(time.Minute) // a lag after its end
	d, err := e.describeErr(st.ExecutionArn)
	if err != nil || d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "Custom.Late" || aws.ToString(d.Cause) != "failed after a minute" {
		t.Fatalf("DescribeExecution a lag after its end: %+v, %v; want FAILED Custom.Late", d, err)
	}
}
