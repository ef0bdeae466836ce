package localcloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// One endpoint serves every service, routed by the SigV4 scope, and a
// 72-hour wait in a state machine takes no real time.
func TestOneEndpointServesEveryService(t *testing.T) {
	c, err := localcloud.Start(localcloud.Options{NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	ctx := context.Background()
	cfg := c.ConfigFor("admin")

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != c.Account {
		t.Fatalf("GetCallerIdentity = %v, %v", id, err)
	}
	_, err = eks.NewFromConfig(cfg).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("nope")})
	var nf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeCluster of a missing cluster: %v, want ResourceNotFoundException", err)
	}
	_, err = ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var pnf *ssmtypes.ParameterNotFound
	if !errors.As(err, &pnf) {
		t.Fatalf("GetParameter of a missing parameter: %v, want ParameterNotFound", err)
	}

	sm, e := c.SFN.CreateStateMachine("wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":259200,"Next":"P"},"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}`, "arn:aws:iam::123456789012:role/x")
	if e != nil {
		t.Fatal(e)
	}
	client := sfn.NewFromConfig(cfg)
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm.Arn), Name: aws.String("one"), Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := c.SFN.Execution(aws.ToString(out.ExecutionArn))
	<-ex.Engine().Done()
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"ok":true}` {
		t.Fatalf("execution %s output %s", d.Status, aws.ToString(d.Output))
	}
	if waited := d.StopDate.Sub(*d.StartDate); waited != 72*time.Hour {
		t.Errorf("virtual wait %s, want 72h", waited)
	}
	// Step Functions reports the ended execution on the default bus.
	var changes []string
	for _, ev := range c.Events.Log() {
		if ev.Source == "aws.states" && ev.DetailType == "Step Functions Execution Status Change" {
			var det struct{ ExecutionArn, Status string }
			_ = json.Unmarshal(ev.Detail, &det)
			changes = append(changes, det.Status+" "+det.ExecutionArn)
		}
	}
	if len(changes) != 1 || changes[0] != "SUCCEEDED "+aws.ToString(out.ExecutionArn) {
		t.Errorf("status change events %v, want one SUCCEEDED for the execution", changes)
	}
	// Same name, same input while running is idempotent; after it ended, the name is taken.
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm.Arn), Name: aws.String("one"), Input: aws.String(`{}`)})
	var exists *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("restarting a finished execution name: %v, want ExecutionAlreadyExists", err)
	}
}

type blockingHandler struct{}

func (blockingHandler) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type typedFailure struct{}

func (typedFailure) Error() string { return "the step failed" }

type failingHandler struct{}

func (failingHandler) Invoke(context.Context, []byte) ([]byte, error) { return nil, typedFailure{} }

// The names a state machine sees for a function that times out and for one
// that returns a typed error are the ones Step Functions really uses:
// Sandbox.Timedout, and the Go type name of the returned error.
func TestLambdaFailuresReachTheStateMachineByTheirAWSNames(t *testing.T) {
	c, err := localcloud.Start(localcloud.Options{NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	defer c.Close()
	for name, h := range map[string]lambda.Handler{"slow": blockingHandler{}, "typed": failingHandler{}} {
		arn := "arn:aws:lambda:us-east-1:123456789012:function:" + name
		c.Lambda.AddFunction(&lambda.Function{Name: name, Arn: arn, Timeout: 50 * time.Millisecond,
			Runner: lambda.InProcess{Handler: h, FunctionName: name, FunctionArn: arn}})
	}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:%s",
		"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Caught"}],"End":true},
		"Caught":{"Type":"Pass","End":true}}}`
	for name, want := range map[string]string{"slow": "Sandbox.Timedout", "typed": "typedFailure"} {
		sm, e := c.SFN.CreateStateMachine("m-"+name, fmt.Sprintf(def, name), "arn:aws:iam::123456789012:role/x")
		if e != nil {
			t.Fatal(e)
		}
		ex, e := c.SFN.StartExecution(sm.Arn, "run", `{}`)
		if e != nil {
			t.Fatal(e)
		}
		<-ex.Engine().Done()
		var out struct {
			Error struct{ Error, Cause string } `json:"error"`
		}
		if err := json.Unmarshal(ex.Engine().Output(), &out); err != nil {
			t.Fatalf("%s: output %s: %v", name, ex.Engine().Output(), err)
		}
		if out.Error.Error != want {
			t.Errorf("%s: the state machine caught %q, want %q (cause %s)", name, out.Error.Error, want, out.Error.Cause)
		}
	}
}
