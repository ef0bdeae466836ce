package sfn_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
	localsfn "github.com/platform/eks-connector-registrar/localcloud/sfn"
)

// Object keys keep their order end to end, as Step Functions keeps them
// (insertion order; see localcloud/asl TestKeyOrderMatchesReferenceEngine
// for the reference): the function receives the Payload in its template's
// order, the lambda:invoke result carries the function's payload in the
// function's order, and DescribeExecution and GetExecutionHistory give the
// input as it was sent and the output in that order.
func TestKeyOrderThroughLambdaInvokeAndTheAPI(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	var te *awsproto.TestEndpoint
	_, svc := localsfn.New(localsfn.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Seed: 1,
		ClientConfig: func(string) aws.Config {
			cfg := te.Config.Copy()
			cfg.Credentials = credentials.NewStaticCredentialsProvider(smKey, "secret", "")
			return cfg
		}})
	fns, lambdaSvc := locallambda.New(locallambda.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te = awsproto.NewTestEndpoint(t, clk, svc, lambdaSvc)
	te.Router.Principals = func(key string) *awsproto.Principal {
		if key == smKey {
			return &awsproto.Principal{Name: "StateMachine", ARN: role}
		}
		return nil
	}
	te.Router.Authz = denyInvoke{} // denies nothing
	var mu sync.Mutex
	var received string
	fns.AddFunction(&locallambda.Function{Name: "f", Arn: lambdaArn("f"), Timeout: time.Second,
		Runner: locallambda.InProcess{FunctionName: "f", FunctionArn: lambdaArn("f"),
			Handler: handlerFunc(func(_ context.Context, payload []byte) ([]byte, error) {
				mu.Lock()
				received = string(payload)
				mu.Unlock()
				return []byte(`{"zz":1,"aa":{"y":2,"x":3}}`), nil
			})}})
	e := &env{clk: clk, client: sfn.NewFromConfig(te.Config)}
	def := fmt.Sprintf(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":%q,"Payload":{"b.$":"$.b","a.$":"$.a"}},
		"ResultSelector":{"p.$":"$.Payload"},"ResultPath":"$.r","End":true}}}`, lambdaArn("f"))
	sm := e.create(t, "order", def)
	input := `{"q": 1, "b": 2, "a": 3}`
	start := e.start(t, sm, "run", input)
	var d *sfn.DescribeExecutionOutput
	for range 100 {
		var err error
		d, err = e.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != "RUNNING" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	const want = `{"q":1,"b":2,"a":3,"r":{"p":{"zz":1,"aa":{"y":2,"x":3}}}}`
	if d.Status != "SUCCEEDED" || aws.ToString(d.Output) != want || aws.ToString(d.Input) != input {
		t.Fatalf("DescribeExecution: %s, input %s, output %s (%s)\nwant SUCCEEDED, input %s, output %s",
			d.Status, aws.ToString(d.Input), aws.ToString(d.Output), aws.ToString(d.Cause), input, want)
	}
	mu.Lock()
	got := received
	mu.Unlock()
	if got != `{"b":2,"a":3}` {
		t.Errorf("the function received %s, want {\"b\":2,\"a\":3}", got)
	}
	h, err := e.client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: start.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var started, succeeded, task string
	for _, ev := range h.Events {
		switch {
		case ev.ExecutionStartedEventDetails != nil:
			started = aws.ToString(ev.ExecutionStartedEventDetails.Input)
		case ev.ExecutionSucceededEventDetails != nil:
			succeeded = aws.ToString(ev.ExecutionSucceededEventDetails.Output)
		case ev.TaskSucceededEventDetails != nil:
			task = aws.ToString(ev.TaskSucceededEventDetails.Output)
		}
	}
	if started != input || succeeded != want {
		t.Errorf("history input %s output %s, want %s and %s", started, succeeded, input, want)
	}
	const wantTask = `{"ExecutedVersion":"$LATEST","Payload":{"zz":1,"aa":{"y":2,"x":3}},"SdkHttpMetadata":{"HttpStatusCode":200},"StatusCode":200}`
	if task != wantTask {
		t.Errorf("TaskSucceeded output %s\nwant %s", task, wantTask)
	}
}
