package asl

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// failN fails the first n attempts with errName, then succeeds.
func failN(n int, errName string) func(context.Context, TaskRequest, int) (json.RawMessage, error) {
	return func(_ context.Context, _ TaskRequest, i int) (json.RawMessage, error) {
		if i < n {
			return nil, &TaskFailure{ErrorName: errName, Cause: "attempt failed"}
		}
		return json.RawMessage(`{"ok":true}`), nil
	}
}

func taskWith(fields string) string {
	return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:123456789012:function:fn"` + fields + `,"End":true}}}`
}

func secs(s ...float64) []time.Duration {
	var out []time.Duration
	for _, x := range s {
		out = append(out, time.Duration(x*float64(time.Second)))
	}
	return out
}

func TestRetryTiming(t *testing.T) {
	cases := []struct {
		name    string
		retry   string
		fails   int
		errName string
		want    []time.Duration // virtual times of each attempt, from the start
		status  Status
	}{
		{"defaults 1,2,4 then give up", `[{"ErrorEquals":["States.ALL"]}]`, 10, "E", secs(0, 1, 3, 7), StatusFailed},
		{"interval 3 backoff 2", `[{"ErrorEquals":["E"],"IntervalSeconds":3,"BackoffRate":2,"MaxAttempts":3}]`, 3, "E", secs(0, 3, 9, 21), StatusSucceeded},
		{"backoff 1.5", `[{"ErrorEquals":["E"],"IntervalSeconds":2,"BackoffRate":1.5,"MaxAttempts":3}]`, 3, "E", secs(0, 2, 5, 9.5), StatusSucceeded},
		{"MaxDelaySeconds caps", `[{"ErrorEquals":["E"],"IntervalSeconds":3,"BackoffRate":2,"MaxAttempts":5,"MaxDelaySeconds":8}]`, 5, "E", secs(0, 3, 9, 17, 25, 33), StatusSucceeded},
		{"MaxAttempts 0 never retries", `[{"ErrorEquals":["E"],"MaxAttempts":0}]`, 1, "E", secs(0), StatusFailed},
		{"non-matching retrier", `[{"ErrorEquals":["Other"]}]`, 1, "E", secs(0), StatusFailed},
		{"TaskFailed matches custom errors", `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`, 1, "Lambda.ServiceException", secs(0, 1), StatusSucceeded},
		{"TaskFailed does not match Timeout", `[{"ErrorEquals":["States.TaskFailed"]}]`, 1, "States.Timeout", secs(0), StatusFailed},
		{"first matching retrier wins and is exhausted", `[{"ErrorEquals":["E"],"MaxAttempts":1,"IntervalSeconds":5},{"ErrorEquals":["States.ALL"],"IntervalSeconds":1}]`, 3, "E", secs(0, 5), StatusFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, ft, _ := run(t, taskWith(`,"Retry":`+c.retry), `{}`, failN(c.fails, c.errName))
			if e.Status() != c.status {
				n, cause := e.Error()
				t.Fatalf("status %s (%s %s) want %s", e.Status(), n, cause, c.status)
			}
			if got := ft.times(); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("attempt times %v want %v", got, c.want)
			}
			if c.status == StatusFailed {
				if n, _ := e.Error(); n != c.errName {
					t.Fatalf("error %q want %q", n, c.errName)
				}
			}
			// One transition for the state plus one per retry.
			if got, want := e.StateTransitions(), len(c.want); got != want {
				t.Fatalf("StateTransitions %d want %d", got, want)
			}
		})
	}
}

func TestRetryersKeepSeparateCounts(t *testing.T) {
	// Errors alternate A, B, A, B: each retrier has MaxAttempts 2, so all
	// four failures are retried and the fifth attempt succeeds.
	fn := func(_ context.Context, _ TaskRequest, i int) (json.RawMessage, error) {
		if i < 4 {
			return nil, &TaskFailure{ErrorName: []string{"A", "B"}[i%2]}
		}
		return json.RawMessage(`1`), nil
	}
	e, ft, _ := run(t, taskWith(`,"Retry":[{"ErrorEquals":["A"],"MaxAttempts":2,"IntervalSeconds":1},{"ErrorEquals":["B"],"MaxAttempts":2,"IntervalSeconds":10}]`), `{}`, fn)
	succeeded(t, e, `1`)
	if got, want := ft.times(), secs(0, 1, 11, 13, 33); !reflect.DeepEqual(got, want) {
		t.Fatalf("times %v want %v", got, want)
	}
}

