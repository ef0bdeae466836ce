package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/contract/badevents"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// README.md's "Reliability" table: each suite `make reliability` runs, the
// cases it ran, the cases that held, and the leaks the end checks found.
// `make reliability` (RELIABILITY=full, -update-reliability) writes it after
// a run in which every test passed. The runs are seeded and each case's
// verdict is a pass or a fail, so the figures repeat: make test checks that
// the table's cases match what the suites now run, and that every case held
// with no leak (TestReliabilityTableIsCurrent).

var updateReliability = flag.Bool("update-reliability", false,
	"write the Reliability table into README.md (make reliability); needs RELIABILITY=full")

// reliabilitySuite is one row of the table.
type reliabilitySuite struct {
	key, name, what string
}

// The suites, in the table's order.
var reliabilitySuites = []reliabilitySuite{
	{"faultsweep", "Fault sweep", fmt.Sprintf("%d scenarios × %d seeds, %.0f %% of every call failing (throttling, 5xx, and for the functions' calls hangs beyond the SDK's attempt timeout); each run held to its fault-free outcome",
		len(sweepScenarios()), len(sweepSeeds), sweepRate*100)},
	{"retrybudget", "Retry budget", fmt.Sprintf("%d seeds: CheckActivation's DescribeCluster fails long enough to run the SDK's retry budget dry (ratelimit.QuotaExceededError, reported as TransientAWSError), within the state machine's retries; each run held to its fault-free outcome",
		len(sweepSeeds))},
	{"crashsweep", "Crash sweep", "a function's process dies right after, or right before, each AWS write of a crash-free run (registration, compensation, deregistration); each run held to the crash-free end state"},
	{"badinput", "Bad input", fmt.Sprintf("malformed events through the bus (seed %d): one Registration Rejected each, naming the field and rule; no write to IAM, EKS or SSM", badInputSeed)},
	{"manyclusters", "Many clusters", "100 clusters registering at once, quota raised: a case is a cluster registered"},
	{"quota", "Quota", "12 clusters at once, registered-clusters quota 10: a case is a cluster registered or failed naming the quota"},
}

// reliabilityFigures are one suite's counts.
type reliabilityFigures struct{ run, held, leaks int }

var reliabilityResults = struct {
	sync.Mutex
	m map[string]*reliabilityFigures
}{m: map[string]*reliabilityFigures{}}

func recordReliability(suite string, run, held, leaks int) {
	reliabilityResults.Lock()
	defer reliabilityResults.Unlock()
	f := reliabilityResults.m[suite]
	if f == nil {
		f = &reliabilityFigures{}
		reliabilityResults.m[suite] = f
	}
	f.run += run
	f.held += held
	f.leaks += leaks
}

// countCase records this test's run as one case of suite once its end
// checks ran: it held if the test passed (outcome, leak check, secret scan).
func (e *env) countCase(suite string) {
	e.onEnd(func(leaks int) {
		held := 0
		if !e.t.Failed() {
			held = 1
		}
		recordReliability(suite, 1, held, leaks)
	})
}

const (
	reliabilityBegin = "<!-- make reliability: table -->"
	reliabilityEnd   = "<!-- end make reliability -->"
)

// reliabilityTable renders figures (by suite key) as Markdown.
func reliabilityTable(figs map[string]reliabilityFigures) string {
	var b strings.Builder
	b.WriteString("| Suite | What a case is | Cases run | Cases held | Leaks found |\n|---|---|---:|---:|---:|\n")
	for _, s := range reliabilitySuites {
		f := figs[s.key]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", s.name, s.what, f.run, f.held, f.leaks)
	}
	return b.String()
}

// writeReliabilityTable is called by TestMain after a full run in which
// every test passed; with -update-reliability it writes the table.
func writeReliabilityTable() error {
	reliabilityResults.Lock()
	figs := map[string]reliabilityFigures{}
	for k, f := range reliabilityResults.m {
		figs[k] = *f
	}
	reliabilityResults.Unlock()
	for _, s := range reliabilitySuites {
		if figs[s.key].run == 0 {
			return fmt.Errorf("suite %s did not run: run `make reliability` (every suite)", s.name)
		}
	}
	path := filepath.Join(app.RepoRoot(), "README.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text, err := withReliabilityTable(string(raw), reliabilityTable(figs))
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

func withReliabilityTable(readme, table string) (string, error) {
	i, j := strings.Index(readme, reliabilityBegin), strings.Index(readme, reliabilityEnd)
	if i < 0 || j < i {
		return "", errors.New("README.md has no " + reliabilityBegin + " … " + reliabilityEnd + " markers in its Reliability section")
	}
	return readme[:i+len(reliabilityBegin)] + "\n" + table + readme[j:], nil
}

// readReliabilityTable parses the table README.md holds.
func readReliabilityTable(readme string) (map[string]reliabilityFigures, error) {
	i, j := strings.Index(readme, reliabilityBegin), strings.Index(readme, reliabilityEnd)
	if i < 0 || j < i {
		return nil, errors.New("README.md has no " + reliabilityBegin + " … " + reliabilityEnd + " markers")
	}
	byName := map[string]string{}
	for _, s := range reliabilitySuites {
		byName[s.name] = s.key
	}
	out := map[string]reliabilityFigures{}
	for _, line := range strings.Split(readme[i+len(reliabilityBegin):j], "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		key, ok := byName[cells[0]]
		if !ok || len(cells) != 5 {
			continue
		}
		var n [3]int
		for k, c := range cells[2:] {
			v, err := strconv.Atoi(c)
			if err != nil {
				return nil, fmt.Errorf("row %s: %q is not a count", cells[0], c)
			}
			n[k] = v
		}
		out[key] = reliabilityFigures{n[0], n[1], n[2]}
	}
	return out, nil
}

// The committed table is current: the cases it counts are the cases the
// suites run now (the fault sweep's matrix, the writes of the crash sweep's
// crash-free runs, the bad-input count, the cluster counts), every case held
// and no leak was found. A change to a suite that changes its cases, without
// `make reliability`, fails here.
func TestReliabilityTableIsCurrent(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(app.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readReliabilityTable(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	crashCases := 0
	for _, b := range crashBases() {
		t.Run("crash-free-"+b.name, func(t *testing.T) {
			_, points, _ := runCrashCell(t, b, nil, false)
			crashCases += 2 * len(points) // after and before each write
		})
	}
	want := map[string]int{
		"faultsweep":   len(sweepScenarios()) * len(sweepSeeds),
		"retrybudget":  len(sweepSeeds),
		"crashsweep":   crashCases,
		"badinput":     len(badevents.Generate(badInputSeed, badInputCount)),
		"manyclusters": 100,
		"quota":        12,
	}
	for _, s := range reliabilitySuites {
		f, ok := got[s.key]
		switch {
		case !ok:
			t.Errorf("README.md's Reliability table has no row %q: run `make reliability`", s.name)
		case f.run != want[s.key]:
			t.Errorf("README.md's Reliability table says %s ran %d cases; it runs %d now: run `make reliability`", s.name, f.run, want[s.key])
		case f.held != f.run || f.leaks != 0:
			t.Errorf("README.md's Reliability table says %s held %d of %d cases with %d leaks: every case must hold with no leak", s.name, f.held, f.run, f.leaks)
		}
	}
}
