package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// timed runs a command and returns its wall time and CPU time (user + system,
// its children included), which shared-machine contention distorts less.
func timed(dir string, env []string, name string, args ...string) (wall, cpu time.Duration, out []byte, err error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	t0 := time.Now()
	out, err = cmd.CombinedOutput()
	wall = time.Since(t0)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return wall, cpu, out, err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func (r *report) localcloud(root string, suite bool) error {
	r.section("The local cloud and the suite", "Wall time moves with the machine's load; CPU time (user + system, children included) "+
		"much less. The load average is read when each command starts.")
	r.line("| what | command | runs | wall (median) | CPU (median) | load at start | target |")
	r.line("|---|---|---|---|---|---|---|")
	// make run, warm: once to warm the build cache, then timed.
	if _, _, out, err := timed(root, nil, "make", "-s", "run"); err != nil {
		return fmt.Errorf("make run: %v\n%s", err, out)
	}
	var walls, cpus []time.Duration
	load := loadavg()
	for i := 0; i < 5; i++ {
		w, c, out, err := timed(root, nil, "make", "-s", "run")
		if err != nil {
			return fmt.Errorf("make run: %v\n%s", err, out)
		}
		walls, cpus = append(walls, w), append(cpus, c)
	}
	w, c := statsOf(walls).median, statsOf(cpus).median
	r.line("| `make run` (scenario connects, warm build cache) | `make run` | 5 | %s | %s | %s | ≤ 3 s %s |", secs(w), secs(c), load, r.verdict(w <= 3*time.Second))
	if err := r.hundredClusters(root); err != nil {
		return err
	}
	if !suite {
		r.line("| `make test`, cold and warm | | | not measured in this run (`make bench BENCH_SUITE=1`) | | | ≤ 120 s cold |")
		return nil
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-suite-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	clone := filepath.Join(tmp, "clone")
	if out, err := exec.Command("git", "clone", "-q", root, clone).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v\n%s", err, out)
	}
	env := []string{"GOCACHE=" + filepath.Join(tmp, "gocache")}
	fmt.Fprintln(os.Stderr, "bench: make test from a fresh clone, empty build cache (a few minutes)")
	for _, kind := range []string{"cold", "warm"} {
		load := loadavg()
		w, c, out, err := timed(clone, env, "bash", ".ci/run")
		if err != nil {
			tail := string(out)
			if i := strings.LastIndex(tail[:max(0, len(tail)-3000)], "\n"); i > 0 {
				tail = tail[i:]
			}
			return fmt.Errorf(".ci/run (%s): %v\n%s", kind, err, tail)
		}
		target := "≤ 120 s " + r.verdict(w <= 120*time.Second)
		if kind == "warm" {
			target = ""
		}
		r.line("| `make test` %s (fresh clone of %s, module cache warm, build cache %s) | `git clone <repo> /tmp/b && cd /tmp/b && GOCACHE=<%s> bash .ci/run` | 1 | %s | %s | %s | %s |",
			kind, strings.TrimSpace(string(head)), map[string]string{"cold": "empty", "warm": "from the cold run"}[kind], map[string]string{"cold": "empty dir", "warm": "same dir"}[kind],
			secs(w), secs(c), load, target)
	}
	// The steps one by one need a clone without the tools the runs above
	// installed.
	clone2 := filepath.Join(tmp, "clone-phases")
	if out, err := exec.Command("git", "clone", "-q", root, clone2).CombinedOutput(); err != nil {
		return fmt.Errorf("git clone: %v\n%s", err, out)
	}
	return r.suitePhases(clone2, filepath.Join(tmp, "gocache-phases"))
}

// suitePhases runs make test's steps one after another (make test runs some
// side by side) on another empty build cache, timing each: where a cold run
// spends its time, compile against test, and the slowest packages' tests.
func (r *report) suitePhases(clone, cache string) error {
	fmt.Fprintln(os.Stderr, "bench: make test's steps one by one, empty build cache")
	r.line("\n**Where a cold `make test` spends its time.** Its steps one after another (make test runs vet beside npm ci and cfn-lint, " +
		"then the emulator's install beside the type-check, then the suite at the real now, then the two other dates side by side), " +
		"in another fresh clone with another empty build cache. " +
		"A step that compiles a package leaves it in the cache for the next (vet compiles everything the tests then only link). " +
		"Command: `make <step>` with `GOCACHE=<empty dir>`, in that order.\n")
	r.line("| step | what it does | wall | CPU | load at start |")
	r.line("|---|---|---|---|---|")
	env := []string{"GOCACHE=" + cache}
	var total, totalCPU time.Duration
	var testJSON []byte
	for _, st := range []struct{ target, what string }{
		{"test-vet", "go vet ./...: compiles every package and its tests for this host (the standard library included), runs every analyzer"},
		{"cfn-lint", "cfn-lint template.yaml"},
		{"tools", "npm ci (asl-validator), go install aws-lambda-rie (its own dependencies: vet compiled the standard library)"},
		{"test-typecheck", "scripts/typecheck: the production code and its imports type-checked for linux/arm64"},
		{"test-at-now", "go test ./... at the real now: links the test binaries, runs them"},
		{"test-at-+10y", "the dated packages ten years ahead"},
		{"test-at--1y", "the dated packages a year back"},
	} {
		load := loadavg()
		args := []string{"--no-print-directory", "-s", st.target}
		if st.target == "test-at-now" {
			args = append(args, "GOTESTFLAGS=-json")
		}
		w, c, out, err := timed(clone, env, "make", args...)
		if err != nil {
			return fmt.Errorf("make %s: %v\n%s", st.target, err, out)
		}
		if st.target == "test-at-now" {
			testJSON = out
		}
		total += w
		totalCPU += c
		r.line("| `make %s` | %s | %s | %s | %s |", st.target, st.what, secs(w), secs(c), load)
	}
	r.line("| all, one after another | | %s | %s | |", secs(total), secs(totalCPU))
	type pkgTime struct {
		pkg string
		d   time.Duration
	}
	var runs []pkgTime
	for _, line := range bytes.Split(testJSON, []byte("\n")) {
		var ev struct {
			Action, Package, Test string
			Elapsed               float64
		}
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		if ev.Test == "" && ev.Action == "pass" {
			runs = append(runs, pkgTime{ev.Package, time.Duration(ev.Elapsed * float64(time.Second))})
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].d > runs[j].d })
	var parts []string
	for _, p := range runs[:min(6, len(runs))] {
		parts = append(parts, fmt.Sprintf("%s %s", strings.TrimPrefix(p.pkg, "github.com/platform/eks-connector-registrar/"), secs(p.d)))
	}
	r.line("\nThe slowest packages' tests at the real now (go test -json, the test binary's run): %s.", strings.Join(parts, ", "))
	return nil
}

