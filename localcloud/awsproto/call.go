package awsproto

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Principal is who signed a request: a function's role, a state machine's
// role, the simulated agent, or an administrator (tests, the CLI); or an AWS
// service acting for a resource of the account (EventBridge delivering a
// rule's event), which only resource-based policies can allow.
type Principal struct {
	// Name identifies the caller in permission records, e.g. "RegisterFunction".
	Name string
	// ARN is the caller's role ARN, as sts:GetCallerIdentity reports it.
	ARN string
	// Service is the service principal ("events.amazonaws.com") when an AWS
	// service is the caller; then ARN is empty and no identity policy applies.
	Service string
	// Admin principals are allowed everything (and nothing is recorded).
	Admin bool
}

// ServicePrincipal is the principal of an AWS service acting on the
// account's behalf, e.g. ServicePrincipal("events.amazonaws.com").
func ServicePrincipal(service string) *Principal {
	return &Principal{Name: service, Service: service}
}

// Decision is an Authorizer's answer.
type Decision struct {
	Allowed bool
	// ExplicitDeny is "identity-based" or "resource-based" when a Deny
	// statement of that kind of policy decided; "" otherwise.
	ExplicitDeny string
	// Why says, for a person, why a request was denied ("" when allowed).
	Why string
}

// Authorizer decides whether a principal may perform action on resource, as
// AWS does within one account: an explicit Deny in any policy wins, then an
// Allow in the principal's identity-based policies or in the resource's
// resource-based policy allows. Implementations record every check for the
// least-privilege report.
type Authorizer interface {
	Decide(p *Principal, action, resource string, conditions map[string]string) Decision
}

// ResourcePolicies holds resource-based policies by resource ARN, for an
// Authorizer to evaluate: the SQS and Lambda stores keep their queues' and
// functions' policies there. doc is the policy JSON; empty removes it. name
// is how records name the policy (the template's logical id, "function
// policy of f"). A malformed document is refused with an error.
type ResourcePolicies interface {
	SetResourcePolicy(resourceArn, name string, doc []byte) error
}

// AllowAll is the Authorizer used when no policies are loaded.
type AllowAll struct{}

func (AllowAll) Decide(*Principal, string, string, map[string]string) Decision {
	return Decision{Allowed: true}
}

// AccessDenied is the error a service returns for a denied decision, with
// AWS's wording for each cause. code is the service's access-denied code.
func AccessDenied(code string, p *Principal, action, resource string, d Decision) *Error {
	who := "User: " + p.ARN
	if p.Service != "" {
		who = "Service: " + p.Service
	}
	var why string
	switch {
	case d.ExplicitDeny != "":
		why = fmt.Sprintf("with an explicit deny in a %s policy", d.ExplicitDeny)
	case p.Service != "":
		why = fmt.Sprintf("because no resource-based policy allows the %s action", action)
	default:
		why = fmt.Sprintf("because no identity-based policy allows the %s action", action)
	}
	return &Error{Code: code, Status: 403, Message: fmt.Sprintf("%s is not authorized to perform: %s on resource: %s %s",
		who, action, resource, why)}
}

// Call is one request as a service sees it.
type Call struct {
	Ctx       context.Context
	Service   string // SigV4 service name: eks, iam, sts, ssm, states, events, sqs, lambda
	Region    string
	Account   string
	Principal *Principal
	RequestID string
	Op        string
	Clock     clock.Clock
	// Endpoint is the scheme and host the caller used (SQS builds queue URLs
	// from it, as AWS answers with its own endpoint).
	Endpoint string
	// SessionToken is the X-Amz-Security-Token the request was signed with.
	// A Lambda execution environment's credentials carry one of its own, so
	// it names the sandbox that made the call (a KillCaller fault ends it).
	SessionToken string

	authz  Authorizer
	faults *Faults
	// killAfter: a KillCallerAfter fault selected this call. It is served;
	// its answer is dropped and its caller's sandbox ended (serve).
	killAfter bool
	// answerLate: a hang fault with AnswerLate selected this call. It is
	// served; its answer is held this long, and dropped if the caller has
	// gone by then (serve).
	answerLate time.Duration
	req        *http.Request
}

