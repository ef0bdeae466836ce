package sqs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	localsqs "github.com/platform/eks-connector-registrar/localcloud/sqs"
)

const (
	acct     = "123456789012"
	dlqArn   = "arn:aws:sqs:us-east-1:" + acct + ":dlq"
	ruleArn  = "arn:aws:events:us-east-1:" + acct + ":rule/r"
	workerID = "AKIDWORKER"
)

// A queue's Policy attribute is its queue policy: set through the API (and
// by an AWS::SQS::QueuePolicy), read back, refused when malformed, and
// evaluated with the callers' identity policies for SendMessage, whether an
// API caller sends or an AWS service sends on a rule's behalf (SendAs).
func TestQueuePolicyDecidesWhoMaySend(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	engine := policy.NewEngine()
	st, svc := localsqs.New(localsqs.Config{Region: "us-east-1", Account: acct, Clock: clk, Authz: engine, Policies: engine})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	worker := &awsproto.Principal{Name: "Worker", ARN: "arn:aws:iam::" + acct + ":role/Worker"}
	te.Router.Authz = engine
	te.Router.Principals = func(key string) *awsproto.Principal {
		if key == workerID {
			return worker
		}
		return nil // admin
	}
	admin := sqs.NewFromConfig(te.Config, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	workerCfg := te.Config.Copy()
	workerCfg.Credentials = credentials.NewStaticCredentialsProvider(workerID, "secret", "")
	asWorker := sqs.NewFromConfig(workerCfg, func(o *sqs.Options) { o.RetryMaxAttempts = 1 })

	cq, err := admin.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("dlq")})
	if err != nil {
		t.Fatal(err)
	}
	url := cq.QueueUrl
	setPolicy := func(doc string) error {
		_, err := admin.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: url, Attributes: map[string]string{"Policy": doc}})
		return err
	}
	send := func() error {
		_, err := asWorker.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("m")})
		return err
	}
	events := awsproto.ServicePrincipal("events.amazonaws.com")
	deadLetter := func(rule string) error {
		return st.SendAs(events, map[string]string{"aws:SourceArn": rule, "aws:SourceAccount": acct}, dlqArn, "ev", nil)
	}
	isDenied := func(err error) bool {
		var ae smithy.APIError
		// The SDK reads the legacy code SQS sends in x-amzn-query-error.
		return errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"
	}

	// No policy at all: the worker has no identity policy, EventBridge none either.
	if err := send(); !isDenied(err) {
		t.Fatalf("send without any policy: %v, want AccessDenied", err)
	}
	var denied *awsproto.DeniedError
	if err := deadLetter(ruleArn); !errors.As(err, &denied) || !strings.Contains(denied.Why, "no resource-based policy") {
		t.Fatalf("dead letter without a queue policy: %v", err)
	}

	// The dead-letter policy EventBridge needs, with the worker named too.
	doc := `{"Version":"2012-10-17","Statement":[
		{"Sid":"Rules","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + dlqArn + `",
		 "Condition":{"ArnEquals":{"aws:SourceArn":"` + ruleArn + `"}}},
		{"Sid":"Worker","Effect":"Allow","Principal":{"AWS":"` + worker.ARN + `"},"Action":"sqs:SendMessage","Resource":"` + dlqArn + `"}]}`
	if err := setPolicy(doc); err != nil {
		t.Fatal(err)
	}
	ga, err := admin.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url, AttributeNames: []sqstypes.QueueAttributeName{"Policy"}})
	if err != nil || ga.Attributes["Policy"] != doc {
		t.Fatalf("GetQueueAttributes Policy = %q, %v", ga.Attributes["Policy"], err)
	}
	if err := send(); err != nil {
		t.Fatalf("send allowed by the queue policy: %v", err)
	}
	if err := deadLetter(ruleArn); err != nil {
		t.Fatalf("dead letter of the named rule: %v", err)
	}
	if err := deadLetter(ruleArn + "-other"); !errors.As(err, &denied) || !strings.Contains(denied.Why, "aws:SourceArn") ||
		denied.Err.Code != "AccessDeniedException" {
		t.Fatalf("dead letter of another rule: %v", err)
	}
	if got := len(st.Messages(dlqArn)); got != 2 {
		t.Errorf("%d messages, want 2 (the worker's and the named rule's)", got)
	}

	// An explicit Deny wins over the Allow.
	if err := setPolicy(strings.Replace(doc, `]}`, `,{"Sid":"NoWorker","Effect":"Deny","Principal":{"AWS":"`+worker.ARN+`"},"Action":"sqs:*","Resource":"*"}]}`, 1)); err != nil {
		t.Fatal(err)
	}
	if err := send(); !isDenied(err) || !strings.Contains(err.Error(), "explicit deny in a resource-based policy") {
		t.Fatalf("send under an explicit deny: %v", err)
	}

	// A malformed policy is refused and the queue keeps its policy.
	err = setPolicy(`{"Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}}`)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAttributeValue" || !strings.Contains(ae.ErrorMessage(), "Principal") {
		t.Fatalf("malformed policy: %v", err)
	}
	if err := deadLetter(ruleArn); err != nil {
		t.Fatalf("the refused policy replaced the old one: %v", err)
	}

	// Deleting the queue drops its policy.
	if _, err := admin.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: url}); err != nil {
		t.Fatal(err)
	}
	if _, ok := engine.ResourcePolicy(dlqArn); ok {
		t.Error("the deleted queue's policy is still in the engine")
	}
}
