package localcloud_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfnsdk "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud"
)

// A putEvents task whose entry EventBridge fails (here: a bus that does not
// exist) fails with EventBridge.FailedEntry, the one error name the Step
// Functions EventBridge integration documents ("Add EventBridge events with
// Step Functions": a non-zero FailedEntryCount fails the Task state with it).
const putEventsTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Announce:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Put
        States:
          Put:
            Type: Task
            Resource: arn:aws:states:::events:putEvents
            Parameters: {Entries: [{EventBusName: no-such-bus, Source: test, DetailType: Test, Detail: {a: 1}}]}
            End: true
      Policies:
        - Version: "2012-10-17"
          Statement: [{Effect: Allow, Action: events:PutEvents, Resource: "*"}]
`

func TestFailedPutEventsEntryIsEventBridgeFailedEntry(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(putEventsTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := localcloud.Start(localcloud.Options{Template: tpl, NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sm, _ := c.Template.StateMachine("Announce")
	if _, err := sfnsdk.NewFromConfig(c.ConfigFor("admin")).StartExecution(context.Background(), &sfnsdk.StartExecutionInput{
		StateMachineArn: aws.String(sm.Arn), Input: aws.String("{}")}); err != nil {
		t.Fatal(err)
	}
	xs := c.SFN.Executions()
	if len(xs) != 1 {
		t.Fatalf("%d executions", len(xs))
	}
	select {
	case <-xs[0].Engine().Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the execution did not end")
	}
	if name, cause := xs[0].Engine().Error(); xs[0].Status() != "FAILED" || name != "EventBridge.FailedEntry" {
		t.Fatalf("execution %s with %s (%s), want FAILED with EventBridge.FailedEntry", xs[0].Status(), name, cause)
	}
}
