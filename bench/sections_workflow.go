package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/agent"
)

// pricePerTransition is Step Functions Standard's price per state transition
// in us-east-1 (US East, N. Virginia): $0.025 per 1,000 transitions, the
// local cloud's default Region.
const pricePerTransition = 0.025 / 1000

// delayTarget is the detection target for an agent that connects after
// elapsed: 30 s in the first 10 minutes, then 10 % of the elapsed time, never
// more than 30 minutes.
func delayTarget(elapsed time.Duration) time.Duration {
	if elapsed <= 10*time.Minute {
		return 30 * time.Second
	}
	return min(elapsed/10, 30*time.Minute)
}

func (r *report) workflow() error {
	r.section("Detection and cost (virtual clock)",
		"One registration on the local cloud (template.yaml, statemachine/registration.asl.json and the real handlers, in-process), "+
			"the simulated agent installing at the given time after \"Activation Ready\", activation timeout 72 h. "+
			"Time is the local cloud's virtual clock, so the figures do not depend on the machine. "+
			"*Detection delay* is from the agent's first managed instance to the execution entering CompleteRegistration. "+
			"*AWS calls* are every call the product makes (trigger, steps, and the state machine's own lambda:Invoke and events:PutEvents), "+
			"not the operator's event or the agent's calls.\n\n"+
			"Command: `go run ./bench -only workflow` (part of `make bench`).")
	r.line("| agent connects at | detection delay | target | transitions | Lambda invocations | history events | AWS calls |")
	r.line("|---|---|---|---|---|---|---|")
	var callRows []string
	for _, at := range []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		2 * time.Hour, 24 * time.Hour, 71 * time.Hour} {
		fmt.Fprintf(os.Stderr, "bench: agent connects at %s\n", human(at))
		res, err := registerOnce("", agent.Config{Mode: agent.Connects, Delay: at}, 4320)
		if err != nil {
			return err
		}
		if res.Status != "SUCCEEDED" || res.Detected == 0 {
			return fmt.Errorf("agent at %s: registration %s %s (last state %s)", human(at), res.Status, res.Error, res.LastState)
		}
		delay := res.Detected - res.Connected
		tgt := delayTarget(at)
		transitions := fmt.Sprint(res.Transitions)
		if at == 5*time.Minute {
			transitions = fmt.Sprintf("%d (target ≤ 50 %s)", res.Transitions, r.verdict(res.Transitions <= 50))
		}
		r.line("| %s | %s | ≤ %s %s | %s | %d | %d | %d |", human(at), human(delay), human(tgt), r.verdict(delay <= tgt),
			transitions, res.Invocations, res.History, totalCalls(res.Calls))
		callRows = append(callRows, fmt.Sprintf("| %s | %s |", human(at), callsText(res.Calls)))
	}

	fmt.Fprintln(os.Stderr, "bench: agent never connects, 72 h")
	res, err := registerOnce("", agent.Config{Mode: agent.NeverConnects}, 4320)
	if err != nil {
		return err
	}
	r.line("\n**The agent never connects (72 h activation timeout)**: the execution ends %s (%s) after %s, in state %s.\n",
		res.Status, res.Error, human(res.Elapsed), res.LastState)
	r.line("| transitions | target | failed Lambda invocations | target | Lambda invocations | history events | AWS calls | cost of the transitions (us-east-1, $0.025 / 1,000) |")
	r.line("|---|---|---|---|---|---|---|---|")
	r.line("| %d | ≤ 600 %s | %d | 0 %s | %d | %d | %d | $%.4f per registration |", res.Transitions, r.verdict(res.Transitions <= 600),
		res.FailedInvokes, r.verdict(res.FailedInvokes == 0), res.Invocations, res.History, totalCalls(res.Calls), float64(res.Transitions)*pricePerTransition)
	callRows = append(callRows, fmt.Sprintf("| never (72 h) | %s |", callsText(res.Calls)))

	r.line("\nAWS calls by operation (SigV4 service:operation, count):\n")
	r.line("| agent connects at | calls |")
	r.line("|---|---|")
	for _, row := range callRows {
		r.line("%s", row)
	}
	return nil
}

func (r *report) naive(root string) error {
	dir, err := os.MkdirTemp("", "bench-naive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tpl, err := naiveTemplate(root, dir)
	if err != nil {
		return err
	}
	r.section("The naive baseline: a fixed 8 s poll, same engine",
		"The same template and handlers, with one state changed in a copy of statemachine/registration.asl.json made only for "+
			"the benchmark (bench/workflow.go, naiveTemplate): WaitForNextCheck waits a fixed 8 s (the interval eksctl's own "+
			"connected-cluster test polls at) instead of until the product's nextCheckAt. The local cloud's engine enforces "+
			"Step Functions Standard's 25,000-event history quota (localcloud/asl, DefaultMaxHistoryEvents).\n\n"+
			"Command: `go run ./bench -only naive` (part of `make bench`).")
	r.line("| agent | design | outcome | virtual time to the end | transitions | history events | Lambda invocations | cost (us-east-1) | left behind once settled |")
	r.line("|---|---|---|---|---|---|---|---|---|")
	for _, c := range []struct {
		name string
		ag   agent.Config
	}{
		{"connects at 5 min", agent.Config{Mode: agent.Connects, Delay: 5 * time.Minute}},
		{"never connects (72 h timeout)", agent.Config{Mode: agent.NeverConnects}},
	} {
		for _, d := range []struct{ name, tpl string }{{"product schedule", ""}, {"naive 8 s poll", tpl}} {
			fmt.Fprintf(os.Stderr, "bench: %s, %s\n", d.name, c.name)
			res, err := registerOnce(d.tpl, c.ag, 4320)
			if err != nil {
				return err
			}
			outcome := res.Status
			if res.Error != "" {
				outcome += " (" + res.Error + ")"
			}
			if res.Status != "SUCCEEDED" {
				outcome += ", last state " + res.LastState
			}
			left := "nothing"
			if len(res.Left) > 0 {
				left = strings.Join(res.Left, "; ")
			}
			if res.Status == "SUCCEEDED" {
				left = "(registered, kept)"
			}
			r.line("| %s | %s | %s | %s | %d | %d | %d | $%.4f | %s |", c.name, d.name, outcome, human(res.Elapsed), res.Transitions,
				res.History, res.Invocations, float64(res.Transitions)*pricePerTransition, left)
		}
	}
	r.line("\nWith the agent never connecting, the naive poll never reaches its 72 h timeout: the history quota fails the execution " +
		"(States.Runtime) in the poll loop at the time shown, before its own Compensate state runs; the last column is what remains once " +
		"the status-change rule's cleanup has run.")
	return nil
}

// human prints a duration the way the tables read: 30 s, 2 min, 2 h 5 min.
func human(d time.Duration) string {
	switch {
	case d == 0:
		return "0 s"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.3g s", d.Seconds())
	case d < time.Hour:
		if d%time.Minute == 0 {
			return fmt.Sprintf("%d min", int(d.Minutes()))
		}
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		h := int(d.Hours())
		m := int(d.Minutes()) % 60
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
}
