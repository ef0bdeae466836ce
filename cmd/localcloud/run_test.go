package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud"
)

// `make run` for every scenario: the run ends as the scenario must (run
// returns an error otherwise, which main turns into exit status 1), the
// timeline shows the story in order, and no activation code the cloud issued
// appears in what it prints.
func TestRunEveryScenario(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		story    []string // substrings the timeline shows, in this order
	}{
		{"connects", []string{
			"scenario \"connects\"", "★ Register Cluster clusterName=prod-eu-1", "▶ EnsureRoles", "eks:RegisterCluster",
			"★ Activation Ready", "helm upgrade --install eks-connector", "cluster (agent)", "▶ CompleteRegistration",
			"★ Cluster Registered", "outcome: execution register-prod-eu-1-", "SUCCEEDED", "kept for the connected cluster:"}},
		{"never-connects", []string{
			"★ Activation Ready", "more rounds of the same loop", "▶ ActivationTimedOut", "▶ Compensate", "eks:DeregisterCluster", "ssm:DeleteParameters",
			"★ Cluster Registration Failed", "error=ActivationTimedOut", "FAILED", "left behind: nothing"}},
		{"wrong-code", []string{
			"★ Activation Ready", "failed to register with SSM: InvalidActivation", "▶ ActivationTimedOut",
			"★ Cluster Registration Failed", "FAILED", "left behind: nothing"}},
		{"after-expiry", []string{
			"★ Activation Ready", "the manifest waits until after", "★ Cluster Registration Failed",
			"failed to register with SSM: InvalidActivation", "FAILED", "left behind: nothing"}},
		{"connects-then-lost", []string{
			"★ Activation Ready", "★ Cluster Registered", "SUCCEEDED", "kept for the connected cluster:"}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			var cloud *localcloud.Cloud
			err := runScenario([]string{"-scenario", tc.scenario}, &out, func(c *localcloud.Cloud) { cloud = c })
			text := out.String()
			if err != nil {
				t.Fatalf("run -scenario %s: %v\n%s", tc.scenario, err, text)
			}
			rest := text
			for _, s := range tc.story {
				i := strings.Index(rest, s)
				if i < 0 {
					t.Fatalf("the timeline does not show %q after what came before:\n%s", s, text)
				}
				rest = rest[i+len(s):]
			}
			codes := cloud.SSM.IssuedCodes()
			if len(codes) == 0 {
				t.Fatal("no activation code was issued")
			}
			for _, code := range codes {
				if strings.Contains(text, code) {
					t.Fatalf("the timeline prints an activation code")
				}
			}
		})
	}
}

func TestRunRefusesAnUnknownScenario(t *testing.T) {
	var out bytes.Buffer
	if err := runScenario([]string{"-scenario", "teleports"}, &out, nil); err == nil || !strings.Contains(err.Error(), `unknown scenario "teleports"`) {
		t.Fatalf("err = %v", err)
	}
}
