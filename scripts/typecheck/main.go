// Command typecheck type-checks packages, and every package they import, from
// source for a target GOOS/GOARCH (make test: linux/arm64, the template's
// architecture), without compiling anything.
//
// `GOARCH=arm64 go vet` did the same job by compiling the whole dependency
// graph (the AWS SDK included) for arm64 only to read its export data: about
// a minute of CPU that nothing else in make test reuses. Type errors are what
// that compile could find for pure Go code (CGO_ENABLED=0; the compiler does
// not check that a body-less function has an assembly body either, the
// linker does), so go/types over the target's file set finds the same. The
// vet analyzers run separately, on the host build (make test).
//
// Usage: go run ./scripts/typecheck -goos linux -goarch arm64 ./functions/... ./internal/...
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	goos := flag.String("goos", "linux", "target GOOS")
	goarch := flag.String("goarch", "arm64", "target GOARCH")
	dir := flag.String("C", ".", "run go list in this directory")
	flag.Parse()
	n, err := check(*dir, *goos, *goarch, flag.Args(), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "typecheck %s/%s: %v\n", *goos, *goarch, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "typecheck %s/%s: %d packages type-check\n", *goos, *goarch, n)
}

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	CgoFiles   []string
	ImportMap  map[string]string
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// check lists patterns (and their dependencies) for goos/goarch with cgo off,
// as the Lambda build does, and type-checks every package in dependency
// order. It returns how many packages it checked; type errors are written to
// w and make the error.
func check(dir, goos, goarch string, patterns []string, w io.Writer) (int, error) {
	args := append([]string{"list", "-e", "-deps", "-json=ImportPath,Dir,GoFiles,CgoFiles,ImportMap,Error,DepsErrors"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []*pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		p := new(pkg)
		if err := dec.Decode(p); err != nil {
			return 0, fmt.Errorf("reading go list: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	fset := token.NewFileSet()
	done := map[string]*types.Package{"unsafe": types.Unsafe}
	sizes := types.SizesFor("gc", goarch)
	failed := 0
	for _, p := range pkgs {
		if p.ImportPath == "unsafe" {
			continue
		}
		if p.Error != nil {
			fmt.Fprintf(w, "%s: %s\n", p.ImportPath, p.Error.Err)
			failed++
			continue
		}
		if len(p.CgoFiles) > 0 {
			fmt.Fprintf(w, "%s: has cgo files with CGO_ENABLED=0\n", p.ImportPath)
			failed++
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return 0, err
			}
			files = append(files, f)
		}
		var errs []error
		conf := types.Config{
			Sizes: sizes,
			Importer: importerFunc(func(path string) (*types.Package, error) {
				if m, ok := p.ImportMap[path]; ok {
					path = m
				}
				if t, ok := done[path]; ok {
					return t, nil
				}
				return nil, fmt.Errorf("%s is not type-checked (a dependency failed)", path)
			}),
			Error: func(err error) {
				if len(errs) < 10 {
					errs = append(errs, err)
				}
			},
		}
		t, _ := conf.Check(p.ImportPath, fset, files, nil)
		if len(errs) > 0 {
			failed++
			for _, e := range errs {
				fmt.Fprintln(w, e)
			}
			continue
		}
		done[p.ImportPath] = t
	}
	if failed > 0 {
		return len(done) - 1, fmt.Errorf("%d packages do not type-check for %s/%s", failed, goos, goarch)
	}
	if len(pkgs) == 0 {
		return 0, errors.New("no packages matched")
	}
	return len(done) - 1, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
