package localcloud_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	sfnsdk "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/platform/eks-connector-registrar/localcloud"
)

// Rules that start a state machine, each with the role EventBridge assumes
// to call states:StartExecution: SAM's EventBridgeRule event (SAM's role
// allows it), an AWS::Events::Rule whose role allows it, and one whose role
// does not, with a dead-letter queue.
const stateTargetsTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Workflow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: Done, States: {Done: {Type: Pass, End: true}}}
      Events:
        Sam:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [sam]}
  AllowedRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [allowed]}
      Targets: [{Id: workflow, Arn: !Ref Workflow, RoleArn: !GetAtt StartRole.Arn}]
  DeniedRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [denied]}
      Targets: [{Id: workflow, Arn: !Ref Workflow, RoleArn: !GetAtt DescribeOnlyRole.Arn, DeadLetterConfig: {Arn: !GetAtt DeniedDlq.Arn}}]
  StartRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: StartWorkflow
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Sid: Start, Effect: Allow, Action: states:StartExecution, Resource: !Ref Workflow}]
  DescribeOnlyRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: events.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: DescribeWorkflow
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: states:DescribeStateMachine, Resource: !Ref Workflow}]
  DeniedDlq: {Type: AWS::SQS::Queue}
  DeniedDlqPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref DeniedDlq]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt DeniedDlq.Arn
            Condition: {ArnEquals: {aws:SourceArn: !GetAtt DeniedRule.Arn}}
