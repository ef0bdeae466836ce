package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	locallambda "github.com/platform/eks-connector-registrar/localcloud/lambda"
)

var ctx = context.Background()

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// handlerFunc is a fake lambda.Handler.
type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (h handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return h(ctx, payload)
}

// sent is one SendAs call.
type sent struct {
	Sender    *awsproto.Principal
	Arn, Body string
	Attrs     map[string]string
}

// fakeDestinations captures what Lambda sends to destinations and DLQs.
type fakeDestinations struct {
	mu   sync.Mutex
	sent []sent
}

func (d *fakeDestinations) SendAs(p *awsproto.Principal, _ map[string]string, arn, body string, attrs map[string]string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, sent{p, arn, body, attrs})
	return nil
}

func (d *fakeDestinations) all() []sent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sent(nil), d.sent...)
}

type myError struct{ msg string }

func (e *myError) Error() string { return e.msg }

const (
	region  = "us-east-1"
	account = "123456789012"
	onFail  = "arn:aws:sqs:us-east-1:123456789012:on-failure"
	dlq     = "arn:aws:sqs:us-east-1:123456789012:dlq"
)

func fnArn(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }

type env struct {
	st   *locallambda.Store
	clk  *clock.Virtual
	cli  *lambda.Client
	dest *fakeDestinations
}

func setup(t *testing.T) *env {
	clk := clock.NewVirtual(t0)
	dest := &fakeDestinations{}
	st, svc := locallambda.New(locallambda.Config{Region: region, Account: account, Clock: clk, Destinations: dest})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	cli := lambda.NewFromConfig(te.Config, func(o *lambda.Options) { o.RetryMaxAttempts = 1 })
	return &env{st: st, clk: clk, cli: cli, dest: dest}
}

