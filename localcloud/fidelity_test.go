package localcloud_test

import (
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sourceKinds are the ways a ledger row may name its evidence (FIDELITY.md's
// legend), each by the words that mark it. A row may name several.
var sourceKinds = []struct {
	kind  string
	marks []string
}{
	{"SAR", []string{"sar", "authorization reference"}},
	{"model", []string{"model"}},
	{"doc", []string{"doc:", "(doc,"}},
	{"public source", []string{"source:", " source (", "source code"}},
	{"observed", []string{"observed"}},
	{"eks-connector.md", []string{"eks-connector.md"}},
	{"issue thread", []string{"issue"}},
	{"assumption, unverified", []string{"assumption", "unverified"}},
	{"contradicted / not checked", []string{"contradicted", "not checked"}},
}

var separatorRow = regexp.MustCompile(`^\|[-| :]+\|$`)

// Every behaviour in the fidelity ledger names its evidence or says it is
// an unverified assumption (FIDELITY.md); -v prints the counts by kind.
func TestFidelityLedger(t *testing.T) {
	raw, err := os.ReadFile("FIDELITY.md")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	rows, section := 0, ""
	inTable := false
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
		}
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		if !inTable { // the header row
			inTable = true
			continue
		}
		if separatorRow.MatchString(line) || section == "" || section == "Counts" {
			continue // the legend above the first section, and the counts
		}
		rows++
		low := strings.ToLower(line)
		named := false
		for _, k := range sourceKinds {
			for _, m := range k.marks {
				if strings.Contains(low, m) {
					counts[k.kind]++
					named = true
					break
				}
			}
		}
		if !named {
			t.Errorf("FIDELITY.md:%d (%s) names no source and is not marked \"assumption, unverified\": %.120s", i+1, section, line)
		}
	}
	if rows < 100 {
		t.Fatalf("read %d ledger rows; the tables were not found", rows)
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return counts[kinds[i]] > counts[kinds[j]] })
	var b strings.Builder
	for _, k := range kinds {
		b.WriteString("\n  " + k + ": " + strconv.Itoa(counts[k]))
	}
	t.Logf("%d ledger rows; rows naming each kind of evidence (a row may name several):%s", rows, b.String())
}
