package main

import (
	"bytes"
	"strings"
	"testing"
)

// A package that builds only on amd64 (its function is defined in an
// _amd64.go file) type-checks for amd64 and fails for arm64, naming the
// missing function: the check make test runs for the template's architecture
// can fail.
func TestTypeErrorsOfOneArchitectureOnly(t *testing.T) {
	var out bytes.Buffer
	if n, err := check("testdata/archonly", "linux", "amd64", []string{"."}, &out); err != nil || n < 2 {
		t.Fatalf("amd64: %d packages, %v\n%s", n, err, out.String())
	}
	out.Reset()
	_, err := check("testdata/archonly", "linux", "arm64", []string{"."}, &out)
	if err == nil || !strings.Contains(out.String(), "undefined: onlyOnAMD64") {
		t.Fatalf("arm64: err %v, output:\n%s", err, out.String())
	}
}
