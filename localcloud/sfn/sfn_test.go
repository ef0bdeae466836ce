package sfn_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localsfn "github.com/platform/eks-connector-registrar/localcloud/sfn"
)

const role = "arn:aws:iam::123456789012:role/sfn"

// Definitions with no Task state: no invoker, so Config.ClientConfig stays nil.
const (
	passDef   = `{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}`
	waitDef   = `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"W"},"W":{"Type":"Wait","Seconds":3600,"Next":"S"},"S":{"Type":"Succeed"}}}`
	choiceDef = `{"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[{"Variable":"$.fail","BooleanEquals":true,"Next":"F"}],"Default":"S"},
		"F":{"Type":"Fail","Error":"Custom.Boom","Cause":"asked to fail"},
		"S":{"Type":"Succeed"}}}`
)

type env struct {
	clk    *clock.Virtual
	store  *localsfn.Store
	client *sfn.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	store, svc := localsfn.New(localsfn.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Seed: 1})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	return &env{clk: clk, store: store, client: sfn.NewFromConfig(te.Config)}
}

var ctx = context.Background()

func (e *env) create(t *testing.T, name, def string) string {
	t.Helper()
	out, err := e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatalf("CreateStateMachine(%s): %v", name, err)
	}
	return aws.ToString(out.StateMachineArn)
}

func (e *env) start(t *testing.T, smArn, name, input string) *sfn.StartExecutionOutput {
	t.Helper()
	out, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn), Name: aws.String(name), Input: aws.String(input)})
	if err != nil {
		t.Fatalf("StartExecution(%s): %v", name, err)
	}
	return out
}

// finish starts an execution and waits for it to end.
func (e *env) finish(t *testing.T, smArn, name, input string) *sfn.DescribeExecutionOutput {
	t.Helper()
	out := e.start(t, smArn, name, input)
	ex, ok := e.store.Execution(aws.ToString(out.ExecutionArn))
	if !ok {
		t.Fatalf("execution %s not in the store", aws.ToString(out.ExecutionArn))
	}
	select {
	case <-ex.Engine().Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("execution %s did not end", name)
	}
	d, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err %v, want %s", err, code)
	}
}

func TestCreateStateMachine(t *testing.T) {
	e := newEnv(t)
	out, err := e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), Definition: aws.String(passDef), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.StateMachineArn)
	if arn != "arn:aws:states:us-east-1:123456789012:stateMachine:m" || out.CreationDate == nil || out.CreationDate.IsZero() {
		t.Fatalf("CreateStateMachine = %s, %v", arn, out.CreationDate)
	}

	// Same name and definition: idempotent, even with another role (AWS ignores
	// roleArn in the idempotency check and keeps the first one).
	again, err := e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), Definition: aws.String(passDef), RoleArn: aws.String(role + "2")})
	if err != nil || aws.ToString(again.StateMachineArn) != arn || !again.CreationDate.Equal(*out.CreationDate) {
		t.Fatalf("repeated CreateStateMachine = %v, %v; want the same machine", again, err)
	}
	d, err := e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	if err != nil || aws.ToString(d.RoleArn) != role {
		t.Fatalf("roleArn after idempotent create: %v, %v", d, err)
	}

	// Same name, different definition.
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("m"), Definition: aws.String(waitDef), RoleArn: aws.String(role)})
	var exists *sfntypes.StateMachineAlreadyExists
	if !errors.As(err, &exists) {
		t.Fatalf("different definition: %v, want StateMachineAlreadyExists", err)
	}

	// Invalid definition: refused, naming the rule.
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"),
		Definition: aws.String(`{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Nowhere"}}}`), RoleArn: aws.String(role)})
	var invDef *sfntypes.InvalidDefinition
	if !errors.As(err, &invDef) || !strings.Contains(invDef.ErrorMessage(), "MISSING_TRANSITION_TARGET") {
		t.Fatalf("invalid definition: %v, want InvalidDefinition naming MISSING_TRANSITION_TARGET", err)
	}
	_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("bad"), Definition: aws.String(`{`), RoleArn: aws.String(role)})
	if !errors.As(err, &invDef) || !strings.Contains(invDef.ErrorMessage(), "INVALID_JSON_DESCRIPTION") {
		t.Fatalf("non-JSON definition: %v, want InvalidDefinition naming INVALID_JSON_DESCRIPTION", err)
	}

	// Bad names.
	for _, name := range []string{"", "has space", "a/b", "a:b", "a*b", strings.Repeat("x", 81)} {
		_, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(passDef), RoleArn: aws.String(role)})
		var invName *sfntypes.InvalidName
		if !errors.As(err, &invName) {
			t.Errorf("name %q: %v, want InvalidName", name, err)
		}
	}
	if _, err = e.client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("v1.2"), Definition: aws.String(passDef), RoleArn: aws.String(role)}); err != nil {
		t.Errorf("name with '.': %v", err)
	}
}

