package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// zipSize is the size of a zip holding the bootstrap, deflated (what sam
// uploads for a provided.al2023 function).
func zipSize(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// owner is the dependency a symbol's package belongs to, for the breakdown.
func owner(pkg string) string {
	switch {
	case strings.HasPrefix(pkg, "github.com/platform/eks-connector-registrar"):
		return "this module"
	case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/"):
		s := strings.TrimPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/")
		if i := strings.Index(s, "/"); i >= 0 && !strings.HasPrefix(s, "internal/") {
			s = s[:i]
		}
		return "aws-sdk-go-v2/service/" + s
	case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2"):
		return "aws-sdk-go-v2 (core, config, credentials)"
	case strings.HasPrefix(pkg, "github.com/aws/smithy-go"):
		return "smithy-go"
	case strings.HasPrefix(pkg, "github.com/aws/aws-lambda-go"):
		return "aws-lambda-go"
	case !strings.Contains(strings.SplitN(pkg, "/", 2)[0], "."):
		return "Go standard library and runtime"
	default:
		return pkg
	}
}

// symbolPackage is the import path of a Go symbol name.
func symbolPackage(sym string) string {
	// github.com/a/b/c.(*T).M -> github.com/a/b/c
	slash := strings.LastIndex(sym, "/")
	rest := sym[slash+1:]
	if i := strings.Index(rest, "."); i >= 0 {
		return sym[:slash+1+i]
	}
	return sym
}

// breakdown sums the sizes `go tool nm -size` gives the symbols of an
// unstripped build, by owner.
func breakdown(bin string) (map[string]int64, int64, error) {
	out, err := exec.Command("go", "tool", "nm", "-size", bin).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("go tool nm: %v", err)
	}
	by := map[string]int64{}
	var total int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Code and read-only data only: BSS and data (a 32 MB DRBG buffer
		// among them) take no bytes in the file.
		if len(f) < 4 || !strings.Contains("TtRr", f[2]) || strings.HasPrefix(f[3], "go:") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := strings.Join(f[3:], " ")
		o := owner(symbolPackage(name))
		if strings.HasPrefix(name, "type:") {
			o = "type descriptors (all packages)"
		}
		by[o] += n
		total += n
	}
	return by, total, nil
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

func (r *report) size(root string) error {
	tmp, err := os.MkdirTemp("", "bench-size-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c, err := app.Start(localcloud.Options{NoAgent: true}, nil)
	if err != nil {
		return err
	}
	ids := []string{}
	for _, f := range c.Template.Functions {
		ids = append(ids, f.LogicalID)
	}
	c.Close()
	r.section("Size",
		"Each function's bootstrap as `sam build` produces it (make build-<LogicalId>: linux/arm64, CGO_ENABLED=0, -tags lambda.norpc, "+
			"-trimpath, -ldflags \"-s -w\"), and the deflated zip of it that is uploaded. Target: ≤ 8 MB zipped. The breakdown "+
			"sums `go tool nm -size` over the code and read-only data symbols of an unstripped build of the same code (the same flags without -ldflags \"-s -w\"), by the "+
			"dependency each symbol's package belongs to; it shows what dominates, not the exact bytes of the stripped file.\n\n"+
			"Command: `go run ./bench -only size` (part of `make bench`).")
	r.line("| function | bootstrap | zipped | target ≤ 8 MB zipped | largest dependencies (share of code and read-only data) |")
	r.line("|---|---|---|---|---|")
	for _, id := range ids {
		dir := filepath.Join(tmp, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		out, err := exec.Command("make", "--no-print-directory", "-s", "-C", root, "build-"+id, "ARTIFACTS_DIR="+dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("make build-%s: %v\n%s", id, err, out)
		}
		st, err := os.Stat(filepath.Join(dir, "bootstrap"))
		if err != nil {
			return err
		}
		z, err := zipSize(filepath.Join(dir, "bootstrap"))
		if err != nil {
			return err
		}
		full := filepath.Join(dir, "unstripped")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", full, "./functions/"+localcloud.CodeDir(id))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("unstripped build of %s: %v\n%s", id, err, out)
		}
		by, total, err := breakdown(full)
		if err != nil {
			return err
		}
		owners := sortedKeys(by)
		sort.SliceStable(owners, func(i, j int) bool { return by[owners[i]] > by[owners[j]] })
		var top []string
		for _, o := range owners[:min(5, len(owners))] {
			top = append(top, fmt.Sprintf("%s %.0f %%", o, 100*float64(by[o])/float64(total)))
		}
		r.line("| %s | %s | %s | %s | %s |", id, mb(st.Size()), mb(z), r.verdict(z <= 8e6), strings.Join(top, ", "))
	}
	return nil
}
