// Package e2e runs the real workflow end to end: the real template.yaml and
// state machine definitions, the real Go handlers, the real aws-sdk-go-v2
// clients over HTTP, on the local cloud with a virtual clock.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	"github.com/platform/eks-connector-registrar/localcloud/sfn"
)

type env struct {
	t    *testing.T
	c    *localcloud.Cloud
	logs *syncBuffer
	// left is what the test declared it leaves on purpose (leakcheck_test.go);
	// productCalls counts the calls of the project's own principals.
	left         leftovers
	productCalls *callRecord
	// secretsPlanted: the test put a code somewhere on purpose, to test the
	// secret scan itself.
	secretsPlanted bool
	// endHooks run after the end checks, told how many leaks were found.
	endHooks []func(leaks int)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a local cloud with the project's template and functions.
func start(t *testing.T, o localcloud.Options) *env {
	t.Helper()
	logs := &syncBuffer{}
	c, err := app.Start(o, logs)
	if err != nil {
		t.Fatalf("starting the local cloud: %v", err)
	}
	c.CheckWire(t)
	t.Cleanup(func() { recordPolicies(c) }) // least privilege, measured (leastprivilege_test.go)
	// Every check the local cloud made must be one AWS makes: an action the
	// IAM service authorization reference lists, against "*" or an ARN of
	// one of its resource types (localcloud/policy/reference).
	t.Cleanup(func() {
		for _, v := range c.Policies.Violations() {
			t.Errorf("the local cloud checked a permission AWS does not: %s", v)
		}
	})
	t.Cleanup(func() {
		c.Close()
		if t.Failed() && os.Getenv("E2E_LOGS") != "" {
			t.Logf("function logs:\n%s", logs.String())
		}
	})
	e := &env{t: t, c: c, logs: logs}
	e.armEndChecks()
	return e
}

func (e *env) ctx() context.Context { return context.Background() }

// put puts one event on the default bus as an operator would.
func (e *env) put(detailType string, detail any) {
	e.t.Helper()
	b, err := json.Marshal(detail)
	if err != nil {
		e.t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(e.c.ConfigFor("operator"))
	out, err := eb.PutEvents(e.ctx(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("eks-connector-registrar"), DetailType: aws.String(detailType), Detail: aws.String(string(b)),
	}}})
	if err != nil {
		e.t.Fatalf("PutEvents: %v", err)
	}
	if out.FailedEntryCount != 0 {
		e.t.Fatalf("PutEvents refused the entry: %s", aws.ToString(out.Entries[0].ErrorMessage))
	}
}

func (e *env) register(cluster string, extra map[string]any) {
	e.t.Helper()
	d := map[string]any{"clusterName": cluster, "provider": "other"}
	for k, v := range extra {
		d[k] = v
	}
	e.put("Register Cluster", d)
}

// executions of a state machine whose name contains kind ("Registration",
// "Deregistration"), oldest first.
func (e *env) executions(kind string) []*sfn.Execution {
	var out []*sfn.Execution
	for _, ex := range e.c.SFN.Executions() {
		name := ex.StateMachineArn[strings.LastIndex(ex.StateMachineArn, ":")+1:]
		isDereg := strings.Contains(name, "Deregistration")
		if (kind == "Deregistration") == isDereg {
			out = append(out, ex)
		}
	}
	return out
}

// waitExecution waits (in real time; the virtual clock runs on its own) for
// the n-th execution of kind to exist and end.
func (e *env) waitExecution(kind string, n int) *sfn.Execution {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if xs := e.executions(kind); len(xs) >= n {
			select {
			case <-xs[n-1].Engine().Done():
				return xs[n-1]
			case <-time.After(time.Until(deadline)):
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	e.t.Fatalf("%s execution #%d did not end within 60 s of real time; executions: %d", kind, n, len(e.executions(kind)))
	return nil
}

// settle waits until the events put so far are delivered and the
// asynchronous invocations they caused have ended. (It does not wait for the
// virtual clock to be idle: a test may hold a busy token.)
func (e *env) settle() {
	e.c.Events.Wait()
	e.c.Lambda.WaitAsync()
}

func (e *env) eventsOf(detailType string) []events.Event {
	var out []events.Event
	for _, ev := range e.c.Events.Log() {
		if ev.DetailType == detailType {
			out = append(out, ev)
		}
	}
	return out
}

func detailOf(t *testing.T, ev events.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Detail, &m); err != nil {
		t.Fatalf("event detail is not JSON: %v", err)
	}
	return m
}

// history returns the execution's whole history as JSON text.
func history(ex *sfn.Execution) string {
	b, _ := json.Marshal(ex.Engine().History())
	return string(b)
}