// readBody reads the request's body ahead of the service (which then reads
// the copy): net/http notices a caller hanging up only once the body has
// been read, and a hang must see its caller go.
func (c *Call) readBody() {
	if c.req == nil || c.req.Body == nil {
		return
	}
	b, _ := io.ReadAll(c.req.Body)
	c.req.Body = io.NopCloser(bytes.NewReader(b))
}

// Partition is the ARN partition the local cloud serves.
const Partition = "aws"

// Begin names the operation, applies injected faults and latency, and must be
// the first thing an operation does. A non-nil error is the response. A
// KillCaller fault does not return: the caller's sandbox is ended and the
// call is dropped unanswered (sandbox.go).
func (c *Call) Begin(op string) *Error {
	c.Op = op
	if c.faults == nil {
		return nil
	}
	e, kill, killAfter, h := c.faults.apply(c)
	if kill {
		c.faults.killCaller(c)
	}
	c.killAfter = killAfter
	if h.d > 0 {
		if h.answerLate {
			c.answerLate = h.d
		} else if c.readBody(); !wait(c, h.d) {
			// The caller gave up before the service acted: no answer.
			panic(http.ErrAbortHandler)
		}
	}
	return e
}

// Authorize checks that the caller may perform action on resource, as AWS
// would (its identity policies, and the resource's policy when it has one),
// and returns the service's AccessDenied error when it may not. code is the
// service's own access-denied code (AccessDeniedException for EKS, SSM,
// Step Functions; AccessDenied for IAM and STS).
func (c *Call) Authorize(code, action, resource string, conditions map[string]string) *Error {
	if c.authz == nil || c.Principal == nil {
		return nil
	}
	d := c.authz.Decide(c.Principal, action, resource, conditions)
	if d.Allowed {
		return nil
	}
	return AccessDenied(code, c.Principal, action, resource, d)
}

// ARN builds an ARN in this call's partition, region and account.
func (c *Call) ARN(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", Partition, service, c.Region, c.Account, resource)
}

// GlobalARN builds an ARN without a region (IAM).
func (c *Call) GlobalARN(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s::%s:%s", Partition, service, c.Account, resource)
}

// ---------------------------------------------------------------------------
// Fault injection

// Fault makes an operation fail or slow down.
type Fault struct {
	Service string // SigV4 service name; "" matches any
	Op      string // operation name; "" matches any
	// FirstN: the first N matching calls fail. Zero with Fraction zero and
	// Latency set means latency only (on every matching call).
	FirstN int
	// Fraction of calls that fail, drawn from a seeded source so runs repeat.
	Fraction float64
	Code     string
	Status   int
	Message  string
	// RetryAfterMillis is sent as x-amz-retry-after, as AWS does for throttling.
	RetryAfterMillis int
	// Latency is added to every matching call, in real time: a caller is
	// busy while it waits for an answer, so virtual time could not pass.
	//
	// With Latency, no Code and a selector (FirstN or Fraction, after Skip), only
	// the selected calls are delayed, and a caller that gives up first (its
	// SDK client's timeout, its context) gets no answer at all: the call is
	// a hang. A hung call is not served (the service never acted on it)
	// unless AnswerLate is set.
	Latency time.Duration
	// AnswerLate: a hung call (above) is served at once, and only its
	// answer is held for Latency, then dropped if the caller has gone: the
	// service did the work and the caller never learnt it, so the caller's
	// retry meets what its first attempt wrote.
	AnswerLate bool
	// Caller limits the fault to calls signed by this principal
	// (Principal.Name, e.g. a function's logical id); "" matches any.
	Caller string
	// KillCaller: instead of failing, a selected call (FirstN, Fraction)
	// ends the Lambda execution environment that made it, as a crash of the
	// function at that instant would: the call is never served or answered,
	// the invocation fails with Runtime.ExitError, and the environment is
	// gone (sandbox.go). Only calls from an execution environment (signed
	// with its session token) match; Code is not used.
	KillCaller bool
	// KillCallerAfter is KillCaller a moment later: the selected call is
	// served (what it writes is written) and then, before its answer
	// leaves, the caller's execution environment is ended, as a crash of
	// the function right after the call took effect would. The answer is
	// dropped with the connection.
	KillCallerAfter bool
	// Skip lets the first Skip matching calls through before FirstN and
	// Fraction apply: {Skip: 2, FirstN: 1} selects the third call only.
	Skip int

	seen int
}

