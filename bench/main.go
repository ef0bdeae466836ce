// Command bench writes BENCHMARKS.md (make bench): the registration's
// detection delay and cost on the local cloud's virtual clock, the naive
// fixed-poll design it is measured against, each function's start-up beside
// two references, its size, and how fast the local cloud and the suite are.
//
// These are benchmarks, not tests: a figure that misses its target is
// reported as a miss and never fails make test (which does not run this).
//
// Usage: go run ./bench [-o BENCHMARKS.md] [-starts 60] [-suite]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/app"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "the report to write")
	starts := flag.Int("starts", 60, "process starts per bootstrap and reference (start-up)")
	invokes := flag.Int("invokes", 200, "warm invocations per function (invocation latency)")
	suite := flag.Bool("suite", false, "also time make test from a fresh clone (cold) and again (warm): several minutes")
	only := flag.String("only", "", "comma-separated sections to run (workflow,naive,startup,size,localcloud); empty: all")
	flag.Parse()
	root := app.RepoRoot()
	want := func(s string) bool { return *only == "" || strings.Contains(","+*only+",", ","+s+",") }

	r := &report{}
	r.machine(root)
	steps := []struct {
		name string
		f    func() error
	}{
		{"workflow", func() error { return r.workflow() }},
		{"naive", func() error { return r.naive(root) }},
		{"startup", func() error { return r.startup(root, *starts, *invokes) }},
		{"size", func() error { return r.size(root) }},
		{"localcloud", func() error { return r.localcloud(root, *suite) }},
	}
	failed := false
	for _, s := range steps {
		if !want(s.name) {
			continue
		}
		began := time.Now()
		fmt.Fprintf(os.Stderr, "bench: %s...\n", s.name)
		if err := s.f(); err != nil {
			failed = true
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", s.name, err)
			r.section(s.name+" (not measured)", "")
			r.line("This section failed to run: %v", err)
		}
		fmt.Fprintf(os.Stderr, "bench: %s took %s\n", s.name, time.Since(began).Round(time.Millisecond))
	}
	if err := os.WriteFile(*out, r.bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s (%d targets missed)\n", *out, r.misses)
	if failed {
		os.Exit(1)
	}
}

// report is BENCHMARKS.md being written.
type report struct {
	b      bytes.Buffer
	misses int
}

func (r *report) bytes() []byte { return r.b.Bytes() }

func (r *report) line(format string, args ...any) { fmt.Fprintf(&r.b, format+"\n", args...) }

func (r *report) section(title, intro string) {
	r.line("\n## %s\n", title)
	if intro != "" {
		r.line("%s\n", intro)
	}
}

// verdict is "✅ met" or "❌ missed" (and counts the miss).
func (r *report) verdict(ok bool) string {
	if ok {
		return "✅"
	}
	r.misses++
	return "❌ missed"
}

func (r *report) machine(root string) {
	r.line("# Benchmarks\n")
	r.line("Written by `make bench` (`go run ./bench`, bench/); do not edit by hand. Benchmarks, not tests: a figure that")
	r.line("misses its target is marked ❌ here and never fails `make test`. Each table names the command behind it.\n")
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.Index(l, ":")+1:])
				break
			}
		}
	}
	goVersion, _ := exec.Command("go", "env", "GOVERSION").Output()
	commit, _ := exec.Command("git", "-C", root, "log", "-1", "--format=%h %cs").Output()
	r.line("| machine | |")
	r.line("|---|---|")
	r.line("| written | %s, commit %s |", time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.TrimSpace(string(commit)))
	r.line("| CPU | %s, %d logical CPUs (%s/%s) |", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	r.line("| Go | %s |", strings.TrimSpace(string(goVersion)))
	r.line("| load when started | %s (1, 5, 15 min: the machine may be shared, and wall times and start-up figures move with load) |", loadavg())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
