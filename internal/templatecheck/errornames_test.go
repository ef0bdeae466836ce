package templatecheck_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// aslErrorNames collects every ErrorEquals name of statemachine/*.asl.json
// that a function raises: not States.* and not a service integration's
// (Lambda.*, EventBridge.*, Sandbox.*), which carry a dot.
func aslErrorNames(t *testing.T) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	var walk func(file string, v any)
	walk = func(file string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "ErrorEquals" {
					for _, n := range c.([]any) {
						s, base := n.(string), filepath.Base(file)
						if !strings.Contains(s, ".") && (len(names[s]) == 0 || names[s][len(names[s])-1] != base) {
							names[s] = append(names[s], base)
						}
					}
					continue
				}
				walk(file, c)
			}
		case []any:
			for _, c := range x {
				walk(file, c)
			}
		}
	}
	for _, f := range definitionFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var def any
		if err := json.Unmarshal(raw, &def); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(f, def)
	}
	return names
}

// goTypes lists every type declared in the module's Go files (tests
// included), by name, with where; errorTypes those of them that have an
// Error method, outside tests.
func goTypes(t *testing.T) (types, errorTypes map[string][]string) {
	t.Helper()
	types, errorTypes = map[string][]string{}, map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						types[ts.Name.Name] = append(types[ts.Name.Name], rel)
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil || d.Name.Name != "Error" || strings.HasSuffix(path, "_test.go") {
					continue
				}
				recv := d.Recv.List[0].Type
				if s, ok := recv.(*ast.StarExpr); ok {
					recv = s.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					errorTypes[id.Name] = append(errorTypes[id.Name], filepath.Dir(rel))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return types, errorTypes
}

// TestOneTypePerErrorName holds the rule "the Go type name is the ASL
// ErrorEquals name; one name is one type": every name a Retry or Catch
// matches is declared by exactly one Go type in the module, and no two
// error types of the product share a name (Lambda reports an error by its
// type name, so two would be one name in the state machine, the logs and
// the on-failure queues).
func TestOneTypePerErrorName(t *testing.T) {
	names := aslErrorNames(t)
	types, errorTypes := goTypes(t)
	if len(names) == 0 || len(types) == 0 {
		t.Fatalf("found %d ASL error names and %d Go types; the scan is broken", len(names), len(types))
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		if where := types[n]; len(where) != 1 {
			t.Errorf("ASL error name %s (used in %v) is declared by %d Go types, want exactly one: %v", n, names[n], len(where), where)
		}
	}
	for n, dirs := range errorTypes {
		if len(dirs) > 1 {
			t.Errorf("error type %s is declared in %d packages: %v; declare it once (internal/awserr for errors several functions share)", n, len(dirs), dirs)
		}
	}
}
