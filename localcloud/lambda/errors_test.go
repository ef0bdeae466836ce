package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// runnerFunc is a fake Runner.
type runnerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (r runnerFunc) Run(ctx context.Context, payload []byte) ([]byte, error) { return r(ctx, payload) }

// invokeRaw invokes name and returns the response payload as Lambda sent it
// and the request ID the caller got.
func invokeRaw(t *testing.T, e *env, name string) (payload, requestID string) {
	t.Helper()
	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("%s: function error %q, payload %s; want Unhandled", name, aws.ToString(out.FunctionError), out.Payload)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if id == "" {
		t.Fatalf("%s: no x-amzn-RequestId", name)
	}
	return string(out.Payload), id
}

// The payload of a function error is the document AWS sends: the runtime's
// for an error the code returned (aws-lambda-go: errorMessage, errorType),
// Lambda's own for a runtime that exited, naming the request and how the
// process ended.
func TestFunctionErrorPayloads(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "typed"}, func(context.Context, []byte) ([]byte, error) {
		return nil, &myError{"no cluster"}
	})
	// A runner whose process exited with status 3.
	exit3 := exec.Command("sh", "-c", "exit 3").Run()
	var ee *exec.ExitError
	if !errors.As(exit3, &ee) {
		t.Fatalf("sh -c 'exit 3': %v", exit3)
	}
	e.st.AddFunction(&locallambda.Function{Name: "exits", Arn: fnArn("exits"),
		Runner: runnerFunc(func(context.Context, []byte) ([]byte, error) { return nil, exit3 })})
	// A runner that cannot start at all: a fault of the local setup, whose
	// text is kept (localcloud invoke reports it as such).
	e.st.AddFunction(&locallambda.Function{Name: "nosetup", Arn: fnArn("nosetup"),
		Runner: runnerFunc(func(context.Context, []byte) ([]byte, error) {
			return nil, errors.New("aws-lambda-rie not found at bin/aws-lambda-rie (run `make tools`)")
		})})

	// aws-lambda-go's explicit error type (messages.InvokeResponse_Error)
	// is reported as the handler set it, returned or panicked with, as the
	// runtime does (lambda/errors.go); a panic with any other value is named
	// by its type.
	e.add(&locallambda.Function{Name: "explicit"}, func(context.Context, []byte) ([]byte, error) {
		return nil, messages.InvokeResponse_Error{Type: "ClusterNameInvalid", Message: "bad name"}
	})
	e.add(&locallambda.Function{Name: "panics-explicit"}, func(context.Context, []byte) ([]byte, error) {
		panic(messages.InvokeResponse_Error{Type: "Custom.Panic", Message: "told so"})
	})
	e.add(&locallambda.Function{Name: "panics-typed"}, func(context.Context, []byte) ([]byte, error) {
		panic(&myError{"exploded"})
	})

	if p, _ := invokeRaw(t, e, "typed"); p != `{"errorMessage":"no cluster","errorType":"myError"}` {
		t.Errorf("returned error: payload %s", p)
	}
	if p, _ := invokeRaw(t, e, "explicit"); p != `{"errorMessage":"bad name","errorType":"ClusterNameInvalid"}` {
		t.Errorf("explicit error type: payload %s", p)
	}
	if p, _ := invokeRaw(t, e, "panics-explicit"); !strings.Contains(p, `"errorMessage":"told so","errorType":"Custom.Panic"`) {
		t.Errorf("panic with an explicit error: payload %s", p)
	}
	if p, _ := invokeRaw(t, e, "panics-typed"); p != `{"errorMessage":"exploded","errorType":"myError"}` {
		t.Errorf("panic with a typed value: payload %s", p)
	}
	p, id := invokeRaw(t, e, "exits")
	if want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + id + ` Error: Runtime exited with error: exit status 3"}`; p != want {
		t.Errorf("exited runtime: payload %s, want %s", p, want)
	}
	p, _ = invokeRaw(t, e, "nosetup")
	var doc struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal([]byte(p), &doc); err != nil || doc.ErrorType != locallambda.ExitError || !strings.Contains(doc.ErrorMessage, "make tools") {
		t.Errorf("setup fault: payload %s", p)
	}
}

// An asynchronous invocation that timed out: the on-failure record quotes
// the response payload as a synchronous caller would have got it.
func TestOnFailureRecordQuotesTheTimeout(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "slow", Timeout: 10 * time.Millisecond, AsyncRetries: 0, OnFailureArn: onFail},
		func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
	id := invokeEvent(t, e, "slow", `{}`)
	sent := e.dest.all()
	if len(sent) != 1 {
		t.Fatalf("%d records sent, want 1", len(sent))
	}
	var rec struct {
		ResponsePayload json.RawMessage `json:"responsePayload"`
	}
	if err := json.Unmarshal([]byte(sent[0].Body), &rec); err != nil {
		t.Fatal(err)
	}
	if want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + id + ` Error: Task timed out after 0.01 seconds"}`; string(rec.ResponsePayload) != want {
		t.Errorf("responsePayload %s, want %s", rec.ResponsePayload, want)
	}
}
