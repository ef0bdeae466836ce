package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Helpers for driving the trigger with many events at once and reading what
// its runs did (takeover_test.go, consistency_test.go, concurrency_test.go).

// delivery is one event for the trigger: put through EventBridge as an
// operator would (detailType, detail), or, with envelope set, invoked on the
// trigger asynchronously as Lambda delivers an event (a redelivery keeps the
// envelope's id and time).
type delivery struct {
	detailType string
	detail     any
	envelope   []byte
}

func registerDelivery(cluster, provider string) delivery {
	return delivery{detailType: "Register Cluster", detail: map[string]any{"clusterName": cluster, "provider": provider}}
}

// deliverAtOnce makes every delivery concurrently and waits until each has
// caused a trigger run; it fails the test if one is refused. The caller
// holds the clock, so that all of them arrive at one virtual instant.
func deliverAtOnce(t *testing.T, e *env, ds []delivery) {
	t.Helper()
	trig, _ := e.c.Template.Function("TriggerFunction")
	before := len(e.triggerInvocations(trig.FunctionName))
	eb := eventbridge.NewFromConfig(e.c.ConfigFor("operator"))
	lc := lambda.NewFromConfig(e.c.ConfigFor("admin"))
	var wg sync.WaitGroup
	errs := make(chan error, len(ds))
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if d.envelope != nil {
				var out *lambda.InvokeOutput
				out, err = lc.Invoke(e.ctx(), &lambda.InvokeInput{FunctionName: aws.String(trig.FunctionName),
					InvocationType: lambdatypes.InvocationTypeEvent, Payload: d.envelope})
				if err == nil && out.StatusCode != 202 {
					err = fmt.Errorf("Invoke answered %d, want 202", out.StatusCode)
				}
			} else {
				body, _ := json.Marshal(d.detail)
				var out *eventbridge.PutEventsOutput
				out, err = eb.PutEvents(e.ctx(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
					Source: aws.String("eks-connector-registrar"), DetailType: aws.String(d.detailType), Detail: aws.String(string(body)),
				}}})
				if err == nil && out.FailedEntryCount != 0 {
					err = fmt.Errorf("PutEvents refused the entry: %s", aws.ToString(out.Entries[0].ErrorMessage))
				}
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.waitFor(fmt.Sprintf("%d trigger runs", len(ds)), func() bool {
		return len(e.triggerInvocations(trig.FunctionName)) >= before+len(ds)
	})
}

// triggerTally is what the trigger's runs for one cluster logged, and the
// calls they made, between two reports of a triggerWatch.
type triggerTally struct {
	started, found, inProgress, processed, tookOver, superseded int
	deregStarted, deregStopped, deregSuperseded                 int
	holders, holderStatuses                                     map[string]int // of the AlreadyInProgress outcomes
	staleHolders                                                []string       // one per stale lock taken over
	startedEvents                                               map[string]int // event id → "started execution" lines
	calls                                                       map[string]int // "service:Op" → calls by the trigger
	describes                                                   map[int]int    // HTTP status → trigger DescribeExecution answers
}

func (r triggerTally) String() string {
	return fmt.Sprintf("%d started (%d after taking over), %d found started, %d AlreadyInProgress (holder status %v), %d AlreadyProcessed, %d superseded; "+
		"deregistration started %d, stopped %d, superseded %d; trigger calls %v, DescribeExecution answers by status %v",
		r.started, r.tookOver, r.found, r.inProgress, r.holderStatuses, r.processed, r.superseded,
		r.deregStarted, r.deregStopped, r.deregSuperseded, r.calls, r.describes)
}

// triggerWatch reads the trigger's log and counts its calls from now on.
type triggerWatch struct {
	e         *env
	line      int
	mu        sync.Mutex
	calls     map[string]int
	describes map[int]int
}

func watchTrigger(e *env) *triggerWatch {
	w := &triggerWatch{e: e, calls: map[string]int{}, describes: map[int]int{}}
	e.onCall(func(c *awsproto.Call, status int) {
		if c.Principal != nil && c.Principal.Name == "TriggerFunction" {
			w.mu.Lock()
			w.calls[c.Service+":"+c.Op]++
			if c.Op == "DescribeExecution" {
				w.describes[status]++
			}
			w.mu.Unlock()
		}
	})
	w.line = len(strings.Split(e.logs.String(), "\n"))
	return w
}

// report returns what happened since the last report (or the watch began).
func (w *triggerWatch) report(cluster string) triggerTally {
	r := triggerTally{holders: map[string]int{}, holderStatuses: map[string]int{}, startedEvents: map[string]int{}}
	w.mu.Lock()
	r.calls, w.calls = w.calls, map[string]int{}
	r.describes, w.describes = w.describes, map[int]int{}
	w.mu.Unlock()
	lines := strings.Split(w.e.logs.String(), "\n")
	from := min(w.line, len(lines)) - 1
	w.line = len(lines)
	for _, line := range lines[max(from, 0):] {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["function"] != "trigger" || m["cluster"] != cluster {
			continue
		}
		msg, _ := m["msg"].(string)
		switch {
		case msg == "started execution":
			if m["detailType"] == "Deregister Cluster" {
				r.deregStarted++
			} else {
				r.started++
			}
			id, _ := m["eventId"].(string)
			r.startedEvents[id]++
		case msg == "execution already started by an earlier delivery of this event":
			r.found++
		case strings.Contains(msg, "already in progress; not starting another"), msg == "another execution took the lock first":
			r.inProgress++
			h, _ := m["holder"].(string)
			s, _ := m["holderStatus"].(string)
			r.holders[h]++
			r.holderStatuses[s]++
		case strings.HasPrefix(msg, "event already processed"):
			r.processed++
		case msg == "took over a stale lock":
			r.tookOver++
			h, _ := m["staleHolder"].(string)
			r.staleHolders = append(r.staleHolders, h)
		case strings.Contains(msg, "superseded this registration"):
			r.superseded++
		case msg == "stopped the registration in progress":
			r.deregStopped++
		case strings.HasPrefix(msg, "took the lock over from a registration that had not started"):
			r.deregSuperseded++
		}
	}
	return r
}
