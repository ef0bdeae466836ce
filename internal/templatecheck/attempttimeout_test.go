package templatecheck_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// Every function gets SDK_ATTEMPT_TIMEOUT from template.yaml, equal to the
// default the code documents, and short enough that the SDK's 3 attempts
// end before the function's own timeout (so a call whose every attempt
// hangs fails as TransientAWSError, not Sandbox.Timedout).
func TestEveryFunctionBoundsItsAWSCallAttempts(t *testing.T) {
	tp, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Functions) == 0 {
		t.Fatal("no function in template.yaml")
	}
	for _, f := range tp.Functions {
		v, ok := f.Environment[lambdamain.AttemptTimeoutVar]
		if !ok {
			t.Errorf("%s: no %s in its environment", f.LogicalID, lambdamain.AttemptTimeoutVar)
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d != lambdamain.DefaultAttemptTimeout {
			t.Errorf("%s: %s=%q; want %s, lambdamain.DefaultAttemptTimeout", f.LogicalID, lambdamain.AttemptTimeoutVar, v, lambdamain.DefaultAttemptTimeout)
		}
		if 3*d > time.Duration(f.Timeout)*time.Second {
			t.Errorf("%s: 3 attempts of %s do not fit its timeout of %d s", f.LogicalID, d, f.Timeout)
		}
	}
}
