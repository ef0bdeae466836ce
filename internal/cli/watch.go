package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// progress is what --wait knows of an execution, read from its history.
type progress struct {
	state       string    // the state entered last
	status      string    // the cluster's EKS status at the last check
	nextCheckAt time.Time // the next CheckActivation
	deadline    time.Time // the registration's deadline
	expiry      time.Time // the activation's expiry (Activation Ready)
	seen        int       // history events already read
	pendingPut  map[int64]string
	checks      int // CheckActivation rounds seen
	at          time.Time
	lines       []line // what happened, for the display
}

// line is one thing that happened, at a time of the execution's history.
type line struct {
	at   time.Time
	text string
}

// pollLoop are the states of the wait-for-the-agent loop: shown once, then
// only through what changes (the EKS status).
var pollLoop = map[string]bool{"CheckActivation": true, "Activated": true, "WaitForNextCheck": true}

func (p *progress) add(text string) { p.lines = append(p.lines, line{p.at, text}) }

// watch follows an execution until it ends and returns the exit status of its
// outcome. register tells a registration from a deregistration.
func (c *runCtx) watch(ctx context.Context, cfg aws.Config, st Stack, arn, cluster string, register bool) int {
	client := sfn.NewFromConfig(cfg)
	out := c.env.Stdout
	tty := c.env.IsTerminal(out)
	p := &progress{pendingPut: map[int64]string{}}
	drawn := 0
	var started time.Time
	waitedForStart := time.Duration(0)
	for {
		desc, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		var missing *sfntypes.ExecutionDoesNotExist
		switch {
		case errors.As(err, &missing):
			if waitedForStart >= c.env.StartTimeout {
				c.errorf("no execution %s started within %s. The trigger answers AlreadyInProgress when a registration or "+
					"deregistration of %s is running (see: eks-connector-registrar status --cluster %s); otherwise look at the "+
					"stack's TriggerFailureQueue and the TriggerFunction's log", arn, human(c.env.StartTimeout), cluster, cluster)
				return ExitFailed
			}
			waitedForStart += c.env.PollInterval
			if err := c.env.Sleep(ctx, c.env.PollInterval); err != nil {
				return c.interrupted(arn, err)
			}
			continue
		case err != nil:
			c.errorf("reading execution %s (states:DescribeExecution): %v", arn, err)
			return ExitAWSError
		}
		started = aws.ToTime(desc.StartDate)
		if err := c.readHistory(ctx, client, arn, p); err != nil {
			c.errorf("reading the history of %s (states:GetExecutionHistory): %v", arn, err)
			return ExitAWSError
		}
		done := desc.Status != sfntypes.ExecutionStatusRunning && desc.Status != sfntypes.ExecutionStatusPendingRedrive
		if tty {
			drawn = c.redraw(out, drawn, p, cluster, started, done)
		} else {
			for _, l := range p.lines {
				fmt.Fprintf(out, "%s %s\n", stamp(started, l.at), l.text)
			}
		}
		p.lines = nil
		if done {
			return c.outcome(desc, st, cluster, register)
		}
		if err := c.env.Sleep(ctx, c.env.PollInterval); err != nil {
			return c.interrupted(arn, err)
		}
	}
}

func (c *runCtx) interrupted(arn string, err error) int {
	c.errorf("stopped following %s (%v); the workflow goes on. Follow it again with: eks-connector-registrar status", arn, err)
	return ExitFailed
}

// stamp is the time since the execution started, as of a history event.
func stamp(started, at time.Time) string {
	return "[+" + human(at.Sub(started)) + "]"
}

// readHistory reads the events after p.seen and turns them into lines.
func (c *runCtx) readHistory(ctx context.Context, client *sfn.Client, arn string, p *progress) error {
	var events []sfntypes.HistoryEvent
	pg := sfn.NewGetExecutionHistoryPaginator(client, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return err
		}
		events = append(events, page.Events...)
	}
	for _, ev := range events[min(p.seen, len(events)):] {
		p.event(ev)
	}
	p.seen = max(p.seen, len(events))
	return nil
}

func (p *progress) event(ev sfntypes.HistoryEvent) {
	p.at = aws.ToTime(ev.Timestamp)
	switch {
	case ev.StateEnteredEventDetails != nil:
		name := aws.ToString(ev.StateEnteredEventDetails.Name)
		if name != p.state && (!pollLoop[name] || p.checks == 0) {
			p.add("state " + name)
		}
		p.state = name
	case ev.TaskScheduledEventDetails != nil:
		d := ev.TaskScheduledEventDetails
		if aws.ToString(d.ResourceType) == "events" && strings.HasPrefix(aws.ToString(d.Resource), "putEvents") {
			p.pendingPut[ev.Id] = aws.ToString(d.Parameters)
		}
	case ev.TaskSucceededEventDetails != nil:
		d := ev.TaskSucceededEventDetails
		if aws.ToString(d.ResourceType) != "events" {
			return
		}
		// The put this success answers: the latest one scheduled.
		var latest int64 = -1
		for id := range p.pendingPut {
			if id < ev.Id && id > latest {
				latest = id
			}
		}
		if latest < 0 {
			return
		}
		params := p.pendingPut[latest]
		delete(p.pendingPut, latest)
		p.emitted(params)
	case ev.StateExitedEventDetails != nil && aws.ToString(ev.StateExitedEventDetails.Name) == "CheckActivation":
		var out struct {
			Poll struct {
				Status      string `json:"status"`
				NextCheckAt string `json:"nextCheckAt"`
				Deadline    string `json:"deadline"`
			} `json:"poll"`
		}
		if json.Unmarshal([]byte(aws.ToString(ev.StateExitedEventDetails.Output)), &out) == nil {
			p.nextCheckAt, _ = time.Parse(time.RFC3339, out.Poll.NextCheckAt)
			p.deadline, _ = time.Parse(time.RFC3339, out.Poll.Deadline)
			if out.Poll.Status != "" && out.Poll.Status != p.status {
				s := "EKS status " + out.Poll.Status
				if p.checks == 0 && !p.deadline.IsZero() {
					s += fmt.Sprintf("; waiting for the agent until %s (the checks back off as time passes)",
						p.deadline.Format(time.RFC3339))
				}
				p.add(s)
			}
			p.status = out.Poll.Status
			p.checks++
		}
	}
}

