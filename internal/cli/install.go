package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"sigs.k8s.io/yaml"

	"github.com/platform/eks-connector-registrar/internal/contract"
	"github.com/platform/eks-connector-registrar/internal/registration"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

var installCommand = command{
	name: "install",
	summary: "write what the cluster needs to run the agent, from the activation in SSM: Helm values and the helm command, " +
		"or Kubernetes manifests (files 0600: they hold the activation code)",
	usage: "install --cluster NAME [--format helm|manifests] [--console-access ARN]... [--out DIR]",
	examples: `  # Helm: write the chart's values (with the code) and print the helm command, chart version pinned.
  eks-connector-registrar install --cluster prod-eu-1 --console-access arn:aws:iam::123456789012:role/PlatformAdmins
  helm upgrade --install eks-connector oci://public.ecr.aws/eks-connector/eks-connector-chart --version 0.0.11 \
    --namespace eks-connector --create-namespace -f eks-connector-prod-eu-1/eks-connector-values.yaml

  # Manifests: the agent's objects and the console-access RBAC, for kubectl apply.
  eks-connector-registrar install --cluster prod-eu-1 --format manifests --out ./prod-eu-1 \
    --console-access arn:aws:iam::123456789012:role/PlatformAdmins
  kubectl apply -f ./prod-eu-1/eks-connector.yaml -f ./prod-eu-1/eks-connector-console-access.yaml
`,
	run: runInstall,
}

