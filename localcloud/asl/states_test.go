package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

func TestWait(t *testing.T) {
	cases := []struct {
		name, state, input string
		end                time.Duration
	}{
		{"Seconds", `{"Type":"Wait","Seconds":90,"End":true}`, `{}`, 90 * time.Second},
		{"SecondsPath 72h", `{"Type":"Wait","SecondsPath":"$.wait","End":true}`, `{"wait":259200}`, 72 * time.Hour},
		{"Timestamp", `{"Type":"Wait","Timestamp":"2026-11-28T12:00:00Z","End":true}`, `{}`, 36 * time.Hour},
		{"TimestampPath with offset", `{"Type":"Wait","TimestampPath":"$.until","End":true}`, `{"until":"2026-11-30T01:00:00+01:00"}`, 72 * time.Hour},
		{"Timestamp in the past continues at once", `{"Type":"Wait","TimestampPath":"$.until","End":true}`, `{"until":"2020-01-01T00:00:00Z"}`, 0},
		{"Seconds 0", `{"Type":"Wait","Seconds":0,"End":true}`, `{}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			realStart := time.Now()
			e, _, clk := run(t, `{"StartAt":"W","States":{"W":`+c.state+`}}`, c.input, nil)
			succeeded(t, e, c.input)
			if !clk.Now().Equal(t0.Add(c.end)) || !e.StopDate().Equal(t0.Add(c.end)) {
				t.Fatalf("clock %v stop %v want %v", clk.Now(), e.StopDate(), t0.Add(c.end))
			}
			if time.Since(realStart) > 2*time.Second {
				t.Fatalf("took %v of real time", time.Since(realStart))
			}
		})
	}
	for _, in := range []string{`{"wait":-1}`, `{"wait":"10"}`, `{}`, `{"wait":1.5}`} {
		e, _, _ := run(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.wait","End":true}}}`, in, nil)
		failed(t, e, ErrRuntime)
	}
	e, _, _ := run(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.t","End":true}}}`, `{"t":"tomorrow"}`, nil)
	failed(t, e, ErrRuntime)
}

func TestPollLoopOnVirtualClock(t *testing.T) {
	// Wait → Task → Choice loop, as a registration poll would run it: 24
	// polls an hour apart finish instantly in real time.
	def := `{"StartAt":"Wait","States":{
	  "Wait":{"Type":"Wait","Seconds":3600,"Next":"Poll"},
	  "Poll":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:123456789012:function:poll","ResultPath":"$.st","Next":"Done?"},
	  "Done?":{"Type":"Choice","Choices":[{"Variable":"$.st.done","BooleanEquals":true,"Next":"Yes"}],"Default":"Wait"},
	  "Yes":{"Type":"Succeed"}}}`
	fn := func(_ context.Context, _ TaskRequest, n int) (json.RawMessage, error) {
		return json.RawMessage(fmt.Sprintf(`{"done":%v}`, n == 23)), nil
	}
	e, ft, clk := run(t, def, `{}`, fn)
	succeeded(t, e, `{"st":{"done":true}}`)
	if len(ft.calls) != 24 || !clk.Now().Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("%d polls, clock %v", len(ft.calls), clk.Now())
	}
	if got := e.StateTransitions(); got != 24*3+1 {
		t.Fatalf("transitions %d", got)
	}
}

