package lambda_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// A KillCaller fault ends the execution environment that made the matching
// call: the invocation fails as Lambda reports a runtime that died
// (Runtime.ExitError, "signal: killed"), the call is never served, nothing
// the dead handler still tries reaches the cloud, and the next invocation
// runs in a new environment with credentials of its own.
func TestKillCallerEndsTheCallingSandbox(t *testing.T) {
	clk := clock.NewVirtual(t0)
	st, svc := locallambda.New(locallambda.Config{Region: region, Account: account, Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	te.Router.Faults.Sandboxes = st
	admin := lambda.NewFromConfig(te.Config, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })

	var mu sync.Mutex
	echoed := 0
	echo := &locallambda.Function{Name: "echo", Arn: fnArn("echo")}
	echo.Runner = locallambda.InProcess{Handler: handlerFunc(func(context.Context, []byte) ([]byte, error) {
		mu.Lock()
		echoed++
		mu.Unlock()
		return []byte(`{}`), nil
	}), FunctionName: echo.Name, FunctionArn: echo.Arn}
	st.AddFunction(echo)

	// The victim calls echo twice per invocation, with its environment's
	// credentials, and says which environment it ran in.
	var tokens []string
	handlersDone := make(chan string, 10)
	pool, err := locallambda.NewPool("victim", fnArn("victim"), func(token string) (locallambda.Handler, error) {
		mu.Lock()
		tokens = append(tokens, token)
		mu.Unlock()
		cfg := te.Config.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDVICTIM", "secret", token)
		cli := lambda.NewFromConfig(cfg)
		return handlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			defer func() { handlersDone <- token }()
			for range 2 {
				if _, err := cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")}); err != nil {
					// Code that does not heed its context still runs
					// after a crash here, unlike in Lambda: its calls
					// must not be served.
					_, _ = cli.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("echo")})
					return nil, err
				}
			}
			return json.Marshal(token)
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st.AddFunction(&locallambda.Function{Name: "victim", Arn: fnArn("victim"), Runner: pool, Timeout: 10 * time.Second})

	// Only calls from an execution environment can be killed: the test's
	// own Invoke (admin, no session token) passes the fault.
	te.Router.Faults.Add(awsproto.Fault{Service: "lambda", Op: "Invoke", FirstN: 1, KillCaller: true})
	out, err := admin.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim")})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + id + ` Error: Runtime exited with error: signal: killed"}`
	if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != want || id == "" {
		t.Fatalf("function error %q, payload %s; want Unhandled, %s", aws.ToString(out.FunctionError), out.Payload, want)
	}
	if n := te.Router.Faults.InjectedCount("lambda", "Invoke"); n != 1 {
		t.Errorf("%d callers killed, want 1", n)
	}
	// The dead handler runs out (its context is cancelled); none of its
	// calls, the killed one included, was served.
	select {
	case <-handlersDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed handler did not return within 10 s")
	}
	mu.Lock()
	if echoed != 0 {
		t.Errorf("echo ran %d times for the killed environment, want 0", echoed)
	}
	mu.Unlock()

	// The next invocations get a new environment, which is then kept warm.
	var seen []string
	for range 2 {
		out, err := admin.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim")})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("invocation after the crash: %v %s", err, out.Payload)
		}
		var tok string
		_ = json.Unmarshal(out.Payload, &tok)
		seen = append(seen, tok)
		<-handlersDone
	}
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 || seen[0] != tokens[1] || seen[1] != tokens[1] || tokens[0] == tokens[1] {
		t.Errorf("environments built %v, invocations ran in %v: want the killed one replaced by one new, warm environment", tokens, seen)
	}
	if echoed != 4 {
		t.Errorf("echo ran %d times, want 4 (2 per healthy invocation)", echoed)
	}
	if st.KillSandbox(tokens[0]) {
		t.Error("the killed environment can be killed again")
	}
}

// A KillCallerAfter fault ends the environment right after the matching call
// took effect: the call is served (here, echo runs), its answer never reaches
// the caller, the invocation fails with Runtime.ExitError, and the dead
// handler's later calls are dropped. Skip selects the n-th matching call.
func TestKillCallerAfterServesTheCallThenEndsTheSandbox(t *testing.T) {
	clk := clock.NewVirtual(t0)
	st, svc := locallambda.New(locallambda.Config{Region: region, Account: account, Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	te.Router.Faults.Sandboxes = st
	admin := lambda.NewFromConfig(te.Config, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })

	var mu sync.Mutex
	echoed := 0
	echo := &locallambda.Function{Name: "echo", Arn: fnArn("echo")}
	echo.Runner = locallambda.InProcess{Handler: handlerFunc(func(context.Context, []byte) ([]byte, error) {
		mu.Lock()
		echoed++
		mu.Unlock()
		return []byte(`{}`), nil
	}), FunctionName: echo.Name, FunctionArn: echo.Arn}
	st.AddFunction(echo)

	handlersDone := make(chan error, 10)
	pool, err := locallambda.NewPool("victim", fnArn("victim"), func(token string) (locallambda.Handler, error) {
		cfg := te.Config.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDVICTIM", "secret", token)
		cli := lambda.NewFromConfig(cfg)
		return handlerFunc(func(ctx context.Context, _ []byte) ([]byte, error) {
			for range 3 {
				if _, err := cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")}); err != nil {
					_, _ = cli.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("echo")})
					handlersDone <- err
					return nil, err
				}
			}
			handlersDone <- nil
			return []byte(`{}`), nil
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st.AddFunction(&locallambda.Function{Name: "victim", Arn: fnArn("victim"), Runner: pool, Timeout: 10 * time.Second})

	// The second echo of the first invocation is served, then its caller dies.
	te.Router.Faults.Add(awsproto.Fault{Service: "lambda", Op: "Invoke", Skip: 1, FirstN: 1, KillCallerAfter: true})
	out, err := admin.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !json.Valid(out.Payload) ||
		!strings.Contains(string(out.Payload), `"errorType":"Runtime.ExitError"`) {
		t.Fatalf("function error %q, payload %s; want Unhandled Runtime.ExitError", aws.ToString(out.FunctionError), out.Payload)
	}
	select {
	case err := <-handlersDone:
		if err == nil {
			t.Fatal("the killed handler got every answer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the killed handler did not return within 10 s")
	}
	mu.Lock()
	if echoed != 2 {
		t.Errorf("echo ran %d times for the killed environment, want 2 (the one before, and the one whose answer was lost)", echoed)
	}
	mu.Unlock()
	if n := te.Router.Faults.InjectedCount("lambda", "Invoke"); n != 1 {
		t.Errorf("%d callers killed, want 1", n)
	}
	// The fault is spent: the next invocation runs whole, in a new environment.
	out, err = admin.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim")})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("invocation after the crash: %v %s", err, out.Payload)
	}
	<-handlersDone
	mu.Lock()
	defer mu.Unlock()
	if echoed != 5 {
		t.Errorf("echo ran %d times, want 5", echoed)
	}
}
