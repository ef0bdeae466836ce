package lambdamain_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/lambdamain/logtest"
)

func TestLoggerTagsEveryLineWithTheRequestID(t *testing.T) {
	c := logtest.New(t)
	ctx := logtest.Invocation("req-1")
	log := lambdamain.Logger(ctx, c.Logger).With("cluster", "c1")
	log.Info("one")
	log.WithGroup("g").Warn("two", "k", "v")
	log.Error("three")
	log.InfoContext(context.Background(), "four")
	lines := c.Lines()
	if len(lines) != 4 {
		t.Fatalf("lines %q", lines)
	}
	logtest.AssertEveryLineHas(t, lines, "req-1")

	// A call that passes its own invocation context keeps it.
	c = logtest.New(t)
	lambdamain.Logger(ctx, c.Logger).InfoContext(logtest.Invocation("req-2"), "other")
	logtest.AssertEveryLineHas(t, c.Lines(), "req-2")
}

// TestHandlersLogOnlyThroughTheInvocationLogger: a handler's base logger (a
// field named Log) is read only as lambdamain.Logger(ctx, x.Log), so no line
// a handler writes misses the request id.
func TestHandlersLogOnlyThroughTheInvocationLogger(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	for _, dir := range []string{"../../internal", "../../functions"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "lambdamain") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			allowed := map[ast.Expr]bool{}
			ast.Inspect(f, func(x ast.Node) bool {
				if call, ok := x.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Logger" {
						if id, ok := sel.X.(*ast.Ident); ok && id.Name == "lambdamain" && len(call.Args) == 2 {
							allowed[call.Args[1]] = true
							n++
						}
					}
				}
				if sel, ok := x.(*ast.SelectorExpr); ok && sel.Sel.Name == "Log" && !allowed[sel] {
					if id, ok := sel.X.(*ast.Ident); ok && id.Name == "slog" {
						return true
					}
					t.Errorf("%s: %s logs without the invocation's context: use lambdamain.Logger(ctx, …)", fset.Position(sel.Pos()), types(sel))
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatal("no handler derives its logger with lambdamain.Logger; the scan is broken")
	}
}

func types(sel *ast.SelectorExpr) string {
	if id, ok := sel.X.(*ast.Ident); ok {
		return id.Name + ".Log"
	}
	return "….Log"
}
