package e2e

import (
	"encoding/json"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// EventBridge invokes the trigger asynchronously. When the trigger fails for
// good, Lambda retries it as the template's EventInvokeConfig says (2 more
// attempts), then sends the invocation record to the on-failure queue, where
// an operator (and the queue-depth alarm) finds it.
func TestTriggerFailureEndsInTheOnFailureQueue(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	e.c.Faults.Add(awsproto.Fault{Service: "states", Op: "StartExecution", Fraction: 1, Code: "AccessDeniedException", Status: 400,
		Message: "injected: an SCP denies states:StartExecution"})
	var queueArn string
	for _, q := range e.c.Template.Queues {
		if q.LogicalID == "TriggerFailureQueue" {
			queueArn = q.Arn
		}
	}
	if queueArn == "" {
		t.Fatal("template.yaml declares no TriggerFailureQueue")
	}
	fn, _ := e.c.Template.Function("TriggerFunction")
	if fn.OnFailureArn != queueArn {
		t.Fatalf("TriggerFunction's on-failure destination is %q, want the TriggerFailureQueue %q", fn.OnFailureArn, queueArn)
	}

	e.register("fail-01", nil)
	e.settle()

	attempts := 0
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == fn.FunctionName {
			attempts++
			if inv.ErrorType == "" {
				t.Errorf("attempt %d of the trigger succeeded under a permanent fault", inv.Attempt)
			}
		}
	}
	if attempts != 1+fn.AsyncRetries || fn.AsyncRetries != 2 {
		t.Errorf("%d trigger attempts with %d async retries configured, want 3 attempts (2 retries)", attempts, fn.AsyncRetries)
	}
	msgs := e.c.SQS.Messages(queueArn)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the on-failure queue, want 1", len(msgs))
	}
	var rec struct {
		RequestContext struct {
			Condition              string `json:"condition"`
			ApproximateInvokeCount int    `json:"approximateInvokeCount"`
		} `json:"requestContext"`
		RequestPayload struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				ClusterName string `json:"clusterName"`
			} `json:"detail"`
		} `json:"requestPayload"`
		ResponsePayload struct {
			ErrorType string `json:"errorType"`
		} `json:"responsePayload"`
	}
	if err := json.Unmarshal([]byte(msgs[0]), &rec); err != nil {
		t.Fatalf("on-failure record is not JSON: %v", err)
	}
	if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 {
		t.Errorf("record context %+v, want RetriesExhausted after 3 invocations", rec.RequestContext)
	}
	if rec.RequestPayload.DetailType != "Register Cluster" || rec.RequestPayload.Detail.ClusterName != "fail-01" {
		t.Errorf("record does not carry the original event: %+v", rec.RequestPayload)
	}
	if rec.ResponsePayload.ErrorType == "" {
		t.Errorf("record does not name the trigger's error type")
	}
	if n := len(e.c.SFN.Executions()); n != 0 {
		t.Errorf("%d executions started", n)
	}
}