func TestDescribeAndListStateMachines(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, "beta", waitDef)
	a := e.create(t, "alpha", passDef)

	d, err := e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(a)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.Name) != "alpha" || aws.ToString(d.Definition) != passDef || aws.ToString(d.RoleArn) != role ||
		d.Status != sfntypes.StateMachineStatusActive || d.Type != sfntypes.StateMachineTypeStandard || d.CreationDate == nil {
		t.Fatalf("DescribeStateMachine = %+v", d)
	}
	_, err = e.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(a + "x")})
	var dne *sfntypes.StateMachineDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("missing machine: %v, want StateMachineDoesNotExist", err)
	}

	l, err := e.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.StateMachines) != 2 || aws.ToString(l.StateMachines[0].StateMachineArn) != a || aws.ToString(l.StateMachines[1].StateMachineArn) != b ||
		l.StateMachines[0].Type != sfntypes.StateMachineTypeStandard {
		t.Fatalf("ListStateMachines = %+v", l.StateMachines)
	}
}

func TestStartExecution(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "wait", waitDef)

	// Hold the clock busy so the Wait state keeps the execution RUNNING.
	release := e.clk.Busy()
	defer release()

	first := e.start(t, sm, "run.1", `{"a":1}`)
	if want := "arn:aws:states:us-east-1:123456789012:execution:wait:run.1"; aws.ToString(first.ExecutionArn) != want {
		t.Fatalf("executionArn %s, want %s", aws.ToString(first.ExecutionArn), want)
	}
	// Same name, same input while RUNNING: the same execution.
	again := e.start(t, sm, "run.1", `{"a":1}`)
	if aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) || !again.StartDate.Equal(*first.StartDate) {
		t.Fatalf("idempotent start = %v %v, want %v %v", aws.ToString(again.ExecutionArn), again.StartDate, aws.ToString(first.ExecutionArn), first.StartDate)
	}
	// Same name, other input while RUNNING.
	_, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("run.1"), Input: aws.String(`{"a":2}`)})
	var already *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &already) {
		t.Fatalf("same name, other input: %v, want ExecutionAlreadyExists", err)
	}
	// After it ended, the name stays taken, even with the same input.
	if _, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: first.ExecutionArn}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("run.1"), Input: aws.String(`{"a":1}`)})
	if !errors.As(err, &already) {
		t.Fatalf("restarting an ended execution's name: %v, want ExecutionAlreadyExists", err)
	}

	// No name: one is generated.
	gen, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm)})
	if err != nil || !strings.HasPrefix(aws.ToString(gen.ExecutionArn), "arn:aws:states:us-east-1:123456789012:execution:wait:") {
		t.Fatalf("unnamed start = %v, %v", gen, err)
	}

	// Names follow AWS's rule, not the CloudWatch recommendation.
	for _, name := range []string{"ok.name", "ünïcode", "a(b)", "a@b+c=d", strings.Repeat("x", 80)} {
		if _, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String(name)}); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
	for _, name := range []string{"a b", "a\tb", "a<b", "a>b", "a{b", "a}b", "a[b", "a]b", "a?b", "a*b", `a"b`, "a#b", "a%b",
		`a\b`, "a^b", "a|b", "a~b", "a`b", "a$b", "a&b", "a,b", "a;b", "a:b", "a/b", "a\x01b", "a\x7fb", "a\u0085b",
		// The model's name rule (botocore 1.43.11 StartExecutionInput.name) also
		// excludes U+FFFE-FFFF among the control characters.
		"a\ufffeb", "a\uffffb", strings.Repeat("x", 81)} {
		_, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String(name)})
		var inv *sfntypes.InvalidName
		if !errors.As(err, &inv) {
			t.Errorf("name %q: %v, want InvalidName", name, err)
		}
	}

	// Input.
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("badjson"), Input: aws.String(`{"a":`)})
	var badInput *sfntypes.InvalidExecutionInput
	if !errors.As(err, &badInput) {
		t.Errorf("invalid JSON input: %v, want InvalidExecutionInput", err)
	}
	big := `"` + strings.Repeat("x", 262144-1) + `"` // 262145 bytes
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("big"), Input: aws.String(big)})
	if !errors.As(err, &badInput) {
		t.Errorf("input of %d bytes: %v, want InvalidExecutionInput", len(big), err)
	}
	limit := `"` + strings.Repeat("x", 262144-2) + `"` // exactly 262144 bytes
	if _, err := e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm), Name: aws.String("limit"), Input: aws.String(limit)}); err != nil {
		t.Errorf("input of exactly 262144 bytes: %v", err)
	}

	// Unknown machine.
	_, err = e.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm + "x"), Name: aws.String("x")})
	var dne *sfntypes.StateMachineDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("unknown machine: %v, want StateMachineDoesNotExist", err)
	}
}

