package awsproto

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Principal is who signed a request: a function's role, a state machine's
// role, the simulated agent, or an administrator (tests, the CLI).
type Principal struct {
	// Name identifies the caller in permission records, e.g. "RegisterFunction".
	Name string
	// ARN is the caller's role ARN, as sts:GetCallerIdentity reports it.
	ARN string
	// Admin principals are allowed everything (and nothing is recorded).
	Admin bool
}

// Authorizer decides whether a principal may perform action on resource.
// Implementations record every check for the least-privilege report.
type Authorizer interface {
	Authorize(p *Principal, action, resource string, conditions map[string]string) (allowed bool)
}

// AllowAll is the Authorizer used when no policies are loaded.
type AllowAll struct{}

func (AllowAll) Authorize(*Principal, string, string, map[string]string) bool { return true }

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

	authz  Authorizer
	faults *Faults
}

// Partition is the ARN partition the local cloud serves.
const Partition = "aws"

// Begin names the operation, applies injected faults and latency, and must be
// the first thing an operation does. A non-nil error is the response.
func (c *Call) Begin(op string) *Error {
	c.Op = op
	if c.faults == nil {
		return nil
	}
	return c.faults.apply(c.Ctx, c.Service, op)
}

// Authorize checks that the caller may perform action on resource, as IAM
// would, and returns the service's AccessDenied error when it may not. code
// is the service's own access-denied code (AccessDeniedException for EKS, SSM,
// Step Functions; AccessDenied for IAM and STS).
func (c *Call) Authorize(code, action, resource string, conditions map[string]string) *Error {
	if c.authz == nil || c.Principal == nil {
		return nil
	}
	if c.authz.Authorize(c.Principal, action, resource, conditions) {
		return nil
	}
	return &Error{Code: code, Status: 403, Message: fmt.Sprintf(
		"User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		c.Principal.ARN, action, resource, action)}
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
	// Latency set means latency only.
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
	Latency time.Duration

	seen int
}

// Faults is the set of injected faults.
type Faults struct {
	mu     sync.Mutex
	faults []*Fault
	rng    *rand.Rand
	// Injected counts the failures injected, per "service:Op".
	Injected map[string]int
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

func (f *Faults) apply(ctx context.Context, service, op string) *Error {
	f.mu.Lock()
	var latency time.Duration
	var fail *Error
	for _, ft := range f.faults {
		if (ft.Service != "" && ft.Service != service) || (ft.Op != "" && ft.Op != op) {
			continue
		}
		latency += ft.Latency
		if fail != nil || ft.Code == "" {
			continue
		}
		ft.seen++
		if (ft.FirstN > 0 && ft.seen <= ft.FirstN) || (ft.Fraction > 0 && f.rng.Float64() < ft.Fraction) {
			fail = &Error{Code: ft.Code, Status: ft.Status, Message: ft.Message, RetryAfterMillis: ft.RetryAfterMillis}
			f.Injected[service+":"+op]++
		}
	}
	f.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return fail
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
	// OnCall, when set, is told about every call after it is answered (the
	// timeline of `make run`, and tests that count calls).
	OnCall func(c *Call, status int)

	services map[string]Service
}

type statusWriter struct {
	http.ResponseWriter
	status int
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
	cred, aerr := ParseAuthorization(r.Header.Get("Authorization"))
	if aerr != nil {
		// Without a scope we cannot know the service's shape; answer as the
		// JSON protocols do, which every SDK can decode.
		svc := rt.guessService(r)
		if svc != nil {
			svc.WriteError(w, &Call{RequestID: NewRequestID()}, aerr)
			return
		}
		WriteRESTError(w, aerr)
		return
	}
	svc, ok := rt.services[cred.Service]
	if !ok {
		WriteRESTError(w, &Error{Code: "UnknownServiceException", Status: 400,
			Message: fmt.Sprintf("the local cloud does not serve %q", cred.Service)})
		return
	}
	p := &Principal{Name: "admin", ARN: fmt.Sprintf("arn:aws:iam::%s:root", rt.Account), Admin: true}
	if rt.Principals != nil {
		if q := rt.Principals(cred.AccessKeyID); q != nil {
			p = q
		}
	}
	c := &Call{
		Ctx: r.Context(), Service: cred.Service, Region: cred.Region, Account: rt.Account,
		Principal: p, RequestID: NewRequestID(), Clock: rt.Clock, authz: rt.Authz, faults: rt.Faults,
		Endpoint: endpointOf(r),
	}
	if p.Admin {
		c.authz = nil
	}
	w.Header().Set("x-amzn-RequestId", c.RequestID)
	if rt.OnCall == nil {
		svc.ServeAWS(w, r, c)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	svc.ServeAWS(sw, r, c)
	rt.OnCall(c, sw.status)
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
