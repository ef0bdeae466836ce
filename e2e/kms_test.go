package e2e

import (
	"testing"
	"time"

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