func TestDescribeExecution(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "choice", choiceDef)

	ok := e.finish(t, sm, "ok", `{"fail":false}`)
	if ok.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(ok.Output) != `{"fail":false}` || aws.ToString(ok.Input) != `{"fail":false}` ||
		ok.StopDate == nil || ok.StartDate == nil || aws.ToString(ok.Error) != "" || aws.ToString(ok.StateMachineArn) != sm || aws.ToString(ok.Name) != "ok" {
		t.Fatalf("succeeded execution: %+v", ok)
	}
	failed := e.finish(t, sm, "ko", `{"fail":true}`)
	if failed.Status != sfntypes.ExecutionStatusFailed || aws.ToString(failed.Error) != "Custom.Boom" || aws.ToString(failed.Cause) != "asked to fail" ||
		failed.Output != nil || failed.StopDate == nil {
		t.Fatalf("failed execution: status %s error %q cause %q output %v stop %v", failed.Status, aws.ToString(failed.Error), aws.ToString(failed.Cause), failed.Output, failed.StopDate)
	}

	// A Wait runs in virtual time: 3600 s pass between start and stop.
	w := e.create(t, "wait", waitDef)
	d := e.finish(t, w, "w", `{}`)
	if d.Status != sfntypes.ExecutionStatusSucceeded || d.StopDate.Sub(*d.StartDate) != time.Hour {
		t.Fatalf("wait execution %s took %s", d.Status, d.StopDate.Sub(*d.StartDate))
	}

	_, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(sm + "nope")})
	var dne *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("missing execution: %v, want ExecutionDoesNotExist", err)
	}
}

func TestStopExecution(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "wait", waitDef)
	release := e.clk.Busy()
	defer release()

	st := e.start(t, sm, "s", `{}`)
	d, err := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: st.ExecutionArn})
	if err != nil || d.Status != sfntypes.ExecutionStatusRunning || d.StopDate != nil {
		t.Fatalf("before stop: %+v, %v", d, err)
	}
	out, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: st.ExecutionArn, Error: aws.String("Op.Cancel"), Cause: aws.String("operator said so")})
	if err != nil || out.StopDate == nil || out.StopDate.IsZero() {
		t.Fatalf("StopExecution = %+v, %v", out, err)
	}
	d, err = e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: st.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != sfntypes.ExecutionStatusAborted || aws.ToString(d.Error) != "Op.Cancel" || aws.ToString(d.Cause) != "operator said so" ||
		d.StopDate == nil || !d.StopDate.Equal(*out.StopDate) {
		t.Fatalf("after stop: status %s error %q cause %q stop %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), d.StopDate)
	}
	// Stopping again changes nothing.
	if _, err := e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: st.ExecutionArn, Error: aws.String("Other")}); err != nil {
		t.Fatal(err)
	}
	if d2, _ := e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: st.ExecutionArn}); aws.ToString(d2.Error) != "Op.Cancel" {
		t.Errorf("second stop overwrote the error: %q", aws.ToString(d2.Error))
	}

	_, err = e.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(aws.ToString(st.ExecutionArn) + "x")})
	var dne *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("stopping a missing execution: %v, want ExecutionDoesNotExist", err)
	}
}

