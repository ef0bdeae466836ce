package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// localSecret is the secret printed beside every key: the local cloud reads
// only the access key id, so any secret signs.
const localSecret = "local"

// keys is `localcloud keys`: the access key id of every principal the cloud
// knows, taken from a cloud deployed as `serve` deploys it (so the names
// cannot drift from what serve maps), and for each function the
// `sam local invoke` line that signs its calls as the function's role. SAM
// resolves credentials like the AWS CLI (environment variables first) and
// passes them into the container as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
// with -profile the output is a credentials file for `--profile <LogicalId>`.
func keys(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.Bool("profile", false, "print an AWS credentials file instead, one [<name>] profile per principal, for "+
		"AWS_SHARED_CREDENTIALS_FILE=<file> sam local invoke <LogicalId> --profile <LogicalId>")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := app.Start(localcloud.Options{NoAgent: true, Addr: "127.0.0.1:0"}, io.Discard)
	if err != nil {
		return err
	}
	defer c.Close()
	creds := c.Credentials()
	if *profile {
		fmt.Fprintln(stdout, "# The local cloud's principals (go run ./cmd/localcloud keys -profile). Use with")
		fmt.Fprintln(stdout, "# AWS_SHARED_CREDENTIALS_FILE=<this file> sam local invoke <LogicalId> --profile <LogicalId> ...")
		for _, k := range creds {
			fmt.Fprintf(stdout, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\nregion = %s\n", k.Name, k.AccessKeyID, localSecret, c.Region)
		}
		return nil
	}
	fmt.Fprintf(stdout, "Access key ids of the local cloud (template.yaml, account %s, region %s). Only the key id names\n", c.Account, c.Region)
	fmt.Fprintln(stdout, "the caller; any secret works. Other keys are an administrator, or refused with serve -unknown-credentials deny.")
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tKIND\tACCESS KEY ID\tARN")
	for _, k := range creds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Kind, k.AccessKeyID, k.ARN)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "sam local invoke signed as each function's role (its template policies apply), against serve -addr 0.0.0.0:4566:")
	fmt.Fprintln(stdout)
	for _, k := range creds {
		if k.Kind != "function" {
			continue
		}
		fmt.Fprintf(stdout, "AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s sam local invoke %s --event %s --env-vars events/env.json --add-host host.docker.internal:host-gateway --region %s\n",
			k.AccessKeyID, localSecret, k.Name, eventFor(c, k.Name), c.Region)
	}
	return nil
}

// eventFor names the events/ payload for a function: the step's own
// (events/step-<code dir>.json), or, for a function an EventBridge rule
// invokes, the request that rule matches (events/register-cluster.json).
func eventFor(c *localcloud.Cloud, logicalID string) string {
	dir := filepath.Join(app.RepoRoot(), "events")
	if name := "step-" + localcloud.CodeDir(logicalID) + ".json"; exists(filepath.Join(dir, name)) {
		return "events/" + name
	}
	if f, ok := c.Template.Function(logicalID); ok && exists(filepath.Join(dir, "register-cluster.json")) {
		for _, r := range c.Template.Rules {
			for _, t := range r.Targets {
				if t.Arn == f.Arn {
					return "events/register-cluster.json"
				}
			}
		}
	}
	return "events/<payload>.json"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// credentialOf finds a principal's credential by name ("admin", a logical id).
func credentialOf(c *localcloud.Cloud, name string) localcloud.Credential {
	for _, k := range c.Credentials() {
		if k.Name == name {
			return k
		}
	}
	panic(fmt.Sprintf("localcloud: no principal %q", name))
}
