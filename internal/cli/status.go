package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/platform/eks-connector-registrar/internal/contract"
)

var statusCommand = command{
	name:    "status",
	summary: "the connected clusters: EKS status, provider, activation expiry and time left, the running execution, the last outcome",
	usage:   "status [--cluster NAME]",
	examples: `  # Every connected cluster, and every cluster the workflow has run for.
  eks-connector-registrar status

  # One cluster, as JSON.
  eks-connector-registrar status --cluster prod-eu-1 --output json
`,
	run: runStatus,
}

// ClusterStatus is one row of `status`.
type ClusterStatus struct {
	Cluster          string     `json:"cluster"`
	Status           string     `json:"status"` // EKS status, or NOT_REGISTERED
	Provider         string     `json:"provider,omitempty"`
	ActivationExpiry *time.Time `json:"activationExpiry,omitempty"`
	TimeLeft         string     `json:"timeLeft,omitempty"`
	Running          string     `json:"runningExecution,omitempty"`
	RunningKind      string     `json:"runningKind,omitempty"`
	LastOutcome      string     `json:"lastOutcome,omitempty"`
	LastExecution    string     `json:"lastExecution,omitempty"`
}

func runStatus(ctx context.Context, c *runCtx, args []string) int {
	var cluster string
	if code, ok := c.parse("status", args, func(fs *flag.FlagSet) {
		fs.StringVar(&cluster, "cluster", "", "only this cluster")
	}); !ok {
		return code
	}
	if cluster != "" {
		if rej := contract.ValidateClusterName(cluster); rej != nil {
			c.errorf("status: %s", rej.Message())
			return ExitUsage
		}
	}
	cfg, st, ok := c.aws(ctx)
	if !ok {
		return ExitAWSError
	}
	rows, err := c.statusRows(ctx, cfg, st, cluster)
	if err != nil {
		c.errorf("status: %v", err)
		return ExitAWSError
	}
	if c.g.output == "json" {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rows)
		return ExitOK
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.env.Stdout, "No connected cluster, and no execution of the registrar.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tSTATUS\tPROVIDER\tACTIVATION EXPIRES\tTIME LEFT\tRUNNING\tLAST OUTCOME")
	for _, r := range rows {
		exp := "-"
		if r.ActivationExpiry != nil {
			exp = r.ActivationExpiry.Format(time.RFC3339)
		}
		running := "-"
		if r.Running != "" {
			running = r.RunningKind + " " + r.Running[strings.LastIndex(r.Running, ":")+1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Cluster, r.Status, orDash(r.Provider), exp, orDash(r.TimeLeft), running, orDash(r.LastOutcome))
	}
	_ = tw.Flush()
	return ExitOK
}

type execInfo struct {
	kind string // registration | deregistration
	sfntypes.ExecutionListItem
}

func (c *runCtx) statusRows(ctx context.Context, cfg aws.Config, st Stack, only string) ([]ClusterStatus, error) {
	eksClient := eks.NewFromConfig(cfg)
	sfnClient := sfn.NewFromConfig(cfg)
	now := c.env.Now()
	rows := map[string]*ClusterStatus{}

	var names []string
	if only != "" {
		names = []string{only}
	} else {
		pg := eks.NewListClustersPaginator(eksClient, &eks.ListClustersInput{Include: []string{"all"}})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing clusters (eks:ListClusters include=all): %w", err)
			}
			names = append(names, page.Clusters...)
		}
	}
	for _, n := range names {
		out, err := eksClient.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(n)})
		var nf *ekstypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describing cluster %s (eks:DescribeCluster): %w", n, err)
		}
		cl := out.Cluster
		if cl == nil || cl.ConnectorConfig == nil {
			continue // an EKS-managed cluster, not a connected one
		}
		r := &ClusterStatus{Cluster: n, Status: string(cl.Status), Provider: aws.ToString(cl.ConnectorConfig.Provider)}
		waiting := cl.Status == ekstypes.ClusterStatusPending || cl.Status == ekstypes.ClusterStatusCreating || cl.Status == ekstypes.ClusterStatusFailed
		if waiting && cl.ConnectorConfig.ActivationExpiry != nil {
			exp := cl.ConnectorConfig.ActivationExpiry.UTC()
			r.ActivationExpiry = &exp
			if left := exp.Sub(now); left > 0 {
				r.TimeLeft = human(left)
			} else {
				r.TimeLeft = "expired"
			}
		}
		rows[n] = r
	}

	// The executions of both state machines, newest first per cluster.
	byCluster := map[string][]execInfo{}
	for _, sm := range []struct{ arn, kind, prefix string }{
		{st.RegistrationStateMachineArn, "registration", contract.RegisterPrefix},
		{st.DeregistrationStateMachine, "deregistration", contract.DeregisterPrefix},
	} {
		pg := sfn.NewListExecutionsPaginator(sfnClient, &sfn.ListExecutionsInput{StateMachineArn: aws.String(sm.arn), MaxResults: 1000})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing the executions of %s (states:ListExecutions): %w", sm.arn, err)
			}
			for _, ex := range page.Executions {
				name := aws.ToString(ex.Name)
				var cl string
				if only != "" {
					if !contract.IsExecutionFor(sm.prefix, only, name) {
						continue
					}
					cl = only
				} else {
					var ok bool
					if cl, ok = contract.ExecutionCluster(sm.prefix, name); !ok {
						continue
					}
				}
				byCluster[cl] = append(byCluster[cl], execInfo{kind: sm.kind, ExecutionListItem: ex})
			}
		}
	}
	for cl, xs := range byCluster {
		sort.Slice(xs, func(i, j int) bool { return aws.ToTime(xs[i].StartDate).After(aws.ToTime(xs[j].StartDate)) })
		r := rows[cl]
		if r == nil {
			r = &ClusterStatus{Cluster: cl, Status: "NOT_REGISTERED"}
			rows[cl] = r
		}
		for _, x := range xs {
			if x.Status == sfntypes.ExecutionStatusRunning {
				if r.Running == "" {
					r.Running, r.RunningKind = aws.ToString(x.ExecutionArn), x.kind
				}
				continue
			}
			r.LastExecution = aws.ToString(x.ExecutionArn)
			r.LastOutcome = c.lastOutcome(ctx, sfnClient, x, now)
			break
		}
	}
	out := make([]ClusterStatus, 0, len(rows))
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		out = append(out, *rows[k])
	}
	return out, nil
}

// since says when t was, seen from the operator's clock now: "2h05m ago",
// or, when t is ahead of that clock (the service's clock runs ahead of the
// operator's, or a local cloud on a virtual clock), the time itself.
func since(now, t time.Time) string {
	if t.After(now) {
		return "at " + t.UTC().Format(time.RFC3339)
	}
	return human(now.Sub(t)) + " ago"
}

// lastOutcome describes an ended execution: "registered 2h ago",
// "registration FAILED: ActivationTimedOut, 3d ago".
func (c *runCtx) lastOutcome(ctx context.Context, client *sfn.Client, x execInfo, now time.Time) string {
	ago := since(now, aws.ToTime(x.StopDate))
	if x.Status == sfntypes.ExecutionStatusSucceeded {
		if x.kind == "registration" {
			return "registered, " + ago
		}
		return "deregistered, " + ago
	}
	s := fmt.Sprintf("%s %s", x.kind, x.Status)
	if d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn}); err == nil && d.Error != nil {
		s += ": " + aws.ToString(d.Error)
	}
	return s + ", " + ago
}