// manyLine is what e2e's TestHundredClustersRegisterConcurrently logs.
var manyLine = regexp.MustCompile(`(\d+) clusters: (\S+) real time, (\d+) AWS calls, (\d+) calls/s served`)

// hundredClusters runs e2e's 100-cluster registration (RELIABILITY=full, as
// make reliability does) three times from one test binary and reports the
// test's own figures: the real time from starting the cloud to the last
// execution's end with everything delivered, and the AWS calls served in it.
func (r *report) hundredClusters(root string) error {
	const runs = 3
	tmp, err := os.MkdirTemp("", "bench-many-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "e2e.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, "./e2e").CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c ./e2e: %v\n%s", err, out)
	}
	var walls, cpus []time.Duration
	var calls []int
	var clusters int
	load := loadavg()
	for i := 0; i < runs; i++ {
		_, c, out, err := timed(filepath.Join(root, "e2e"), []string{"RELIABILITY=full"}, bin,
			"-test.run", "^TestHundredClustersRegisterConcurrently$", "-test.v", "-test.count=1")
		if err != nil {
			return fmt.Errorf("TestHundredClustersRegisterConcurrently: %v\n%s", err, out)
		}
		m := manyLine.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("TestHundredClustersRegisterConcurrently logged no %q line:\n%s", manyLine, out)
		}
		clusters, _ = strconv.Atoi(string(m[1]))
		w, err := time.ParseDuration(string(m[2]))
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(m[3]))
		walls, cpus, calls = append(walls, w), append(cpus, c), append(calls, n)
	}
	w, c := statsOf(walls).median, statsOf(cpus).median
	sort.Ints(calls)
	n := calls[len(calls)/2]
	r.line("| %d-cluster registration: **%d AWS calls, %.0f calls/s** (e2e TestHundredClustersRegisterConcurrently: %d Register Cluster "+
		"events at one virtual instant, agents connecting over 25 virtual minutes, every execution ended; wall is the test's own "+
		"figure, CPU the whole test process's) | "+
		"`RELIABILITY=full go test -count=1 -v -run '^TestHundredClustersRegisterConcurrently$' ./e2e/` | %d | %s | %s | %s | none set |",
		clusters, n, float64(n)/w.Seconds(), clusters, runs, secs(w), secs(c), load)
	return nil
}
