// Package lambda emulates AWS Lambda's Invoke API (REST-JSON) for the local
// cloud: RequestResponse and Event invocations, Lambda's asynchronous retry
// and on-failure semantics, and function timeouts reported as AWS reports them.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Runner executes one invocation of a function's code.
type Runner interface {
	// Run invokes the function with payload. A function error (the handler
	// returned an error, or panicked) is a *FunctionError; any other error
	// means the runtime itself failed.
	Run(ctx context.Context, payload []byte) ([]byte, error)
}

// FunctionError is an invocation's function error: one the function's code
// returned, as the Lambda runtime reports it (errorType is the Go type name
// of the returned error), or one Lambda itself reports for the invocation (a
// timeout, a runtime that exited).
type FunctionError struct {
	Type       string   `json:"errorType,omitempty"`
	Message    string   `json:"errorMessage"`
	StackTrace []string `json:"stackTrace,omitempty"`

	// platform marks an error Lambda reports itself (platformError).
	platform bool
	// raw is the error document as the runtime posted it, when the runner
	// had it (behind aws-lambda-rie): Invoke returns it byte for byte.
	raw []byte
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Payload is the response payload Invoke returns with X-Amz-Function-Error:
// the runtime's error document (aws-lambda-go's {"errorMessage":…,
// "errorType":…}), or for an error Lambda reports itself its own document,
// which names errorType first:
// {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: … Error: Task timed out after 3.00 seconds"}.
// Step Functions takes the error name from errorType and quotes this payload
// as the cause.
func (e *FunctionError) Payload() []byte {
	if e.raw != nil {
		return e.raw
	}
	var b []byte
	if e.platform {
		b, _ = json.Marshal(struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}{e.Type, e.Message})
	} else {
		// aws-lambda-go's messages.InvokeResponse_Error. Without an
		// errorType (as in Lambda's older timeout shape) it is
		// {"errorMessage":…}, which Step Functions calls Lambda.Unknown.
		b, _ = json.Marshal(struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType,omitempty"`
		}{e.Message, e.Type})
	}
	return b
}

// platformError is an error Lambda reports itself for an invocation, in its
// wording: "RequestId: <id> Error: <what>".
func platformError(errorType, requestID, what string) *FunctionError {
	return &FunctionError{Type: errorType, Message: fmt.Sprintf("RequestId: %s Error: %s", requestID, what), platform: true}
}

// timedOut is Lambda's error for an invocation that outlived the function's
// timeout. Current Lambda names the configured timeout ("after 3.00
// seconds" for 3 s), where the older shape, {"errorMessage":"<timestamp>
// <id> Task timed out after 3.07 seconds"} with no errorType, gave the
// measured duration.
func timedOut(requestID string, timeout time.Duration) *FunctionError {
	return platformError(TimedOutError, requestID, fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds()))
}

// functionErrorOf is the error aws-lambda-go's runtime reports for what a
// handler returned or panicked with (lambda/errors.go, lambdaErrorResponse
// and lambdaPanicResponse): an explicit messages.InvokeResponse_Error keeps
// its type and message; anything else is named by reflection on the
// outermost value, pointer stripped, with message as its message.
func functionErrorOf(v any, message string) *FunctionError {
	if ive, ok := v.(messages.InvokeResponse_Error); ok {
		return &FunctionError{Type: ive.Type, Message: ive.Message}
	}
	name := ""
	if t := reflect.TypeOf(v); t != nil {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		name = t.Name()
	}
	return &FunctionError{Type: name, Message: message}
}

// Handler is what aws-lambda-go's lambda.NewHandler returns.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// InProcess runs a Go handler in this process: fast, for tests and `make run`.
type InProcess struct {
	Handler      Handler
	FunctionName string
	FunctionArn  string
}

func (p InProcess) Run(ctx context.Context, payload []byte) (out []byte, err error) {
	id := requestIDFrom(ctx)
	if id == "" {
		id = awsproto.NewRequestID()
	}
	lc := &lambdacontext.LambdaContext{AwsRequestID: id, InvokedFunctionArn: p.FunctionArn}
	ctx = lambdacontext.NewContext(ctx, lc)
	defer func() {
		if r := recover(); r != nil {
			fe := functionErrorOf(r, fmt.Sprint(r))
			fe.StackTrace = strings.Split(string(debug.Stack()), "\n")
			err = fe
		}
	}()
	out, err = p.Handler.Invoke(ctx, payload)
	if err != nil {
		return nil, functionErrorOf(err, err.Error())
	}
	return out, nil
}

type requestIDKey struct{}

