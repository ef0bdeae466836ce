package lambda

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"sync"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Execution environments (sandboxes). Lambda runs a function in execution
// environments: each one runs the function's init once, serves one
// invocation at a time, is kept warm for the next, and has credentials of
// its own (session credentials of the function's role). A crash ends the
// environment: the invocation fails with Runtime.ExitError and the next one
// gets a fresh environment. The local cloud names an environment by the
// session token of its credentials, so a fault can kill the one that made a
// call (awsproto.Fault.KillCaller).

// ExitError is the errorType Lambda reports when the runtime process exits
// during an invocation: {"errorType":"Runtime.ExitError","errorMessage":
// "RequestId: <id> Error: Runtime exited with error: signal: killed"} (or
// "exit status 1"), with X-Amz-Function-Error: Unhandled. Step Functions
// names the task's error after it.
const ExitError = "Runtime.ExitError"

// exited is Lambda's error for a runtime that ended mid-invocation. status
// is how the process ended as Go's os/exec words it ("exit status 1",
// "signal: killed"), which is what Lambda quotes (aws-lambda-rie, Lambda's
// own runtime manager, answers the same).
func exited(requestID, status string) *FunctionError {
	return platformError(ExitError, requestID, "Runtime exited with error: "+status)
}

// runnerFailed is the function error of a Runner that failed without a
// function error. A process that exited (*exec.ExitError) is a runtime that
// exited, reported as Lambda does. Anything else is a fault of the local
// cloud's setup (aws-lambda-rie not installed, no bootstrap built), which no
// AWS message describes: its text is kept as it is, under the same
// errorType (`localcloud invoke` reports those as setup errors).
func runnerFailed(requestID string, err error) *FunctionError {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ProcessState != nil {
		return exited(requestID, ee.ProcessState.String())
	}
	return &FunctionError{Type: ExitError, Message: err.Error()}
}

// newSessionToken makes the session token of a new execution environment.
func newSessionToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "LocalSandbox" + hex.EncodeToString(b)
}

// sandboxKiller is a Runner whose execution environments can be killed.
type sandboxKiller interface {
	KillSandbox(sessionToken string) bool
}

// KillSandbox ends the execution environment whose credentials carry
// sessionToken, in whichever function runs it (awsproto.SandboxKiller).
func (s *Store) KillSandbox(sessionToken string) bool {
	s.mu.Lock()
	var runners []Runner
	for key, f := range s.fns {
		if key == f.Name { // each function once (fns holds it by name and ARN)
			runners = append(runners, f.Runner)
		}
	}
	s.mu.Unlock()
	for _, r := range runners {
		if k, ok := r.(sandboxKiller); ok && k.KillSandbox(sessionToken) {
			return true
		}
	}
	return false
}

// Pool runs a Go handler in this process with Lambda's execution
// environments: New builds one environment's handler (the function's init)
// with credentials carrying sessionToken. An environment serves one
// invocation at a time and is kept for the next; another is built when all
// are busy. One whose invocation timed out, panicked or was killed is not
// reused, as Lambda resets it.
//
// A killed environment's invocation ends at once with Runtime.ExitError. Its
// handler goroutine cannot be killed: it runs on with its context cancelled
// (when the invocation ends), and the fault that killed it drops every call
// it still makes.
type Pool struct {
	FunctionName string
	FunctionArn  string
	New          func(sessionToken string) (Handler, error)

	mu   sync.Mutex
	idle []*sandbox
	live map[string]*sandbox // by session token, idle or busy
}

type sandbox struct {
	token  string
	h      Handler
	killed chan struct{}
	once   sync.Once
}

func (sb *sandbox) kill() { sb.once.Do(func() { close(sb.killed) }) }

// NewPool builds the pool and its first environment, so that a handler that
// cannot be built fails the deployment rather than the first invocation.
func NewPool(functionName, functionArn string, build func(sessionToken string) (Handler, error)) (*Pool, error) {
	p := &Pool{FunctionName: functionName, FunctionArn: functionArn, New: build, live: map[string]*sandbox{}}
	sb, err := p.newSandbox()
	if err != nil {
		return nil, err
	}
	p.idle = append(p.idle, sb)
	return p, nil
}

func (p *Pool) newSandbox() (*sandbox, error) {
	token := newSessionToken()
	h, err := p.New(token)
	if err != nil {
		return nil, err
	}
	sb := &sandbox{token: token, h: h, killed: make(chan struct{})}
	p.mu.Lock()
	p.live[token] = sb
	p.mu.Unlock()
	return sb, nil
}

func (p *Pool) acquire() (*sandbox, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		sb := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return sb, nil
	}
	p.mu.Unlock()
	return p.newSandbox()
}

func (p *Pool) release(sb *sandbox, keep bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-sb.killed:
		keep = false
	default:
	}
	if keep {
		p.idle = append(p.idle, sb)
		return
	}
	delete(p.live, sb.token)
}

// Run invokes the handler in an execution environment of the pool.
func (p *Pool) Run(ctx context.Context, payload []byte) ([]byte, error) {
	id := requestIDFrom(ctx)
	if id == "" {
		id = awsproto.NewRequestID()
		ctx = withRequestID(ctx, id)
	}
	sb, err := p.acquire()
	if err != nil {
		// The init failed: lambdamain logs why and exits with status 1,
		// which Lambda reports as the runtime's exit; the why is only in
		// the function's log. (NewPool fails the deployment of a handler
		// that cannot be built, so only a later environment gets here.)
		return nil, exited(id, "exit status 1")
	}
	type result struct {
		out []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		out, err := InProcess{Handler: sb.h, FunctionName: p.FunctionName, FunctionArn: p.FunctionArn}.Run(ctx, payload)
		ch <- result{out, err}
	}()
	select {
	case r := <-ch:
		// aws-lambda-go ends the process after reporting a panic.
		var fe *FunctionError
		panicked := errors.As(r.err, &fe) && fe.StackTrace != nil
		p.release(sb, !panicked)
		return r.out, r.err
	case <-sb.killed:
		p.release(sb, false)
		return nil, exited(id, "signal: killed")
	case <-ctx.Done():
		p.release(sb, false) // timed out: Lambda resets the environment
		return nil, ctx.Err()
	}
}

// KillSandbox kills the environment with sessionToken, busy or idle.
func (p *Pool) KillSandbox(sessionToken string) bool {
	p.mu.Lock()
	sb, ok := p.live[sessionToken]
	if ok {
		delete(p.live, sessionToken)
		for i, s := range p.idle {
			if s == sb {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				break
			}
		}
	}
	p.mu.Unlock()
	if ok {
		sb.kill()
	}
	return ok
}
