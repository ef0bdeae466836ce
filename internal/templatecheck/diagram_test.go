package templatecheck_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud/asl"
)

var updateDiagrams = flag.Bool("update-diagrams", false, "rewrite the generated state machine diagrams in the docs (make diagram)")

// The documents that embed generated diagrams. Each diagram sits between
//
//	<!-- make diagram: statemachine/<name>.asl.json -->
//	<!-- end make diagram -->
//
// and is asl.Mermaid of the definition the marker names.
var diagramDocs = []string{"README.md", "docs/statemachine.md"}

var diagramBlock = regexp.MustCompile("(?s)(<!-- make diagram: ([^ ]+) -->\n).*?(<!-- end make diagram -->)")

// TestDiagramsMatchTheDefinitions fails when an embedded diagram no longer
// matches its state machine definition; `make diagram` rewrites them.
func TestDiagramsMatchTheDefinitions(t *testing.T) {
	embedded := map[string]bool{}
	for _, doc := range diagramDocs {
		path := filepath.Join(root, doc)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		var failed bool
		out := diagramBlock.ReplaceAllStringFunc(text, func(block string) string {
			m := diagramBlock.FindStringSubmatch(block)
			def, err := os.ReadFile(filepath.Join(root, m[2]))
			if err != nil {
				t.Errorf("%s: the diagram marker names %s: %v", doc, m[2], err)
				failed = true
				return block
			}
			chart, err := asl.Mermaid(def)
			if err != nil {
				t.Errorf("%s: rendering %s: %v", doc, m[2], err)
				failed = true
				return block
			}
			embedded[m[2]] = true
			return m[1] + "```mermaid\n" + chart + "```\n" + m[3]
		})
		if out == text || failed {
			continue
		}
		if *updateDiagrams {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: diagrams rewritten", doc)
			continue
		}
		t.Errorf("%s: an embedded state machine diagram no longer matches its definition: run `make diagram`", doc)
	}
	defs, _ := filepath.Glob(filepath.Join(root, "statemachine", "*.asl.json"))
	for _, d := range defs {
		rel, _ := filepath.Rel(root, d)
		if rel = filepath.ToSlash(rel); !embedded[rel] {
			t.Errorf("%s has no generated diagram in %s", rel, strings.Join(diagramDocs, " or "))
		}
	}
}
