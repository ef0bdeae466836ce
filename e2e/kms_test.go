package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// With KmsKeyArn set, the activation code is encrypted under the customer
// key: RegisterCluster's role may use the key only through SSM (the
// template's kms:ViaService condition), and that is how SSM uses it.
func TestCustomerKeyEncryptsTheCode(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	e := start(t, localcloud.Options{
		Parameters: map[string]string{"KmsKeyArn": key},
		Agent:      agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute},
	})
	e.register("kms-01", nil)
	ex := e.waitExecution("Registration", 1)
	if ex.Status() != "SUCCEEDED" {
		errName, cause := ex.Engine().Error()
		t.Fatalf("registration %s: %s %s", ex.Status(), errName, cause)
	}
	var encrypted bool
	for _, ch := range e.c.Policies.Checks() {
		if ch.Action == "kms:Encrypt" {
			if ch.Principal != "RegisterClusterFunction" || ch.Resource != key || !ch.Allowed {
				t.Errorf("kms:Encrypt check %+v, want RegisterClusterFunction allowed on the customer key", ch)
			}
			encrypted = true
		}
		if ch.Action == "kms:Decrypt" && ch.Principal != "operator" {
			t.Errorf("%s decrypted with the key: no function may read the code", ch.Principal)
		}
	}
	if !encrypted {
		t.Error("the code was not encrypted under the customer key (no kms:Encrypt checked)")
	}
	if codes := e.c.Agent.CodesRead(); len(codes) == 1 {
		assertSecretNowhere(t, e, codes[0])
	} else {
		t.Errorf("the agent read %d codes, want 1", len(codes))
	}
}

// A key policy that denies the RegisterClusterFunction's role kms:Encrypt
// refuses every activation code. The registration fails at once, after one
// RegisterCluster, with the registration removed and a reason that names the
// key and the KmsKeyArn parameter; it does not register, lose the code and
// deregister again up to five times as a lost code would.
func TestKeyPolicyDenyingTheRoleFailsFast(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:123456789012:key/2234abcd-12ab-34cd-56ef-1234567890ab"
	e := start(t, localcloud.Options{
		Parameters: map[string]string{"KmsKeyArn": key},
		Agent:      agent.Config{Mode: agent.Connects, Delay: 3 * time.Minute},
	})
	keyPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"DenyEncrypt","Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`
	if err := e.c.Policies.SetResourcePolicy(key, "key policy", []byte(keyPolicy)); err != nil {
		t.Fatal(err)
	}
	e.register("kms-02", nil)
	ex := e.waitExecution("Registration", 1)
	mustStatus(t, ex, "FAILED")
	if n := entered(ex, "RegisterCluster"); n != 1 || entered(ex, "DiscardRegistration") != 0 {
		t.Errorf("RegisterCluster entered %d times, DiscardRegistration %d; want one registration and no retry (states %v)",
			n, entered(ex, "DiscardRegistration"), statesEntered(ex))
	}
	if f := taskFailures(ex); f["ActivationCodeStoreRefused"] != 1 {
		t.Errorf("task failures %v, want one ActivationCodeStoreRefused", f)
	}
	e.settle()
	failed := e.eventsOf("Cluster Registration Failed")
	if len(failed) != 1 {
		t.Fatalf("%d Cluster Registration Failed events", len(failed))
	}
	d := detailOf(t, failed[0])
	reason, _ := d["reason"].(string)
	for _, want := range []string{key, "KmsKeyArn", "kms:Encrypt", "registration was removed"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q does not say %q", reason, want)
		}
	}
	if d["error"] != "ActivationCodeStoreRefused" {
		t.Errorf("error %v", d["error"])
	}
	if left := ourParameters(e, "kms-02"); len(left) != 0 {
		t.Errorf("parameters left: %v", left)
	}
	if _, err := eks.NewFromConfig(e.c.ConfigFor("admin")).DescribeCluster(e.ctx(), &eks.DescribeClusterInput{Name: aws.String("kms-02")}); err == nil {
		if c := describe(t, e, "kms-02"); c.Status != ekstypes.ClusterStatusDeleting {
			t.Errorf("the registration was left behind: status %s", c.Status)
		}
	}
}
