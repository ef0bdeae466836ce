package localcloud_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// A stack with every way a rule reaches a function: SAM's EventBridgeRule
// event (which brings its own permission, and with DeadLetterConfig Type SQS
// its own queue and queue policy), a bare AWS::Events::Rule without an
// AWS::Lambda::Permission (the classic CloudFormation mistake), and one
// with an explicit permission.
const rulesTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Sam:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [sam]}
            DeadLetterConfig: {Type: SQS}
  BareRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [bare]}
      Targets: [{Id: probe, Arn: !GetAtt ProbeFunction.Arn, DeadLetterConfig: {Arn: !GetAtt BareDlq.Arn}}]
  BareDlq: {Type: AWS::SQS::Queue}
  BareDlqPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref BareDlq]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt BareDlq.Arn
            Condition: {ArnEquals: {aws:SourceArn: !GetAtt BareRule.Arn}}
  PermittedRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [permitted]}
      Targets: [{Id: probe, Arn: !GetAtt ProbeFunction.Arn}]
  PermittedRulePermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref ProbeFunction
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: !GetAtt PermittedRule.Arn
`

type countingHandler struct{ n *atomic.Int32 }

func (h countingHandler) Invoke(context.Context, []byte) ([]byte, error) {
	h.n.Add(1)
	return []byte(`{}`), nil
}

func TestRulesInvokeFunctionsOnlyWithAPermission(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(rulesTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	c, err := localcloud.Start(localcloud.Options{Template: tpl, NoAgent: true, Functions: map[string]localcloud.FunctionFactory{
		"probe": func(aws.Config, func(string) string, func() time.Time) (lambda.Handler, error) {
			return countingHandler{&runs}, nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	ctx := context.Background()
	admin := c.ConfigFor("admin")
	put := func(source string) {
		t.Helper()
		out, err := eventbridge.NewFromConfig(admin).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String(source), DetailType: aws.String("probe"), Detail: aws.String(`{}`)}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents(%s): %v %+v", source, err, out)
		}
		c.Events.Wait()
		c.Lambda.WaitAsync()
	}
	deadLetterCodes := func(logicalID string) []string {
		t.Helper()
		for _, q := range c.Template.Queues {
			if q.LogicalID == logicalID {
				out, err := sqs.NewFromConfig(admin).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL),
					MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
				if err != nil {
					t.Fatal(err)
				}
				var codes []string
				for _, m := range out.Messages {
					codes = append(codes, aws.ToString(m.MessageAttributes["ERROR_CODE"].StringValue))
				}
				return codes
			}
		}
		t.Fatalf("no queue %s", logicalID)
		return nil
	}

	put("permitted")
	put("sam")
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2: the explicit permission and SAM's let their rules invoke", n)
	}
	put("bare")
	if n := runs.Load(); n != 2 {
		t.Fatalf("the rule without a permission invoked the function (%d runs)", n)
	}
	if codes := deadLetterCodes("BareDlq"); len(codes) != 1 || codes[0] != "NO_PERMISSIONS" {
		t.Fatalf("BareDlq dead letters %v, want one NO_PERMISSIONS", codes)
	}

	// Without SAM's permission, SAM's rule sends to SAM's queue, which SAM's
	// queue policy lets it do.
	var sid string
	for _, p := range c.Template.Permissions {
		if p.LogicalID == "ProbeFunctionSamPermission" {
			sid = p.StatementID
		}
	}
	fn, _ := c.Template.Function("ProbeFunction")
	if _, err := lambdasdk.NewFromConfig(admin).RemovePermission(ctx, &lambdasdk.RemovePermissionInput{
		FunctionName: aws.String(fn.FunctionName), StatementId: aws.String(sid)}); err != nil {
		t.Fatalf("RemovePermission(%q): %v", sid, err)
	}
	put("sam")
	if n := runs.Load(); n != 2 {
		t.Fatalf("SAM's rule invoked the function after its permission was removed (%d runs)", n)
	}
	if codes := deadLetterCodes("ProbeFunctionSamQueue"); len(codes) != 1 || codes[0] != "NO_PERMISSIONS" {
		t.Fatalf("SAM's dead-letter queue holds %v, want one NO_PERMISSIONS", codes)
	}
	if n := c.Events.InvocationsFailedToBeSentToDlq(); n != 0 {
		t.Errorf("%d dead letters lost, want none", n)
	}
	if r := c.Policies.Report(); !strings.Contains(r, "| ProbeFunctionSamQueuePolicy/#0 | Allow | Service: events.amazonaws.com | sqs:SendMessage | yes (1) |") {
		t.Errorf("the report does not show SAM's queue policy used once:\n%s", r)
	}
}
