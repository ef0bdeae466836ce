package sfn_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
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

const smKey = "AKIDSTATEMACHINE"

// denyInvoke allows everything but the state machine's lambda:InvokeFunction
// on one function, as a role whose policy leaves that function out.
type denyInvoke struct{ fn string }

func (d denyInvoke) Decide(p *awsproto.Principal, action, resource string, _ map[string]string) awsproto.Decision {
	if p.Name == "StateMachine" && action == "lambda:InvokeFunction" && resource == d.fn {
		return awsproto.Decision{Why: "no statement allows it"}
	}
	return awsproto.Decision{Allowed: true}
}

type typedFailure struct{}

func (typedFailure) Error() string { return "the step failed" }

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (h handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h(ctx, payload)
}

type runnerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (r runnerFunc) Run(ctx context.Context, payload []byte) ([]byte, error) { return r(ctx, payload) }

func lambdaArn(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }

// A Task state invoking a function reports what Step Functions reports, seen
// through the real SDK clients: a function error is named after the
// payload's errorType with the payload as cause, or Lambda.Unknown with
// AWS's cause when the payload has no errorType; an error of the Lambda API
// is Lambda.<Code> when the Lambda model defines the code and
// Lambda.AWSLambdaException when it does not (AccessDeniedException), with
// the AWS SDK for Java's message as cause.
func TestLambdaTaskFailuresHaveAWSNamesAndCauses(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	var te *awsproto.TestEndpoint
	store, svc := localsfn.New(localsfn.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Seed: 1,
		ClientConfig: func(string) aws.Config {
			cfg := te.Config.Copy()
			cfg.Credentials = credentials.NewStaticCredentialsProvider(smKey, "secret", "")
			cfg.RetryMaxAttempts = 1
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
	te.Router.Authz = denyInvoke{lambdaArn("denied")}
	client := sfn.NewFromConfig(te.Config)

	inProcess := func(name string, timeout time.Duration, h handlerFunc) {
		fns.AddFunction(&locallambda.Function{Name: name, Arn: lambdaArn(name), Timeout: timeout,
			Runner: locallambda.InProcess{Handler: h, FunctionName: name, FunctionArn: lambdaArn(name)}})
	}
	inProcess("typed", time.Second, func(context.Context, []byte) ([]byte, error) { return nil, typedFailure{} })
	inProcess("slow", 50*time.Millisecond, func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	inProcess("denied", time.Second, func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })
	const oldTimeout = "2026-11-27T10:00:03.070Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 3.07 seconds"
	fns.AddFunction(&locallambda.Function{Name: "untyped", Arn: lambdaArn("untyped"),
		Runner: runnerFunc(func(context.Context, []byte) ([]byte, error) {
			return nil, &locallambda.FunctionError{Message: oldTimeout}
		})})
	exit1 := exec.Command("sh", "-c", "exit 1").Run()
	var ee *exec.ExitError
	if !errors.As(exit1, &ee) {
		t.Fatalf("sh -c 'exit 1': %v", exit1)
	}
	fns.AddFunction(&locallambda.Function{Name: "exits", Arn: lambdaArn("exits"),
		Runner: runnerFunc(func(context.Context, []byte) ([]byte, error) { return nil, exit1 })})

	const requestID = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	q := regexp.QuoteMeta
	denied := q("User: "+role+" is not authorized to perform: lambda:InvokeFunction on resource: "+lambdaArn("denied")+
		" because no identity-based policy allows the lambda:InvokeFunction action (Service: AWSLambda; Status Code: 403; "+
		"Error Code: AccessDeniedException; Request ID: ") + requestID + q("; Proxy: null)")
	for i, tc := range []struct {
		name, resource, wantError, wantCause string
	}{
		{"returned error", lambdaArn("typed"), "typedFailure", q(`{"errorMessage":"the step failed","errorType":"typedFailure"}`)},
		{"timeout", lambdaArn("slow"), "Sandbox.Timedout",
			q(`{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: `) + requestID + q(` Error: Task timed out after 0.05 seconds"}`)},
		{"runtime exited", lambdaArn("exits"), "Runtime.ExitError",
			q(`{"errorType":"Runtime.ExitError","errorMessage":"RequestId: `) + requestID + q(` Error: Runtime exited with error: exit status 1"}`)},
		{"no errorType", lambdaArn("untyped"), "Lambda.Unknown",
			q(`The cause could not be determined because Lambda did not return an error type. Returned payload: {"errorMessage":"` + oldTimeout + `"}`)},
		{"role may not invoke", lambdaArn("denied"), "Lambda.AWSLambdaException", denied},
		{"role may not invoke, lambda:invoke integration", "arn:aws:states:::lambda:invoke", "Lambda.AWSLambdaException", denied},
		{"no such function", lambdaArn("missing"), "Lambda.ResourceNotFoundException",
			q("Function not found: "+lambdaArn("missing")+" (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ") +
				requestID + q("; Proxy: null)")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := ""
			if tc.resource == "arn:aws:states:::lambda:invoke" {
				params = fmt.Sprintf(`,"Parameters":{"FunctionName":%q,"Payload.$":"$"}`, lambdaArn("denied"))
			}
			def := fmt.Sprintf(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":%q%s,"End":true}}}`, tc.resource, params)
			sm, err := client.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String(fmt.Sprintf("m%d", i)),
				Definition: aws.String(def), RoleArn: aws.String(role)})
			if err != nil {
				t.Fatal(err)
			}
			start, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: sm.StateMachineArn, Input: aws.String(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			ex, ok := store.Execution(aws.ToString(start.ExecutionArn))
			if !ok {
				t.Fatal("the execution is not in the store")
			}
			select {
			case <-ex.Engine().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the execution did not end")
			}
			d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: start.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != "FAILED" || aws.ToString(d.Error) != tc.wantError ||
				!regexp.MustCompile("^"+tc.wantCause+"$").MatchString(aws.ToString(d.Cause)) {
				t.Errorf("%s, error %q, cause %s\nwant FAILED, error %q, cause matching %s",
					d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), tc.wantError, tc.wantCause)
			}
		})
	}
}