func TestRetryFullJitter(t *testing.T) {
	def := taskWith(`,"Retry":[{"ErrorEquals":["E"],"IntervalSeconds":10,"BackoffRate":2,"MaxAttempts":4,"JitterStrategy":"FULL"}]`)
	e, ft, _ := run(t, def, `{}`, failN(4, "E"), func(o *Options) { o.Rand = rand.New(rand.NewPCG(42, 7)) })
	succeeded(t, e, `{"ok":true}`)
	ts := ft.times()
	if len(ts) != 5 {
		t.Fatalf("attempts %v", ts)
	}
	allFull := true
	for i := 1; i < len(ts); i++ {
		gap := ts[i] - ts[i-1]
		bound := time.Duration(10*(1<<(i-1))) * time.Second
		if gap < 0 || gap > bound {
			t.Fatalf("retry %d waited %v, want within [0, %v]", i, gap, bound)
		}
		if gap != bound {
			allFull = false
		}
	}
	if allFull {
		t.Fatalf("jitter never shortened a delay: %v", ts)
	}
	// The same seed gives the same schedule.
	_, ft2, _ := run(t, def, `{}`, failN(4, "E"), func(o *Options) { o.Rand = rand.New(rand.NewPCG(42, 7)) })
	if !reflect.DeepEqual(ts, ft2.times()) {
		t.Fatalf("same seed, different times: %v vs %v", ts, ft2.times())
	}
}

func TestRetryCountInContext(t *testing.T) {
	def := taskWith(`,"Parameters":{"n.$":"$$.State.RetryCount"},"Retry":[{"ErrorEquals":["E"],"MaxAttempts":2}]`)
	_, ft, _ := run(t, def, `{}`, failN(2, "E"))
	for i, c := range ft.calls {
		jsonEq(t, c.req.Parameters, `{"n":`+string(rune('0'+i))+`}`)
	}
}

