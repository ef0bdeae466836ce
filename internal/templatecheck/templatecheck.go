// Package templatecheck reads template.yaml (with its short-form intrinsics)
// and the Makefile, so tests can cross-check the packaging: build targets,
// architecture, environment, events. Only tests import it.
package templatecheck

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load parses a CloudFormation/SAM YAML template into plain maps, slices and
// scalars. Short-form intrinsics become their long form: !Ref X → {"Ref": X},
// !GetAtt A.B → {"Fn::GetAtt": [A, B]}, !Sub s → {"Fn::Sub": s}, and so on.
func Load(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s: expected one YAML document", path)
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the template is not a mapping", path)
	}
	return m, nil
}

func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
		} else {
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
		return v, nil
	}
	fn := strings.TrimPrefix(n.Tag, "!")
	switch fn {
	case "Ref", "Condition":
		return map[string]any{fn: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			logical, attr, _ := strings.Cut(s, ".")
			v = []any{logical, attr}
		}
	}
	return map[string]any{"Fn::" + fn: v}, nil
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