// Faults is the set of injected faults.
type Faults struct {
	mu     sync.Mutex
	faults []*Fault
	rng    *rand.Rand
	// Injected counts the failures injected (and callers killed), per
	// "service:Op".
	Injected map[string]int
	// Hung counts the calls a hang fault selected (Fault.Latency); they are
	// counted in Injected too.
	Hung int
	// Sandboxes ends the execution environment a KillCaller fault names
	// (the Lambda emulation); nil only drops the killed caller's calls.
	Sandboxes SandboxKiller

	dead map[string]bool // session tokens of killed sandboxes
}

// NewFaults makes an empty fault set with a seeded random source.
func NewFaults(seed uint64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), Injected: map[string]int{}}
}

// Add installs a fault.
func (f *Faults) Add(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft.Status == 0 {
		ft.Status = 400
	}
	if ft.Message == "" {
		ft.Message = "injected fault"
	}
	f.faults = append(f.faults, &ft)
}

// Clear removes every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

// InjectedCount reports how many failures were injected for service:op.
func (f *Faults) InjectedCount(service, op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Injected[service+":"+op]
}

// hang is a selected latency fault's effect on one call (Fault.Latency).
type hang struct {
	d          time.Duration
	answerLate bool
}

func (ft *Fault) hangs() bool {
	return ft.Latency > 0 && ft.Code == "" && !ft.KillCaller && !ft.KillCallerAfter &&
		(ft.FirstN > 0 || ft.Fraction > 0)
}

func (f *Faults) apply(c *Call) (fail *Error, kill, killAfter bool, h hang) {
	service, op := c.Service, c.Op
	f.mu.Lock()
	var latency time.Duration
	for _, ft := range f.faults {
		if (ft.Service != "" && ft.Service != service) || (ft.Op != "" && ft.Op != op) ||
			(ft.Caller != "" && (c.Principal == nil || c.Principal.Name != ft.Caller)) {
			continue
		}
		hangs := ft.hangs()
		if !hangs {
			latency += ft.Latency
		}
		kills := ft.KillCaller || ft.KillCallerAfter
		if fail != nil || kill || killAfter || h.d > 0 || (ft.Code == "" && !kills && !hangs) || (kills && c.SessionToken == "") {
			continue
		}
		ft.seen++
		if ft.seen <= ft.Skip {
			continue
		}
		n := ft.seen - ft.Skip
		if (ft.FirstN > 0 && n <= ft.FirstN) || (ft.Fraction > 0 && f.rng.Float64() < ft.Fraction) {
			switch {
			case ft.KillCaller:
				kill = true
			case ft.KillCallerAfter:
				killAfter = true
			case hangs:
				h = hang{d: ft.Latency, answerLate: ft.AnswerLate}
				f.Hung++
			default:
				fail = &Error{Code: ft.Code, Status: ft.Status, Message: ft.Message, RetryAfterMillis: ft.RetryAfterMillis}
			}
			f.Injected[service+":"+op]++
		}
	}
	f.mu.Unlock()
	if latency > 0 {
		wait(c, latency)
	}
	return fail, kill, killAfter, h
}

// wait holds c for d of real time or until its caller gives up; it reports
// whether the caller is still there.
func wait(c *Call, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.Ctx.Done():
		return false
	}
}

// ---------------------------------------------------------------------------
// Router

// Service is one emulated AWS service.
type Service interface {
	// SigV4Name is the credential-scope service name the router dispatches on.
	SigV4Name() string
	// ServeAWS handles one request. The call carries identity and helpers.
	ServeAWS(w http.ResponseWriter, r *http.Request, c *Call)
	// WriteError writes an error in this service's own shape.
	WriteError(w http.ResponseWriter, c *Call, e *Error)
}

