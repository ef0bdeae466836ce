package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// RIEConfig describes one function run behind the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie), as `sam local invoke` runs it inside
// its container, but without Docker: the bootstrap is a host binary.
type RIEConfig struct {
	// RIEPath is the aws-lambda-rie binary (`make tools` installs it in ./bin).
	RIEPath string
	// Bootstrap is the function's built bootstrap. It must be built for the
	// host's architecture (the template's arm64 binary cannot run on amd64).
	Bootstrap string
	// Env is the function's whole environment: nothing of this process's
	// environment leaks into the function, as in Lambda.
	Env map[string]string
	// Timeout is the function's timeout (AWS_LAMBDA_FUNCTION_TIMEOUT, whole
	// seconds, at least 1).
	Timeout time.Duration
	// Logs receives the emulator's and the function's output (START/END/REPORT
	// lines, the function's JSON logs); nil discards it.
	Logs io.Writer
}

// RIE is a Runner that runs a built bootstrap behind aws-lambda-rie. Like
// Lambda, it keeps warm execution environments (one aws-lambda-rie process
// each, which serves one invocation at a time) and starts another one when
// all are busy. Close kills them.
type RIE struct {
	cfg RIEConfig

	mu     sync.Mutex
	idle   []*rieProc
	all    map[*rieProc]struct{}
	closed bool
}

// NewRIE returns a Runner for cfg. No process starts before the first Run.
func NewRIE(cfg RIEConfig) *RIE {
	return &RIE{cfg: cfg, all: map[*rieProc]struct{}{}}
}

// rieProc is one execution environment: an aws-lambda-rie process and the
// bootstrap it started. token is the session token of its credentials
// (AWS_SESSION_TOKEN), which names it (sandbox.go).
type rieProc struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	token  string
}

// ErrRIEClosed is returned by Run after Close.
var ErrRIEClosed = errors.New("lambda: the RIE runner is closed")

// Run invokes the function once: POST /2015-03-31/functions/function/invocations.
func (r *RIE) Run(ctx context.Context, payload []byte) ([]byte, error) {
	p, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	out, keep, err := p.invoke(ctx, payload)
	r.release(p, keep)
	return out, err
}

// Close kills every process this runner started and waits for them.
func (r *RIE) Close() error {
	r.mu.Lock()
	r.closed = true
	procs := make([]*rieProc, 0, len(r.all))
	for p := range r.all {
		procs = append(procs, p)
	}
	r.all = map[*rieProc]struct{}{}
	r.idle = nil
	r.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	return nil
}

func (r *RIE) acquire(ctx context.Context) (*rieProc, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrRIEClosed
	}
	if n := len(r.idle); n > 0 {
		p := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		select {
		case <-p.exited: // died while idle: start another
			r.forget(p)
			return r.acquire(ctx)
		default:
			return p, nil
		}
	}
	r.mu.Unlock()
	p, err := r.start(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		p.kill()
		return nil, ErrRIEClosed
	}
	r.all[p] = struct{}{}
	return p, nil
}

func (r *RIE) release(p *rieProc, keep bool) {
	if keep {
		select {
		case <-p.exited:
			keep = false
		default:
		}
	}
	r.mu.Lock()
	if keep && !r.closed {
		r.idle = append(r.idle, p)
		r.mu.Unlock()
		return
	}
	delete(r.all, p)
	r.mu.Unlock()
	p.kill()
}

func (r *RIE) forget(p *rieProc) {
	r.mu.Lock()
	delete(r.all, p)
	r.mu.Unlock()
	p.kill()
}

// timeoutSeconds is AWS_LAMBDA_FUNCTION_TIMEOUT: whole seconds, at least 1
// (Lambda's default is 3).
func (r *RIE) timeoutSeconds() int {
	if r.cfg.Timeout <= 0 {
		return 3
	}
	return max(1, int((r.cfg.Timeout+time.Second-1)/time.Second))
}

// start launches aws-lambda-rie on two free loopback ports: the emulator's
// HTTP address and the Runtime API (which defaults to 127.0.0.1:9001 and so
// would collide between processes), then waits until it accepts connections.
func (r *RIE) start(ctx context.Context) (*rieProc, error) {
	if _, err := os.Stat(r.cfg.RIEPath); err != nil {
		return nil, fmt.Errorf("aws-lambda-rie not found at %s (run `make tools`): %w", r.cfg.RIEPath, err)
	}
	boot, err := filepath.Abs(r.cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(boot); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("no bootstrap at %s: build it for the host first (see `make invoke`)", boot)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	api := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	cmd := exec.Command(r.cfg.RIEPath,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", api,
		"--log-level", "warn",
		boot)
	cmd.Dir = filepath.Dir(boot)
	token := newSessionToken()
	cmd.Env = r.environ(token)
	logs := r.cfg.Logs
	if logs == nil {
		logs = io.Discard
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", r.cfg.RIEPath, err)
	}
	p := &rieProc{cmd: cmd, url: "http://" + addr + "/2015-03-31/functions/function/invocations", exited: make(chan struct{}), token: token}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("aws-lambda-rie exited at start (%v)", cmd.ProcessState)
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s within 10s", addr)
		}
	}
}

