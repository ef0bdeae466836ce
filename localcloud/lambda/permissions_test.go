package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	"github.com/platform/eks-connector-registrar/localcloud/sqs"
)

const ruleArn = "arn:aws:events:us-east-1:123456789012:rule/trigger"

var eventBridge = awsproto.ServicePrincipal("events.amazonaws.com")

func fromRule(rule string) map[string]string {
	return map[string]string{"aws:SourceArn": rule, "aws:SourceAccount": account}
}

// A function's permissions are its resource-based policy: AddPermission,
// GetPolicy and RemovePermission through the real SDK, and EventBridge
// (events.amazonaws.com) may invoke the function only while a permission
// names it and the rule. A role of the account needs no permission: its own
// identity policy is enough.
func TestPermissionsDecideWhoMayInvoke(t *testing.T) {
	clk := clock.NewVirtual(t0)
	engine := policy.NewEngine()
	st, svc := locallambda.New(locallambda.Config{Region: region, Account: account, Clock: clk,
		Destinations: &fakeDestinations{}, Authz: engine, Policies: engine})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	caller := &awsproto.Principal{Name: "StateMachine", ARN: "arn:aws:iam::123456789012:role/sm"}
	te.Router.Authz = engine
	te.Router.Principals = func(key string) *awsproto.Principal {
		if key == "AKIDSM" {
			return caller
		}
		return nil
	}
	engine.SetPolicies(caller.Name, []policy.Policy{{Name: "sm", Version: policy.Version2012, Statements: []policy.Statement{
		{Effect: "Allow", Action: []string{"lambda:InvokeFunction"}, Resource: []string{fnArn("trigger")}}}}})
	admin := lambda.NewFromConfig(te.Config, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
	smCfg := te.Config.Copy()
	smCfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDSM", "secret", "")
	asRole := lambda.NewFromConfig(smCfg, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })

	runs := 0
	f := &locallambda.Function{Name: "trigger", Arn: fnArn("trigger")}
	f.Runner = locallambda.InProcess{FunctionName: f.Name, FunctionArn: f.Arn,
		Handler: handlerFunc(func(context.Context, []byte) ([]byte, error) { runs++; return []byte(`{}`), nil })}
	st.AddFunction(f)
	invokeAsEventBridge := func(rule string) error {
		err := st.InvokeAsyncAs(eventBridge, fromRule(rule), f, []byte(`{}`))
		st.WaitAsync()
		return err
	}

	_, err := admin.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("trigger")})
	var nf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("GetPolicy without a policy: %v, want ResourceNotFoundException", err)
	}
	var denied *awsproto.DeniedError
	if err := invokeAsEventBridge(ruleArn); !errors.As(err, &denied) || !strings.Contains(denied.Why, "no resource-based policy") {
		t.Fatalf("EventBridge without a permission: %v", err)
	}

	add, err := admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("trigger"),
		StatementId: aws.String("local-TriggerRulePermission-1A2B"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("events.amazonaws.com"), SourceArn: aws.String(ruleArn)})
	if err != nil {
		t.Fatal(err)
	}
	var stmt struct {
		Sid       string
		Principal map[string]string
		Resource  string
		Condition map[string]map[string]string
	}
	if err := json.Unmarshal([]byte(aws.ToString(add.Statement)), &stmt); err != nil || stmt.Principal["Service"] != "events.amazonaws.com" ||
		stmt.Resource != f.Arn || stmt.Condition["ArnLike"]["AWS:SourceArn"] != ruleArn {
		t.Fatalf("statement %s: %v", aws.ToString(add.Statement), err)
	}
	_, err = admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("trigger"),
		StatementId: aws.String("local-TriggerRulePermission-1A2B"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("events.amazonaws.com")})
	var conflict *lambdatypes.ResourceConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("a second statement with the same id: %v, want ResourceConflictException", err)
	}
	_, err = admin.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("trigger"),
		StatementId: aws.String("bad"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("events")})
	var invalid *lambdatypes.InvalidParameterValueException
	if !errors.As(err, &invalid) {
		t.Errorf("an invalid principal: %v, want InvalidParameterValueException", err)
	}
	pol, err := admin.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(f.Arn)})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"Sid":"local-TriggerRulePermission-1A2B"`) || aws.ToString(pol.RevisionId) == "" {
		t.Fatalf("GetPolicy: %v %+v", err, pol)
	}

	if err := invokeAsEventBridge(ruleArn); err != nil || runs != 1 {
		t.Fatalf("EventBridge for the permitted rule: %v, %d runs", err, runs)
	}
	if err := invokeAsEventBridge(ruleArn + "-other"); !errors.As(err, &denied) || !strings.Contains(denied.Why, "AWS:SourceArn [") || runs != 1 {
		t.Fatalf("EventBridge for another rule: %v, %d runs", err, runs)
	}

	_, err = admin.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("trigger"),
		StatementId: aws.String("local-TriggerRulePermission-1A2B"), RevisionId: aws.String("stale")})
	var pre *lambdatypes.PreconditionFailedException
	if !errors.As(err, &pre) {
		t.Errorf("RemovePermission with a stale revision: %v, want PreconditionFailedException", err)
	}
	if _, err := admin.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("trigger"),
		StatementId: aws.String("local-TriggerRulePermission-1A2B"), RevisionId: pol.RevisionId}); err != nil {
		t.Fatal(err)
	}
	if err := invokeAsEventBridge(ruleArn); !errors.As(err, &denied) || runs != 1 {
		t.Fatalf("EventBridge after RemovePermission: %v, %d runs", err, runs)
	}
	_, err = admin.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("trigger"), StatementId: aws.String("local-TriggerRulePermission-1A2B")})
	if !errors.As(err, &nf) {
		t.Errorf("removing a removed statement: %v, want ResourceNotFoundException", err)
	}

	// A role of the account needs no permission: its identity policy allows.
	if _, err := asRole.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("trigger")}); err != nil || runs != 2 {
		t.Fatalf("Invoke by a role its identity policy allows: %v, %d runs", err, runs)
	}
	// And without one it is refused, by Lambda's wording.
	_, err = asRole.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("trigger")})
	if err == nil || !strings.Contains(err.Error(), "because no identity-based policy allows the lambda:GetPolicy action") {
		t.Errorf("GetPolicy by a role without permission: %v", err)
	}
}

// Lambda sends the on-failure record and the dead letter with the
// function's execution role: each needs sqs:SendMessage on its queue. A send
// the role may not make is lost, and the store says why.
func TestDestinationsSendWithTheExecutionRole(t *testing.T) {
	clk := clock.NewVirtual(t0)
	engine := policy.NewEngine()
	q, _ := sqs.New(sqs.Config{Region: region, Account: account, Clock: clk, Authz: engine, Policies: engine})
	onFailure, deadLetters := q.CreateQueue("on-failure"), q.CreateQueue("dlq")
	st, _ := locallambda.New(locallambda.Config{Region: region, Account: account, Clock: clk, Destinations: q, Authz: engine, Policies: engine})
	role := &awsproto.Principal{Name: "TriggerFunction", ARN: "arn:aws:iam::123456789012:role/trigger-role"}
	// What SAM adds to the role for the on-failure destination, and nothing for the DLQ.
	engine.SetPolicies(role.Name, []policy.Policy{{Name: "OnFailureSQSPolicy", Statements: []policy.Statement{
		{Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{onFailure}}}}})
	f := &locallambda.Function{Name: "trigger", Arn: fnArn("trigger"), AsyncRetries: 0, OnFailureArn: onFailure, DeadLetterArn: deadLetters, Role: role}
	f.Runner = locallambda.InProcess{FunctionName: f.Name, FunctionArn: f.Arn,
		Handler: handlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, &myError{"broken"} })}
	st.AddFunction(f)

	st.InvokeAsync(f, []byte(`{"n":1}`))
	st.WaitAsync()

	if got := q.Messages(onFailure); len(got) != 1 || !strings.Contains(got[0], `"requestPayload":{"n":1}`) {
		t.Errorf("on-failure queue %v, want the invocation record", got)
	}
	if got := q.Messages(deadLetters); len(got) != 0 {
		t.Errorf("dead-letter queue %v, want nothing: the role may not send to it", got)
	}
	fails := st.DeliveryFailures()
	if len(fails) != 1 || fails[0].Kind != "DeadLetterQueue" || fails[0].Target != deadLetters ||
		!strings.Contains(fails[0].Error, "no identity-based policy allows the sqs:SendMessage action") {
		t.Fatalf("delivery failures %+v, want the refused dead letter", fails)
	}
	var allowed bool
	for _, c := range engine.Checks() {
		if c.Principal == role.Name && c.Action == "sqs:SendMessage" && c.Resource == onFailure && c.Allowed {
			allowed = true
		}
	}
	if !allowed {
		t.Errorf("no allowed sqs:SendMessage check of the role recorded: %+v", engine.Checks())
	}
}
