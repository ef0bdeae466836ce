package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/platform/eks-connector-registrar/internal/contract"
)

var deregisterCommand = command{
	name:    "deregister",
	summary: "put \"Deregister Cluster\" on the bus (stops a registration in progress); with --wait, follow it to its end",
	usage:   "deregister --cluster NAME [--reason R] [--wait]",
	examples: `  # Retire a cluster and wait until EKS, SSM and the parameters are cleaned up.
  eks-connector-registrar deregister --cluster prod-eu-1 --reason decommissioned --wait

  # Give up on a registration whose agent will never be installed.
  eks-connector-registrar deregister --cluster lab-1
`,
	run: runDeregister,
}

func runDeregister(ctx context.Context, c *runCtx, args []string) int {
	var (
		cluster, reason string
		wait            bool
	)
	if code, ok := c.parse("deregister", args, func(fs *flag.FlagSet) {
		fs.StringVar(&cluster, "cluster", "", "the connected cluster's name (required)")
		fs.StringVar(&reason, "reason", "", "why, carried into the Cluster Deregistered event")
		fs.BoolVar(&wait, "wait", false, "follow the execution until it ends; the exit status is its outcome")
	}); !ok {
		return code
	}
	d := map[string]string{"clusterName": cluster}
	if reason != "" {
		d["reason"] = reason
	}
	detail, _ := json.Marshal(d)
	if _, rej := contract.ParseDeregister(detail); rej != nil {
		c.errorf("deregister: the request was not sent: %s", rej.Message())
		return ExitUsage
	}
	cfg, st, arn, code := c.send(ctx, "deregister", contract.DetailTypeDeregister, detail, cluster,
		func(st Stack) string { return st.DeregistrationStateMachine }, contract.DeregisterPrefix)
	if code != ExitOK {
		return code
	}
	w := c.env.Stdout
	fmt.Fprint(w, removalHelp())
	if !wait {
		fmt.Fprintf(w, "Follow it:  eks-connector-registrar status --cluster %s\n", cluster)
		return ExitOK
	}
	return c.watch(ctx, cfg, st, arn, cluster, false)
}

// removalHelp says how to remove the agent from the cluster: AWS forgets the
// cluster, but what install put on it stays until removed there.
func removalHelp() string {
	return fmt.Sprintf(`The agent stays on the cluster until you remove it there (with the cluster's kubeconfig):
  installed with helm:       helm uninstall %[1]s --namespace %[2]s && kubectl delete namespace %[2]s
  installed from manifests:  kubectl delete -f <dir>/%[3]s -f <dir>/%[4]s
  without the files:         kubectl delete namespace %[2]s && kubectl delete clusterrolebinding %[5]s %[6]s %[7]s && kubectl delete clusterrole %[5]s %[6]s %[7]s
`, helmRelease, agentNamespace, agentManifestFile, consoleManifestFile, metaAccessName, impersonateName, consoleAccessName)
}