func (e *env) add(f *locallambda.Function, h handlerFunc) *locallambda.Function {
	f.Arn = fnArn(f.Name)
	f.Runner = locallambda.InProcess{Handler: h, FunctionName: f.Name, FunctionArn: f.Arn}
	e.st.AddFunction(f)
	return f
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestRequestResponse(t *testing.T) {
	e := setup(t)
	var seenID string
	e.add(&locallambda.Function{Name: "echo"}, func(ctx context.Context, p []byte) ([]byte, error) {
		lc, _ := lambdacontext.FromContext(ctx)
		seenID = lc.AwsRequestID
		return []byte(`{"got":` + string(p) + `}`), nil
	})
	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || out.FunctionError != nil || string(out.Payload) != `{"got":{"a":1}}` {
		t.Fatalf("status %d, function error %v, payload %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	if aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Errorf("executed version %q", aws.ToString(out.ExecutedVersion))
	}
	if seenID == "" {
		t.Error("the function saw no request ID")
	}
	// By ARN and by qualified ARN too.
	for _, name := range []string{fnArn("echo"), fnArn("echo") + ":$LATEST"} {
		if _, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

type errorPayload struct {
	ErrorType    *string `json:"errorType"`
	ErrorMessage string  `json:"errorMessage"`
}

func invokeForError(t *testing.T, e *env, name string) errorPayload {
	t.Helper()
	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("status %d, function error %q; want 200, Unhandled", out.StatusCode, aws.ToString(out.FunctionError))
	}
	var p errorPayload
	if err := json.Unmarshal(out.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", out.Payload, err)
	}
	return p
}

func TestFunctionErrorPanicAndTimeout(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "fails"}, func(context.Context, []byte) ([]byte, error) {
		return nil, &myError{"no cluster"}
	})
	e.add(&locallambda.Function{Name: "plain"}, func(context.Context, []byte) ([]byte, error) {
		return nil, errors.New("plain failure")
	})
	e.add(&locallambda.Function{Name: "panics"}, func(context.Context, []byte) ([]byte, error) {
		panic("boom")
	})
	e.add(&locallambda.Function{Name: "slow", Timeout: 50 * time.Millisecond}, func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})

	p := invokeForError(t, e, "fails")
	if aws.ToString(p.ErrorType) != "myError" || p.ErrorMessage != "no cluster" {
		t.Errorf("returned error: %+v", p)
	}
	p = invokeForError(t, e, "plain")
	if aws.ToString(p.ErrorType) != "errorString" || p.ErrorMessage != "plain failure" {
		t.Errorf("errors.New: errorType %q message %q", aws.ToString(p.ErrorType), p.ErrorMessage)
	}
	p = invokeForError(t, e, "panics")
	if aws.ToString(p.ErrorType) != "string" || p.ErrorMessage != "boom" {
		t.Errorf("panic: errorType %q message %q", aws.ToString(p.ErrorType), p.ErrorMessage)
	}
	// A timeout, as current Lambda answers it: errorType first, the
	// request ID the caller got, the configured timeout.
	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow")})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + id + ` Error: Task timed out after 0.05 seconds"}`
	if aws.ToString(out.FunctionError) != "Unhandled" || string(out.Payload) != want || id == "" {
		t.Errorf("timeout: function error %q, payload %s; want Unhandled, %s", aws.ToString(out.FunctionError), out.Payload, want)
	}
	if n := e.st.Errors(); n != 4 {
		t.Errorf("Errors metric %d, want 4", n)
	}
	log := e.st.Log()
	if last := log[len(log)-1]; last.ErrorType != locallambda.TimedOutError {
		t.Errorf("timeout logged as %q", last.ErrorType)
	}
}

func TestInvokeErrors(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "ok"}, func(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil })

	_, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
	var rnf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &rnf) || statusOf(err) != 404 {
		t.Errorf("unknown function: %v (status %d)", err, statusOf(err))
	} else if rnf.ErrorMessage() != "Function not found: "+fnArn("nope") {
		t.Errorf("message %q should name the function's ARN", rnf.ErrorMessage())
	}
	// Named by its ARN, it is named as given.
	_, err = e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fnArn("nope"))})
	if !errors.As(err, &rnf) || rnf.ErrorMessage() != "Function not found: "+fnArn("nope") {
		t.Errorf("unknown function by ARN: %v", err)
	}

	_, err = e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ok"), Payload: []byte(`{"a":`)})
	var irc *lambdatypes.InvalidRequestContentException
	if !errors.As(err, &irc) || statusOf(err) != 400 {
		t.Errorf("invalid JSON: %v (status %d)", err, statusOf(err))
	}

	_, err = e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ok"), InvocationType: "Sometimes"})
	var ipv *lambdatypes.InvalidParameterValueException
	if !errors.As(err, &ipv) || statusOf(err) != 400 {
		t.Errorf("bad invocation type: %v (status %d)", err, statusOf(err))
	}

	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("ok"), InvocationType: lambdatypes.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v %+v", err, out)
	}
	if n := len(e.st.Log()); n != 0 {
		t.Errorf("the function ran %d times; none of these calls should run it", n)
	}
}

// invokeEvent sends an Event invocation and waits for Lambda's async handling
// to finish (retries included, on the virtual clock).
func invokeEvent(t *testing.T, e *env, name, payload string) string {
	t.Helper()
	out, err := e.cli.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name),
		InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(payload)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v %+v", err, out)
	}
	e.st.WaitAsync()
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id
}

type record struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode    int    `json:"statusCode"`
		FunctionError string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"responsePayload"`
}

