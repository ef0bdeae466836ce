package template

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var stateMachineProps = map[string]bool{
	"Name": true, "Type": true, "Definition": true, "DefinitionUri": true, "DefinitionSubstitutions": true,
	"Role": true, "RolePath": true, "Policies": true, "Events": true,
	"Logging": true, "Tracing": true, "Tags": true, "PropagateTags": true, "PermissionsBoundary": true,
}

// placeholders returns the [start, end) offsets of every ${...} in s.
func placeholders(s string) [][2]int {
	var out [][2]int
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return out
		}
		j += i
		k := strings.IndexByte(s[j:], '}')
		if k < 0 {
			return out
		}
		out = append(out, [2]int{j, j + k + 1})
		i = j + k + 1
	}
}

func (l *loader) stateMachine(r *resource) error {
	p, props, name, err := l.properties(r, stateMachineProps)
	if err != nil {
		return err
	}
	sm := StateMachine{LogicalID: r.id, Name: name, Arn: l.arn("states", l.o.Region, "stateMachine:"+name),
		Type: "STANDARD", DefinitionSubstitutions: map[string]string{}}
	if s, err := getString(props, "Type", p); err != nil {
		return err
	} else if s != "" {
		sm.Type = s
	}
	subs, err := getMap(props, "DefinitionSubstitutions", p)
	if err != nil {
		return err
	}
	for k, v := range subs {
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("%s.DefinitionSubstitutions.%s: expected a string, got %s", p, k, describe(v))
		}
		sm.DefinitionSubstitutions[k] = s
	}
	var text string
	def, hasDef := props["Definition"]
	uri, hasURI := props["DefinitionUri"]
	switch {
	case hasDef && hasURI:
		return fmt.Errorf("%s: Definition and DefinitionUri are exclusive", p)
	case hasDef:
		b, err := toJSON(def)
		if err != nil {
			return fmt.Errorf("%s.Definition: %v", p, err)
		}
		text = string(b)
	case hasURI:
		u, ok := uri.(string)
		if !ok {
			return fmt.Errorf("%s.DefinitionUri: only a local path is supported, got %s", p, describe(uri))
		}
		if !filepath.IsAbs(u) {
			u = filepath.Join(l.o.BaseDir, u)
		}
		b, err := os.ReadFile(u)
		if err != nil {
			return fmt.Errorf("%s.DefinitionUri: %w", p, err)
		}
		text = string(b)
	default:
		return fmt.Errorf("%s: Definition or DefinitionUri is required", p)
	}
	var b strings.Builder
	last := 0
	missing := map[string]bool{}
	for _, loc := range placeholders(text) {
		key := text[loc[0]+2 : loc[1]-1]
		b.WriteString(text[last:loc[0]])
		if v, ok := sm.DefinitionSubstitutions[key]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(text[loc[0]:loc[1]])
			missing[key] = true
		}
		last = loc[1]
	}
	b.WriteString(text[last:])
	if len(missing) > 0 {
		sm.UnresolvedPlaceholders = slices.Sorted(maps.Keys(missing))
	}
	sm.Definition = []byte(b.String())
	if !json.Valid(sm.Definition) {
		// DefinitionUri may be YAML.
		var v any
		if err := yaml.Unmarshal(sm.Definition, &v); err != nil {
			return fmt.Errorf("%s: definition is neither JSON nor YAML: %v", p, err)
		}
		if sm.Definition, err = toJSON(v); err != nil {
			return fmt.Errorf("%s: definition: %v", p, err)
		}
	}
	if sm.RoleArn, sm.PolicyDocuments, sm.ManagedPolicyArns, err = l.role(r, props, nil); err != nil {
		return err
	}
	l.out.StateMachines = append(l.out.StateMachines, sm)
	return l.samRules(r, sm.Arn, "StepFunctionsTarget")
}