// Router dispatches signed requests to services by the credential scope.
type Router struct {
	Account    string
	Clock      clock.Clock
	Authz      Authorizer
	Faults     *Faults
	Principals func(accessKeyID string) *Principal
	// DenyUnknownKeys refuses a request whose access key id Principals does
	// not know with UnrecognizedClient, as AWS does. Otherwise the caller
	// is an administrator.
	DenyUnknownKeys bool
	// OnCall, when set, is told about every call after it is answered (the
	// timeline of `make run`, and tests that count calls).
	OnCall func(c *Call, status int)
	// OnAnswer, when set, is also given the body of every answer (tests that
	// must know what a caller was told, e.g. a code a crashed caller lost).
	OnAnswer func(c *Call, status int, body []byte)
	// NoWireCheck turns the wire checker (wire.go) off for this router: it
	// is on in test binaries and with LOCALCLOUD_WIRE_CHECK=1. Only a test
	// of the checker itself, which sends what AWS never would, sets it.
	NoWireCheck bool

	services   map[string]Service
	wireMu     sync.Mutex
	violations []WireViolation
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	capture bool
	body    []byte
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.capture {
		s.body = append(s.body, b...)
	}
	return s.ResponseWriter.Write(b)
}

// Register adds a service.
func (rt *Router) Register(s Service) {
	if rt.services == nil {
		rt.services = map[string]Service{}
	}
	rt.services[s.SigV4Name()] = s
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	done := rt.Clock.Busy()
	defer done()
	check := wireCheckOn && !rt.NoWireCheck
	if !check && recordPath == "" {
		rt.serve(w, r, nil)
		return
	}
	// Every answer, whichever path writes it, is checked against the model
	// (and recorded, with LOCALCLOUD_RECORD) once it is complete. A call
	// dropped unanswered (KillCaller) panics through and is not checked.
	var req []byte
	if recordPath != "" {
		req = recordRequest(r)
	}
	sw := &statusWriter{ResponseWriter: w, capture: true}
	c := &Call{}
	rt.serve(sw, r, c)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	if recordPath != "" {
		record(c, sw.status, r, req, sw.body)
	}
	if check {
		rt.checkWire(c, sw.status, sw.Header(), sw.body)
	}
}

// serve answers one request. seen, when not nil, is given the call's
// service and operation as they become known.
func (rt *Router) serve(w http.ResponseWriter, r *http.Request, seen *Call) {
	if seen == nil {
		seen = &Call{}
	}
	cred, aerr := ParseAuthorization(r.Header.Get("Authorization"))
	if aerr != nil {
		// Without a scope we cannot know the service's shape; answer as the
		// JSON protocols do, which every SDK can decode.
		svc := rt.guessService(r)
		if svc != nil {
			seen.Service = svc.SigV4Name()
			svc.WriteError(w, &Call{RequestID: NewRequestID()}, aerr)
			return
		}
		WriteRESTError(w, aerr)
		return
	}
	svc, ok := rt.services[cred.Service]
	seen.Service = cred.Service
	if !ok {
		WriteRESTError(w, &Error{Code: "UnknownServiceException", Status: 400,
			Message: fmt.Sprintf("the local cloud does not serve %q", cred.Service)})
		return
	}
	var p *Principal
	if rt.Principals != nil {
		p = rt.Principals(cred.AccessKeyID)
	}
	if p == nil {
		if rt.DenyUnknownKeys {
			c := &Call{Service: cred.Service, Region: cred.Region, Account: rt.Account, RequestID: NewRequestID()}
			w.Header().Set("x-amzn-RequestId", c.RequestID)
			svc.WriteError(w, c, UnrecognizedClient(cred.Service))
			return
		}
		p = &Principal{Name: "admin", ARN: fmt.Sprintf("arn:aws:iam::%s:root", rt.Account), Admin: true}
	}
	c := &Call{
		Ctx: r.Context(), Service: cred.Service, Region: cred.Region, Account: rt.Account,
		Principal: p, RequestID: NewRequestID(), Clock: rt.Clock, authz: rt.Authz, faults: rt.Faults,
		Endpoint: endpointOf(r), SessionToken: r.Header.Get("X-Amz-Security-Token"), req: r,
	}
	if p.Admin {
		c.authz = nil
	}
	rt.Faults.dropIfDead(c)
	w.Header().Set("x-amzn-RequestId", c.RequestID)
	defer func() { seen.Op = c.Op }()
	// A KillCallerAfter call's answer never leaves: the writer drops it. An
	// AnswerLate hang's answer is held, then sent or dropped (release).
	ad := &answerDropper{ResponseWriter: w, c: c}
	w = ad
	if rt.OnCall == nil && rt.OnAnswer == nil {
		svc.ServeAWS(w, r, c)
		if c.killAfter {
			c.faults.killCaller(c)
		}
		ad.release()
		return
	}
	sw := &statusWriter{ResponseWriter: w, capture: rt.OnAnswer != nil}
	svc.ServeAWS(sw, r, c)
	if rt.OnCall != nil {
		rt.OnCall(c, sw.status)
	}
	if rt.OnAnswer != nil {
		rt.OnAnswer(c, sw.status, sw.body)
	}
	if c.killAfter {
		c.faults.killCaller(c)
	}
	ad.release()
}