// withRequestID carries the invocation's request ID to the runner, so the
// function sees the ID the caller got in x-amzn-RequestId (and every retry of
// an async event sees the same ID, as on AWS).
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Function is a deployed function.
type Function struct {
	Name    string
	Arn     string
	Timeout time.Duration // default 3 s, as in Lambda
	Runner  Runner
	// AsyncRetries is EventInvokeConfig.MaximumRetryAttempts (Lambda's default is 2).
	AsyncRetries int
	// OnFailureArn is the on-failure destination (an SQS queue ARN) for async invocations.
	OnFailureArn string
	// MaxEventAge is EventInvokeConfig.MaximumEventAgeInSeconds: an event
	// older than this when a retry comes due is discarded (to the failure
	// destinations, condition EventAgeExceeded). Zero means Lambda's 6 hours.
	MaxEventAge time.Duration
	// DeadLetterArn is the function's DeadLetterConfig (SAM DeadLetterQueue)
	// target, an SQS queue ARN. A discarded async event is sent there as is
	// (the original payload), with the RequestID, ErrorCode and ErrorMessage
	// message attributes. It is independent of OnFailureArn: AWS lets a
	// function have destinations "in addition to or instead of" a DLQ, and
	// with both configured both receive the failure.
	DeadLetterArn string
	// Role is the execution role's principal: Lambda sends the on-failure
	// record and the dead letter with it, so its policies (and the queue's
	// policy) must allow sqs:SendMessage. nil sends unchecked.
	Role *awsproto.Principal
}

// DefaultMaxEventAge is Lambda's default (and maximum) MaximumEventAgeInSeconds.
const DefaultMaxEventAge = 6 * time.Hour

func (f *Function) maxEventAge() time.Duration {
	if f.MaxEventAge <= 0 {
		return DefaultMaxEventAge
	}
	return f.MaxEventAge
}

// Destinations receives asynchronous invocation records (the SQS store).
// Lambda sends them with the function's execution role, so SendAs
// authorizes sqs:SendMessage for it and refuses a send it may not make.
type Destinations interface {
	SendAs(p *awsproto.Principal, conditions map[string]string, queueArn, body string, attrs map[string]string) error
}

// Invocation is one record of the invocation log.
type Invocation struct {
	Function  string
	Type      string // RequestResponse | Event
	Attempt   int
	Start     time.Time
	ErrorType string // "" on success
	Message   string
	// Response is what the invocation returned to its caller (the payload,
	// or nothing on an error): a test searches it for secrets.
	Response []byte
}

// Config configures the Lambda emulation.
type Config struct {
	Region, Account string
	Clock           clock.Clock
	Destinations    Destinations
	// AsyncRetryDelays are Lambda's waits between asynchronous attempts
	// (about 1 and 2 minutes on AWS).
	AsyncRetryDelays []time.Duration
	// Authz decides the invocations other services make on a principal's
	// behalf (InvokeAsyncAs: EventBridge invoking a rule's target); nil
	// allows them all. API callers are authorized by the router.
	Authz awsproto.Authorizer
	// Policies receives every function's resource-based policy (its
	// permissions: AddPermission, AWS::Lambda::Permission) for the
	// Authorizer to evaluate; nil keeps them unchecked and unused.
	Policies awsproto.ResourcePolicies
}

// Store holds the functions and the invocation log.
type Store struct {
	cfg Config
	mu  sync.Mutex
	fns map[string]*Function // by name and by ARN
	log []Invocation
	// perms are the functions' resource-based policies, by function ARN
	// (permissions.go).
	perms map[string]*functionPolicy
	// undelivered are async records the destinations refused.
	undelivered []DeliveryFailure
	// inflight counts async invocations, so tests can wait for them.
	inflight int
	drained  *sync.Cond
}

// Service is the HTTP face of the Store.
type Service struct{ s *Store }

// New builds the Lambda emulation.
func New(cfg Config) (*Store, *Service) {
	if cfg.AsyncRetryDelays == nil {
		cfg.AsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	s := &Store{cfg: cfg, fns: map[string]*Function{}}
	s.drained = sync.NewCond(&s.mu)
	return s, &Service{s: s}
}

// AddFunction deploys f.
func (s *Store) AddFunction(f *Function) {
	if f.Timeout == 0 {
		f.Timeout = 3 * time.Second
	}
	if f.MaxEventAge == 0 {
		f.MaxEventAge = DefaultMaxEventAge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns[f.Name] = f
	s.fns[f.Arn] = f
}

// Lookup finds a function by name, ARN or partial ARN (a qualifier is ignored).
func (s *Store) Lookup(nameOrArn string) (*Function, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fns[nameOrArn]; ok {
		return f, true
	}
	// arn:aws:lambda:r:a:function:name:qualifier
	a, err := arn.Parse(nameOrArn)
	if err != nil {
		return nil, false
	}
	if i := strings.LastIndex(a.Resource, ":"); i >= 0 && strings.Count(a.Resource, ":") == 2 {
		a.Resource = a.Resource[:i]
		f, ok := s.fns[a.String()]
		return f, ok
	}
	return nil, false
}

// Log returns the invocation log.
func (s *Store) Log() []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Invocation(nil), s.log...)
}

