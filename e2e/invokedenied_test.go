package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// The registration state machine's role may not invoke CheckClusterFunction
// (a policy that leaves it out). Step Functions reports Lambda's
// AccessDeniedException, which the Lambda model does not define, as
// Lambda.AWSLambdaException with the AWS SDK for Java's message as cause;
// the Retry of every Lambda task lists that name (MaxAttempts 6: retries,
// after the first attempt), so the step is tried 7 times before the Catch
// releases the lock, as on AWS. The function never
// runs, and the failure event quotes the denial.
func TestRoleThatMayNotInvokeAStepIsRetriedThenFails(t *testing.T) {
	t.Parallel()
	const anchor = "                - !GetAtt CheckClusterFunction.Arn\n" // in the InvokeOwnSteps statement
	root := app.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), anchor); n != 1 {
		t.Fatalf("template.yaml holds %q %d times; this test removes CheckClusterFunction from the registration state machine's InvokeOwnSteps and needs it once", anchor, n)
	}
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(strings.Replace(string(raw), anchor, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "statemachine"), filepath.Join(dir, "statemachine")); err != nil {
		t.Fatal(err)
	}
	e := start(t, localcloud.Options{Template: tpl})
	check, _ := e.c.Template.Function("CheckClusterFunction")

	e.register("denied-01", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	e.settle()

	if f := taskFailures(ex); len(f) != 1 || f["Lambda.AWSLambdaException"] != 7 {
		t.Errorf("task failures %v, want Lambda.AWSLambdaException 7 times (the first attempt and 6 retries)", f)
	}
	wantCause := []string{
		"is not authorized to perform: lambda:InvokeFunction on resource: " + check.Arn,
		" (Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: ",
		"; Proxy: null)",
	}
	for _, ev := range ex.Engine().History() {
		if ev.Type != "LambdaFunctionFailed" {
			continue
		}
		cause, _ := ev.Details["cause"].(string)
		for _, w := range wantCause {
			if !strings.Contains(cause, w) {
				t.Errorf("failure cause %q does not say %q", cause, w)
			}
		}
	}
	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == check.FunctionName {
			t.Errorf("CheckCluster ran (%+v); the state machine may not invoke it", inv)
		}
	}
	if errName, cause := ex.Engine().Error(); errName != "Lambda.AWSLambdaException" {
		t.Errorf("execution error %s (%s), want Lambda.AWSLambdaException", errName, cause)
	}
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events, want 1", len(failed))
	}
	d := detailOf(t, failed[0])
	reason, _ := d["reason"].(string)
	if d["error"] != "Lambda.AWSLambdaException" || !strings.Contains(reason, "not authorized to perform: lambda:InvokeFunction") {
		t.Errorf("event error %v, reason %q: want Lambda.AWSLambdaException and the denial", d["error"], reason)
	}
	t.Logf("reason: %s", reason)
	if lockHeld(e, "denied-01") {
		t.Error("the lock is still held")
	}
}
