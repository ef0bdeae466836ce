package templatecheck_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud/asl"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// aslValidator returns node_modules/.bin/asl-validator, installed by `npm ci`
// from package-lock.json. Missing is a failure, not a skip: CI must not pass
// without the check.
func aslValidator(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(root, "node_modules", ".bin", "asl-validator"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("asl-validator is not installed (%v): run `npm ci` in the repository root (package.json pins asl-validator 4.0.0; make test / .ci/run do it)", err)
	}
	var want, got struct {
		DevDependencies map[string]string `json:"devDependencies"`
		Version         string            `json:"version"`
	}
	for path, v := range map[string]any{"package.json": &want, "node_modules/asl-validator/package.json": &got} {
		raw, err := os.ReadFile(filepath.Join(root, path))
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatalf("%s: %v (run `npm ci`)", path, err)
		}
	}
	if w := want.DevDependencies["asl-validator"]; got.Version != w {
		t.Fatalf("node_modules holds asl-validator %s but package.json pins %s: run `npm ci`", got.Version, w)
	}
	return bin
}

// runASLValidator runs asl-validator on a definition; ok is exit status 0.
func runASLValidator(t *testing.T, bin string, def []byte) (ok bool, output string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "definition.asl.json")
	if err := os.WriteFile(path, def, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--json-path", path).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, string(out)
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false, string(out)
	}
	t.Fatalf("asl-validator did not run (%v): %s (is node installed? run `npm ci`)", err, out)
	return false, ""
}

// definitionFiles lists statemachine/*.asl.json: skip if the directory does
// not exist yet, fail if it holds none.
func definitionFiles(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(root, "statemachine")
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		t.Skip("statemachine/ does not exist yet")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("statemachine/ holds no *.asl.json definition")
	}
	sort.Strings(files)
	return files
}

// resolvedDefinitions maps each statemachine/*.asl.json to its definition
// as the template deploys it: ${…} replaced by DefinitionSubstitutions
// resolved to local ARNs (localcloud/template). A file no state machine
// uses is an error.
func resolvedDefinitions(t *testing.T) map[string][]byte {
	t.Helper()
	files := definitionFiles(t)
	tp, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
	if err != nil {
		t.Fatalf("localcloud/template.Load(template.yaml): %v", err)
	}
	byFile := map[string]string{} // clean DefinitionUri → logical id
	for id, r := range resourcesOfType(t, load(t), "AWS::Serverless::StateMachine") {
		if uri, ok := mapAt(t, r, "Properties")["DefinitionUri"].(string); ok {
			byFile[filepath.Clean(uri)] = id
		}
	}
	out := map[string][]byte{}
	for _, f := range files {
		rel := filepath.Join("statemachine", filepath.Base(f))
		id, ok := byFile[rel]
		if !ok {
			t.Errorf("%s: no AWS::Serverless::StateMachine in template.yaml has DefinitionUri %s: wire it or delete it", rel, rel)
			continue
		}
		sm, ok := tp.StateMachine(id)
		if !ok {
			t.Fatalf("localcloud/template has no state machine %s", id)
		}
		if len(sm.UnresolvedPlaceholders) > 0 {
			t.Errorf("%s (%s): no DefinitionSubstitutions for %v", rel, id, sm.UnresolvedPlaceholders)
		}
		out[rel] = sm.Definition
	}
	return out
}

// asl-validator, pinned by package-lock.json, accepts every definition.
func TestASLValidatorAcceptsEveryDefinition(t *testing.T) {
	bin := aslValidator(t)
	defs := resolvedDefinitions(t)
	for _, rel := range keys(defs) {
		def := defs[rel]
		t.Run(filepath.Base(rel), func(t *testing.T) {
			t.Parallel()
			if ok, out := runASLValidator(t, bin, def); !ok {
				t.Errorf("asl-validator rejects %s (substitutions applied); Step Functions would refuse it:\n%s", rel, out)
			}
		})
	}
}

// The local engine's validation agrees with asl-validator on the real
// definitions.
func TestLocalEngineAcceptsEveryDefinition(t *testing.T) {
	defs := resolvedDefinitions(t)
	for _, rel := range keys(defs) {
		if _, err := asl.Parse(defs[rel]); err != nil {
			t.Errorf("localcloud/asl.Parse rejects %s, which asl-validator is asked to accept: %v", rel, err)
		}
	}
}

// brokenDefinition is a real definition whose first (by name) state with a
// Next points to a state that does not exist.
func brokenDefinition(t *testing.T) (rel string, def []byte) {
	t.Helper()
	defs := resolvedDefinitions(t)
	for _, rel := range keys(defs) {
		var d map[string]any
		if err := json.Unmarshal(defs[rel], &d); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		states, _ := d["States"].(map[string]any)
		for _, name := range keys(states) {
			s, _ := states[name].(map[string]any)
			if _, ok := s["Next"]; ok {
				s["Next"] = "NoSuchState"
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				return rel + " (" + name + ".Next = NoSuchState)", b
			}
		}
	}
	t.Skip("no state with a Next to break")
	return "", nil
}

// A Next to a missing state: asl-validator and the local engine both refuse.
func TestABrokenDefinitionIsRejected(t *testing.T) {
	bin := aslValidator(t)
	what, def := brokenDefinition(t)
	ok, out := runASLValidator(t, bin, def)
	if ok {
		t.Errorf("asl-validator accepts %s:\n%s", what, out)
	} else if !strings.Contains(out, "MISSING_TRANSITION_TARGET") || !strings.Contains(out, "NoSuchState") {
		t.Errorf("asl-validator rejects %s without naming the missing target:\n%s", what, out)
	}
	_, err := asl.Parse(def)
	if err == nil {
		t.Errorf("localcloud/asl.Parse accepts %s, which asl-validator rejects", what)
	} else if !strings.Contains(err.Error(), "NoSuchState") {
		t.Errorf("localcloud/asl.Parse rejects %s without naming NoSuchState: %v", what, err)
	}
}