`

func TestRulesStartStateMachinesOnlyAsAnAllowedRole(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(stateTargetsTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := localcloud.Start(localcloud.Options{Template: tpl, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	ctx := context.Background()
	admin := c.ConfigFor("admin")
	eb := eventbridge.NewFromConfig(admin)
	sm, _ := c.Template.StateMachine("Workflow")
	put := func(source string) {
		t.Helper()
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String(source), DetailType: aws.String("probe"), Detail: aws.String(`{"from":"` + source + `"}`)}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents(%s): %v %+v", source, err, out)
		}
		c.Events.Wait()
	}
	// started lists the sources of the events the executions were started with.
	started := func() []string {
		t.Helper()
		out, err := sfnsdk.NewFromConfig(admin).ListExecutions(ctx, &sfnsdk.ListExecutionsInput{StateMachineArn: aws.String(sm.Arn)})
		if err != nil {
			t.Fatal(err)
		}
		var sources []string
		for _, ex := range out.Executions {
			d, err := sfnsdk.NewFromConfig(admin).DescribeExecution(ctx, &sfnsdk.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			var ev struct{ Source string }
			_ = json.Unmarshal([]byte(aws.ToString(d.Input)), &ev)
			sources = append(sources, ev.Source)
		}
		return sources
	}

	put("sam")
	put("allowed")
	if got := started(); len(got) != 2 {
		t.Fatalf("executions started by %v, want sam and allowed", got)
	}
	put("denied")
	if got := started(); len(got) != 2 {
		t.Fatalf("a role without states:StartExecution started an execution: %v", got)
	}

	// The denied event is in the rule's dead-letter queue, with EventBridge's
	// attributes: a permission error, not retried.
	var dlqURL string
	for _, q := range c.Template.Queues {
		if q.LogicalID == "DeniedDlq" {
			dlqURL = q.URL
		}
	}
	msgs, err := sqs.NewFromConfig(admin).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("DeniedDlq: %v %+v, want one dead letter", err, msgs)
	}
	attr := func(k string) string { return aws.ToString(msgs.Messages[0].MessageAttributes[k].StringValue) }
	var rule string
	for _, r := range c.Template.Rules {
		if r.LogicalID == "DeniedRule" {
			rule = "arn:aws:events:us-east-1:" + c.Account + ":rule/" + r.Name
		}
	}
	if attr("ERROR_CODE") != "NO_PERMISSIONS" || attr("RETRY_ATTEMPTS") != "0" || attr("RULE_ARN") != rule || attr("TARGET_ARN") != sm.Arn ||
		!strings.Contains(attr("ERROR_MESSAGE"), "is not authorized to perform: states:StartExecution on resource: "+sm.Arn) {
		t.Fatalf("dead letter attributes %+v", msgs.Messages[0].MessageAttributes)
	}
	if !strings.Contains(aws.ToString(msgs.Messages[0].Body), `"source":"denied"`) {
		t.Fatalf("dead letter body %s, want the event", aws.ToString(msgs.Messages[0].Body))
	}

	// The checks are recorded as the roles'.
	want := map[string]bool{"WorkflowSamRole": true, "StartRole": true, "DescribeOnlyRole": false}
	for _, ch := range c.Policies.Checks() {
		if allowed, ok := want[ch.Principal]; ok && ch.Action == "states:StartExecution" && ch.Resource == sm.Arn && ch.Allowed == allowed {
			delete(want, ch.Principal)
		}
	}
	if len(want) != 0 {
		t.Errorf("no recorded states:StartExecution check for %v", want)
	}
}

// A rule built through the API targets the state machine with a role
// created through IAM: its inline policy decides, and a role EventBridge
// cannot assume (none of that name) starts nothing.
func TestAPIRuleStartsStateMachineWithAnIAMRole(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(stateTargetsTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := localcloud.Start(localcloud.Options{Template: tpl, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	ctx := context.Background()
	admin := c.ConfigFor("admin")
	eb := eventbridge.NewFromConfig(admin)
	sm, _ := c.Template.StateMachine("Workflow")
	role, err := iam.NewFromConfig(admin).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("api-starter"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(admin).PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("api-starter"), PolicyName: aws.String("start"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"states:StartExecution","Resource":"` + sm.Arn + `"}]}`)}); err != nil {
		t.Fatal(err)
	}
	for name, roleArn := range map[string]string{"api": aws.ToString(role.Role.Arn), "ghost": "arn:aws:iam::" + c.Account + ":role/ghost"} {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(`{"source":["` + name + `"]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), Targets: []ebtypes.Target{
			{Id: aws.String("workflow"), Arn: aws.String(sm.Arn), RoleArn: aws.String(roleArn)}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, source := range []string{"api", "ghost"} {
		if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String(source), DetailType: aws.String("probe"), Detail: aws.String(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	c.Events.Wait()
	out, err := sfnsdk.NewFromConfig(admin).ListExecutions(ctx, &sfnsdk.ListExecutionsInput{StateMachineArn: aws.String(sm.Arn)})
	if err != nil || len(out.Executions) != 1 {
		t.Fatalf("executions %+v (%v), want one, from the api rule", out, err)
	}
	failures := c.Events.Failures()
	if len(failures) != 1 || failures[0].Code != "NO_PERMISSIONS" || !strings.HasSuffix(failures[0].RuleArn, "rule/ghost") {
		t.Fatalf("failed deliveries %+v, want the ghost rule's NO_PERMISSIONS", failures)
	}
}

// A rule whose Lambda target does not exist: EventBridge does not retry it
// and reports ERROR_CODE NO_RESOURCE, one of the codes the EventBridge User
// Guide lists for dead letters ("Using dead-letter queues to process
// undelivered events"); it lists no RESOURCE_NOT_FOUND.
func TestRuleTargetThatDoesNotExistIsNoResource(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(stateTargetsTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := localcloud.Start(localcloud.Options{Template: tpl, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	eb := eventbridge.NewFromConfig(c.ConfigFor("admin"))
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("gone"), EventPattern: aws.String(`{"source":["gone"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("gone"), Targets: []ebtypes.Target{
		{Id: aws.String("fn"), Arn: aws.String("arn:aws:lambda:" + c.Region + ":" + c.Account + ":function:nothing-here")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("gone"), DetailType: aws.String("probe"), Detail: aws.String(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	c.Events.Wait()
	failures := c.Events.Failures()
	if len(failures) != 1 || failures[0].Code != "NO_RESOURCE" || failures[0].Attempts != 1 {
		t.Fatalf("failed deliveries %+v, want one NO_RESOURCE after a single attempt", failures)
	}
}
