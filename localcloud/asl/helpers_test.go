package asl

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

var t0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

const (
	testSMArn   = "arn:aws:states:eu-west-1:123456789012:stateMachine:sm"
	testExecArn = "arn:aws:states:eu-west-1:123456789012:execution:sm:run-1"
)

type taskCall struct {
	at  time.Time
	req TaskRequest
}

// fakeTasks records every attempt with its virtual time and answers with fn.
type fakeTasks struct {
	clk   clock.Clock
	mu    sync.Mutex
	calls []taskCall
	fn    func(ctx context.Context, req TaskRequest, n int) (json.RawMessage, error)
}

func (f *fakeTasks) Invoke(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, taskCall{at: f.clk.Now(), req: req})
	f.mu.Unlock()
	if f.fn == nil {
		return json.RawMessage(`{}`), nil
	}
	return f.fn(ctx, req, n)
}

func (f *fakeTasks) times() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for _, c := range f.calls {
		out = append(out, c.at.Sub(t0))
	}
	return out
}

type runOpt func(*Options)

func mustParse(t *testing.T, def string) *Definition {
	t.Helper()
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

// run starts def on a fresh virtual clock and waits (in real time, at most
// 10 s) for the execution to end.
func run(t *testing.T, def, input string, fn func(ctx context.Context, req TaskRequest, n int) (json.RawMessage, error), opts ...runOpt) (*Execution, *fakeTasks, *clock.Virtual) {
	t.Helper()
	d := mustParse(t, def)
	clk := clock.NewVirtual(t0)
	ft := &fakeTasks{clk: clk, fn: fn}
	o := Options{
		ExecutionArn: testExecArn, ExecutionName: "run-1",
		StateMachineArn: testSMArn, StateMachineName: "sm",
		RoleArn: "arn:aws:iam::123456789012:role/sfn",
		Input:   json.RawMessage(input), Clock: clk, Tasks: ft,
	}
	for _, f := range opts {
		f(&o)
	}
	e := Start(context.Background(), d, o)
	wait(t, e)
	return e, ft, clk
}

func wait(t *testing.T, e *Execution) {
	t.Helper()
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("execution did not finish; status %s; history:\n%s", e.Status(), dumpHistory(e.History()))
	}
}

func dumpHistory(h []HistoryEvent) string {
	var b strings.Builder
	for _, ev := range h {
		d, _ := json.Marshal(ev.Details)
		b.WriteString(ev.Timestamp.Format(time.RFC3339) + " " + ev.Type + " " + string(d) + "\n")
	}
	return b.String()
}

func eventTypes(h []HistoryEvent) []string {
	var out []string
	for _, ev := range h {
		out = append(out, ev.Type)
	}
	return out
}

// jsonEq compares two JSON texts semantically.
func jsonEq(t *testing.T, got []byte, want string) {
	t.Helper()
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("bad JSON %q: %v", got, err)
	}
	w, err := decodeJSON([]byte(want))
	if err != nil {
		t.Fatalf("bad want JSON %q: %v", want, err)
	}
	if !jsonEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func succeeded(t *testing.T, e *Execution, want string) {
	t.Helper()
	if e.Status() != StatusSucceeded {
		n, c := e.Error()
		t.Fatalf("status %s (%s: %s); history:\n%s", e.Status(), n, c, dumpHistory(e.History()))
	}
	jsonEq(t, e.Output(), want)
}

func failed(t *testing.T, e *Execution, wantErr string) string {
	t.Helper()
	n, c := e.Error()
	if e.Status() != StatusFailed || n != wantErr {
		t.Fatalf("status %s error %q (%s), want FAILED %q; output %s", e.Status(), n, c, wantErr, e.Output())
	}
	return c
}

func ok(s string) func(context.Context, TaskRequest, int) (json.RawMessage, error) {
	return func(context.Context, TaskRequest, int) (json.RawMessage, error) { return json.RawMessage(s), nil }
}

// echo returns the task's parameters as its result.
func echo(_ context.Context, req TaskRequest, _ int) (json.RawMessage, error) {
	return req.Parameters, nil
}
