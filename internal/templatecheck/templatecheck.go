// Package templatecheck reads template.yaml (with its short-form intrinsics)
// and the Makefile, so tests can cross-check the packaging: build targets,
// architecture, environment, events. Only tests import it.
package templatecheck

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/platform/eks-connector-registrar/internal/cfnyaml"
)

// Load parses a CloudFormation/SAM YAML template into plain maps, slices and
// scalars with internal/cfnyaml, as the local cloud's template loader does:
// short-form intrinsics become their long form (!Ref X → {"Ref": X},
// !GetAtt A.B → {"Fn::GetAtt": [A, B]}, !Sub s → {"Fn::Sub": s}, ...), and an
// unknown tag or a duplicate key is an error.
func Load(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, _, err := cfnyaml.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Makefile is the parts of the Makefile the checks need.
type Makefile struct {
	Vars    map[string]string   // simple NAME := value / NAME = value assignments
	Targets map[string][]string // target → recipe lines
}

var (
	assignRe = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*(?::=|\?=|=)\s*(.*)$`)
	targetRe = regexp.MustCompile(`^([A-Za-z0-9_.%/-]+)\s*:([^=]|$)`)
)

// LoadMakefile reads variables, targets and their recipes.
func LoadMakefile(path string) (Makefile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Makefile{}, err
	}
	mk := Makefile{Vars: map[string]string{}, Targets: map[string][]string{}}
	current := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "\t") {
			if current != "" {
				mk.Targets[current] = append(mk.Targets[current], strings.TrimSpace(line))
			}
			continue
		}
		current = ""
		if m := assignRe.FindStringSubmatch(line); m != nil {
			mk.Vars[m[1]] = strings.TrimSpace(m[2])
			continue
		}
		if m := targetRe.FindStringSubmatch(line); m != nil {
			current = m[1]
			mk.Targets[current] = nil
		}
	}
	return mk, nil
}

// GOARCH maps a Lambda architecture to Go's name for it.
func GOARCH(lambdaArch string) string {
	switch lambdaArch {
	case "x86_64":
		return "amd64"
	case "arm64":
		return "arm64"
	}
	return ""
}
