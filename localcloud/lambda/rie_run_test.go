package lambda_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// Behind the real aws-lambda-rie, with a real Go bootstrap
// (testdata/bootstrap, built for the host), each answer reaches the caller
// as Lambda sends it: the function sees the request ID the caller got, a
// returned error is the runtime's own document, a runtime that exits and a
// timeout are Lambda's documents naming that request ID.
func TestRIEAnswersAsLambda(t *testing.T) {
	rie, err := filepath.Abs(filepath.Join("..", "..", "bin", "aws-lambda-rie"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rie); err != nil {
		t.Fatalf("aws-lambda-rie is not installed at %s: run `make tools` (make test does it)", rie)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./testdata/bootstrap")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/bootstrap: %v\n%s", err, out)
	}
	e := setup(t)
	r := locallambda.NewRIE(locallambda.RIEConfig{RIEPath: rie, Bootstrap: filepath.Join(dir, "bootstrap"), Timeout: time.Second})
	t.Cleanup(func() { _ = r.Close() })
	e.st.AddFunction(&locallambda.Function{Name: "rie", Arn: fnArn("rie"), Timeout: time.Second, Runner: r})

	invoke := func(event string) (functionError, payload, requestID string) {
		t.Helper()
		out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rie"), Payload: []byte(event)})
		if err != nil {
			t.Fatalf("%s: %v", event, err)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		if id == "" {
			t.Fatalf("%s: no x-amzn-RequestId", event)
		}
		return aws.ToString(out.FunctionError), string(out.Payload), id
	}

	fe, p, id := invoke(`{"do":"echo"}`)
	if fe != "" || p != `"`+id+`"` {
		t.Errorf("echo: function error %q, payload %s; want the caller's request ID %q", fe, p, id)
	}
	fe, p, _ = invoke(`{"do":"fail"}`)
	if want := `{"errorMessage":"the step failed","errorType":"stepFailed"}`; fe != "Unhandled" || p != want {
		t.Errorf("returned error: function error %q, payload %s; want Unhandled, %s", fe, p, want)
	}
	fe, p, id = invoke(`{"do":"exit"}`)
	if want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + id + ` Error: Runtime exited with error: exit status 1"}`; fe != "Unhandled" || p != want {
		t.Errorf("exit: function error %q, payload %s; want Unhandled, %s", fe, p, want)
	}
	fe, p, id = invoke(`{"do":"hang"}`)
	if want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + id + ` Error: Task timed out after 1.00 seconds"}`; fe != "Unhandled" || p != want {
		t.Errorf("timeout: function error %q, payload %s; want Unhandled, %s", fe, p, want)
	}
	// A new environment serves the next invocation.
	if fe, p, id = invoke(`{"do":"echo"}`); fe != "" || p != `"`+id+`"` {
		t.Errorf("after the timeout: function error %q, payload %s", fe, p)
	}
}