func attemptTimes(st *locallambda.Store, name string) []time.Duration {
	var out []time.Duration
	for _, i := range st.Log() {
		if i.Function == name && i.Type == "Event" {
			out = append(out, i.Start.Sub(t0))
		}
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEventRetriesThenOnFailureDestination(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "always", AsyncRetries: 2, OnFailureArn: onFail},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"still broken"} })

	id := invokeEvent(t, e, "always", `{"cluster":"c1"}`)

	// Three attempts: at once, after 1 minute, after 2 more (virtual time).
	if got, want := attemptTimes(e.st, "always"), []time.Duration{0, time.Minute, 3 * time.Minute}; !equalDurations(got, want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	sent := e.dest.all()
	if len(sent) != 1 || sent[0].Arn != onFail {
		t.Fatalf("sent %+v; want one record to the on-failure destination", sent)
	}
	var r record
	if err := json.Unmarshal([]byte(sent[0].Body), &r); err != nil {
		t.Fatal(err)
	}
	rc := r.RequestContext
	if rc.Condition != "RetriesExhausted" || rc.ApproximateInvokeCount != 3 || rc.FunctionArn != fnArn("always")+":$LATEST" {
		t.Errorf("request context %+v", rc)
	}
	if rc.RequestID == "" || rc.RequestID != id {
		t.Errorf("record requestId %q, the Invoke call's request ID %q", rc.RequestID, id)
	}
	if string(r.RequestPayload) != `{"cluster":"c1"}` {
		t.Errorf("request payload %s", r.RequestPayload)
	}
	if r.ResponseContext.FunctionError != "Unhandled" || r.ResponsePayload.ErrorType != "myError" || r.ResponsePayload.ErrorMessage != "still broken" {
		t.Errorf("response %+v %+v", r.ResponseContext, r.ResponsePayload)
	}
}

func TestEventRetrySucceeds(t *testing.T) {
	e := setup(t)
	var mu sync.Mutex
	var ids []string
	calls := 0
	e.add(&locallambda.Function{Name: "flaky", AsyncRetries: 2, OnFailureArn: onFail, DeadLetterArn: dlq},
		func(ctx context.Context, _ []byte) ([]byte, error) {
			lc, _ := lambdacontext.FromContext(ctx)
			mu.Lock()
			defer mu.Unlock()
			ids = append(ids, lc.AwsRequestID)
			calls++
			if calls == 1 {
				return nil, &myError{"transient"}
			}
			return []byte(`{}`), nil
		})
	invokeEvent(t, e, "flaky", `{}`)
	if got, want := attemptTimes(e.st, "flaky"), []time.Duration{0, time.Minute}; !equalDurations(got, want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	if s := e.dest.all(); len(s) != 0 {
		t.Errorf("a retry succeeded, yet %+v was sent", s)
	}
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] {
		t.Errorf("request IDs per attempt %q; a retried event keeps its request ID", ids)
	}
}

func TestEventNoRetries(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "once", AsyncRetries: 0, OnFailureArn: onFail},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"x"} })
	invokeEvent(t, e, "once", `{}`)
	if got := attemptTimes(e.st, "once"); len(got) != 1 {
		t.Fatalf("attempts %v, want 1", got)
	}
	var r record
	if s := e.dest.all(); len(s) != 1 || json.Unmarshal([]byte(s[0].Body), &r) != nil || r.RequestContext.ApproximateInvokeCount != 1 {
		t.Fatalf("sent %+v", s)
	}
}

