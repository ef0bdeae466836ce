package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/events"
)

// A state machine target needs the role EventBridge starts executions
// with: PutTargets without RoleArn fails as a whole with a
// ValidationException, as AWS answers ("RoleArn is required for target
// arn:aws:states:...:stateMachine:Workflow."), and adds none of the
// request's targets; with RoleArn the target keeps it.
func TestStateMachineTargetNeedsRoleArn(t *testing.T) {
	e := newEnv(t)
	if _, err := e.cli.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["app"]}`)}); err != nil {
		t.Fatal(err)
	}
	const sm = "arn:aws:states:us-east-1:123456789012:stateMachine:Workflow"
	const role = "arn:aws:iam::123456789012:role/service-role/start-workflow"
	lambdaTarget := ebtypes.Target{Id: aws.String("fn"), Arn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:f")}
	_, err := e.cli.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
		lambdaTarget, {Id: aws.String("sm"), Arn: aws.String(sm)}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || ae.ErrorMessage() != "RoleArn is required for target "+sm+"." {
		t.Fatalf("PutTargets without RoleArn: %v, want ValidationException", err)
	}
	lt, err := e.cli.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")})
	if err != nil || len(lt.Targets) != 0 {
		t.Fatalf("after the refused PutTargets the rule has targets %+v (%v), want none", lt, err)
	}

	out, err := e.cli.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
		lambdaTarget, {Id: aws.String("sm"), Arn: aws.String(sm), RoleArn: aws.String(role)}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutTargets with RoleArn: %v %+v", err, out)
	}
	lt, err = e.cli.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r")})
	if err != nil || len(lt.Targets) != 2 || aws.ToString(lt.Targets[1].RoleArn) != role || lt.Targets[0].RoleArn != nil {
		t.Fatalf("targets %+v (%v), want the state machine's with its role", lt, err)
	}

	// The Go form (what the template deploy uses) refuses it the same way.
	_, err = e.store.PutRule(events.Rule{Name: "g", Pattern: json.RawMessage(`{"source":["app"]}`),
		Targets: []events.Target{{ID: "sm", Arn: sm}}})
	var pe *awsproto.Error
	if !errors.As(err, &pe) || pe.Code != "ValidationException" {
		t.Fatalf("PutRule with a role-less state machine target: %v, want ValidationException", err)
	}
}