func TestListExecutions(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "choice", choiceDef)
	other := e.create(t, "other", passDef)
	e.finish(t, other, "elsewhere", `{}`)
	names := []string{"e1", "e2", "e3", "e4", "e5"}
	for i, n := range names {
		e.finish(t, sm, n, map[bool]string{true: `{"fail":true}`, false: `{"fail":false}`}[i%2 == 1])
	}

	l, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range l.Executions {
		got = append(got, aws.ToString(x.Name))
		if aws.ToString(x.StateMachineArn) != sm || x.StartDate == nil || x.StopDate == nil {
			t.Errorf("item %+v", x)
		}
	}
	if strings.Join(got, ",") != "e5,e4,e3,e2,e1" || l.NextToken != nil {
		t.Fatalf("ListExecutions = %v next %v, want newest first", got, l.NextToken)
	}

	f, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), StatusFilter: sfntypes.ExecutionStatusFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Executions) != 2 || aws.ToString(f.Executions[0].Name) != "e4" || aws.ToString(f.Executions[1].Name) != "e2" || f.Executions[0].Status != sfntypes.ExecutionStatusFailed {
		t.Fatalf("FAILED filter = %+v", f.Executions)
	}

	// Pagination.
	var paged []string
	var token *string
	pages := 0
	for {
		p, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), MaxResults: 2, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Executions) > 2 {
			t.Fatalf("page of %d with maxResults 2", len(p.Executions))
		}
		for _, x := range p.Executions {
			paged = append(paged, aws.ToString(x.Name))
		}
		if token = p.NextToken; token == nil {
			break
		}
	}
	if pages != 3 || strings.Join(paged, ",") != "e5,e4,e3,e2,e1" {
		t.Fatalf("paginated %d pages: %v", pages, paged)
	}
	// The SDK paginator agrees.
	pg := sfn.NewListExecutionsPaginator(e.client, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), MaxResults: 3})
	n := 0
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Executions)
	}
	if n != 5 {
		t.Fatalf("paginator saw %d executions", n)
	}

	_, err = e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), NextToken: aws.String("garbage")})
	var badTok *sfntypes.InvalidToken
	if !errors.As(err, &badTok) {
		t.Errorf("bad nextToken: %v, want InvalidToken", err)
	}
	_, err = e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm + "x")})
	var dne *sfntypes.StateMachineDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("unknown machine: %v, want StateMachineDoesNotExist", err)
	}
	_, err = e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), StatusFilter: "BOGUS"})
	wantCode(t, err, "ValidationException")
	_, err = e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm), MaxResults: 1001})
	wantCode(t, err, "ValidationException")
}