func TestDeadLetterQueue(t *testing.T) {
	e := setup(t)
	e.add(&locallambda.Function{Name: "dlqonly", AsyncRetries: 1, DeadLetterArn: dlq},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"cannot register"} })
	id := invokeEvent(t, e, "dlqonly", `{"cluster":"c2"}`)
	if got := attemptTimes(e.st, "dlqonly"); len(got) != 2 {
		t.Fatalf("attempts %v, want 2", got)
	}
	s := e.dest.all()
	if len(s) != 1 || s[0].Arn != dlq {
		t.Fatalf("sent %+v; want one message to the DLQ", s)
	}
	// The DLQ gets the event itself, not an invocation record.
	if s[0].Body != `{"cluster":"c2"}` {
		t.Errorf("DLQ body %s; want the original payload", s[0].Body)
	}
	a := s[0].Attrs
	if a["ErrorCode"] != "200" || a["ErrorMessage"] != "cannot register" || a["RequestID"] == "" {
		t.Errorf("DLQ attributes %v", a)
	}
	if a["RequestID"] != id {
		t.Errorf("RequestID %q, the Invoke call's %q", a["RequestID"], id)
	}

	// With both an on-failure destination and a DLQ, both get the failure
	// ("destinations in addition to or instead of a dead-letter queue").
	e2 := setup(t)
	e2.add(&locallambda.Function{Name: "both", AsyncRetries: 0, OnFailureArn: onFail, DeadLetterArn: dlq},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"x"} })
	invokeEvent(t, e2, "both", `{"n":1}`)
	s = e2.dest.all()
	if len(s) != 2 || s[0].Arn != onFail || s[1].Arn != dlq || s[1].Body != `{"n":1}` {
		t.Fatalf("sent %+v; want a record to the destination and the event to the DLQ", s)
	}
}

func TestMaxEventAge(t *testing.T) {
	e := setup(t)
	// Retries come due 1 and 3 minutes after the event was queued; with a
	// 90 s maximum age the second retry is never made.
	e.add(&locallambda.Function{Name: "aged", AsyncRetries: 2, MaxEventAge: 90 * time.Second, OnFailureArn: onFail, DeadLetterArn: dlq},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"down"} })
	invokeEvent(t, e, "aged", `{}`)
	if got, want := attemptTimes(e.st, "aged"), []time.Duration{0, time.Minute}; !equalDurations(got, want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	s := e.dest.all()
	if len(s) != 2 || s[0].Arn != onFail || s[1].Arn != dlq {
		t.Fatalf("sent %+v", s)
	}
	var r record
	if err := json.Unmarshal([]byte(s[0].Body), &r); err != nil {
		t.Fatal(err)
	}
	if r.RequestContext.Condition != "EventAgeExceeded" || r.RequestContext.ApproximateInvokeCount != 2 {
		t.Errorf("request context %+v", r.RequestContext)
	}

	// The default (6 hours) never cuts Lambda's default retries short.
	e2 := setup(t)
	f := e2.add(&locallambda.Function{Name: "default", AsyncRetries: 2, OnFailureArn: onFail},
		func(context.Context, []byte) ([]byte, error) { return nil, &myError{"down"} })
	if f.MaxEventAge != locallambda.DefaultMaxEventAge {
		t.Errorf("default MaxEventAge %v", f.MaxEventAge)
	}
	invokeEvent(t, e2, "default", `{}`)
	if got := attemptTimes(e2.st, "default"); len(got) != 3 {
		t.Errorf("attempts %v, want 3", got)
	}
}

// Virtual time stands still while a function runs, even one whose caller
// has gone: a Wait elsewhere (a deregistration's 900 s wait for a stopped
// registration's in-flight task) must not elapse during the run.
func TestVirtualTimeStandsStillWhileAFunctionRuns(t *testing.T) {
	e := setup(t)
	running, release := make(chan struct{}), make(chan struct{})
	f := e.add(&locallambda.Function{Name: "slow", Timeout: time.Minute}, func(ctx context.Context, _ []byte) ([]byte, error) {
		close(running)
		<-release
		return []byte(`{}`), nil
	})
	returned := make(chan struct{})
	go func() {
		e.st.InvokeSync(context.Background(), f, []byte(`{}`), "RequestResponse", 1)
		close(returned)
	}()
	<-running
	// The waiter brings its own token, as an execution's Wait state does.
	e.clk.Busy()
	woke := make(chan struct{})
	go func() {
		_ = e.clk.SleepUntil(context.Background(), t0.Add(900*time.Second))
		close(woke)
	}()
	select {
	case <-woke:
		t.Fatalf("a 900 s wait elapsed while the function was still running (virtual now %s)", e.clk.Now())
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-returned
	select {
	case <-woke:
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end once the function had returned")
	}
}