// environ is the process environment: the function's variables plus what the
// Lambda service sets (the emulator forwards its whole environment to the
// bootstrap), with the environment's own session token.
func (r *RIE) environ(sessionToken string) []string {
	env := map[string]string{
		"PATH":                        "/usr/local/bin:/usr/bin:/bin",
		"LANG":                        "en_US.UTF-8",
		"TZ":                          ":UTC",
		"LAMBDA_TASK_ROOT":            filepath.Dir(r.cfg.Bootstrap),
		"_HANDLER":                    "bootstrap",
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(r.timeoutSeconds()),
	}
	for k, v := range r.cfg.Env {
		env[k] = v
	}
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(r.timeoutSeconds())
	env["AWS_SESSION_TOKEN"] = sessionToken
	keys := slices.Sorted(maps.Keys(env))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// invoke posts one event. keep says whether the environment may serve
// another invocation (not after a timeout or a crash, which reset it).
//
// The emulator's answers (aws-lambda-rie, measured): a result or a handled
// error, HTTP 200 with the runtime's document; a runtime that exited, HTTP
// 502 with {"errorType":"Runtime.ExitError","errorMessage":"RequestId: <id>
// Error: Runtime exited with error: exit status 1"}; a timeout, HTTP 200
// with the plain text "Task timed out after 2.00 seconds", which Lambda
// answers as {"errorType":"Sandbox.Timedout","errorMessage":"RequestId:
// <id> Error: Task timed out after 2.00 seconds"}.
func (p *rieProc) invoke(ctx context.Context, payload []byte) (out []byte, keep bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(payload))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	// The emulator takes the invocation's request ID from this header: the
	// function's AwsRequestID, the START/END/REPORT lines and the
	// emulator's own error messages then name the ID the caller got, as on
	// Lambda (it makes one up otherwise).
	id := requestIDFrom(ctx)
	if id == "" {
		id = awsproto.NewRequestID()
	}
	req.Header.Set("X-Amzn-RequestId", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err() // the caller's deadline: a timeout
		}
		// The emulator went away mid-invocation: the environment died.
		// When its process has ended, its end is the runtime's.
		select {
		case <-p.exited:
			return nil, false, &exec.ExitError{ProcessState: p.cmd.ProcessState}
		case <-time.After(2 * time.Second):
		}
		return nil, false, fmt.Errorf("invoking through aws-lambda-rie: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, fmt.Errorf("reading the aws-lambda-rie response: %w", err)
	}
	if what, ok := timedOutAnswer(body); ok {
		return nil, false, platformError(TimedOutError, id, what)
	}
	if fe := functionError(body); fe != nil {
		// A handled error leaves the environment usable; a crash (HTTP 502
		// from the emulator) does not.
		return nil, resp.StatusCode == http.StatusOK, fe
	}
	if resp.StatusCode != http.StatusOK {
		what := strings.TrimSpace(string(body))
		if what == "" {
			what = fmt.Sprintf("aws-lambda-rie answered HTTP %d", resp.StatusCode)
		}
		return nil, false, platformError(ExitError, id, what)
	}
	return body, true, nil
}

// timedOutAnswer recognises the emulator's timeout answer, a plain-text
// body "Task timed out after N.00 seconds", and returns it.
func timedOutAnswer(body []byte) (string, bool) {
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "Task timed out after ") {
		return s, true
	}
	return "", false
}

// functionError recognises the runtime's error document: a JSON object with
// errorMessage and nothing but errorType and stackTrace besides (the shape
// aws-lambda-go posts to /runtime/invocation/<id>/error, and what `sam local
// invoke` prints), or the emulator's own Runtime.ExitError document. Invoke
// returns it as it is.
func functionError(body []byte) *FunctionError {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	if _, ok := m["errorMessage"]; !ok {
		return nil
	}
	for k := range m {
		switch k {
		case "errorType", "errorMessage", "stackTrace":
		default:
			return nil
		}
	}
	var doc struct {
		Type    string          `json:"errorType"`
		Message string          `json:"errorMessage"`
		Stack   json.RawMessage `json:"stackTrace"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	fe := &FunctionError{Type: doc.Type, Message: doc.Message, raw: bytes.Clone(body)}
	var lines []string
	if json.Unmarshal(doc.Stack, &lines) == nil {
		fe.StackTrace = lines
	} else if len(doc.Stack) > 0 && string(doc.Stack) != "null" {
		fe.StackTrace = []string{string(doc.Stack)}
	}
	return fe
}

func (p *rieProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	stopProcessGroup(p.cmd)
	select {
	case <-p.exited:
		return
	case <-time.After(2 * time.Second):
	}
	// The bootstrap may have its own process group: end whatever is left.
	killProcessGroup(p.cmd)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
}

// KillSandbox kills the execution environment whose session token is
// sessionToken. During an invocation only the bootstrap is killed (SIGKILL),
// so the emulator answers as Lambda does for a runtime that dies:
// Runtime.ExitError, "Runtime exited with error: signal: killed"; the
// environment is then discarded. An idle environment is ended whole.
func (r *RIE) KillSandbox(sessionToken string) bool {
	r.mu.Lock()
	var p *rieProc
	for q := range r.all {
		if q.token == sessionToken {
			p = q
			break
		}
	}
	idle := false
	for i, q := range r.idle {
		if q == p {
			r.idle = append(r.idle[:i], r.idle[i+1:]...)
			idle = true
			break
		}
	}
	if idle {
		delete(r.all, p)
	}
	r.mu.Unlock()
	switch {
	case p == nil:
		return false
	case idle:
		p.kill()
	default:
		killChildren(p.cmd)
	}
	return true
}

// freePorts reserves n distinct free loopback ports (released before use: a
// small race, as with any port handed to another process).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