func TestGetExecutionHistory(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "wait", waitDef)
	d := e.finish(t, sm, "h", `{"in":1}`)

	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	want := []sfntypes.HistoryEventType{
		sfntypes.HistoryEventTypeExecutionStarted,
		sfntypes.HistoryEventTypePassStateEntered, sfntypes.HistoryEventTypePassStateExited,
		sfntypes.HistoryEventTypeWaitStateEntered, sfntypes.HistoryEventTypeWaitStateExited,
		sfntypes.HistoryEventTypeSucceedStateEntered, sfntypes.HistoryEventTypeSucceedStateExited,
		sfntypes.HistoryEventTypeExecutionSucceeded,
	}
	if len(h.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(h.Events), len(want), h.Events)
	}
	for i, ev := range h.Events {
		if ev.Type != want[i] {
			t.Errorf("event %d type %s, want %s", i, ev.Type, want[i])
		}
		if ev.Id != int64(i+1) || ev.PreviousEventId != int64(i) {
			t.Errorf("event %d id %d previous %d", i, ev.Id, ev.PreviousEventId)
		}
		if ev.Timestamp == nil {
			t.Errorf("event %d has no timestamp", i)
		}
	}
	started := h.Events[0].ExecutionStartedEventDetails
	if started == nil || aws.ToString(started.Input) != `{"in":1}` {
		t.Fatalf("ExecutionStarted details %+v", started)
	}
	done := h.Events[len(h.Events)-1].ExecutionSucceededEventDetails
	if done == nil || aws.ToString(done.Output) != `{"in":1}` {
		t.Fatalf("ExecutionSucceeded details %+v", done)
	}
	if waitEntered := h.Events[3].StateEnteredEventDetails; waitEntered == nil || aws.ToString(waitEntered.Name) != "W" {
		t.Fatalf("WaitStateEntered details %+v", waitEntered)
	}
	if gap := h.Events[4].Timestamp.Sub(*h.Events[3].Timestamp); gap != time.Hour {
		t.Errorf("wait took %s of virtual time, want 1h", gap)
	}

	rev, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, ReverseOrder: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range rev.Events {
		if ev.Id != int64(len(want)-i) || ev.Type != want[len(want)-1-i] {
			t.Errorf("reverse event %d: id %d type %s", i, ev.Id, ev.Type)
		}
	}

	noData, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range noData.Events {
		if x := ev.ExecutionStartedEventDetails; x != nil && x.Input != nil {
			t.Errorf("ExecutionStarted input with includeExecutionData=false: %s", aws.ToString(x.Input))
		}
		if x := ev.ExecutionSucceededEventDetails; x != nil && x.Output != nil {
			t.Errorf("ExecutionSucceeded output with includeExecutionData=false: %s", aws.ToString(x.Output))
		}
		if x := ev.StateEnteredEventDetails; x != nil && x.Input != nil {
			t.Errorf("StateEntered input with includeExecutionData=false: %s", aws.ToString(x.Input))
		}
		if x := ev.StateExitedEventDetails; x != nil && x.Output != nil {
			t.Errorf("StateExited output with includeExecutionData=false: %s", aws.ToString(x.Output))
		}
	}
	if x := noData.Events[3].StateEnteredEventDetails; x == nil || aws.ToString(x.Name) != "W" {
		t.Errorf("includeExecutionData=false dropped the state name: %+v", x)
	}

	var ids []int64
	var token *string
	for {
		p, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, MaxResults: 3, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range p.Events {
			ids = append(ids, ev.Id)
		}
		if token = p.NextToken; token == nil {
			break
		}
	}
	if len(ids) != len(want) || ids[0] != 1 || ids[len(ids)-1] != int64(len(want)) {
		t.Fatalf("paginated ids %v", ids)
	}

	_, err = e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, NextToken: aws.String("-1")})
	var badTok *sfntypes.InvalidToken
	if !errors.As(err, &badTok) {
		t.Errorf("bad nextToken: %v, want InvalidToken", err)
	}
	_, err = e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(aws.ToString(d.ExecutionArn) + "x")})
	var dne *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &dne) {
		t.Errorf("missing execution: %v, want ExecutionDoesNotExist", err)
	}
}

// A failed execution's history ends in ExecutionFailed with the Fail state's error and cause.
func TestHistoryOfAFailState(t *testing.T) {
	e := newEnv(t)
	sm := e.create(t, "choice", choiceDef)
	d := e.finish(t, sm, "f", `{"fail":true}`)
	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Events[len(h.Events)-1]
	if last.Type != sfntypes.HistoryEventTypeExecutionFailed || last.ExecutionFailedEventDetails == nil ||
		aws.ToString(last.ExecutionFailedEventDetails.Error) != "Custom.Boom" || aws.ToString(last.ExecutionFailedEventDetails.Cause) != "asked to fail" {
		t.Fatalf("last event %+v", last)
	}
}

func TestUnknownOperation(t *testing.T) {
	e := newEnv(t)
	_, err := e.client.ListActivities(ctx, &sfn.ListActivitiesInput{})
	wantCode(t, err, "UnknownOperationException")
}

// An empty page is a JSON list, not null: ListExecutions' executions and
// ListStateMachines' stateMachines are required members of the model, and AWS
// sends []. (The local cloud sent null for a machine without executions.)
func TestEmptyListsAreArrays(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	_, svc := localsfn.New(localsfn.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Seed: 1})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	var mu sync.Mutex
	bodies := map[string]string{}
	te.Router.OnAnswer = func(c *awsproto.Call, _ int, body []byte) {
		mu.Lock()
		bodies[c.Op] = string(body)
		mu.Unlock()
	}
	e := &env{clk: clk, client: sfn.NewFromConfig(te.Config)}
	if _, err := e.client.ListStateMachines(ctx, &sfn.ListStateMachinesInput{}); err != nil {
		t.Fatal(err)
	}
	sm := e.create(t, "idle", passDef)
	if _, err := e.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for op, want := range map[string]string{"ListStateMachines": `"stateMachines":[]`, "ListExecutions": `"executions":[]`} {
		if !strings.Contains(bodies[op], want) {
			t.Errorf("%s answered %s; want %s", op, strings.TrimSpace(bodies[op]), want)
		}
	}
}