// emitted records an event the execution put on the bus, from its putEvents
// task's parameters (the bus has no API to read events back).
func (p *progress) emitted(params string) {
	var in struct {
		Entries []struct {
			DetailType string          `json:"DetailType"`
			Detail     json.RawMessage `json:"Detail"`
		} `json:"Entries"`
	}
	if json.Unmarshal([]byte(params), &in) != nil {
		return
	}
	for _, e := range in.Entries {
		detail := e.Detail
		var s string
		if json.Unmarshal(detail, &s) == nil { // Detail given as a JSON string
			detail = json.RawMessage(s)
		}
		var d map[string]any
		_ = json.Unmarshal(detail, &d)
		line := "event " + e.DetailType
		switch e.DetailType {
		case "Activation Ready":
			if exp, err := time.Parse(time.RFC3339, fmt.Sprint(d["activationExpiry"])); err == nil {
				p.expiry = exp
			}
			line += fmt.Sprintf(": activation %v, expires %v. Install the agent now: eks-connector-registrar install --cluster %v",
				d["activationId"], d["activationExpiry"], d["clusterName"])
		case "Cluster Registered":
			line += fmt.Sprintf(": %v (instances %v)", d["clusterArn"], d["instanceIds"])
		case "Cluster Registration Failed", "Cluster Deregistration Failed":
			line += fmt.Sprintf(": %v: %v", d["error"], d["reason"])
		case "Cluster Deregistered":
			line += fmt.Sprintf(": deregistered %v, activations %v, instances %v", d["deregistered"], d["activationIds"], d["instancesDeregistered"])
		}
		p.add(line)
	}
}

// redraw replaces the previous progress block on a terminal and prints new
// lines above it. It returns the height of the block drawn.
func (c *runCtx) redraw(w io.Writer, prev int, p *progress, cluster string, started time.Time, done bool) int {
	if prev > 0 {
		fmt.Fprintf(w, "\x1b[%dA\x1b[J", prev) // up, clear to the end
	}
	for _, l := range p.lines {
		fmt.Fprintf(w, "%s %s\n", stamp(started, l.at), l.text)
	}
	if done {
		return 0
	}
	now := c.env.Now()
	block := []string{
		fmt.Sprintf("  %s: %s, elapsed %s", cluster, orDash(p.state), human(now.Sub(started))),
	}
	if p.status != "" {
		block = append(block, "  EKS status: "+p.status)
	}
	if !p.nextCheckAt.IsZero() {
		block = append(block, fmt.Sprintf("  next check: %s (in %s)", p.nextCheckAt.Format(time.RFC3339), human(p.nextCheckAt.Sub(now))))
	}
	if !p.deadline.IsZero() {
		block = append(block, fmt.Sprintf("  deadline:   %s (in %s)", p.deadline.Format(time.RFC3339), human(p.deadline.Sub(now))))
	}
	for _, l := range block {
		fmt.Fprintln(w, l)
	}
	return len(block)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// outcome prints how the execution ended and returns the exit status.
func (c *runCtx) outcome(desc *sfn.DescribeExecutionOutput, st Stack, cluster string, register bool) int {
	w := c.env.Stdout
	what := "registration"
	if !register {
		what = "deregistration"
	}
	took := human(aws.ToTime(desc.StopDate).Sub(aws.ToTime(desc.StartDate)))
	if desc.Status == sfntypes.ExecutionStatusSucceeded {
		if register {
			fmt.Fprintf(w, "Cluster %s is registered and its agent connected (ACTIVE), after %s.\n", cluster, took)
		} else {
			fmt.Fprintf(w, "Cluster %s is deregistered, after %s.\n", cluster, took)
		}
		return ExitOK
	}
	errName, cause := aws.ToString(desc.Error), aws.ToString(desc.Cause)
	fmt.Fprintf(w, "The %s of cluster %s ended %s after %s: %s\n", what, cluster, desc.Status, took, orDash(errName))
	if cause != "" {
		fmt.Fprintf(w, "Reason: %s\n", cause)
	}
	if desc.Status == sfntypes.ExecutionStatusAborted || desc.Status == sfntypes.ExecutionStatusTimedOut {
		fmt.Fprintf(w, "The stack's CleanupFunction compensates an execution that ended this way and announces it on bus %s.\n", st.EventBusName)
	}
	c.errorf("%s of %s failed: %s", what, cluster, orDash(errName))
	return ExitFailed
}
