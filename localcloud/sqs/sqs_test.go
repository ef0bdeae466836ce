package sqs_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localsqs "github.com/platform/eks-connector-registrar/localcloud/sqs"
)

var ctx = context.Background()

func setup(t *testing.T) (*localsqs.Store, *clock.Virtual, *sqs.Client, *awsproto.TestEndpoint) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	st, svc := localsqs.New(localsqs.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	return st, clk, sqs.NewFromConfig(te.Config, func(o *sqs.Options) { o.RetryMaxAttempts = 1 }), te
}

func TestQueueLifecycle(t *testing.T) {
	st, clk, cli, te := setup(t)
	cq, err := cli.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "60"}})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(cq.QueueUrl)
	if url != te.URL+"/123456789012/work" {
		t.Fatal(url)
	}
	// Idempotent with the same attributes; QueueNameExists with different ones.
	if _, err := cli.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "60"}}); err != nil {
		t.Fatal(err)
	}
	_, err = cli.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("work"), Attributes: map[string]string{"VisibilityTimeout": "10"}})
	var qne *sqstypes.QueueNameExists
	if !errors.As(err, &qne) {
		t.Fatal(err)
	}
	gu, err := cli.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("work")})
	if err != nil || aws.ToString(gu.QueueUrl) != url {
		t.Fatal(err, gu)
	}
	_, err = cli.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var dne *sqstypes.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatal(err)
	}
	sm, err := cli.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hello"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("v")}}})
	if err != nil || aws.ToString(sm.MessageId) == "" || aws.ToString(sm.MD5OfMessageBody) != "5d41402abc4b2a76b9719d911017c592" {
		t.Fatal(err, sm)
	}
	// MD5 of the attribute set, as SQS computes it.
	if got := aws.ToString(sm.MD5OfMessageAttributes); len(got) != 32 {
		t.Fatal(got)
	}
	ga, err := cli.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	if err != nil || ga.Attributes["ApproximateNumberOfMessages"] != "1" || ga.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:123456789012:work" ||
		ga.Attributes["VisibilityTimeout"] != "60" {
		t.Fatal(err, ga)
	}
	rm, err := cli.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"}})
	if err != nil || len(rm.Messages) != 1 || aws.ToString(rm.Messages[0].Body) != "hello" || rm.Messages[0].MessageAttributes["k"].StringValue == nil ||
		rm.Messages[0].Attributes["ApproximateReceiveCount"] != "1" || aws.ToString(rm.Messages[0].MD5OfMessageAttributes) != aws.ToString(sm.MD5OfMessageAttributes) {
		t.Fatal(err, rm)
	}
	// In flight: not visible until the visibility timeout passes on the clock.
	rm2, err := cli.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
	if err != nil || len(rm2.Messages) != 0 {
		t.Fatal(err, rm2)
	}
	clk.Advance(61 * time.Second)
	rm2, err = cli.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(rm2.Messages) != 1 || rm2.Messages[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatal(err, rm2)
	}
	if _, err := cli.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: rm2.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if got := st.Messages("arn:aws:sqs:us-east-1:123456789012:work"); len(got) != 0 {
		t.Fatal(got)
	}
	_, err = cli.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("bogus")})
	var rhi *sqstypes.ReceiptHandleIsInvalid
	if !errors.As(err, &rhi) {
		t.Fatal(err)
	}
	_, err = cli.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Fatal(err)
	}
}

func TestQueryErrorHeader(t *testing.T) {
	_, _, _, te := setup(t)
	// A raw request: the legacy code travels in x-amzn-query-error.
	cli := sqs.NewFromConfig(te.Config)
	_, err := cli.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(te.URL + "/123456789012/missing")})
	var dne *sqstypes.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatal(err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatal(err)
	}
	if !strings.Contains(dne.ErrorCode(), "NonExistentQueue") && dne.ErrorCode() != "QueueDoesNotExist" {
		t.Fatal(dne.ErrorCode())
	}
}

func TestGoAPI(t *testing.T) {
	st, _, cli, _ := setup(t)
	arn := st.CreateQueue("dlq")
	if arn != "arn:aws:sqs:us-east-1:123456789012:dlq" || st.CreateQueue("dlq") != arn {
		t.Fatal(arn)
	}
	if err := st.SendByArn(arn, `{"x":1}`, map[string]string{"RULE_ARN": "arn:r", "ERROR_CODE": "E"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SendByArn("arn:aws:sqs:us-east-1:123456789012:none", "b", nil); err == nil {
		t.Fatal("want an error for a missing queue")
	}
	if got := st.Messages(arn); len(got) != 1 || got[0] != `{"x":1}` {
		t.Fatal(got)
	}
	gu, _ := cli.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("dlq")})
	rm, err := cli.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: gu.QueueUrl, MessageAttributeNames: []string{"All"}})
	if err != nil || len(rm.Messages) != 1 || aws.ToString(rm.Messages[0].MessageAttributes["RULE_ARN"].StringValue) != "arn:r" {
		t.Fatal(err, rm)
	}
}
