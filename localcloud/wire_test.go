package localcloud_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/localcloud"
)

// Every list the local cloud answers with, asked of an empty cloud, and the
// operations no other test calls: the wire checker (awsproto/wire.go, on in
// every test through CheckWire) holds each answer to the operation's AWS
// model, where an empty Go slice or map would leak as JSON null, or a list
// element go missing from the XML. The test fails on a violation, naming the
// operation, the member path and the rule.
func TestEmptyAnswersMatchTheAWSModels(t *testing.T) {
	c, err := localcloud.Start(localcloud.Options{NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	ctx := context.Background()
	cfg := c.ConfigFor("admin")
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	ev := eventbridge.NewFromConfig(cfg)
	_, err = ev.ListRules(ctx, &eventbridge.ListRulesInput{})
	must("ListRules", err)
	_, err = ev.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{})
	must("DescribeEventBus", err)
	_, err = ev.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["x"]}`)})
	must("PutRule", err)
	_, err = ev.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")})
	must("ListTargetsByRule", err)
	_, err = ev.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("r")})
	must("DescribeRule", err)
	_, err = ev.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String("r")})
	must("DisableRule", err)
	_, err = ev.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String("r")})
	must("EnableRule", err)
	_, err = ev.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r"), Ids: []string{"absent"}})
	must("RemoveTargets", err)

	q := sqs.NewFromConfig(cfg)
	_, err = q.ListQueues(ctx, &sqs.ListQueuesInput{})
	must("ListQueues", err)
	qu, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
	must("CreateQueue", err)
	if err == nil {
		_, err = q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qu.QueueUrl})
		must("ReceiveMessage", err)
		_, err = q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qu.QueueUrl})
		must("GetQueueAttributes", err)
	}

	p := ssm.NewFromConfig(cfg)
	_, err = p.DescribeParameters(ctx, &ssm.DescribeParametersInput{})
	must("DescribeParameters", err)
	_, err = p.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/none")})
	must("GetParametersByPath", err)
	_, err = p.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/absent"}})
	must("GetParameters", err)
	_, err = p.DescribeActivations(ctx, &ssm.DescribeActivationsInput{})
	must("DescribeActivations", err)
	_, err = p.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	must("DescribeInstanceInformation", err)
	_, err = p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/p"), Value: aws.String("v"), Type: "String"})
	must("PutParameter", err)
	_, err = p.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/p")})
	must("GetParameterHistory", err)

	im := iam.NewFromConfig(cfg)
	_, err = im.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: aws.String("/none/")})
	must("ListRoles", err)
	_, err = im.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Local"})
	must("ListPolicies", err)
	_, err = im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bare"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must("CreateRole", err)
	_, err = im.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("bare")})
	must("ListRolePolicies", err)
	_, err = im.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("bare")})
	must("ListAttachedRolePolicies", err)
	_, err = im.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("bare")})
	must("GetRole", err)

	ek := eks.NewFromConfig(cfg)
	_, err = ek.ListClusters(ctx, &eks.ListClustersInput{Include: []string{"all"}})
	must("ListClusters", err)

	sf := sfn.NewFromConfig(cfg)
	_, err = sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	must("ListStateMachines", err)
}