func TestParallel(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","InputPath":"$.in","ResultPath":"$.out","End":true,"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":10,"Next":"A2"},"A2":{"Type":"Pass","Result":"a","End":true}}},
	  {"StartAt":"B","States":{"B":{"Type":"Pass","Parameters":{"b.$":"$.v"},"End":true}}},
	  {"StartAt":"C","States":{"C":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}]}}}`
	e, _, clk := run(t, def, `{"in":{"v":1}}`, echo)
	succeeded(t, e, `{"in":{"v":1},"out":["a",{"b":1},{"v":1}]}`)
	if !clk.Now().Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("clock %v", clk.Now())
	}
	types := strings.Join(eventTypes(e.History()), ",")
	for _, want := range []string{"ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited"} {
		if !strings.Contains(types, want) {
			t.Fatalf("no %s in %s", want, types)
		}
	}
}

func TestParallelFailureStopsOtherBranches(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
	  "Catch":[{"ErrorEquals":["Boom"],"ResultPath":"$.err","Next":"H"}],"Branches":[
	  {"StartAt":"Long","States":{"Long":{"Type":"Wait","Seconds":3600,"Next":"After"},"After":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}},
	  {"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"Next":"F"},"F":{"Type":"Fail","Error":"Boom","Cause":"branch 2"}}}]},
	  "H":{"Type":"Pass","End":true}}}`
	e, ft, clk := run(t, def, `{"x":1}`, echo)
	succeeded(t, e, `{"x":1,"err":{"Error":"Boom","Cause":"branch 2"}}`)
	if len(ft.calls) != 0 {
		t.Fatalf("the stopped branch ran its task")
	}
	if !e.StopDate().Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("stopped at %v (clock %v)", e.StopDate(), clk.Now())
	}
	types := strings.Join(eventTypes(e.History()), ",")
	if !strings.Contains(types, "ParallelStateFailed") || strings.Contains(types, "ParallelStateSucceeded") {
		t.Fatalf("events %s", types)
	}
	// Uncaught: the execution fails with the branch's error.
	uncaught := strings.Replace(def, `"Catch":[{"ErrorEquals":["Boom"],"ResultPath":"$.err","Next":"H"}],`, "", 1)
	uncaught = strings.Replace(uncaught, `,
	  "H":{"Type":"Pass","End":true}`, "", 1)
	e, _, _ = run(t, uncaught, `{}`, echo)
	failed(t, e, "Boom")
}

func TestMap(t *testing.T) {
	cases := []struct {
		name, state, input, want string
	}{
		{"Iterator legacy", `{"Type":"Map","ItemsPath":"$.items","Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","Parameters":{"v.$":"$"},"End":true}}},"End":true}`,
			`{"items":[1,2,3]}`, `[{"v":1},{"v":2},{"v":3}]`},
		{"ItemProcessor + ItemSelector with Map.Item", `{"Type":"Map","ItemsPath":"$.items","ItemSelector":{"i.$":"$$.Map.Item.Index","val.$":"$$.Map.Item.Value","tag.$":"$.tag"},"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"ResultPath":"$.out","End":true}`,
			`{"tag":"t","items":["a","b"]}`, `{"tag":"t","items":["a","b"],"out":[{"i":0,"val":"a","tag":"t"},{"i":1,"val":"b","tag":"t"}]}`},
		{"legacy Parameters", `{"Type":"Map","ItemsPath":"$.items","Parameters":{"x.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}`,
			`{"items":[7]}`, `[{"x":7}]`},
		{"empty", `{"Type":"Map","Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}`,
			`[]`, `[]`},
		{"ResultSelector", `{"Type":"Map","ItemsPath":"$.items","Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"ResultSelector":{"n.$":"States.ArrayLength($)"},"End":true}`,
			`{"items":[1,2,3,4]}`, `{"n":4}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := run(t, `{"StartAt":"M","States":{"M":`+c.state+`}}`, c.input, nil)
			succeeded(t, e, c.want)
		})
	}
	e, _, _ := run(t, `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.x","Iterator":{"StartAt":"D","States":{"D":{"Type":"Pass","End":true}}},"End":true}}}`, `{"x":"notarray"}`, nil)
	failed(t, e, ErrRuntime)
}

func TestMapConcurrency(t *testing.T) {
	// Each iteration waits 10 s. MaxConcurrency 2 over 5 items → 30 s;
	// 0 (unlimited) → 10 s. Peak concurrency is observed by the task.
	for _, c := range []struct {
		max      int
		duration time.Duration
		peak     int32
	}{{2, 30 * time.Second, 2}, {0, 10 * time.Second, 5}, {1, 50 * time.Second, 1}} {
		def := fmt.Sprintf(`{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":%d,"Iterator":{"StartAt":"T","States":{
		  "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}},"End":true}}}`, c.max)
		d := mustParse(t, def)
		clk := clock.NewVirtual(t0)
		var cur, peak atomic.Int32
		inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			defer cur.Add(-1)
			if err := clock.Sleep(ctx, clk, 10*time.Second); err != nil {
				return nil, err
			}
			return req.Parameters, nil
		})
		e := Start(context.Background(), d, Options{Clock: clk, Tasks: inv, Input: json.RawMessage(`[1,2,3,4,5]`)})
		wait(t, e)
		succeeded(t, e, `[1,2,3,4,5]`)
		if !e.StopDate().Equal(t0.Add(c.duration)) || peak.Load() != c.peak {
			t.Fatalf("MaxConcurrency %d: took %v, peak %d; want %v, %d", c.max, e.StopDate().Sub(t0), peak.Load(), c.duration, c.peak)
		}
	}
}