// answerDropper passes an answer through unless its call was selected by a
// KillCallerAfter fault (which Begin decides before anything is written),
// and holds the answer of a call an AnswerLate hang selected.
type answerDropper struct {
	http.ResponseWriter
	c      *Call
	status int
	held   []byte
}

func (d *answerDropper) WriteHeader(code int) {
	switch {
	case d.c.killAfter:
	case d.c.answerLate > 0:
		if d.status == 0 {
			d.status = code
		}
	default:
		d.ResponseWriter.WriteHeader(code)
	}
}

func (d *answerDropper) Write(b []byte) (int, error) {
	switch {
	case d.c.killAfter:
		return len(b), nil
	case d.c.answerLate > 0:
		if d.status == 0 {
			d.status = http.StatusOK
		}
		d.held = append(d.held, b...)
		return len(b), nil
	}
	return d.ResponseWriter.Write(b)
}

// release sends a held answer once its latency has passed, or drops it
// with the connection when the caller gave up first.
func (d *answerDropper) release() {
	if d.c.answerLate <= 0 {
		return
	}
	if !wait(d.c, d.c.answerLate) {
		panic(http.ErrAbortHandler)
	}
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.ResponseWriter.WriteHeader(d.status)
	_, _ = d.ResponseWriter.Write(d.held)
}

// UnrecognizedClient is AWS's answer to a request signed with an access key
// id it has no record of, in the shape of the service's protocol: the Query
// services (IAM, STS) say InvalidClientTokenId with 403; the JSON ones say
// UnrecognizedClientException, with 400 (SSM, EventBridge, Step Functions)
// or, over REST-JSON, 403 (EKS, Lambda). SQS answered InvalidClientTokenId
// (403) over Query; over JSON it is sent as UnrecognizedClientException with
// that legacy code in x-amzn-query-error, which the SDK reports.
func UnrecognizedClient(service string) *Error {
	const msg = "The security token included in the request is invalid."
	switch service {
	case "iam", "sts":
		return &Error{Code: "InvalidClientTokenId", Status: 403, Message: msg}
	case "sqs":
		return &Error{Code: "UnrecognizedClientException", QueryCode: "InvalidClientTokenId", Status: 403, Message: msg}
	case "eks", "lambda":
		return &Error{Code: "UnrecognizedClientException", Status: 403, Message: msg}
	default: // ssm, events, states: JSON 1.0/1.1
		return &Error{Code: "UnrecognizedClientException", Status: 400, Message: msg}
	}
}

// guessService picks a service for an unsigned request from X-Amz-Target.
func (rt *Router) guessService(r *http.Request) Service {
	t := r.Header.Get("X-Amz-Target")
	for prefix, name := range map[string]string{"AmazonSSM.": "ssm", "AWSStepFunctions.": "states", "AWSEvents.": "events", "AmazonSQS.": "sqs"} {
		if strings.HasPrefix(t, prefix) {
			return rt.services[name]
		}
	}
	return nil
}

// Target splits an X-Amz-Target header ("AmazonSSM.PutParameter") into its
// prefix and operation.
func Target(r *http.Request) (prefix, op string) {
	t := r.Header.Get("X-Amz-Target")
	i := strings.LastIndex(t, ".")
	if i < 0 {
		return "", t
	}
	return t[:i], t[i+1:]
}

func endpointOf(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
