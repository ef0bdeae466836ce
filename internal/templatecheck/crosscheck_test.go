package templatecheck_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var placeholderRe = regexp.MustCompile(`\$\{([^}]*)\}`)

// stateMachineDefinition is the definition text of a state machine: its
// DefinitionUri file, or its inline Definition as JSON.
func stateMachineDefinition(t *testing.T, id string, r map[string]any) string {
	t.Helper()
	props := mapAt(t, r, "Properties")
	if def, ok := props["Definition"]; ok {
		b, err := json.Marshal(def)
		if err != nil {
			t.Fatalf("%s.Definition: %v", id, err)
		}
		return string(b)
	}
	uri, ok := props["DefinitionUri"].(string)
	if !ok {
		t.Fatalf("%s: DefinitionUri is not a local path: %v", id, props["DefinitionUri"])
	}
	raw, err := os.ReadFile(filepath.Join(root, uri))
	if err != nil {
		t.Fatalf("%s: DefinitionUri: %v", id, err)
	}
	return string(raw)
}

func definitionPlaceholders(def string) map[string]bool {
	out := map[string]bool{}
	for _, m := range placeholderRe.FindAllStringSubmatch(def, -1) {
		out[m[1]] = true
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// substitutionProblems: every ${X} of each definition has a
// DefinitionSubstitution (else Step Functions gets the literal "${X}"), and
// no substitution is left unused.
func substitutionProblems(t *testing.T, m tpl) []string {
	var out []string
	sms := resourcesOfType(t, m, "AWS::Serverless::StateMachine")
	for _, id := range keys(sms) {
		used := definitionPlaceholders(stateMachineDefinition(t, id, sms[id]))
		subs := mapAt(t, sms[id], "Properties", "DefinitionSubstitutions")
		for _, k := range keys(used) {
			if _, ok := subs[k]; !ok {
				out = append(out, fmt.Sprintf("%s: its definition uses ${%s} but DefinitionSubstitutions has no %s: add it to template.yaml", id, k, k))
			}
		}
		for _, k := range keys(subs) {
			if !used[k] {
				out = append(out, fmt.Sprintf("%s: DefinitionSubstitutions.%s is never used by its definition: remove it from template.yaml, or use ${%s}", id, k, k))
			}
		}
	}
	return out
}

func TestDefinitionSubstitutionsMatchTheDefinition(t *testing.T) {
	m := load(t)
	if len(resourcesOfType(t, m, "AWS::Serverless::StateMachine")) == 0 {
		t.Skip("template.yaml has no state machine")
	}
	for _, p := range substitutionProblems(t, m) {
		t.Error(p)
	}
}

// functionOf returns the function a value designates: !GetAtt F.Arn, !Ref F,
// or a !Sub of ${F.Arn} (optionally with a :qualifier after it).
func functionOf(v any, fns map[string]map[string]any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 && ga[1] == "Arn" {
		id, _ := ga[0].(string)
		_, isFn := fns[id]
		return id, isFn
	}
	if ref, ok := m["Ref"].(string); ok {
		_, isFn := fns[ref]
		return ref, isFn
	}
	sub, _ := m["Fn::Sub"].(string)
	if l, ok := m["Fn::Sub"].([]any); ok && len(l) > 0 {
		sub, _ = l[0].(string)
	}
	if mm := regexp.MustCompile(`^\$\{([A-Za-z0-9]+)\.Arn\}(:.*)?$`).FindStringSubmatch(sub); mm != nil {
		_, isFn := fns[mm[1]]
		return mm[1], isFn
	}
	return "", false
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// invokeGrants reads a state machine's Policies: the functions it may
// invoke, and sentences about grants that are not one function of this
// template.
func invokeGrants(t *testing.T, id string, r map[string]any, fns map[string]map[string]any) (map[string]bool, []string) {
	granted := map[string]bool{}
	var bad []string
	for _, pol := range asList(mapAt(t, r, "Properties")["Policies"]) {
		pm, ok := pol.(map[string]any)
		if !ok {
			continue // a managed policy name or ARN
		}
		// SAM policy template.
		if lip, ok := pm["LambdaInvokePolicy"].(map[string]any); ok {
			name := lip["FunctionName"]
			if fn, ok := functionOf(name, fns); ok {
				granted[fn] = true
			} else {
				bad = append(bad, "LambdaInvokePolicy on something that is not a function of this template")
			}
		}
		for _, st := range asList(pm["Statement"]) {
			sm, ok := st.(map[string]any)
			if !ok || sm["Effect"] != "Allow" {
				continue
			}
			invokes := false
			for _, a := range asList(sm["Action"]) {
				s, _ := a.(string)
				switch strings.ToLower(s) {
				case "lambda:invokefunction":
					invokes = true
				case "*", "lambda:*", "lambda:invoke*":
					invokes = true
					bad = append(bad, "a wildcard action "+s+" allows invoking any function")
				}
			}
			if !invokes {
				continue
			}
			for _, res := range asList(sm["Resource"]) {
				if fn, ok := functionOf(res, fns); ok {
					granted[fn] = true
					continue
				}
				b, _ := json.Marshal(res)
				bad = append(bad, "lambda:InvokeFunction on "+string(b)+", which is not !GetAtt <Function>.Arn of this template")
			}
		}
	}
	return granted, bad
}

// invokeProblems: each state machine may invoke exactly the functions its
// definition uses. A function it uses without the grant fails the execution
// with AccessDenied; a grant it never uses is more than least privilege.
func invokeProblems(t *testing.T, m tpl) []string {
	var out []string
	fns := resourcesOfType(t, m, "AWS::Serverless::Function")
	sms := resourcesOfType(t, m, "AWS::Serverless::StateMachine")
	for _, id := range keys(sms) {
		r := sms[id]
		placeholders := definitionPlaceholders(stateMachineDefinition(t, id, r))
		uses := map[string]string{} // function → the substitution naming it
		for k, v := range mapAt(t, r, "Properties", "DefinitionSubstitutions") {
			if fn, ok := functionOf(v, fns); ok && placeholders[k] {
				uses[fn] = k
			}
		}
		granted, bad := invokeGrants(t, id, r, fns)
		for _, b := range bad {
			out = append(out, fmt.Sprintf("%s: Policies grant %s: grant exactly the functions its definition uses", id, b))
		}
		for _, fn := range keys(uses) {
			if !granted[fn] {
				out = append(out, fmt.Sprintf("%s: its definition invokes %s (${%s}) but its Policies do not allow lambda:InvokeFunction on !GetAtt %s.Arn: the execution would fail with AccessDenied", id, fn, uses[fn], fn))
			}
		}
		for _, fn := range keys(granted) {
			if _, ok := uses[fn]; !ok {
				out = append(out, fmt.Sprintf("%s: its Policies allow lambda:InvokeFunction on %s, which its definition never invokes: remove %s.Arn from the policy", id, fn, fn))
			}
		}
	}
	return out
}

func TestStateMachinesMayInvokeExactlyTheirFunctions(t *testing.T) {
	m := load(t)
	if len(resourcesOfType(t, m, "AWS::Serverless::StateMachine")) == 0 {
		t.Skip("template.yaml has no state machine")
	}
	for _, p := range invokeProblems(t, m) {
		t.Error(p)
	}
}

// invokeStatement is the first Allow statement of r's Policies with
// lambda:InvokeFunction.
func invokeStatement(t *testing.T, r map[string]any) map[string]any {
	for _, pol := range asList(mapAt(t, r, "Properties")["Policies"]) {
		pm, _ := pol.(map[string]any)
		for _, st := range asList(pm["Statement"]) {
			sm, _ := st.(map[string]any)
			for _, a := range asList(sm["Action"]) {
				if a == "lambda:InvokeFunction" {
					return sm
				}
			}
		}
	}
	t.Skip("no lambda:InvokeFunction statement to mutate")
	return nil
}

// Mutated copies of the real template: each cross-check names what is wrong.
func TestCrossChecksCatchMutations(t *testing.T) {
	base := load(t)
	if len(resourcesOfType(t, base, "AWS::Serverless::StateMachine")) == 0 {
		t.Skip("template.yaml has no state machine")
	}
	// firstInvoking: a state machine and a function substitution it uses.
	firstInvoking := func(t *testing.T, m tpl) (string, map[string]any, string, string) {
		fns := resourcesOfType(t, m, "AWS::Serverless::Function")
		sms := resourcesOfType(t, m, "AWS::Serverless::StateMachine")
		for _, id := range keys(sms) {
			used := definitionPlaceholders(stateMachineDefinition(t, id, sms[id]))
			subs := mapAt(t, sms[id], "Properties", "DefinitionSubstitutions")
			for _, k := range keys(subs) {
				if fn, ok := functionOf(subs[k], fns); ok && used[k] {
					return id, sms[id], k, fn
				}
			}
		}
		t.Skip("no state machine invokes a function")
		return "", nil, "", ""
	}
	cases := []struct {
		name   string
		check  func(*testing.T, tpl) []string
		mutate func(t *testing.T, m tpl) []string // returns the words the problem must hold
	}{
		{"a placeholder without substitution", substitutionProblems, func(t *testing.T, m tpl) []string {
			id, r, k, _ := firstInvoking(t, m)
			delete(mapAt(t, r, "Properties", "DefinitionSubstitutions"), k)
			return []string{id, "${" + k + "}", "has no " + k}
		}},
		{"an unused substitution", substitutionProblems, func(t *testing.T, m tpl) []string {
			id, r, _, _ := firstInvoking(t, m)
			mapAt(t, r, "Properties", "DefinitionSubstitutions")["NobodyUsesThis"] = "x"
			return []string{id, "DefinitionSubstitutions.NobodyUsesThis is never used"}
		}},
		{"a used function not granted", invokeProblems, func(t *testing.T, m tpl) []string {
			id, r, _, fn := firstInvoking(t, m)
			st := invokeStatement(t, r)
			var keep []any
			fns := resourcesOfType(t, m, "AWS::Serverless::Function")
			for _, res := range asList(st["Resource"]) {
				if f, _ := functionOf(res, fns); f != fn {
					keep = append(keep, res)
				}
			}
			st["Resource"] = keep
			return []string{id, "invokes " + fn, "do not allow lambda:InvokeFunction"}
		}},
		{"a granted function never used", invokeProblems, func(t *testing.T, m tpl) []string {
			id, r, _, _ := firstInvoking(t, m)
			st := invokeStatement(t, r)
			m["Resources"].(map[string]any)["UnusedExtraFunction"] = map[string]any{"Type": "AWS::Serverless::Function", "Properties": map[string]any{}}
			st["Resource"] = append(asList(st["Resource"]), map[string]any{"Fn::GetAtt": []any{"UnusedExtraFunction", "Arn"}})
			return []string{id, "on UnusedExtraFunction, which its definition never invokes"}
		}},
		{"a wildcard resource", invokeProblems, func(t *testing.T, m tpl) []string {
			id, r, _, _ := firstInvoking(t, m)
			st := invokeStatement(t, r)
			st["Resource"] = append(asList(st["Resource"]), "*")
			return []string{id, `lambda:InvokeFunction on "*"`}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := deepCopy(base).(map[string]any)
			want := c.mutate(t, m)
			ps := c.check(t, m)
			for _, p := range ps {
				if containsAll(p, want) {
					t.Log(p)
					return
				}
			}
			t.Errorf("no problem holds %q; got:\n%s", want, strings.Join(ps, "\n"))
		})
	}
}
