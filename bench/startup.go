package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// functionEvents is the events/ file each function is invoked with for the
// invocation latency (the one cmd/localcloud's TestEveryEventBehindRIE gives
// it on a fresh cloud).
var functionEvents = map[string]string{
	"TriggerFunction":              "register-cluster.json",
	"EnsureRolesFunction":          "step-ensure-roles.json",
	"CheckClusterFunction":         "step-check-cluster.json",
	"RegisterClusterFunction":      "step-register-cluster.json",
	"CheckActivationFunction":      "step-check-activation.json",
	"CompleteRegistrationFunction": "step-complete-registration.json",
	"CleanupFunction":              "step-cleanup.json",
}

// binary is one bootstrap under measurement.
type binary struct {
	name, path string
	env        []string
	starts     []time.Duration
}

// runtimeAPI is the Lambda Runtime API, as much of it as a Go bootstrap uses:
// it notes when the process first asks for work, and hands it events.
type runtimeAPI struct {
	addr    string
	srv     *http.Server
	ready   chan time.Time // a GET .../invocation/next arrived
	events  chan []byte    // the next event to hand out
	results chan result
	mu      sync.Mutex
	sent    map[string]time.Time
	n       int
}

type result struct {
	took  time.Duration // event handed out to answer received
	error string        // errorType of an /error answer
}

func newRuntimeAPI() (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &runtimeAPI{addr: ln.Addr().String(), ready: make(chan time.Time, 1), events: make(chan []byte),
		results: make(chan result, 1), sent: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.ready <- time.Now():
		default:
		}
		select {
		case ev := <-a.events:
			a.mu.Lock()
			a.n++
			id := fmt.Sprintf("bench-%d", a.n)
			a.mu.Unlock()
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
			a.mu.Lock()
			a.sent[id] = time.Now()
			a.mu.Unlock()
			_, _ = w.Write(ev)
		case <-r.Context().Done():
		}
	})
	answer := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			at := time.Now()
			body, _ := io.ReadAll(r.Body)
			a.mu.Lock()
			sent := a.sent[r.PathValue("id")]
			a.mu.Unlock()
			res := result{took: at.Sub(sent)}
			if kind == "error" {
				var doc struct {
					ErrorType string `json:"errorType"`
				}
				_ = json.Unmarshal(body, &doc)
				res.error = doc.ErrorType
			}
			w.WriteHeader(http.StatusAccepted)
			a.results <- res
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", answer("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", answer("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(os.Stderr, "bench: init error: %s\n", b)
		w.WriteHeader(http.StatusAccepted)
	})
	a.srv = &http.Server{Handler: mux}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

func (a *runtimeAPI) close() { _ = a.srv.Close() }

// start runs the bootstrap and returns the process once it asked for work,
// with the time that took.
func (a *runtimeAPI) start(b *binary) (*exec.Cmd, time.Duration, error) {
	select {
	case <-a.ready:
	default:
	}
	cmd := exec.Command(b.path)
	cmd.Env = append(b.env, "AWS_LAMBDA_RUNTIME_API="+a.addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case at := <-a.ready:
		// Reap the process when the caller kills it.
		go func() { <-exited }()
		return cmd, at.Sub(t0), nil
	case err := <-exited:
		return nil, 0, fmt.Errorf("%s exited before asking for work: %v", b.name, err)
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		return nil, 0, fmt.Errorf("%s did not ask for work within 20 s", b.name)
	}
}

func (a *runtimeAPI) invoke(event []byte) (result, error) {
	select {
	case a.events <- event:
	case <-time.After(20 * time.Second):
		return result{}, fmt.Errorf("the bootstrap did not ask for the event")
	}
	select {
	case r := <-a.results:
		return r, nil
	case <-time.After(60 * time.Second):
		return result{}, fmt.Errorf("no answer within 60 s")
	}
}

// buildWithMake runs a Makefile build target into dir for this host.
func buildWithMake(root, target, dir string, extra ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"--no-print-directory", "-s", "-C", root, target, "ARTIFACTS_DIR=" + dir,
		"GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH}, extra...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make %s: %v\n%s", target, err, out)
	}
	return nil
}

// floorTags are the floor_* build tags giving bench/floor the SDK service
// clients dir's function imports beyond those config.LoadDefaultConfig
// itself brings (sts, sso, ...).
func floorTags(root, dir string) (string, error) {
	list := func(pkg string) (map[string]bool, error) {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			return nil, fmt.Errorf("go list -deps %s: %v", pkg, err)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			if s, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/"); ok && !strings.Contains(s, "/") {
				m[s] = true
			}
		}
		return m, nil
	}
	cfg, err := list("github.com/aws/aws-sdk-go-v2/config")
	if err != nil {
		return "", err
	}
	fn, err := list("./functions/" + dir)
	if err != nil {
		return "", err
	}
	var tags []string
	for s := range fn {
		if cfg[s] {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "bench", "floor", "client_"+s+".go")); err != nil {
			return "", fmt.Errorf("functions/%s builds an SDK %s client and bench/floor has no client_%s.go: add it", dir, s, s)
		}
		tags = append(tags, "floor_"+s)
	}
	sort.Strings(tags)
	return strings.Join(tags, ","), nil
}