func runInstall(ctx context.Context, c *runCtx, args []string) int {
	var (
		cluster, format, outDir       string
		chartVersion, connTag, ssmTag string
		replicas                      int
		consoles                      multi
	)
	if code, ok := c.parse("install", args, func(fs *flag.FlagSet) {
		fs.StringVar(&cluster, "cluster", "", "the connected cluster's name (required)")
		fs.StringVar(&format, "format", "helm", "helm (values file + helm command) or manifests (Kubernetes YAML)")
		fs.Var(&consoles, "console-access", "an IAM role or user ARN the EKS console may show the cluster to (repeatable; never an STS session ARN)")
		fs.StringVar(&outDir, "out", "", "directory for the files (default ./eks-connector-<cluster>); created 0700")
		fs.StringVar(&chartVersion, "chart-version", DefaultChartVersion, "the eks-connector chart version (helm)")
		fs.StringVar(&connTag, "connector-image-tag", DefaultConnectorTag, "tag of "+ConnectorImageRepo)
		fs.StringVar(&ssmTag, "ssm-agent-image-tag", DefaultSSMAgentTag, "tag of "+SSMAgentImageRepo)
		fs.IntVar(&replicas, "replicas", DefaultReplicas, "agent replicas (each registers as one managed instance)")
	}); !ok {
		return code
	}
	if rej := contract.ValidateClusterName(cluster); rej != nil {
		c.errorf("install: %s", rej.Message())
		return ExitUsage
	}
	if format != "helm" && format != "manifests" {
		c.errorf("install: --format %q: must be helm or manifests", format)
		return ExitUsage
	}
	if replicas < 1 {
		c.errorf("install: --replicas %d: at least 1", replicas)
		return ExitUsage
	}
	arns, rej := contract.ParseConsoleAccessArns(consoles)
	if rej != nil {
		c.errorf("install: --console-access: %s", rej.Message())
		return ExitUsage
	}
	if outDir == "" {
		outDir = "eks-connector-" + cluster
	}
	cfg, st, ok := c.aws(ctx)
	if !ok {
		return ExitAWSError
	}
	params := workflow.Parameters{Prefix: st.ParameterPrefix}
	client := ssm.NewFromConfig(cfg)

	// The activation record: id, expiry, Region (not secret).
	recName := params.Activation(cluster)
	rec, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(recName)})
	var nf *ssmtypes.ParameterNotFound
	if errors.As(err, &nf) {
		c.errorf("install: cluster %s has no pending activation (%s not found): either its registration has not reached "+
			"Activation Ready yet (eks-connector-registrar status --cluster %s), or its agent has already connected, or the "+
			"registration ended; to start again: eks-connector-registrar register --cluster %s --provider <P> --wait",
			cluster, recName, cluster, cluster)
		return ExitFailed
	}
	if err != nil {
		c.errorf("install: reading %s (ssm:GetParameter): %v", recName, err)
		return ExitAWSError
	}
	var act registration.Activation
	if err := json.Unmarshal([]byte(aws.ToString(rec.Parameter.Value)), &act); err != nil || act.ActivationID == "" {
		c.errorf("install: %s is not an activation record of this registrar (%v)", recName, err)
		return ExitFailed
	}
	left := act.ActivationExpiry.Sub(c.env.Now())
	if left <= 0 {
		c.errorf("install: the activation %s of cluster %s expired at %s (%s ago): SSM refuses an agent that uses it. "+
			"The workflow deregisters the cluster at its deadline; then register again (eks-connector-registrar register --cluster %s "+
			"--provider %s --wait) and install within the new activation's lifetime. To retire it now: eks-connector-registrar deregister --cluster %s",
			act.ActivationID, cluster, act.ActivationExpiry.Format(time.RFC3339), human(-left), cluster, act.Provider, cluster)
		return ExitFailed
	}
	fmt.Fprintf(c.env.Stderr, "warning: the activation of cluster %s expires at %s, in %s: the agent must connect before then.\n",
		cluster, act.ActivationExpiry.Format(time.RFC3339), human(left))

	// The code: this is the only place it leaves SSM.
	codeName := params.ActivationCode(cluster)
	got, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(codeName), WithDecryption: aws.Bool(true)})
	if errors.As(err, &nf) {
		c.errorf("install: the activation code of cluster %s is gone (%s): it is deleted once the agent has connected, or when the "+
			"registration is cleaned up; see eks-connector-registrar status --cluster %s", cluster, codeName, cluster)
		return ExitFailed
	}
	if err != nil {
		c.errorf("install: reading the activation code %s (ssm:GetParameter with decryption; with a customer key also kms:Decrypt): %v", codeName, err)
		return ExitAWSError
	}
	o := ManifestOptions{ActivationID: act.ActivationID, ActivationCode: aws.ToString(got.Parameter.Value), Region: act.Region,
		Replicas: replicas, ConnectorTag: connTag, SSMAgentTag: ssmTag, ConsoleAccessArns: arns}

	if err := os.MkdirAll(outDir, 0o700); err != nil {
		c.errorf("install: creating %s: %v", outDir, err)
		return ExitFailed
	}
	w := c.env.Stdout
	switch format {
	case "helm":
		b, err := yaml.Marshal(HelmValues(o))
		if err != nil {
			c.errorf("install: rendering the Helm values: %v", err)
			return ExitFailed
		}
		path := filepath.Join(outDir, helmValuesFile)
		if err := writeSecretFile(path, b); err != nil {
			c.errorf("install: %v", err)
			return ExitFailed
		}
		fmt.Fprintf(w, "Wrote %s (0600; it holds the activation code: delete it once the agent is installed).\n", path)
		fmt.Fprintf(w, "Install the agent (with the cluster's kubeconfig):\n")
		fmt.Fprintf(w, "  helm upgrade --install %s %s --version %s --namespace %s --create-namespace -f %s\n",
			helmRelease, ChartRef, chartVersion, agentNamespace, path)
	case "manifests":
		agent, err := RenderYAML(AgentObjects(o))
		if err != nil {
			c.errorf("install: %v", err)
			return ExitFailed
		}
		files := []string{filepath.Join(outDir, agentManifestFile)}
		if err := writeSecretFile(files[0], agent); err != nil {
			c.errorf("install: %v", err)
			return ExitFailed
		}
		if objs := ConsoleAccessObjects(arns); objs != nil {
			b, err := RenderYAML(objs)
			if err != nil {
				c.errorf("install: %v", err)
				return ExitFailed
			}
			files = append(files, filepath.Join(outDir, consoleManifestFile))
			if err := writeSecretFile(files[1], b); err != nil {
				c.errorf("install: %v", err)
				return ExitFailed
			}
		}
		fmt.Fprintf(w, "Wrote %s (0600; %s holds the activation code: delete it once the agent is installed).\n", joinList(files), files[0])
		if len(arns) == 0 {
			fmt.Fprintf(w, "No --console-access ARN: the EKS console cannot show this cluster's workloads until you give one.\n")
		}
		fmt.Fprintf(w, "Install the agent (with the cluster's kubeconfig):\n  kubectl apply")
		for _, f := range files {
			fmt.Fprintf(w, " -f %s", f)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Then follow the registration: eks-connector-registrar status --cluster %s\n", cluster)
	return ExitOK
}

// writeSecretFile writes b to path readable only by its owner, replacing a
// file left by an earlier run.
func writeSecretFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil { // a file that existed keeps its mode otherwise
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func joinList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	s := xs[0]
	for _, x := range xs[1 : len(xs)-1] {
		s += ", " + x
	}
	return s + " and " + xs[len(xs)-1]
}
