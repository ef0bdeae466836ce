package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// failureRecord is the part of Lambda's on-failure invocation record the
// operator reads.
type failureRecord struct {
	RequestContext struct {
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponsePayload struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"responsePayload"`
}

// When the Cleanup function keeps failing on a registration that ended
// without its own cleanup, Lambda retries the status change as the
// template's EventInvokeConfig says (2 more attempts), then sends it to
// CleanupFailureQueue, where the queue-depth alarm and an operator find it.
// The ended execution's lock stays held meanwhile (so a redrive still
// announces the outcome), and redriving the record's payload once the fault
// is gone finishes the job: everything removed, one failure event.
func TestEndedCleanupFailureEndsInTheOnFailureQueue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		fault          awsproto.Fault
		wantError      string
		compensated    bool // the registration was removed before the failure
		wantInQuestion string
	}{
		{name: "the compensation fails", wantError: "AWSCallFailed", wantInQuestion: "eks:DeregisterCluster",
			fault: awsproto.Fault{Service: "eks", Op: "DeregisterCluster", Fraction: 1, Code: "AccessDeniedException", Status: 403,
				Message: "injected: an SCP denies eks:DeregisterCluster"}},
		{name: "the outcome cannot be published", wantError: "AWSCallFailed", wantInQuestion: "events:PutEvents", compensated: true,
			fault: awsproto.Fault{Service: "events", Op: "PutEvents", Fraction: 1, Code: "AccessDeniedException", Status: 400,
				Message: "injected: an SCP denies events:PutEvents"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
			fn, _ := e.c.Template.Function("CleanupFunction")
			var queueURL, queueArn string
			for _, q := range e.c.Template.Queues {
				if q.LogicalID == "CleanupFailureQueue" {
					queueURL, queueArn = q.URL, q.Arn
				}
			}
			if queueArn == "" || fn.OnFailureArn != queueArn || fn.AsyncRetries != 2 {
				t.Fatalf("CleanupFunction's on-failure destination %q with %d retries, want CleanupFailureQueue %q with 2",
					fn.OnFailureArn, fn.AsyncRetries, queueArn)
			}

			ex, code, release := waitingRegistration(t, e, "cfail-01", 3*time.Minute)
			// Installed before the stop: the status change is handled at once.
			// Nothing else calls it once the registration has stopped.
			e.c.Faults.Add(tt.fault)
			stopByHand(t, e, ex, "OperatorStopped", "stopped by hand")
			release()
			e.settle()
			defer assertSecretNowhere(t, e, code)
			mustStatus(t, ex, "ABORTED")
			if e.c.Faults.InjectedCount(tt.fault.Service, tt.fault.Op) == 0 {
				t.Fatalf("the fault on %s:%s was never hit", tt.fault.Service, tt.fault.Op)
			}

			attempts := 0
			for _, inv := range e.c.Lambda.Log() {
				if inv.Function == fn.FunctionName && inv.Type == "Event" {
					attempts++
					if inv.ErrorType != tt.wantError {
						t.Errorf("attempt %d failed with %q, want %s", inv.Attempt, inv.ErrorType, tt.wantError)
					}
				}
			}
			if attempts != 3 {
				t.Errorf("%d asynchronous Cleanup attempts, want 3 (2 retries)", attempts)
			}

			// The operator reads the queue.
			out, err := sqs.NewFromConfig(e.c.ConfigFor("operator")).ReceiveMessage(e.ctx(), &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err)
			}
			if len(out.Messages) != 1 {
				t.Fatalf("%d messages in CleanupFailureQueue, want 1", len(out.Messages))
			}
			body := aws.ToString(out.Messages[0].Body)
			if strings.Contains(body, code) {
				t.Error("the activation code is in the failure record")
			}
			var rec failureRecord
			if err := json.Unmarshal([]byte(body), &rec); err != nil {
				t.Fatalf("failure record is not JSON: %v", err)
			}
			if rec.RequestContext.Condition != "RetriesExhausted" || rec.RequestContext.ApproximateInvokeCount != 3 {
				t.Errorf("record context %+v, want RetriesExhausted after 3 invocations", rec.RequestContext)
			}
			var payload struct {
				DetailType string `json:"detail-type"`
				Detail     struct {
					ExecutionArn string `json:"executionArn"`
					Status       string `json:"status"`
				} `json:"detail"`
			}
			if err := json.Unmarshal(rec.RequestPayload, &payload); err != nil || payload.DetailType != "Step Functions Execution Status Change" ||
				payload.Detail.ExecutionArn != ex.Arn || payload.Detail.Status != "ABORTED" {
				t.Errorf("record payload %s (%v), want the stopped execution's status change", rec.RequestPayload, err)
			}
			if rec.ResponsePayload.ErrorType != tt.wantError || !strings.Contains(rec.ResponsePayload.ErrorMessage, tt.wantInQuestion) {
				t.Errorf("record response %+v, want %s naming %s", rec.ResponsePayload, tt.wantError, tt.wantInQuestion)
			}

			if n := len(e.eventsOf("Cluster Registration Failed")); n != 0 {
				t.Errorf("%d Cluster Registration Failed events, want none yet", n)
			}
			if st, present := e.c.EKS.ClusterStatus("cfail-01"); (present && st == "PENDING") == tt.compensated {
				t.Errorf("cluster status %q (present %v); want it deregistered: %v", st, present, tt.compensated)
			}
			if !lockHeld(e, "cfail-01") {
				t.Error("the ended execution's lock was released before its outcome was announced")
			}

			// Redrive once the cause is fixed.
			e.c.Faults.Clear()
			res := invokeCleanup(t, e, rec.RequestPayload)
			if res["published"] != "Cluster Registration Failed" {
				t.Errorf("redrive answered %v, want the failure published", res)
			}
			failed := e.eventsOf("Cluster Registration Failed")
			if len(failed) != 1 {
				t.Fatalf("%d Cluster Registration Failed events after the redrive, want 1", len(failed))
			}
			if d := detailOf(t, failed[0]); d["executionArn"] != ex.Arn || d["error"] != "ExecutionAborted" {
				t.Errorf("failure event %v, want the stopped execution, ExecutionAborted", d)
			}
			assertNothingLeft(t, e)
			if lockHeld(e, "cfail-01") {
				t.Error("the lock is still held after the redrive")
			}
		})
	}
}

// A publish that fails once is retried by Lambda: the retry compensates
// again (finding nothing), publishes, and only then releases the lock. One
// event, nothing in the failure queue.
func TestEndedPublishFailingOnceIsRetried(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	ex, _, release := waitingRegistration(t, e, "cretry-01", 3*time.Minute)
	e.c.Faults.Add(awsproto.Fault{Service: "events", Op: "PutEvents", FirstN: 1, Code: "AccessDeniedException", Status: 400,
		Message: "injected: a policy change not yet propagated"})
	stopByHand(t, e, ex, "OperatorStopped", "stopped by hand")
	release()
	e.settle()
	mustStatus(t, ex, "ABORTED")

	fn, _ := e.c.Template.Function("CleanupFunction")
	var results []string
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == fn.FunctionName && inv.Type == "Event" {
			results = append(results, inv.ErrorType)
		}
	}
	if len(results) != 2 || results[0] != "AWSCallFailed" || results[1] != "" {
		t.Errorf("Cleanup attempts ended %q, want a failed publish, then a success", results)
	}
	if n := len(e.eventsOf("Cluster Registration Failed")); n != 1 {
		t.Errorf("%d Cluster Registration Failed events, want 1", n)
	}
	for _, q := range e.c.Template.Queues {
		if q.LogicalID == "CleanupFailureQueue" {
			if n := len(e.c.SQS.Messages(q.Arn)); n != 0 {
				t.Errorf("%d messages in CleanupFailureQueue, want none", n)
			}
		}
	}
	assertNothingLeft(t, e)
	if lockHeld(e, "cretry-01") {
		t.Error("the lock is still held")
	}
}
