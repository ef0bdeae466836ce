package templatecheck_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/templatecheck"
)

// The SAM schema takes seconds to compile: once per test binary.
var (
	schemaOnce      sync.Once
	schemaValidator *templatecheck.SchemaValidator
	schemaErr       error
)

func validator(t *testing.T) *templatecheck.SchemaValidator {
	t.Helper()
	schemaOnce.Do(func() { schemaValidator, schemaErr = templatecheck.NewSchemaValidator() })
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schemaValidator
}

func validate(t *testing.T, m map[string]any) []templatecheck.SchemaProblem {
	t.Helper()
	ps, err := validator(t).ValidateTemplate(m)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// Every resource of template.yaml (and Globals.Function) against
// #/definitions/<its Type> of goformation's SAM schema.
func TestTemplateMatchesTheSAMSchema(t *testing.T) {
	m := load(t)
	for _, p := range validate(t, m) {
		t.Errorf("template.yaml: %s", p)
	}
	if n := len(mapAt(t, m, "Resources")); n == 0 {
		t.Fatal("template.yaml has no resources")
	}
}

// deepCopy copies what Load returns.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, c := range x {
			m[k] = deepCopy(c)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, c := range x {
			l[i] = deepCopy(c)
		}
		return l
	}
	return v
}

// firstOfType is the alphabetically first resource of the type.
func firstOfType(t *testing.T, m tpl, typ, needs string) (string, map[string]any) {
	t.Helper()
	rs := resourcesOfType(t, m, typ)
	ids := make([]string, 0, len(rs))
	for id, r := range rs {
		if _, ok := mapAt(t, r, "Properties")[needs]; ok || needs == "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		t.Skipf("template.yaml has no %s with Properties.%s to mutate", typ, needs)
	}
	return ids[0], rs[ids[0]]
}

// A mutated copy of the real template must fail with the resource and the
// property named.
func TestSchemaNamesTheResourceAndProperty(t *testing.T) {
	base := load(t)
	if ps := validate(t, base); len(ps) > 0 {
		t.Skip("template.yaml itself fails TestTemplateMatchesTheSAMSchema")
	}
	cases := []struct {
		name   string
		typ    string
		mutate func(t *testing.T, r map[string]any)
		needs  string   // pick the first resource whose Properties has this key
		path   string   // the property path the message must name
		want   []string // further words the message must contain
	}{
		{
			name: "misspelled property", typ: "AWS::Serverless::Function",
			mutate: func(t *testing.T, r map[string]any) { mapAt(t, r, "Properties")["Runtim"] = "provided.al2023" },
			path:   "Properties.Runtim", want: []string{"not allowed", "did you mean Runtime?"},
		},
		{
			name: "wrong type", typ: "AWS::Serverless::Function",
			mutate: func(t *testing.T, r map[string]any) { mapAt(t, r, "Properties")["Timeout"] = "abc" },
			path:   "Properties.Timeout", want: []string{`a string ("abc")`, "number"},
		},
		{
			name: "missing required property", typ: "AWS::SQS::QueuePolicy",
			mutate: func(t *testing.T, r map[string]any) { delete(mapAt(t, r, "Properties"), "PolicyDocument") },
			path:   "Properties.PolicyDocument", want: []string{"required", "missing"},
		},
		{
			name: "missing required property of an alarm", typ: "AWS::CloudWatch::Alarm",
			mutate: func(t *testing.T, r map[string]any) { delete(mapAt(t, r, "Properties"), "EvaluationPeriods") },
			path:   "Properties.EvaluationPeriods", want: []string{"required", "missing"},
		},
		{
			name: "misspelled property of a state machine", typ: "AWS::Serverless::StateMachine",
			mutate: func(t *testing.T, r map[string]any) {
				p := mapAt(t, r, "Properties")
				p["DefinitionSubstitution"] = p["DefinitionSubstitutions"]
				delete(p, "DefinitionSubstitutions")
			},
			path: "Properties.DefinitionSubstitution", want: []string{"did you mean DefinitionSubstitutions?"},
		},
		{
			name: "misspelled property deep in an event", typ: "AWS::Serverless::Function", needs: "Events",
			mutate: func(t *testing.T, r map[string]any) {
				evs := mapAt(t, r, "Properties", "Events")
				if len(evs) == 0 {
					t.Skip("no Events to mutate")
				}
				for _, id := range slices.Sorted(maps.Keys(evs)) {
					props := mapAt(t, evs[id], "Properties")
					props["Patern"] = props["Pattern"]
					delete(props, "Pattern")
					return
				}
			},
			path: ".Properties.Patern", want: []string{"Events."},
		},
		{
			name: "list for a number", typ: "AWS::Logs::LogGroup",
			mutate: func(t *testing.T, r map[string]any) { mapAt(t, r, "Properties")["RetentionInDays"] = []any{30} },
			path:   "Properties.RetentionInDays", want: []string{"a list", "number"},
		},
		{
			// LoggingConfig comes from the schema overlay: its inside is checked.
			name: "misspelled property inside LoggingConfig", typ: "AWS::Serverless::Function", needs: "LoggingConfig",
			mutate: func(t *testing.T, r map[string]any) { mapAt(t, r, "Properties", "LoggingConfig")["LogFormt"] = "JSON" },
			path:   "Properties.LoggingConfig.LogFormt", want: []string{"did you mean LogFormat?"},
		},
		{
			// (CloudFormation's own PolicyDocument properties are free-form
			// objects in the schema; SAM's Policies documents are not.)
			name: "misspelled property in a SAM policy document", typ: "AWS::Serverless::Function", needs: "Policies",
			mutate: func(t *testing.T, r map[string]any) {
				pd, _ := mapAt(t, r, "Properties")["Policies"].([]any)[0].(map[string]any)
				if pd["Statement"] == nil {
					t.Skip("the first policy is not an inline document")
				}
				pd["Statment"] = pd["Statement"]
				delete(pd, "Statement")
			},
			path: "Properties.Policies[0].Statment", want: []string{"not allowed", "did you mean Statement?"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := deepCopy(base).(map[string]any)
			id, r := firstOfType(t, m, c.typ, c.needs)
			c.mutate(t, r)
			ps := validate(t, m)
			if len(ps) == 0 {
				t.Fatalf("%s: the mutated template passed the schema", id)
			}
			var msgs []string
			for _, p := range ps {
				s := p.String()
				msgs = append(msgs, s)
				if p.Resource == id && strings.Contains(s, id) && strings.Contains(s, c.path) && containsAll(s, c.want) {
					t.Logf("%s", s)
					return
				}
			}
			t.Errorf("no problem names %s and %s with %q; got:\n%s", id, c.path, c.want, strings.Join(msgs, "\n"))
		})
	}
}

