package templatecheck_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/platform/eks-connector-registrar/internal/contract"
	"github.com/platform/eks-connector-registrar/internal/templatecheck"
)

const root = "../.."

type tpl = map[string]any

func load(t *testing.T) tpl {
	t.Helper()
	m, err := templatecheck.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mapAt(t *testing.T, m any, path ...string) map[string]any {
	t.Helper()
	cur := m
	for _, p := range path {
		if cur == nil {
			return nil
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a mapping", strings.Join(path, "."))
		}
		cur = mm[p]
	}
	out, _ := cur.(map[string]any)
	return out
}

func resourcesOfType(t *testing.T, m tpl, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range mapAt(t, m, "Resources") {
		if rm, ok := r.(map[string]any); ok && rm["Type"] == typ {
			out[id] = rm
		}
	}
	return out
}

// docFunctions reads the LogicalId → functions/<dir> table of docs/functions.md.
func docFunctions(t *testing.T) map[string]string {
	raw, err := os.ReadFile(filepath.Join(root, "docs", "functions.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\|\s*(\w+Function)\s*\|\s*(functions/[a-z-]+)\s*\|`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestEveryFunctionIsBuiltByItsMakefileTarget(t *testing.T) {
	m := load(t)
	mk, err := templatecheck.LoadMakefile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	fns := resourcesOfType(t, m, "AWS::Serverless::Function")
	docs := docFunctions(t)
	if len(fns) != len(docs) {
		t.Errorf("template has %d functions, docs/functions.md lists %d", len(fns), len(docs))
	}
	for id, r := range fns {
		if bm := mapAt(t, r, "Metadata")["BuildMethod"]; bm != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod is %v, want makefile", id, bm)
		}
		if cu := mapAt(t, r, "Properties")["CodeUri"]; cu != "." {
			t.Errorf("%s: CodeUri is %v, want . (build in source from the module root)", id, cu)
		}
		recipe, ok := mk.Targets["build-"+id]
		if !ok {
			t.Errorf("Makefile has no build-%s target: sam build would fail", id)
			continue
		}
		dir, ok := docs[id]
		if !ok {
			t.Errorf("%s is not in docs/functions.md", id)
			continue
		}
		joined := strings.Join(recipe, "\n")
		if !strings.Contains(joined, "./"+dir) || !strings.Contains(joined, "$(GO_LAMBDA_BUILD)") {
			t.Errorf("build-%s recipe %q does not build ./%s with $(GO_LAMBDA_BUILD)", id, joined, dir)
		}
	}
	build := strings.ReplaceAll(mk.Vars["GO_LAMBDA_BUILD"], "$(GO_LAMBDA_FLAGS)", mk.Vars["GO_LAMBDA_FLAGS"])
	// make test builds everything for this host with the flags that change
	// how a package compiles in a bootstrap (HOST_FLAGS), so the tests, vet
	// and the bootstraps the tests build share one compile of each package.
	// A flag added to one and not the other would compile the SDK twice.
	host := mk.Vars["HOST_FLAGS"]
	for _, pair := range [][2]string{{"CGO_ENABLED=0", "CGO_ENABLED=0"}, {"-trimpath", "-trimpath"}, {"-tags lambda.norpc", "-tags=lambda.norpc"}} {
		if strings.Contains(build, pair[0]) != strings.Contains(host, pair[1]) {
			t.Errorf("GO_LAMBDA_BUILD %q and HOST_FLAGS %q disagree on %s: make test would compile every package twice", build, host, pair[0])
		}
	}
	linkOnly := regexp.MustCompile(`-ldflags\s+"[^"]*"`) // link flags do not change a package's compile
	for _, f := range strings.Fields(linkOnly.ReplaceAllString(mk.Vars["GO_LAMBDA_FLAGS"], "")) {
		if strings.HasPrefix(f, "-") && f != "-tags" && f != "-trimpath" {
			t.Errorf("GO_LAMBDA_FLAGS has %s, which HOST_FLAGS does not carry: add it there too (or here, if it only affects the link)", f)
		}
	}
	for _, flag := range []string{"CGO_ENABLED=0", "GOOS=$(GOOS)", "GOARCH=$(GOARCH)", "-tags lambda.norpc", "-trimpath", `-ldflags "-s -w"`, `$(ARTIFACTS_DIR)/bootstrap`} {
		if !strings.Contains(build, flag) {
			t.Errorf("GO_LAMBDA_BUILD %q lacks %s", build, flag)
		}
	}
	if mk.Vars["GOOS"] != "linux" {
		t.Errorf("GOOS is %q, want linux", mk.Vars["GOOS"])
	}
}

func TestMakefileGOARCHMatchesTheTemplate(t *testing.T) {
	m := load(t)
	mk, err := templatecheck.LoadMakefile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	archs, _ := mapAt(t, m, "Globals", "Function")["Architectures"].([]any)
	if len(archs) != 1 {
		t.Fatalf("Globals.Function.Architectures is %v, want exactly one", archs)
	}
	want := templatecheck.GOARCH(archs[0].(string))
	if got := mk.Vars["GOARCH"]; got != want {
		t.Fatalf("Makefile GOARCH is %q but template.yaml Architectures is %v (GOARCH %q): the binaries would not start", got, archs, want)
	}
	for id, r := range resourcesOfType(t, m, "AWS::Serverless::Function") {
		if _, ok := mapAt(t, r, "Properties")["Architectures"]; ok {
			t.Errorf("%s sets its own Architectures; the Makefile builds one architecture for all", id)
		}
	}
	if g := mapAt(t, m, "Globals", "Function"); g["Runtime"] != "provided.al2023" || g["Handler"] != "bootstrap" {
		t.Errorf("Globals.Function Runtime/Handler = %v/%v", g["Runtime"], g["Handler"])
	}
}

func TestEveryFunctionHasItsOwnLogGroup(t *testing.T) {
	m := load(t)
	groups := resourcesOfType(t, m, "AWS::Logs::LogGroup")
	for id, r := range resourcesOfType(t, m, "AWS::Serverless::Function") {
		lc := mapAt(t, r, "Properties", "LoggingConfig")
		ref, _ := lc["LogGroup"].(map[string]any)
		name, _ := ref["Ref"].(string)
		g, ok := groups[name]
		if !ok {
			t.Errorf("%s: LoggingConfig.LogGroup does not Ref a log group of this template", id)
			continue
		}
		if _, ok := mapAt(t, g, "Properties")["RetentionInDays"]; !ok {
			t.Errorf("%s: no RetentionInDays", name)
		}
		if lc["LogFormat"] != "JSON" {
			t.Errorf("%s: LogFormat %v", id, lc["LogFormat"])
		}
	}
}

// Every ARN uses the stack's partition (aws, aws-cn, aws-us-gov): in the
// template through ${AWS::Partition}, in the definitions through the
// ${Partition} substitution.
func TestNoHardCodedPartition(t *testing.T) {
	defs, err := filepath.Glob(filepath.Join(root, "statemachine", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{filepath.Join(root, "template.yaml")}, defs...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for i, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, "arn:aws:") || strings.Contains(line, "arn:aws-") {
				t.Errorf("%s:%d hard-codes a partition (use ${AWS::Partition} or the ${Partition} substitution): %s", rel, i+1, strings.TrimSpace(line))
			}
		}
	}
}

func TestEveryParameterIsUsed(t *testing.T) {
	m := load(t)
	used := map[string]bool{}
	subVar := regexp.MustCompile(`\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}`)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "Ref" {
					if s, ok := c.(string); ok {
						used[s] = true
					}
				}
				if k == "Fn::Sub" {
					s, _ := c.(string)
					if l, ok := c.([]any); ok && len(l) > 0 {
						s, _ = l[0].(string)
					}
					for _, mm := range subVar.FindAllStringSubmatch(s, -1) {
						used[mm[1]] = true
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(m["Resources"])
	walk(m["Outputs"])
	walk(m["Globals"])
	walk(m["Conditions"])
	for name := range mapAt(t, m, "Parameters") {
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
}

// declaredEnv is Globals.Function.Environment merged with the function's.
func declaredEnv(t *testing.T, m tpl, fn map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range mapAt(t, m, "Globals", "Function", "Environment", "Variables") {
		out[k] = true
	}
	for k := range mapAt(t, fn, "Properties", "Environment", "Variables") {
		out[k] = true
	}
	return out
}

func TestEnvJSONOverridesOnlyDeclaredVariables(t *testing.T) {
	m := load(t)
	raw, err := os.ReadFile(filepath.Join(root, "events", "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	fns := resourcesOfType(t, m, "AWS::Serverless::Function")
	for id, fn := range fns {
		vars, ok := env[id]
		if !ok {
			t.Errorf("events/env.json has no entry for %s", id)
			continue
		}
		declared := declaredEnv(t, m, fn)
		for k := range vars {
			// sam local invoke --env-vars only overrides variables the
			// template declares; anything else is silently ignored.
			if !declared[k] {
				t.Errorf("events/env.json %s.%s is not declared in template.yaml, so sam local invoke ignores it", id, k)
			}
		}
		for _, svc := range []string{"EKS", "IAM", "SSM", "SFN", "EVENTBRIDGE", "STS"} {
			if !declared["AWS_ENDPOINT_URL_"+svc] {
				t.Errorf("%s does not declare AWS_ENDPOINT_URL_%s", id, svc)
			}
		}
	}
	for id := range env {
		if _, ok := fns[id]; !ok {
			t.Errorf("events/env.json names %s, which is not a function of the template", id)
		}
	}
}

// The EventBridge events in events/ go through the contract the trigger
// applies; the invalid ones are rejected for the field their name promises.
func TestEventFilesAgainstTheContract(t *testing.T) {
	m := load(t)
	source, _ := mapAt(t, m, "Parameters", "EventSource")["Default"].(string)
	rejectedField := map[string]string{
		"invalid-register-dotted-name.json":     "clusterName",
		"invalid-register-bad-provider.json":    "provider",
		"invalid-register-sts-session-arn.json": "consoleAccessArns[0]",
	}
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	seen := map[string]bool{}
	for _, f := range files {
		base := filepath.Base(f)
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(raw, &probe); err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		if _, isEnvelope := probe["detail-type"]; !isEnvelope {
			continue // a step payload or env.json
		}
		if src := string(probe["source"]); strings.HasPrefix(src, `"aws.`) {
			continue // an AWS service's event (the Cleanup function's input), not a request
		}
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		seen[ev.DetailType] = true
		if ev.Source != source || ev.ID == "" || ev.Version != "0" || ev.AccountID == "" || ev.Region == "" || ev.Time.IsZero() {
			t.Errorf("%s: not a full EventBridge envelope from %q: %+v", base, source, ev)
		}
		var rej *contract.Rejection
		switch ev.DetailType {
		case contract.DetailTypeRegister:
			_, rej = contract.ParseRegister(ev.Detail, 4320)
		case contract.DetailTypeDeregister:
			_, rej = contract.ParseDeregister(ev.Detail)
		default:
			t.Errorf("%s: detail-type %q is not one the rule matches", base, ev.DetailType)
			continue
		}
		want, invalid := rejectedField[base]
		switch {
		case invalid && rej == nil:
			t.Errorf("%s: accepted, want rejection of %s", base, want)
		case invalid && rej.Field != want:
			t.Errorf("%s: rejected %s (%s), want %s", base, rej.Field, rej.Message(), want)
		case !invalid && rej != nil:
			t.Errorf("%s: rejected: %s", base, rej.Message())
		case !invalid && strings.HasPrefix(base, "invalid-"):
			t.Errorf("%s: add the field it must be rejected for to this test", base)
		}
	}
	for _, dt := range []string{contract.DetailTypeRegister, contract.DetailTypeDeregister} {
		if !seen[dt] {
			t.Errorf("events/ has no %q envelope", dt)
		}
	}
}

func TestTriggerHasAnAsyncFailureDestination(t *testing.T) {
	m := load(t)
	trigger := mapAt(t, m, "Resources", "TriggerFunction")
	if _, ok := mapAt(t, trigger, "Properties")["EventInvokeConfig"]; !ok {
		t.Error("TriggerFunction has no EventInvokeConfig: async failures would vanish")
	}
}
