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
