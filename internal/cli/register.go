package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/internal/contract"
)

var registerCommand = command{
	name:    "register",
	summary: "put \"Register Cluster\" on the bus; with --wait, follow the registration to its end",
	usage:   "register --cluster NAME --provider P [--timeout 24h] [--console-access ARN]... [--tag k=v]... [--wait]",
	examples: `  # Register, then follow the workflow: its state, the next check, the deadline, the events.
  eks-connector-registrar register --cluster prod-eu-1 --provider eks-anywhere --timeout 24h \
    --console-access arn:aws:iam::123456789012:role/PlatformAdmins --tag team=platform --wait

  # Only send the request (the stack's default timeout, 72h unless changed).
  eks-connector-registrar register --cluster lab-1 --provider other

  # On the local cloud (go run ./cmd/localcloud serve in another terminal).
  eks-connector-registrar register --local --cluster demo --provider other --wait
`,
	run: runRegister,
}

func runRegister(ctx context.Context, c *runCtx, args []string) int {
	var (
		cluster, provider string
		timeout           time.Duration
		consoles, tags    multi
		wait              bool
	)
	if code, ok := c.parse("register", args, func(fs *flag.FlagSet) {
		fs.StringVar(&cluster, "cluster", "", "the connected cluster's name in EKS (required)")
		fs.StringVar(&provider, "provider", "", "where the cluster runs: "+strings.Join(contract.Providers, ", ")+" (case-insensitive; required)")
		fs.DurationVar(&timeout, "timeout", 0, "how long to wait for the agent, whole minutes from 5m to 72h (default: the stack's DefaultActivationTimeoutMinutes)")
		fs.Var(&consoles, "console-access", "an IAM role or user ARN given console view access (repeatable)")
		fs.Var(&tags, "tag", "a tag key=value for the connected cluster (repeatable)")
		fs.BoolVar(&wait, "wait", false, "follow the execution until it ends; the exit status is its outcome")
	}); !ok {
		return code
	}
	detail, rej := registerDetail(cluster, provider, timeout, consoles, tags)
	if rej != nil {
		c.errorf("register: the request was not sent: %s", rej.Message())
		return ExitUsage
	}
	cfg, st, arn, code := c.send(ctx, "register", contract.DetailTypeRegister, detail, cluster,
		func(st Stack) string { return st.RegistrationStateMachineArn }, contract.RegisterPrefix)
	if code != ExitOK {
		return code
	}
	w := c.env.Stdout
	if !wait {
		fmt.Fprintf(w, "Follow it:  eks-connector-registrar status --cluster %s\n", cluster)
		fmt.Fprintf(w, "Once the activation is ready (Activation Ready), install the agent:  eks-connector-registrar install --cluster %s\n", cluster)
		return ExitOK
	}
	return c.watch(ctx, cfg, st, arn, cluster, true)
}

// registerDetail builds the "Register Cluster" detail from the flags and
// validates it with the contract the trigger applies, so a request the
// trigger would reject is refused with the same message before anything is
// sent.
func registerDetail(cluster, provider string, timeout time.Duration, consoles, tags []string) (json.RawMessage, *contract.Rejection) {
	var b strings.Builder
	field := func(name string, v any) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		val, _ := json.Marshal(v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	field("clusterName", cluster)
	field("provider", provider)
	if timeout != 0 {
		// The literal number of minutes: 7.5 or -10 is rejected by the
		// contract with its own rule, as it would be in an event.
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"activationTimeoutMinutes":` + strconv.FormatFloat(timeout.Minutes(), 'f', -1, 64))
	}
	if len(consoles) > 0 {
		field("consoleAccessArns", consoles)
	}
	if len(tags) > 0 {
		m := map[string]string{}
		for _, t := range tags {
			k, v, ok := strings.Cut(t, "=")
			if !ok {
				return nil, &contract.Rejection{Field: "tags", Value: t, Rule: "a --tag is key=value"}
			}
			if _, dup := m[k]; dup {
				return nil, &contract.Rejection{Field: "tags", Value: k, Rule: "the tag key is given twice"}
			}
			m[k] = v
		}
		field("tags", m)
	}
	detail := json.RawMessage("{" + b.String() + "}")
	if _, rej := contract.ParseRegister(detail, contract.MaxActivationTimeoutMinutes); rej != nil {
		return nil, rej
	}
	return detail, nil
}

// putEvent puts one request on the stack's bus, as an operator's
// `aws events put-events` would, and returns its event id.
// send puts a request for cluster on the stack's bus and says so, with the
// ARN of the execution the trigger starts for it (its name derives from the
// event id) on the state machine smArn names.
func (c *runCtx) send(ctx context.Context, command, detailType string, detail json.RawMessage, cluster string,
	smArn func(Stack) string, prefix string) (aws.Config, Stack, string, int) {
	cfg, st, ok := c.aws(ctx)
	if !ok {
		return cfg, st, "", ExitAWSError
	}
	eventID, err := putEvent(ctx, eventbridge.NewFromConfig(cfg), st, detailType, detail)
	if err != nil {
		c.errorf("%s: %v", command, err)
		return cfg, st, "", ExitAWSError
	}
	arn := contract.ExecutionArn(smArn(st), contract.ExecutionName(prefix, cluster, eventID))
	fmt.Fprintf(c.env.Stdout, "%s %s sent to bus %s (event %s).\nExecution: %s\n", detailType, cluster, st.EventBusName, eventID, arn)
	return cfg, st, arn, ExitOK
}

func putEvent(ctx context.Context, eb *eventbridge.Client, st Stack, detailType string, detail json.RawMessage) (string, error) {
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(st.EventBusName), Source: aws.String(st.EventSource),
		DetailType: aws.String(detailType), Detail: aws.String(string(detail)),
	}}})
	if err != nil {
		return "", fmt.Errorf("putting %q on bus %s (events:PutEvents): %w", detailType, st.EventBusName, err)
	}
	if out.FailedEntryCount > 0 || len(out.Entries) == 0 || aws.ToString(out.Entries[0].EventId) == "" {
		msg := "no event id returned"
		if len(out.Entries) > 0 {
			msg = aws.ToString(out.Entries[0].ErrorCode) + ": " + aws.ToString(out.Entries[0].ErrorMessage)
		}
		return "", fmt.Errorf("bus %s refused %q: %s; send it again", st.EventBusName, detailType, msg)
	}
	return aws.ToString(out.Entries[0].EventId), nil
}