// Errors counts invocations that ended in a function error (the Errors metric).
func (s *Store) Errors() int {
	n := 0
	for _, i := range s.Log() {
		if i.ErrorType != "" {
			n++
		}
	}
	return n
}

func (s *Store) record(i Invocation) {
	s.mu.Lock()
	s.log = append(s.log, i)
	s.mu.Unlock()
}

// TimedOutError is the errorType of a function timeout:
// {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error:
// Task timed out after 3.00 seconds"}, which Step Functions names the
// task's error after.
const TimedOutError = "Sandbox.Timedout"

// InvokeSync runs f once and waits, as RequestResponse does. The function's
// timeout is enforced in real time: the code runs in real time even when the
// cloud's clock is virtual.
func (s *Store) InvokeSync(ctx context.Context, f *Function, payload []byte, invType string, attempt int) ([]byte, *FunctionError) {
	// Virtual time stands still while a function runs, even when its caller
	// has gone (a stopped execution's task): on AWS a function's run is
	// short next to the waits around it (a deregistration waits 900 s for
	// such a task to finish), so no wait may elapse during one.
	done := s.cfg.Clock.Busy()
	defer done()
	start := s.cfg.Clock.Now()
	// Every invocation has a request ID, which Lambda's own error messages
	// quote and the function sees as its AwsRequestID.
	id := requestIDFrom(ctx)
	if id == "" {
		id = awsproto.NewRequestID()
		ctx = withRequestID(ctx, id)
	}
	// A caller that goes away (a stopped execution's task, a client that
	// timed out) does not stop the invocation: it runs to its end or its
	// timeout, as on Lambda.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.Timeout)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := f.Runner.Run(ctx, payload)
		ch <- result{out, err}
	}()
	var out []byte
	var ferr *FunctionError
	expired := false
	select {
	case r := <-ch:
		out = r.out
		switch {
		case r.err == nil:
		case errors.As(r.err, &ferr):
		case ctx.Err() != nil:
			// The runner gave up at the deadline (its context ended)
			// before this select saw the deadline itself.
			expired = true
		default:
			ferr = runnerFailed(id, r.err)
		}
	case <-ctx.Done():
		expired = true
	}
	if expired {
		out, ferr = nil, timedOut(id, f.Timeout)
	}
	if ferr == nil && !json.Valid(out) && len(out) > 0 {
		ferr = &FunctionError{Type: "Runtime.InvalidResponse", Message: "the function returned a response that is not JSON", platform: true}
	}
	// Logged after the response check, so the log's errors match what the
	// caller saw (the Errors metric counts an invalid response too).
	inv := Invocation{Function: f.Name, Type: invType, Attempt: attempt, Start: start, Response: out}
	if ferr != nil {
		inv.ErrorType, inv.Message = ferr.Type, ferr.Message
	}
	s.record(inv)
	return out, ferr
}

// InvokeAsync queues an Event invocation with Lambda's asynchronous
// semantics: on a function error, retry AsyncRetries times with Lambda's
// delays, then hand the failure to the on-failure destination and the
// dead-letter queue. An event older than MaxEventAge when a retry comes due
// is not retried (condition EventAgeExceeded).
func (s *Store) InvokeAsync(f *Function, payload []byte) {
	s.invokeAsync(f, payload, awsproto.NewRequestID())
}

func (s *Store) invokeAsync(f *Function, payload []byte, requestID string) {
	queued := s.cfg.Clock.Now()
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
	s.cfg.Clock.Go(func() {
		defer func() {
			s.mu.Lock()
			s.inflight--
			if s.inflight == 0 {
				s.drained.Broadcast()
			}
			s.mu.Unlock()
		}()
		ctx := withRequestID(context.Background(), requestID)
		var last *FunctionError
		attempts := 1 + max(f.AsyncRetries, 0)
		condition := "RetriesExhausted"
		n := 0
		for {
			n++
			_, last = s.InvokeSync(ctx, f, payload, "Event", n)
			if last == nil {
				return
			}
			if n >= attempts {
				break
			}
			d := s.cfg.AsyncRetryDelays[min(n-1, len(s.cfg.AsyncRetryDelays)-1)]
			_ = clock.Sleep(ctx, s.cfg.Clock, d)
			if s.cfg.Clock.Now().Sub(queued) > f.maxEventAge() {
				condition = "EventAgeExceeded"
				break
			}
		}
		s.discard(f, payload, requestID, condition, n, last)
	})
}

