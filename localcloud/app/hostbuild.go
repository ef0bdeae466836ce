package app

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// HostBuildDir is where the tests build the functions' bootstraps for this
// host (.aws-sam-local/test-host/<LogicalId>, gitignored, beside make
// invoke's .aws-sam-local/host): a fixed directory, so go build finds an
// up-to-date bootstrap there and does not link it again.
func HostBuildDir(root, logicalID string) string {
	return filepath.Join(root, ".aws-sam-local", "test-host", logicalID)
}

// BuildHostBootstrap builds the function logicalID (template.yaml) for this
// host into HostBuildDir(root, logicalID)/bootstrap with the Makefile's own
// build-<LogicalId> recipe (GOOS and GOARCH set to the host's: the
// template's arm64 binary cannot run on an amd64 machine), so the flags cannot
// drift from what `sam build` uses. It returns the directory.
//
// Processes building the same function take turns (a lock file in the
// directory): make test runs several test binaries at once, and the second
// finds the bootstrap the first linked up to date. When the
// bootstrap comes out byte for byte as it was, its modification time is put
// back: go build touches an up-to-date output, and a test that starts the
// bootstrap stats it, so go test would otherwise see a changed input at every
// run and never reuse a cached result. It reads the Makefile (the recipes)
// and functions/ (the entry points, which a test binary does not import), so
// that go test runs the calling package's tests again when either changes.
func BuildHostBootstrap(root, logicalID string) (string, error) {
	inputs, _ := filepath.Glob(filepath.Join(root, "functions", "*", "*.go"))
	for _, f := range append(inputs, filepath.Join(root, "Makefile")) {
		if _, err := os.ReadFile(f); err != nil {
			return "", err
		}
	}
	dir := HostBuildDir(root, logicalID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", fmt.Errorf("locking %s: %w", dir, err)
	}
	defer unlock()
	boot := filepath.Join(dir, "bootstrap")
	before, beforeSum := os.FileInfo(nil), []byte(nil)
	if fi, err := os.Stat(boot); err == nil && fi.Mode().IsRegular() {
		if sum, err := fileSum(boot); err == nil {
			before, beforeSum = fi, sum
		}
	}
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+logicalID,
		"GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "ARTIFACTS_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build-%s for %s/%s: %v\n%s", logicalID, runtime.GOOS, runtime.GOARCH, err, out)
	}
	if before != nil {
		if sum, err := fileSum(boot); err == nil && bytes.Equal(sum, beforeSum) {
			if err := os.Chtimes(boot, before.ModTime(), before.ModTime()); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// fileSum is the SHA-256 of a file, read without go test noting the read
// (openUnlogged): a bootstrap built a moment ago, noted as read, would make
// the package's result uncacheable.
func fileSum(path string) ([]byte, error) {
	f, err := openUnlogged(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
