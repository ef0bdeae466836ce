package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Every test that starts a cloud with start ends with two checks, run from
// the harness's cleanup (not by each test): the leak check (checkLeaks) and
// the secret scan (scanSecrets). A test that leaves something on purpose says
// so with e.expectLeft; a test that ends before its executions do says so
// with e.expectRunning.

// armEndChecks records the project's calls from now on and, when the test
// ends, runs the secret scan and the leak check. Registered after the
// cloud's own cleanups, it runs before them, on the live cloud.
func (e *env) armEndChecks() {
	e.productCalls = &callRecord{}
	e.onCall(func(call *awsproto.Call, _ int) { e.productCalls.add(call) })
	e.t.Cleanup(func() {
		e.scanSecrets()
		leaks := e.checkLeaks()
		for _, f := range e.endHooks {
			f(leaks)
		}
	})
}

// onEnd runs f after the end checks, with the number of leaks found (the
// Reliability table counts them).
func (e *env) onEnd(f func(leaks int)) { e.endHooks = append(e.endHooks, f) }

// Outcome events of this project that end a cluster's story: the last one of
// a cluster decides what may be left of it.
var outcomeTypes = []string{"Cluster Registered", "Cluster Registration Failed", "Cluster Deregistered",
	"Cluster Deregistration Failed"}

// leftovers are what a test declared it leaves on purpose, by kind
// ("cluster", "parameter", "activation", "instance", "role") and name (a
// cluster name; for "parameter", a parameter name or a prefix ending in
// "/"), with why.
type leftovers struct {
	mu      sync.Mutex
	items   map[string]string // kind + " " + name -> why
	running string            // why executions may still run at the end ("" = none may)
}

// expectLeft declares that the test leaves kind name on purpose, and why. It
// is not a whitelist of defects: the why says what outcome intends it.
func (e *env) expectLeft(kind, name, why string) {
	e.left.mu.Lock()
	defer e.left.mu.Unlock()
	if e.left.items == nil {
		e.left.items = map[string]string{}
	}
	e.left.items[kind+" "+name] = why
}

// expectRunning declares that the test ends while executions still run,
// and why; what they hold is then not checked (it is not their end state).
func (e *env) expectRunning(why string) {
	e.left.mu.Lock()
	defer e.left.mu.Unlock()
	e.left.running = why
}