func TestMapFailure(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"Iterator":{"StartAt":"C","States":{
	  "C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"T"},
	  "F":{"Type":"Fail","Error":"Bad","Cause":"item 2"},
	  "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}},
	  "Retry":[{"ErrorEquals":["Bad"],"MaxAttempts":1,"IntervalSeconds":4}],"End":true}}}`
	e, ft, _ := run(t, def, `[1,2,3]`, echo)
	failed(t, e, "Bad")
	// Item 3 never starts (MaxConcurrency 1); the whole Map is retried once.
	if len(ft.calls) != 2 {
		t.Fatalf("%d task calls, want 2 (item 1, twice)", len(ft.calls))
	}
	if got := ft.times(); got[1] != 4*time.Second {
		t.Fatalf("retry at %v", got[1])
	}
	types := strings.Join(eventTypes(e.History()), ",")
	for _, want := range []string{"MapStateEntered", "MapStateStarted", "MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed", "MapStateFailed"} {
		if !strings.Contains(types, want) {
			t.Fatalf("no %s in %s", want, types)
		}
	}
}

func TestDataLimitExceeded(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxPayloadBytes) + `"`
	// Task result over 256 KiB.
	e, _, _ := run(t, taskWith(``), `{}`, ok(big))
	failed(t, e, ErrDataLimitExceeded)
	// States.ALL does not catch it; naming it does.
	e, _, _ = run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Succeed"}}}`, `{}`, ok(big))
	failed(t, e, ErrDataLimitExceeded)
	e, _, _ = run(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Catch":[{"ErrorEquals":["States.DataLimitExceeded"],"ResultPath":null,"Next":"H"}],"End":true},"H":{"Type":"Succeed"}}}`, `{"a":1}`, ok(big))
	succeeded(t, e, `{"a":1}`)
	// A Pass state output built from a large input.
	half := strings.Repeat("y", MaxPayloadBytes/2)
	e, _, _ = run(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$.s","b.$":"$.s"},"End":true}}}`, `{"s":"`+half+`"}`, nil)
	failed(t, e, ErrDataLimitExceeded)
	// Exactly at the limit is fine: a string of 262142 characters plus quotes.
	e, _, _ = run(t, taskWith(``), `{}`, ok(`"`+strings.Repeat("x", MaxPayloadBytes-2)+`"`))
	if e.Status() != StatusSucceeded {
		t.Fatalf("payload of exactly %d bytes: %s", MaxPayloadBytes, e.Status())
	}
}

func TestExecutionTimeout(t *testing.T) {
	def := `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`
	e, _, _ := run(t, def, `{}`, nil)
	if e.Status() != StatusTimedOut || !e.StopDate().Equal(t0.Add(time.Minute)) {
		t.Fatalf("%s at %v", e.Status(), e.StopDate())
	}
	h := e.History()
	if h[len(h)-1].Type != "ExecutionTimedOut" {
		t.Fatalf("last event %s", h[len(h)-1].Type)
	}
	// Finishing in time: the timer does not fire.
	e, _, clk := run(t, `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":59,"End":true}}}`, `{}`, nil)
	succeeded(t, e, `{}`)
	if !clk.Now().Equal(t0.Add(59 * time.Second)) {
		t.Fatalf("clock %v", clk.Now())
	}
}

func TestHistoryCap(t *testing.T) {
	// An endless Pass loop: each round adds 2 events.
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Pass","Next":"A"}}}`
	e, _, _ := run(t, def, `{}`, nil, func(o *Options) { o.MaxHistoryEvents = 101 })
	cause := failed(t, e, ErrRuntime)
	h := e.History()
	if len(h) != 101 || h[100].Type != "ExecutionFailed" || !strings.Contains(cause, "maximum number of history events (101)") {
		t.Fatalf("%d events, last %s, cause %q", len(h), h[len(h)-1].Type, cause)
	}
	// The default cap is 25,000.
	e, _, _ = run(t, def, `{}`, nil)
	failed(t, e, ErrRuntime)
	if n := len(e.History()); n != DefaultMaxHistoryEvents {
		t.Fatalf("%d events", n)
	}
}

func TestStop(t *testing.T) {
	d := mustParse(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Succeed"}}}`)
	clk := clock.NewVirtual(t0)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
		defer ReleaseBusy(ctx)()
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, &TaskFailure{ErrorName: "Cancelled"}
	})
	var events []string
	e := Start(context.Background(), d, Options{Clock: clk, Tasks: inv, OnEvent: func(ev HistoryEvent) { events = append(events, ev.Type) }})
	<-started
	e.Stop("Operator.Stop", "stopped by test")
	wait(t, e)
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("task ctx not cancelled")
	}
	if e.Status() != StatusAborted {
		t.Fatalf("status %s", e.Status())
	}
	if n, c := e.Error(); n != "Operator.Stop" || c != "stopped by test" {
		t.Fatalf("error %q %q", n, c)
	}
	time.Sleep(20 * time.Millisecond) // let the task goroutine unwind: nothing more may be recorded
	got := strings.Join(eventTypes(e.History()), ",")
	if got != "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,ExecutionAborted" {
		t.Fatalf("events %s", got)
	}
	if strings.Join(events, ",") != got {
		t.Fatalf("OnEvent saw %v", events)
	}
	e.Stop("again", "") // no-op once stopped
	if n, _ := e.Error(); n != "Operator.Stop" {
		t.Fatal("second Stop changed the error")
	}
}

