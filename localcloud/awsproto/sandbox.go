package awsproto

import "net/http"

// Crashes: a KillCaller fault ends the Lambda execution environment (the
// sandbox) that made the matching call, at the instant the call arrives and
// before it is served, as if the function's process had died there (killed,
// out of memory). A KillCallerAfter fault ends it a moment later: the call is
// served, and the process dies before the answer reaches it. The caller is known by the session token its credentials
// carry: Lambda gives every execution environment session credentials of the
// function's role, and the local Lambda gives each of its environments a
// token of its own (localcloud/lambda).
//
// What follows is what a crash looks like from outside: the call is never
// answered (the connection is dropped), the invocation ends with
// Runtime.ExitError, the environment is not reused, and nothing the dead
// caller might still send is served: every later call signed with its token
// is dropped too. For a bootstrap behind aws-lambda-rie the process is
// really killed; a handler run in-process cannot be (a goroutine cannot be
// killed), so its invocation is ended at once, its context cancelled, and
// the dropped calls keep whatever it still runs from reaching the cloud.

// SandboxKiller ends execution environments: the Lambda emulation.
type SandboxKiller interface {
	// KillSandbox ends the execution environment whose credentials carry
	// sessionToken, as a crash would. It reports whether one was found.
	KillSandbox(sessionToken string) bool
}

// killCaller ends the caller's sandbox and drops the call. It does not
// return: net/http closes the connection on http.ErrAbortHandler without an
// answer and without logging.
func (f *Faults) killCaller(c *Call) {
	f.mu.Lock()
	if f.dead == nil {
		f.dead = map[string]bool{}
	}
	f.dead[c.SessionToken] = true
	killer := f.Sandboxes
	f.mu.Unlock()
	if killer != nil {
		killer.KillSandbox(c.SessionToken)
	}
	panic(http.ErrAbortHandler)
}

// dropIfDead drops a call from a sandbox a fault has killed. It does not
// return for such a call.
func (f *Faults) dropIfDead(c *Call) {
	if f == nil || c.SessionToken == "" {
		return
	}
	f.mu.Lock()
	dead := f.dead[c.SessionToken]
	f.mu.Unlock()
	if dead {
		panic(http.ErrAbortHandler)
	}
}