func (e *env) declared(kind, name string) bool {
	e.left.mu.Lock()
	defer e.left.mu.Unlock()
	if _, ok := e.left.items[kind+" "+name]; ok {
		return true
	}
	if kind == "parameter" {
		for k := range e.left.items {
			if p, ok := strings.CutPrefix(k, "parameter "); ok && strings.HasSuffix(p, "/") && strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

// outcomes maps each cluster named by one of our outcome events to the
// detail-type of its last one.
func (e *env) outcomes() map[string]string {
	out := map[string]string{}
	for _, ev := range e.c.Events.Log() {
		if !slices.Contains(outcomeTypes, ev.DetailType) {
			continue
		}
		if name, _ := detailOf(e.t, ev)["clusterName"].(string); name != "" {
			out[name] = ev.DetailType
		}
	}
	return out
}

// leaks lists what is left that the outcome did not intend (checkLeaks).
func (e *env) leaks() []string {
	e.settle()
	var leaks []string
	leak := func(format string, args ...any) { leaks = append(leaks, fmt.Sprintf(format, args...)) }

	e.left.mu.Lock()
	runningOK := e.left.running != ""
	e.left.mu.Unlock()
	running := 0
	for _, ex := range e.c.SFN.Executions() {
		if ex.Status() == "RUNNING" {
			running++
			if !runningOK {
				leak("execution %s is still running", ex.Name)
			}
		}
	}
	if running > 0 && runningOK {
		return leaks // not an end state: nothing more to judge
	}

	outcome := e.outcomes()
	// A cluster of ours may stay registered only when its last outcome
	// says it is (or the test says why).
	keep := func(cluster string) bool {
		return outcome[cluster] == "Cluster Registered" || e.declared("cluster", cluster)
	}
	prefix := strings.TrimRight(e.c.Template.Parameters["ParameterPrefix"], "/") + "/"

	// EKS: clusters the project registered (not the test's own).
	clusters := map[string]string{} // name -> current activation id, for the clusters that may stay
	for _, c := range e.c.EKS.Clusters() {
		if c.Status == "DELETING" {
			continue // being deregistered: gone once EKS is done
		}
		ours := c.CreatedBy != "" && c.CreatedBy != "admin" && c.CreatedBy != "operator"
		if ours && !keep(c.Name) {
			leak("cluster %s is registered (%s) but its outcome is %q", c.Name, c.Status, outcomeOr(outcome[c.Name]))
			continue
		}
		clusters[c.Name] = c.ActivationID
	}
	// SSM parameters under our prefix: a registered cluster keeps its
	// intent and activation record; nothing else stays.
	for _, n := range e.c.SSM.ParameterNames() {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok || e.declared("parameter", n) {
			continue
		}
		parts := strings.Split(rest, "/")
		if len(parts) == 3 && parts[0] == "clusters" && (parts[2] == "intent" || parts[2] == "activation") && keep(parts[1]) {
			continue
		}
		// A superseded marker outlives the superseded trigger's retries by
		// design, and is collected by a lock taken a day later
		// (lock.supersededExpired): intended, while it names the execution
		// that superseded it and that execution has ended.
		if len(parts) == 3 && parts[0] == "locks" && strings.HasPrefix(parts[2], "superseded-") {
			by, _, _ := e.c.SSM.Parameter(n)
			if ex, ok := e.c.SFN.Execution(by); ok && ex.Status() != "RUNNING" {
				continue
			}
		}
		leak("parameter %s is left (outcome of its cluster: %q)", n, outcomeOr(outcome[clusterOf(parts)]))
	}
	// Activations: a live one must be the current activation of a cluster
	// that stays.
	live := map[string]bool{}
	for _, a := range e.c.SSM.Activations() {
		name := strings.TrimPrefix(a.DefaultInstanceName, "eks_c:")
		if id, ok := clusters[name]; ok && id == a.ID {
			live[a.ID] = true
			continue
		}
		if a.Expired || e.declared("activation", name) {
			continue
		}
		leak("activation %s of cluster %s is live until %s (outcome %q)", a.ID, name, a.Expiry.Format("2006-01-02T15:04Z"), outcomeOr(outcome[name]))
	}
	// Managed instances: only those of a staying cluster's activation.
	for id, act := range e.c.SSM.InstanceActivations() {
		if live[act] {
			continue
		}
		if e.declared("instance", id) {
			continue
		}
		leak("managed instance %s (activation %s) is still registered", id, act)
	}
	// IAM: the project creates only the managed agent role and EKS's
	// service-linked role, and in existing mode no role at all.
	managed := e.c.Template.Parameters["AgentRoleMode"] == "managed"
	for _, n := range e.c.IAM.RoleNames() {
		r, _ := e.c.IAM.Role(n)
		if r.CreatedBy == "" || r.CreatedBy == "admin" || r.CreatedBy == "operator" || e.declared("role", n) {
			continue
		}
		if managed && (n == e.c.Template.Parameters["AgentRoleName"] || r.ServiceLinked) {
			continue
		}
		leak("role %s was created by %s (agent role mode %s)", n, r.CreatedBy, e.c.Template.Parameters["AgentRoleMode"])
	}
	if !managed {
		for _, w := range e.productCalls.writes("iam") {
			leak("existing agent role mode, yet %s", w)
		}
	}
	sort.Strings(leaks)
	return leaks
}

func outcomeOr(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func clusterOf(parts []string) string {
	if len(parts) >= 2 {
		return parts[1]
	}
	return ""
}

// checkLeaks fails the test for everything left that its outcome did not
// intend. A test that already failed is not judged (what it left says
// nothing new). It returns the number of leaks it found.
func (e *env) checkLeaks() int {
	t := e.t
	t.Helper()
	if t.Failed() || t.Skipped() {
		return 0
	}
	leaks := e.leaks()
	for _, l := range leaks {
		t.Errorf("leak check: %s", l)
	}
	return len(leaks)
}

// secretHaystacks is every place an activation code must never reach:
// execution histories, function logs, events on every bus, Lambda
// responses and error messages, and every SQS message (the dead-letter and
// failure queues included).
func (e *env) secretHaystacks() map[string]string {
	out := map[string]string{}
	for _, ex := range e.c.SFN.Executions() {
		out["the history of execution "+ex.Name] = history(ex)
	}
	out["the function logs"] = e.logs.String()
	for i, ev := range e.c.Events.Log() {
		out[fmt.Sprintf("event #%d %q on bus %s", i, ev.DetailType, ev.Bus)] = string(ev.Detail)
	}
	for i, inv := range e.c.Lambda.Log() {
		out[fmt.Sprintf("invocation #%d of %s (response or error)", i, inv.Function)] = string(inv.Response) + "\n" + inv.Message
	}
	for _, q := range e.c.SQS.QueueArns() {
		out["queue "+q] = strings.Join(e.c.SQS.Messages(q), "\n")
	}
	return out
}

// secretFindings lists every place (secretHaystacks) where an activation
// code the cloud issued in the test is found.
func (e *env) secretFindings() []string {
	e.settle()
	codes := e.c.SSM.IssuedCodes()
	var out []string
	for where, text := range e.secretHaystacks() {
		for _, code := range codes {
			if strings.Contains(text, code) {
				out = append(out, "an issued activation code is in "+where)
			}
		}
	}
	sort.Strings(out)
	return out
}

// scanSecrets fails the test for every secretFindings (unless the test
// planted one on purpose: secretsPlanted).
func (e *env) scanSecrets() {
	if e.secretsPlanted {
		return
	}
	for _, f := range e.secretFindings() {
		e.t.Errorf("secret scan: %s", f)
	}
}

// callRecord counts the calls the project's own principals (its functions
// and state machines) made, by service and operation, as the router served
// them.
type callRecord struct {
	mu    sync.Mutex
	calls map[string]int // "service:Op" -> count
}

func (r *callRecord) add(c *awsproto.Call) {
	if c.Principal == nil || c.Principal.Admin || c.Principal.Service != "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[c.Service+":"+c.Op]++
}

// total is the number of calls recorded.
func (r *callRecord) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.calls {
		n += v
	}
	return n
}

// writes lists the calls to service whose operation changes something
// (anything but Get, List, Describe), as "service:Op ×n".
func (r *callRecord) writes(service string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, n := range r.calls {
		svc, op, _ := strings.Cut(k, ":")
		if svc != service || isRead(op) {
			continue
		}
		out = append(out, fmt.Sprintf("%s ×%d", k, n))
	}
	sort.Strings(out)
	return out
}

func isRead(op string) bool {
	for _, p := range []string{"Get", "List", "Describe"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

func TestIsRead(t *testing.T) {
	for op, want := range map[string]bool{"GetParameter": true, "DescribeCluster": true, "ListRoles": true,
		"PutParameter": false, "RegisterCluster": false, "DeleteActivation": false, "CreateRole": false} {
		if isRead(op) != want {
			t.Errorf("isRead(%s) = %v", op, !want)
		}
	}
}

// The leak check finds a cluster, its activation, its instances and its
// records left behind when compensation cannot deregister it; the secret
// scan finds a code wherever it is put.
func TestTheEndChecksFindLeaksAndSecrets(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{Agent: agent.Config{Mode: agent.NeverConnects}})
	e.c.Faults.Add(awsproto.Fault{Service: "eks", Op: "DeregisterCluster", Fraction: 1, Code: "AccessDeniedException", Status: 403,
		Message: "injected: an SCP forbids deregistering"})
	e.register("leak-01", map[string]any{"activationTimeoutMinutes": 5})
	ex := e.waitExecution("Registration", 1)
	if ex.Status() == "SUCCEEDED" {
		t.Fatalf("registration SUCCEEDED; want it to fail with its cluster left")
	}
	leaks := strings.Join(e.leaks(), "\n")
	for _, want := range []string{"cluster leak-01 is registered", "activation ", "parameter /eks-connector-registrar/clusters/leak-01/activation-code"} {
		if !strings.Contains(leaks, want) {
			t.Errorf("the leak check did not report %q; it reported:\n%s", want, leaks)
		}
	}
	if got := e.secretFindings(); len(got) != 0 {
		t.Fatalf("secrets found before any was planted: %v", got)
	}
	codes := e.c.SSM.IssuedCodes()
	if len(codes) == 0 {
		t.Fatal("no activation code was issued")
	}
	e.put("Planted", map[string]any{"note": "code " + codes[0]})
	if got := e.secretFindings(); len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), `"Planted"`) {
		t.Errorf("the secret scan missed a code planted in an event: %v", got)
	}
	// The test leaves all this on purpose: the end checks are what it tests.
	e.expectLeft("cluster", "leak-01", "an injected SCP forbids deregistering (this test checks the leak check)")
	e.expectLeft("parameter", "/eks-connector-registrar/", "left with the cluster on purpose")
	e.secretsPlanted = true
}
