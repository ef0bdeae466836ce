package events_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	"github.com/platform/eks-connector-registrar/localcloud/sqs"
)

// EventBridge may put an undeliverable event into a rule's dead-letter
// queue only when the queue's policy lets events.amazonaws.com send to it
// for that rule (aws:SourceArn). When it does not, the event is lost: the
// failure says why and InvocationsFailedToBeSentToDlq counts it.
func TestDeadLettersNeedTheQueuePolicy(t *testing.T) {
	clk := clock.NewVirtual(t0)
	engine := policy.NewEngine()
	q, _ := sqs.New(sqs.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Authz: engine, Policies: engine})
	d := &fakeDispatcher{clk: clk, failFirst: 1 << 30,
		err: &events.DeliveryError{Code: "NO_PERMISSIONS", Message: "not allowed to invoke", NoRetry: true}}
	st, svc := events.New(events.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Dispatcher: d, DeadLetters: q})
	t.Cleanup(st.Close)
	cli := eventbridge.NewFromConfig(awsproto.NewTestEndpoint(t, clk, svc).Config, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })

	dlq := q.CreateQueue("dlq")
	const allowed = "arn:aws:events:us-east-1:123456789012:rule/allowed"
	if err := q.SetQueuePolicy(dlq, "DeadLetterPolicy", `{"Version":"2012-10-17","Statement":[{"Sid":"Rule","Effect":"Allow",
		"Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"`+dlq+`",
		"Condition":{"ArnEquals":{"aws:SourceArn":"`+allowed+`"}}}]}`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"allowed", "other"} {
		if _, err := st.PutRule(events.Rule{Name: name, Pattern: json.RawMessage(`{"source":["app"]}`),
			Targets: []events.Target{{ID: "fn", Arn: "arn:aws:lambda:us-east-1:123456789012:function:f", DeadLetterArn: dlq}}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("app"), DetailType: aws.String("d"), Detail: aws.String(`{}`)}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatal(err, out)
	}
	st.Wait()

	if got := q.Messages(dlq); len(got) != 1 {
		t.Fatalf("%d dead letters, want 1 (the allowed rule's)", len(got))
	}
	if attrs := q.MessageAttributes(dlq)[0]; attrs["RULE_ARN"] != allowed || attrs["ERROR_CODE"] != "NO_PERMISSIONS" {
		t.Errorf("dead letter attributes %v", attrs)
	}
	byRule := map[string]events.Failure{}
	for _, f := range st.Failures() {
		byRule[f.RuleArn] = f
	}
	if f := byRule[allowed]; !f.DeadLettered || f.DeadLetterError != "" || f.Attempts != 1 {
		t.Errorf("allowed rule's failure %+v, want dead-lettered after one attempt (no retry)", f)
	}
	lost := byRule["arn:aws:events:us-east-1:123456789012:rule/other"]
	if lost.DeadLettered || lost.DeadLetterArn != dlq || !strings.Contains(lost.DeadLetterError, "not authorized to perform: sqs:SendMessage") ||
		!strings.Contains(lost.DeadLetterError, "aws:SourceArn") {
		t.Errorf("other rule's failure %+v, want a refused dead letter that says why", lost)
	}
	if n := st.InvocationsFailedToBeSentToDlq(); n != 1 {
		t.Errorf("InvocationsFailedToBeSentToDlq = %d, want 1", n)
	}
	denied := 0
	for _, c := range engine.Checks() {
		if c.Principal == "events.amazonaws.com" && c.Action == "sqs:SendMessage" && !c.Allowed {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d denied sqs:SendMessage checks of events.amazonaws.com recorded, want 1: %+v", denied, engine.Checks())
	}
}