// discard sends a failed async event to the function's failure targets: the
// on-failure destination gets an invocation record, the dead-letter queue
// the original event. With both configured, both get it.
func (s *Store) discard(f *Function, payload []byte, requestID, condition string, invokeCount int, last *FunctionError) {
	if s.cfg.Destinations == nil {
		return
	}
	send := func(kind, target, body string, attrs map[string]string) {
		if err := s.cfg.Destinations.SendAs(f.Role, nil, target, body, attrs); err != nil {
			s.mu.Lock()
			s.undelivered = append(s.undelivered, DeliveryFailure{Function: f.Name, RequestID: requestID,
				Kind: kind, Target: target, Error: err.Error()})
			s.mu.Unlock()
		}
	}
	if f.OnFailureArn != "" {
		rec := map[string]any{
			"version":   "1.0",
			"timestamp": s.cfg.Clock.Now().Format("2006-01-02T15:04:05.000Z"),
			"requestContext": map[string]any{
				"requestId": requestID, "functionArn": f.Arn + ":$LATEST",
				"condition": condition, "approximateInvokeCount": invokeCount,
			},
			"requestPayload":  json.RawMessage(payload),
			"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
			"responsePayload": responsePayload(last),
		}
		body, _ := json.Marshal(rec)
		send("OnFailure", f.OnFailureArn, string(body), nil)
	}
	if f.DeadLetterArn != "" {
		msg := ""
		if last != nil {
			msg = last.Message
		}
		if len(msg) > 1024 { // "the first 1 KB of the error message"
			msg = msg[:1024]
		}
		// On AWS ErrorCode is a Number attribute (the 3-digit status of the
		// failed invocation: 200 for a function error); the Destinations
		// interface carries String attributes only.
		send("DeadLetterQueue", f.DeadLetterArn, string(payload), map[string]string{
			"RequestID": requestID, "ErrorCode": "200", "ErrorMessage": msg,
		})
	}
}

// responsePayload is the failed invocation's response payload, as an
// on-failure record quotes it.
func responsePayload(last *FunctionError) json.RawMessage {
	if last == nil {
		return json.RawMessage("null")
	}
	return last.Payload()
}

// WaitAsync blocks until no asynchronous invocation is in flight.
func (s *Store) WaitAsync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		s.drained.Wait()
	}
}

// ---------------------------------------------------------------------------
// HTTP

func (*Service) SigV4Name() string { return "lambda" }

func (*Service) WriteError(w http.ResponseWriter, _ *awsproto.Call, e *awsproto.Error) {
	awsproto.WriteRESTError(w, e)
}

func (sv *Service) ServeAWS(w http.ResponseWriter, r *http.Request, c *awsproto.Call) {
	const prefix = "/2015-03-31/functions/"
	if sv.servePolicy(w, r, c) {
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, "/invocations") {
		sv.WriteError(w, c, awsproto.Errorf(404, "UnknownOperationException", "the local cloud serves only Invoke, AddPermission, RemovePermission and GetPolicy for Lambda"))
		return
	}
	if e := c.Begin("Invoke"); e != nil {
		sv.WriteError(w, c, e)
		return
	}
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.EscapedPath(), prefix), "/invocations")
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	s := sv.s
	f, ok := s.Lookup(name)
	if !ok {
		arn := name // an ARN is named as given, a name as its ARN
		if !strings.HasPrefix(name, "arn:") {
			arn = c.ARN("lambda", "function:"+name)
		}
		sv.WriteError(w, c, awsproto.Errorf(404, "ResourceNotFoundException", "Function not found: %s", arn))
		return
	}
	if e := c.Authorize("AccessDeniedException", "lambda:InvokeFunction", f.Arn, nil); e != nil {
		sv.WriteError(w, c, e)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		sv.WriteError(w, c, awsproto.Errorf(400, "InvalidRequestContentException", "could not read the request body"))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		sv.WriteError(w, c, awsproto.Errorf(400, "InvalidRequestContentException",
			"Could not parse request body into json: Could not parse payload into json"))
		return
	}
	invType := r.Header.Get("X-Amz-Invocation-Type")
	if invType == "" {
		invType = "RequestResponse"
	}
	switch invType {
	case "RequestResponse":
		if len(payload) > 6*1024*1024 {
			sv.WriteError(w, c, awsproto.Errorf(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation"))
			return
		}
		out, ferr := s.InvokeSync(withRequestID(c.Ctx, c.RequestID), f, payload, invType, 1)
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if ferr != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			_, _ = w.Write(ferr.Payload())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = w.Write(out)
	case "Event":
		if len(payload) > 256*1024 {
			sv.WriteError(w, c, awsproto.Errorf(413, "RequestTooLargeException", "Request must be smaller than 262144 bytes for the InvokeFunction operation"))
			return
		}
		s.invokeAsync(f, payload, c.RequestID)
		w.WriteHeader(202)
	case "DryRun":
		w.WriteHeader(204)
	default:
		sv.WriteError(w, c, awsproto.Errorf(400, "InvalidParameterValueException",
			"1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invType))
	}
}