// Intrinsics are not schema problems: a number property given !Ref, an
// !If between a mapping and AWS::NoValue, !Ref AWS::NoValue in a list.
func TestSchemaAcceptsIntrinsics(t *testing.T) {
	m := deepCopy(load(t)).(map[string]any)
	id, r := firstOfType(t, m, "AWS::Serverless::Function", "")
	props := mapAt(t, r, "Properties")
	props["Timeout"] = map[string]any{"Ref": "DefaultActivationTimeoutMinutes"}
	props["MemorySize"] = map[string]any{"Fn::If": []any{"IsManagedAgentRole", 512, map[string]any{"Ref": "AWS::NoValue"}}}
	props["Layers"] = []any{map[string]any{"Ref": "AWS::NoValue"}, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:lambda:x"}}
	props["Tracing"] = map[string]any{"Fn::If": []any{"IsManagedAgentRole", map[string]any{"Ref": "AWS::NoValue"}, map[string]any{"Ref": "AWS::NoValue"}}}
	for _, p := range validate(t, m) {
		t.Errorf("%s: %s", id, p)
	}
	// …but the branch of an !If is checked.
	props["MemorySize"] = map[string]any{"Fn::If": []any{"IsManagedAgentRole", "big", map[string]any{"Ref": "AWS::NoValue"}}}
	ps := validate(t, m)
	if len(ps) != 1 || !strings.Contains(ps[0].String(), "Properties.MemorySize is a string") {
		t.Errorf("a string in an !If branch of MemorySize: got %v", ps)
	}
}

// A typo in Globals is caught too, at the text level.
func TestSchemaCatchesATypoInGlobals(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "\n    Runtime: provided.al2023\n", "\n    Runtim: provided.al2023\n"
	if !strings.Contains(string(raw), from) {
		t.Skipf("template.yaml has no Globals line %q to mutate", strings.TrimSpace(from))
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(raw), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := templatecheck.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range validate(t, m) {
		if p.Resource == "Globals.Function" && strings.Contains(p.String(), "Globals.Function.Runtim") {
			t.Logf("%s", p)
			return
		}
	}
	t.Error("a misspelled Globals.Function.Runtim passed the schema")
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