type stats struct{ p10, median, p90, p99 time.Duration }

func statsOf(xs []time.Duration) stats {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(len(s)-1, i))]
	}
	return stats{q(0.10), q(0.50), q(0.90), q(0.99)}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func (r *report) startup(root string, starts, invokes int) error {
	tmp, err := os.MkdirTemp("", "bench-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := app.Start(localcloud.Options{NoAgent: true}, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	type fnBins struct {
		id    string
		fn    *binary
		floor *binary
		tags  string
	}
	var fns []fnBins
	floors := map[string]*binary{}
	baseEnv := func(id string) []string {
		env, _ := c.FunctionEnv(id)
		out := []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		sort.Strings(out)
		return out
	}
	fmt.Fprintln(os.Stderr, "bench: building the bootstraps and the references for this host")
	hello := &binary{name: "hello world", path: filepath.Join(tmp, "hello", "bootstrap")}
	if err := buildWithMake(root, "build-bench-hello", filepath.Dir(hello.path)); err != nil {
		return err
	}
	for _, f := range c.Template.Functions {
		dir := localcloud.CodeDir(f.LogicalID)
		b := &binary{name: f.LogicalID, path: filepath.Join(tmp, f.LogicalID, "bootstrap"), env: baseEnv(f.LogicalID)}
		if err := buildWithMake(root, "build-"+f.LogicalID, filepath.Dir(b.path)); err != nil {
			return err
		}
		tags, err := floorTags(root, dir)
		if err != nil {
			return err
		}
		fl, ok := floors[tags]
		if !ok {
			fl = &binary{name: "floor " + tags, path: filepath.Join(tmp, "floor-"+strings.ReplaceAll(tags, ",", "-"), "bootstrap"), env: b.env}
			if err := buildWithMake(root, "build-bench-floor", filepath.Dir(fl.path), "FLOOR_TAGS="+tags); err != nil {
				return err
			}
			floors[tags] = fl
		}
		fns = append(fns, fnBins{id: f.LogicalID, fn: b, floor: fl, tags: tags})
	}
	hello.env = fns[0].fn.env

	api, err := newRuntimeAPI()
	if err != nil {
		return err
	}
	defer api.close()
	all := []*binary{hello}
	for _, f := range fns {
		all = append(all, f.fn)
	}
	for _, t := range sortedKeys(floors) {
		all = append(all, floors[t])
	}
	fmt.Fprintf(os.Stderr, "bench: %d starts of %d binaries, alternating\n", starts, len(all))
	for i := 0; i < starts+1; i++ {
		for _, b := range all {
			cmd, d, err := api.start(b)
			if err != nil {
				return err
			}
			_ = cmd.Process.Kill()
			if i > 0 { // the first round warms the page cache
				b.starts = append(b.starts, d)
			}
		}
	}

	r.section("Start-up (init phase)",
		fmt.Sprintf("Each function's bootstrap, built for this host by its Makefile recipe (build-<LogicalId>: CGO_ENABLED=0, -tags lambda.norpc, "+
			"-trimpath, -ldflags \"-s -w\"), timed from process start to its first request for work from the Runtime API "+
			"(GET /2018-06-01/runtime/invocation/next), which is the init phase only. In the same run, alternating with the "+
			"functions, %d starts each of two references built by the same recipe (make build-bench-hello, build-bench-floor): "+
			"*hello world* (bench/hello: lambda.Start of a trivial handler) and the *SDK floor* (bench/floor: hello world plus "+
			"config.LoadDefaultConfig plus the same SDK service clients the function builds, picked with floor_* build tags "+
			"from `go list -deps`). Every process gets the function's environment as the local cloud gives it "+
			"(template.yaml, the role's credentials, endpoints), and a Runtime API served by the benchmark; one warm-up round is "+
			"not counted. Target: ≤ 1.1× the SDK floor.\n\nCommand: `go run ./bench -only startup` (part of `make bench`).", starts))
	hs := statsOf(hello.starts)
	r.line("| bootstrap | SDK clients beyond config | median | p10 | p90 | × hello world | × SDK floor (its median) | target ≤ 1.1× floor |")
	r.line("|---|---|---|---|---|---|---|---|")
	r.line("| hello world (reference) | none | %s | %s | %s | 1.00 | | |", ms(hs.median), ms(hs.p10), ms(hs.p90))
	for _, t := range sortedKeys(floors) {
		s := statsOf(floors[t].starts)
		r.line("| SDK floor (reference) | %s | %s | %s | %s | %.2f | | |", clientsOf(t), ms(s.median), ms(s.p10), ms(s.p90),
			float64(s.median)/float64(hs.median))
	}
	for _, f := range fns {
		s := statsOf(f.fn.starts)
		fl := statsOf(f.floor.starts)
		ratio := float64(s.median) / float64(fl.median)
		r.line("| %s | %s | %s | %s | %s | %.2f | %.2f (%s) | %s |", f.id, clientsOf(f.tags), ms(s.median), ms(s.p10), ms(s.p90),
			float64(s.median)/float64(hs.median), ratio, ms(fl.median), r.verdict(ratio <= 1.1))
	}

	r.line("\nWhat each function initialises beyond its floor: the Go runtime's own per-package init times " +
		"(GODEBUG=inittrace=1, median of 9 starts each) of the packages the function initialises and its floor does not. " +
		"Init times are only part of the difference (a larger binary also costs page faults), but they name what a function " +
		"does at start that the floor does not.\n")
	r.line("| function | init of packages the floor does not have | the largest of them |")
	r.line("|---|---|---|")
	floorInit := map[string]map[string]time.Duration{}
	for _, f := range fns {
		fi, ok := floorInit[f.tags]
		if !ok {
			if fi, err = initTimes(f.floor, 9); err != nil {
				return err
			}
			floorInit[f.tags] = fi
		}
		ft, err := initTimes(f.fn, 9)
		if err != nil {
			return err
		}
		list, own := beyondFloor(ft, fi, 3)
		r.line("| %s | %s | %s |", f.id, ms(own), list)
	}

	// Invocation latency, against the local cloud.
	r.line("\n**Invocation latency against the local cloud.** The same bootstraps, started once each with a fresh local cloud "+
		"(in-process, virtual clock, template deployed) behind their endpoints; the benchmark's Runtime API hands out the "+
		"function's events/ file (the one cmd/localcloud's TestEveryEventBehindRIE gives it), and times each invocation from "+
		"handing the event out to the answer. *First* is the first invocation after init (%d process starts: SDK clients' "+
		"first requests, connections); *warm* are the %d that follow in the same process. *Answer* is the first invocation's: "+
		"a typed error is the function's documented answer to that event on a fresh cloud, not a failure of the benchmark. "+
		"RegisterClusterFunction is first given what its step has before it in a registration (bench/realpath.go: the roles "+
		"EnsureRoles makes, the cluster's lock held by the execution, as cmd/localcloud's test sets up), and each warm invocation "+
		"a cluster of its own, so every invocation registers a cluster and stores its code.\n", starts, invokes)
	r.line("| function | event | answer | first: median | first: p99 | warm: median | warm: p99 |")
	r.line("|---|---|---|---|---|---|---|")
	for _, f := range fns {
		ev := functionEvents[f.id]
		if ev == "" {
			return fmt.Errorf("no event for %s in bench/startup.go functionEvents", f.id)
		}
		event, err := os.ReadFile(filepath.Join(root, "events", ev))
		if err != nil {
			return err
		}
		var first, warm []time.Duration
		answer := ""
		setup := functionSetup[f.id]
		for i := 0; i < starts; i++ {
			// The quota leaves room for every registration the setup lets
			// the function make.
			cl, err := app.Start(localcloud.Options{NoAgent: true, ClusterQuota: invokes + 10}, nil)
			if err != nil {
				return err
			}
			env, _ := cl.FunctionEnv(f.id)
			b := &binary{name: f.id, path: f.fn.path, env: []string{"PATH=" + os.Getenv("PATH")}}
			for k, v := range env {
				b.env = append(b.env, k+"="+v)
			}
			// A Runtime API of its own: a killed process's pending request
			// for work must not take the next process's event.
			papi, err := newRuntimeAPI()
			if err != nil {
				cl.Close()
				return err
			}
			cmd, _, err := papi.start(b)
			if err != nil {
				papi.close()
				cl.Close()
				return err
			}
			n := 1
			if i == 0 {
				n = 1 + invokes
			}
			for j := 0; j < n; j++ {
				payload := event
				if setup != nil {
					if payload, err = setup(root, cl, event, j); err != nil {
						_ = cmd.Process.Kill()
						papi.close()
						cl.Close()
						return fmt.Errorf("%s: setting up invocation %d: %w", f.id, j+1, err)
					}
				}
				res, err := papi.invoke(payload)
				if err != nil {
					_ = cmd.Process.Kill()
					papi.close()
					cl.Close()
					return fmt.Errorf("%s: invocation %d: %w", f.id, j+1, err)
				}
				if setup != nil && res.error != "" {
					_ = cmd.Process.Kill()
					papi.close()
					cl.Close()
					return fmt.Errorf("%s: invocation %d answered %s although its step was set up: the figure would time an error path", f.id, j+1, res.error)
				}
				if j == 0 {
					first = append(first, res.took)
					if answer == "" {
						answer = "success"
						if res.error != "" {
							answer = "error " + res.error
						}
					}
				} else {
					warm = append(warm, res.took)
				}
			}
			_ = cmd.Process.Kill()
			papi.close()
			cl.Close()
		}
		fs, ws := statsOf(first), statsOf(warm)
		r.line("| %s | events/%s | %s | %s | %s | %s | %s |", f.id, ev, answer, ms(fs.median), ms(fs.p99), ms(ws.median), ms(ws.p99))
	}
	return nil
}

func clientsOf(tags string) string {
	if tags == "" {
		return "none"
	}
	return strings.ReplaceAll(strings.ReplaceAll(tags, "floor_", ""), ",", ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