func TestHistoryEvents(t *testing.T) {
	def := `{"StartAt":"L","States":{
	  "L":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:123456789012:function:fn:live","Retry":[{"ErrorEquals":["E"],"MaxAttempts":1}],"Next":"S"},
	  "S":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents","Parameters":{"Entries":[]},"TimeoutSeconds":10,"Next":"P"},
	  "P":{"Type":"Parallel","Branches":[{"StartAt":"B1","States":{"B1":{"Type":"Pass","End":true}}},{"StartAt":"B2","States":{"B2":{"Type":"Pass","End":true}}}],"Next":"Done"},
	  "Done":{"Type":"Succeed"}}}`
	e, _, _ := run(t, def, `{"a":1}`, func(_ context.Context, req TaskRequest, n int) (json.RawMessage, error) {
		if n == 0 {
			return nil, &TaskFailure{ErrorName: "E", Cause: "first"}
		}
		return json.RawMessage(`{"ok":1}`), nil
	})
	succeeded(t, e, `[{"ok":1},{"ok":1}]`)
	h := e.History()
	for i, ev := range h {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has id %d", i, ev.ID)
		}
		if ev.PreviousEventID >= ev.ID || (i > 0 && ev.PreviousEventID < 1) {
			t.Fatalf("event %d (%s) previous %d", ev.ID, ev.Type, ev.PreviousEventID)
		}
	}
	byType := map[string][]HistoryEvent{}
	for _, ev := range h {
		byType[ev.Type] = append(byType[ev.Type], ev)
	}
	want := map[string]int{"ExecutionStarted": 1, "TaskStateEntered": 2, "LambdaFunctionScheduled": 2, "LambdaFunctionStarted": 2, "LambdaFunctionFailed": 1, "LambdaFunctionSucceeded": 1,
		"TaskScheduled": 1, "TaskStarted": 1, "TaskSucceeded": 1, "TaskStateExited": 2, "ParallelStateEntered": 1, "ParallelStateStarted": 1, "PassStateEntered": 2, "PassStateExited": 2,
		"ParallelStateSucceeded": 1, "ParallelStateExited": 1, "SucceedStateEntered": 1, "SucceedStateExited": 1, "ExecutionSucceeded": 1}
	for typ, n := range want {
		if len(byType[typ]) != n {
			t.Errorf("%d %s events, want %d", len(byType[typ]), typ, n)
		}
	}
	if len(h) != 25 {
		t.Errorf("%d events:\n%s", len(h), dumpHistory(h))
	}
	ls := byType["LambdaFunctionScheduled"][0]
	if ls.DetailsKey != "lambdaFunctionScheduledEventDetails" || ls.Details["resource"] != "arn:aws:lambda:eu-west-1:123456789012:function:fn:live" || ls.Details["input"] != `{"a":1}` {
		t.Errorf("LambdaFunctionScheduled %+v", ls)
	}
	lf := byType["LambdaFunctionFailed"][0]
	if lf.DetailsKey != "lambdaFunctionFailedEventDetails" || lf.Details["error"] != "E" || lf.Details["cause"] != "first" {
		t.Errorf("LambdaFunctionFailed %+v", lf)
	}
	ts := byType["TaskScheduled"][0]
	if ts.DetailsKey != "taskScheduledEventDetails" || ts.Details["resourceType"] != "events" || ts.Details["resource"] != "putEvents" ||
		ts.Details["region"] != "eu-west-1" || ts.Details["parameters"] != `{"Entries":[]}` || ts.Details["timeoutInSeconds"] != int64(10) {
		t.Errorf("TaskScheduled %+v", ts)
	}
	if tsu := byType["TaskSucceeded"][0]; tsu.Details["output"] != `{"ok":1}` || tsu.DetailsKey != "taskSucceededEventDetails" {
		t.Errorf("TaskSucceeded %+v", tsu)
	}
	if se := byType["TaskStateEntered"][0]; se.DetailsKey != "stateEnteredEventDetails" || se.Details["name"] != "L" || se.Details["input"] != `{"a":1}` {
		t.Errorf("TaskStateEntered %+v", se)
	}
	if ex := byType["ExecutionStarted"][0]; ex.DetailsKey != "executionStartedEventDetails" || ex.Details["input"] != `{"a":1}` || ex.PreviousEventID != 0 {
		t.Errorf("ExecutionStarted %+v", ex)
	}
	// Both branches' first events follow ParallelStateStarted.
	ps := byType["ParallelStateStarted"][0].ID
	for _, ev := range byType["PassStateEntered"] {
		if ev.PreviousEventID != ps {
			t.Errorf("%s %d follows %d, want %d", ev.Type, ev.ID, ev.PreviousEventID, ps)
		}
	}
	// The retry: the second LambdaFunctionScheduled is one second after the failure.
	if d := byType["LambdaFunctionScheduled"][1].Timestamp.Sub(lf.Timestamp); d != time.Second {
		t.Errorf("retry after %v", d)
	}
	// Transitions: 6 states entered (L, S, P, B1, B2, Done) + 1 retry.
	if e.StateTransitions() != 7 {
		t.Errorf("transitions %d", e.StateTransitions())
	}
}

func TestFailState(t *testing.T) {
	e, _, _ := run(t, `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('because {}', $.c)"}}}`, `{"e":"Custom.Error","c":"reasons"}`, nil)
	if c := failed(t, e, "Custom.Error"); c != "because reasons" {
		t.Fatalf("cause %q", c)
	}
	h := e.History()
	if h[1].Type != "FailStateEntered" || h[2].Type != "ExecutionFailed" || h[2].Details["cause"] != "because reasons" {
		t.Fatalf("%s", dumpHistory(h))
	}
	e, _, _ = run(t, `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e"}}}`, `{"e":5}`, nil)
	failed(t, e, ErrRuntime)
}

func TestInvalidInput(t *testing.T) {
	e, _, _ := run(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, `{not json`, nil)
	failed(t, e, ErrRuntime)
	e, _, _ = run(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, ``, nil)
	succeeded(t, e, `{}`)
}
