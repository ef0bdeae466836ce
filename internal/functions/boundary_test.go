package functions_test

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are the import path prefixes no Lambda function may link: the
// local cloud (production never imports the emulator), the operator CLI, and
// the template, schema, YAML and Kubernetes libraries only tests and tools use.
var forbidden = []string{
	"github.com/platform/eks-connector-registrar/localcloud",
	"github.com/platform/eks-connector-registrar/internal/cli",
	"github.com/awslabs/goformation",
	"github.com/santhosh-tekuri/jsonschema",
	"gopkg.in/yaml",
	"sigs.k8s.io/yaml",
	"k8s.io/",
}

// The production boundary: what `go list -deps` says ./functions/... links,
// for the platform sam build targets (linux/arm64, the lambda.norpc tag).
func TestFunctionsDoNotLinkTheLocalCloudOrTemplateLibraries(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}", "./functions/...")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	linked := map[string]bool{}
	for _, d := range deps {
		linked[d] = true
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("./functions/... links %s (forbidden: %s)", d, f)
			}
		}
	}
	// The listing must be the real one: the runtime and the SDK are in it.
	for _, want := range []string{"github.com/aws/aws-lambda-go/lambda", "github.com/aws/aws-sdk-go-v2/service/eks", "github.com/platform/eks-connector-registrar/internal/trigger"} {
		if !linked[want] {
			t.Fatalf("go list -deps ./functions/... does not list %s: the listing is not what the functions link (%d packages)", want, len(deps))
		}
	}
}

// A function links an SDK service's types and schemas only with the service's
// client: types without a client cost start-up (their package init, a larger
// binary) for nothing the function calls. The trigger once linked the EKS
// types through internal/contract's provider list (BENCHMARKS.md, "Start-up").
func TestFunctionsLinkNoServiceTypesWithoutItsClient(t *testing.T) {
	const sdk = "github.com/aws/aws-sdk-go-v2/service/"
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./functions/...")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 7 {
		t.Fatalf("go list ./functions/... lists %d functions, want the 7 of template.yaml:\n%s", len(lines), out)
	}
	for _, line := range lines {
		deps := strings.Fields(line)
		fn, linked := deps[0], map[string]bool{}
		for _, d := range deps[1:] {
			linked[d] = true
		}
		for _, d := range deps[1:] {
			rest, ok := strings.CutPrefix(d, sdk)
			if !ok {
				continue
			}
			svc, sub, _ := strings.Cut(rest, "/")
			if (sub == "types" || sub == "schemas") && !linked[sdk+svc] {
				t.Errorf("%s links %s but not the %s client %s: an import that needs only values from the %s types (an enum list, a constant) should not bring them in", fn, d, svc, sdk+svc, svc)
			}
		}
	}
}
