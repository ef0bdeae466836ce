package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

var updateReadme = flag.Bool("update-readme", false,
	"write the least-privilege table into README.md (make readme); needs the full scenario set")

// TestMain runs the scenarios, then, when every one ran and passed, compares
// the permissions they needed with what template.yaml grants
// (leastprivilege_test.go). With -run, -skip or -short only some scenarios
// run, so the comparison is skipped: it would call every grant the skipped
// scenarios need unneeded.
func TestMain(m *testing.M) {
	flag.Parse()
	update := *updateReadme || os.Getenv("UPDATE_README") == "1"
	// Every answer of every cloud this binary started was checked against
	// the AWS models; a violation no test's CheckWire caught fails the run.
	code := awsproto.WireExitCode(m.Run())
	if *updateReliability || os.Getenv("UPDATE_RELIABILITY") == "1" {
		switch {
		case code != 0:
			fmt.Fprintln(os.Stderr, "reliability: README.md not updated: a test failed")
		case !fullSweep():
			fmt.Fprintln(os.Stderr, "reliability: README.md not updated: RELIABILITY=full is not set (run `make reliability`)")
			code = 1
		default:
			if err := writeReliabilityTable(); err != nil {
				fmt.Fprintf(os.Stderr, "reliability: README.md not updated: %v\n", err)
				code = 1
			} else {
				fmt.Println("README.md: Reliability table updated")
			}
		}
	}
	if code != 0 {
		if update {
			fmt.Fprintln(os.Stderr, "least privilege: README.md not updated: a test failed")
		}
		os.Exit(code)
	}
	if partial := partialRun(); partial != "" {
		if update {
			fmt.Fprintf(os.Stderr, "least privilege: README.md not updated: %s; run `make readme` (the whole scenario set)\n", partial)
			os.Exit(1)
		}
		if testing.Verbose() {
			fmt.Printf("least privilege: not checked: %s\n", partial)
		}
		os.Exit(0)
	}
	if problems := checkLeastPrivilege(update); len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "--- FAIL: least privilege (%d problems)\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "    %s\n", p)
		}
		fmt.Println("FAIL")
		os.Exit(1)
	}
	os.Exit(0)
}

// partialRun says why not every scenario ran, or "".
func partialRun() string {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return fmt.Sprintf("-%s %q selects only some scenarios", name[len("test."):], f.Value.String())
		}
	}
	if testing.Short() {
		return "-short may skip scenarios"
	}
	return ""
}