func TestCatch(t *testing.T) {
	handler := `"H":{"Type":"Pass","End":true}`
	def := func(task string) string {
		return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke"` + task + `,"End":true},` + handler + `}}`
	}
	cases := []struct {
		name, task, input string
		fn                func(context.Context, TaskRequest, int) (json.RawMessage, error)
		want, wantErr     string
	}{
		{"default ResultPath replaces input", `,"Catch":[{"ErrorEquals":["E"],"Next":"H"}]`, `{"a":1}`, failN(9, "E"), `{"Error":"E","Cause":"attempt failed"}`, ""},
		{"ResultPath on raw input", `,"InputPath":"$.a","Catch":[{"ErrorEquals":["E"],"ResultPath":"$.err","Next":"H"}]`, `{"a":{"x":1}}`, failN(9, "E"), `{"a":{"x":1},"err":{"Error":"E","Cause":"attempt failed"}}`, ""},
		{"ResultPath null keeps input", `,"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"H"}]`, `{"a":1}`, failN(9, "E"), `{"a":1}`, ""},
		{"TaskFailed catches custom", `,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"H"}]`, `{}`, failN(9, "Custom"), `{"Error":"Custom","Cause":"attempt failed"}`, ""},
		{"TaskFailed does not catch Timeout", `,"TimeoutSeconds":5,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"H"}]`, `{}`, blockUntilCancelled, ``, ErrTimeout},
		{"ALL catches Timeout", `,"TimeoutSeconds":5,"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"H"}]`, `{}`, blockUntilCancelled, `{"e":{"Error":"States.Timeout","Cause":"The task of state 'T' did not finish within its TimeoutSeconds of 5"}}`, ""},
		{"first matching catcher", `,"Catch":[{"ErrorEquals":["X"],"Next":"H"},{"ErrorEquals":["E"],"ResultPath":"$.second","Next":"H"},{"ErrorEquals":["States.ALL"],"Next":"H"}]`, `{}`, failN(9, "E"), `{"second":{"Error":"E","Cause":"attempt failed"}}`, ""},
		{"plain Go error is States.TaskFailed", `,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"H"}]`, `{}`, func(context.Context, TaskRequest, int) (json.RawMessage, error) {
			return nil, errors.New("boom")
		}, `{"Error":"States.TaskFailed","Cause":"boom"}`, ""},
		{"retry then catch", `,"Retry":[{"ErrorEquals":["E"],"MaxAttempts":1}],"Catch":[{"ErrorEquals":["E"],"Next":"H"}]`, `{}`, failN(9, "E"), `{"Error":"E","Cause":"attempt failed"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _, _ := run(t, def(c.task), c.input, c.fn)
			if c.wantErr != "" {
				failed(t, e, c.wantErr)
				return
			}
			succeeded(t, e, c.want)
		})
	}
}

// blockUntilCancelled waits for something outside the clock (here: only
// the cancellation), so it gives up the engine's busy token while it waits.
func blockUntilCancelled(ctx context.Context, _ TaskRequest, _ int) (json.RawMessage, error) {
	reacquire := ReleaseBusy(ctx)
	defer reacquire()
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestTaskTimeout(t *testing.T) {
	def := taskWith(`,"TimeoutSeconds":30,"Retry":[{"ErrorEquals":["States.Timeout"],"MaxAttempts":1,"IntervalSeconds":2}]`)
	e, ft, clk := run(t, def, `{}`, blockUntilCancelled)
	failed(t, e, ErrTimeout)
	if got, want := ft.times(), secs(0, 32); !reflect.DeepEqual(got, want) {
		t.Fatalf("attempts at %v want %v", got, want)
	}
	if want := t0.Add(62 * time.Second); !clk.Now().Equal(want) || !e.StopDate().Equal(want) {
		t.Fatalf("stopped at %v (clock %v) want %v", e.StopDate(), clk.Now(), want)
	}
	if ft.calls[0].req.TimeoutSeconds != 30 {
		t.Fatalf("TimeoutSeconds in request %d", ft.calls[0].req.TimeoutSeconds)
	}
	types := strings.Join(eventTypes(e.History()), ",")
	if !strings.Contains(types, "LambdaFunctionTimedOut") {
		t.Fatalf("no LambdaFunctionTimedOut in %s", types)
	}

	// A task finishing before its timeout succeeds, and the clock does not
	// jump to the deadline.
	e, _, clk = run(t, taskWith(`,"TimeoutSecondsPath":"$.to"`), `{"to":3600}`, ok(`"done"`))
	succeeded(t, e, `"done"`)
	if !clk.Now().Equal(t0) {
		t.Fatalf("clock moved to %v", clk.Now())
	}
}

// A task whose work takes virtual time (it sleeps on the clock): 100 s of
// work against a 30 s timeout times out at 30 s; against 300 s it succeeds
// at 100 s.
func TestTaskTimeoutVirtualWork(t *testing.T) {
	for _, c := range []struct {
		timeout int
		status  Status
		at      time.Duration
	}{{30, StatusFailed, 30 * time.Second}, {300, StatusSucceeded, 100 * time.Second}} {
		d := mustParse(t, taskWith(`,"TimeoutSeconds":`+strconv.Itoa(c.timeout)))
		clk := clock.NewVirtual(t0)
		inv := TaskInvokerFunc(func(ctx context.Context, req TaskRequest) (json.RawMessage, error) {
			if err := clock.Sleep(ctx, clk, 100*time.Second); err != nil {
				return nil, err
			}
			return json.RawMessage(`"worked"`), nil
		})
		e := Start(context.Background(), d, Options{Clock: clk, Tasks: inv})
		wait(t, e)
		if e.Status() != c.status || !e.StopDate().Equal(t0.Add(c.at)) {
			n, cause := e.Error()
			t.Fatalf("timeout %d: %s at %v (%s %s)", c.timeout, e.Status(), e.StopDate(), n, cause)
		}
	}
}

func TestRuntimeNotRetriedOrCaught(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","ResultSelector":{"x.$":"$.missing"},
	  "Retry":[{"ErrorEquals":["States.ALL"]}],"Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Succeed"}}}`
	e, ft, _ := run(t, def, `{}`, ok(`{}`))
	failed(t, e, ErrRuntime)
	if len(ft.calls) != 1 {
		t.Fatalf("States.Runtime was retried: %d attempts", len(ft.calls))
	}
}
