package clock

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wallClockAllowed lists the only non-test files outside cmd/ that may read
// the wall clock, and why.
var wallClockAllowed = map[string]string{
	"internal/lambdamain/lambdamain.go": "gives time.Now to the factory in Lambda, the production world's one clock",
	"localcloud/clock/clock.go":         "Real, the clock of `serve` in real-time mode",
	"localcloud/clock/start.go":         "the real now a virtual clock starts from",
	"localcloud/lambda/rie.go":          "supervises a real process behind the runtime emulator (start-up and shutdown timeouts in real time)",
}

// One clock per world: production code reads the time only through the now
// its factory is given, and the local cloud only through its Clock. A stray
// time.Now is how a test comes to depend on the calendar date: a handler on
// the wall clock beside services on the virtual one.
func TestNoWallClockOutsideTheClocks(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	checked := 0
	for _, dir := range []string{"functions", "internal", "localcloud"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(path, string(filepath.Separator)+"testdata"+string(filepath.Separator)) {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			checked++
			timePkg := ""
			for _, imp := range f.Imports {
				if imp.Path.Value == `"time"` {
					timePkg = "time"
					if imp.Name != nil {
						timePkg = imp.Name.Name
					}
				}
			}
			if timePkg == "" {
				return nil
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == timePkg {
					switch sel.Sel.Name {
					case "Now", "Since", "Until":
						if _, ok := wallClockAllowed[rel]; !ok {
							t.Errorf("%s: time.%s reads the wall clock: take the world's clock (a factory's now, clock.Clock, or the test's pinned clock)", fset.Position(sel.Pos()), sel.Sel.Name)
						}
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d files; the walk went wrong", checked)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatal("no go.mod above " + wd)
		}
	}
}
