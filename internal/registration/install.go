package registration

import (
	"fmt"
	"strings"
)

// Helm chart of the EKS Connector agent.
const (
	ChartRef  = "oci://public.ecr.aws/eks-connector/eks-connector-chart"
	Release   = "eks-connector"
	Namespace = "eks-connector"
)

// InstallCommand is a ready-to-run command that installs the agent. It reads
// the activation code from the SecureString at run time; the code itself is
// never part of it. helm upgrade --install makes it safe to run twice.
func InstallCommand(activationID, region, codeParameter string, consoleAccessArns []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "helm upgrade --install %s %s --namespace %s --create-namespace", Release, ChartRef, Namespace)
	fmt.Fprintf(&b, " --set-string eks.activationId=%s", shellQuote(activationID))
	fmt.Fprintf(&b, " --set-string eks.agentRegion=%s", shellQuote(region))
	fmt.Fprintf(&b, ` --set-string eks.activationCode="$(aws ssm get-parameter --name %s --with-decryption --query Parameter.Value --output text --region %s)"`,
		shellQuote(codeParameter), shellQuote(region))
	if len(consoleAccessArns) > 0 {
		fmt.Fprintf(&b, " --set %s", shellQuote("authentication.allowedUserARNs={"+strings.Join(consoleAccessArns, ",")+"}"))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
