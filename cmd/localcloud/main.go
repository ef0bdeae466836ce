// Command localcloud runs the embedded local cloud.
//
//	localcloud run   [-scenario connects|never-connects|wrong-code|after-expiry|connects-then-lost] [-event file]
//	localcloud serve [-addr 127.0.0.1:4566] [-virtual] [-unknown-credentials admin|deny]
//	localcloud keys [-profile]
//	localcloud invoke -fn <LogicalId> -event events/<file>.json [-env-vars events/env.json]
//
// `run` is `make run`: it deploys template.yaml, puts a "Register Cluster"
// event on the bus, lets the simulated agent act, prints a timeline and the
// outcome. `serve` keeps the cloud up for `sam local invoke` and the AWS CLI;
// `keys` prints the access key id of each principal it knows, and the
// `sam local invoke` line that signs as each function's role.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/asl"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	"github.com/platform/eks-connector-registrar/localcloud/sfn"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: localcloud run|serve|keys|invoke [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:], os.Stdout)
	case "serve":
		err = serve(os.Args[2:])
	case "keys":
		err = keys(os.Args[2:], os.Stdout, os.Stderr)
	case "invoke":
		os.Exit(invokeMain(os.Args[2:], os.Stdout, os.Stderr))
	default:
		err = fmt.Errorf("unknown command %q: use run, serve, keys or invoke", os.Args[1])
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcloud:", err)
		os.Exit(1)
	}
}

// serveConfig is what `serve`'s flags ask for.
type serveConfig struct {
	Options localcloud.Options
	Faults  []awsproto.Fault
}

func parseServe(args []string, stderr io.Writer) (serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:4566", "listen address (0.0.0.0 for sam local invoke on Linux)")
	virtual := fs.Bool("virtual", false, "run on a virtual clock instead of the wall clock")
	mode := fs.String("agent", string(agent.Connects), "simulated agent mode")
	delay := fs.Duration("agent-delay", 7*time.Minute, "time from Activation Ready to the agent installing")
	faultFile := fs.String("faults", "", "a JSON file of faults to inject: [{\"Service\":\"eks\",\"Op\":\"RegisterCluster\",\"FirstN\":2,\"Code\":\"ThrottlingException\",\"Status\":400,\"RetryAfterMillis\":500}, …]")
	readLag := fs.Duration("sfn-read-lag", 0, "how far Step Functions' DescribeExecution and ListExecutions lag behind (AWS documents them as eventually consistent); 0: live")
	unknown := fs.String("unknown-credentials", "admin", "a request signed with an access key id the cloud does not know (localcloud keys lists those it does) is treated as `admin|deny`: "+
		"an administrator, whom no policy limits, or refused as AWS refuses an unknown key (InvalidClientTokenId, UnrecognizedClientException)")
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, err
	}
	if *readLag < 0 {
		return serveConfig{}, fmt.Errorf("-sfn-read-lag %s: must not be negative", *readLag)
	}
	cfg := serveConfig{Options: localcloud.Options{Addr: *addr, RealTime: !*virtual, SFNReadLag: *readLag,
		Agent: agent.Config{Mode: agent.Mode(*mode), Delay: *delay}}}
	switch *unknown {
	case "admin":
	case "deny":
		cfg.Options.DenyUnknownCredentials = true
	default:
		return serveConfig{}, fmt.Errorf("-unknown-credentials %q: use admin or deny", *unknown)
	}
	if *faultFile != "" {
		raw, err := os.ReadFile(*faultFile)
		if err != nil {
			return serveConfig{}, err
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg.Faults); err != nil {
			return serveConfig{}, fmt.Errorf("%s: %w", *faultFile, err)
		}
	}
	return cfg, nil
}

func serve(args []string) error {
	cfg, err := parseServe(args, os.Stderr)
	if err != nil {
		return err
	}
	c, err := app.Start(cfg.Options, os.Stderr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range cfg.Faults {
		c.Faults.Add(f)
		fmt.Printf("  injecting %s:%s %s (first %d, fraction %.2f, latency %s)\n", f.Service, f.Op, f.Code, f.FirstN, f.Fraction, f.Latency)
	}
	fmt.Printf("local cloud listening on %s (EKS, IAM, STS, SSM, SQS, EventBridge, Lambda, Step Functions)\n", c.URL)
	unknown := "are an administrator (no policy applies to them)"
	if cfg.Options.DenyUnknownCredentials {
		unknown = "are refused"
	}
	fmt.Printf("  access keys the cloud does not know %s; each function's key: go run ./cmd/localcloud keys\n", unknown)
	fmt.Printf("  export AWS_ENDPOINT_URL=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s\n",
		c.URL, credentialOf(c, "admin").AccessKeyID, localSecret, c.Region)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

// scenarioOutcome is what each agent mode must lead to.
var scenarioOutcome = map[agent.Mode]string{
	agent.Connects:         "SUCCEEDED",
	agent.ConnectsThenLost: "SUCCEEDED",
	agent.NeverConnects:    "FAILED",
	agent.WrongCode:        "FAILED",
	agent.AfterExpiry:      "FAILED",
}

func run(args []string, out io.Writer) error { return runScenario(args, out, nil) }

// runScenario is run; started, when set, sees the cloud once it runs (a test
// reads the activation codes it issued, to search the timeline for them).
func runScenario(args []string, out io.Writer, started func(*localcloud.Cloud)) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(out)
	scenario := fs.String("scenario", string(agent.Connects), "agent mode: connects, never-connects, wrong-code, after-expiry, connects-then-lost")
	eventFile := fs.String("event", "", "the EventBridge event to put (default events/register-cluster.json)")
	delay := fs.Duration("agent-delay", 7*time.Minute, "virtual time from Activation Ready to the agent installing")
	verbose := fs.Bool("v", false, "also print the functions' JSON logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode := agent.Mode(*scenario)
	want, ok := scenarioOutcome[mode]
	if !ok {
		return fmt.Errorf("unknown scenario %q", *scenario)
	}
	root := app.RepoRoot()
	if *eventFile == "" {
		*eventFile = filepath.Join(root, "events", "register-cluster.json")
	}
	raw, err := os.ReadFile(*eventFile)
	if err != nil {
		return err
	}
	var envelope struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return fmt.Errorf("%s: %w", *eventFile, err)
	}
	logs := io.Discard
	if *verbose {
		logs = out
	}
	c, err := app.Start(localcloud.Options{Agent: agent.Config{Mode: mode, Delay: *delay}}, logs)
	if err != nil {
		return err
	}
	defer c.Close()
	if started != nil {
		started(c)
	}
	t0 := c.Clock.Now()
	tl := &timeline{out: out, t0: t0, now: c.Clock.Now}
	tl.attach(c)

	fmt.Fprintf(out, "local cloud at %s, virtual clock from %s, scenario %q\n\n", c.URL, t0.Format(time.RFC3339), mode)
	eb := eventbridge.NewFromConfig(c.ConfigFor("operator"))
	res, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(envelope.Source), DetailType: aws.String(envelope.DetailType), Detail: aws.String(string(envelope.Detail)),
	}}})
	if err != nil {
		return fmt.Errorf("putting the event: %w", err)
	}
	if res.FailedEntryCount > 0 {
		return fmt.Errorf("the bus refused the event: %s", aws.ToString(res.Entries[0].ErrorMessage))
	}
	tl.line("operator", "put %s (%s) on the bus", envelope.DetailType, filepath.Base(*eventFile))

	ex, err := waitExecution(c, 60*time.Second)
	if err != nil {
		return err
	}
	status := ex.Status()
	// Let the cluster side finish what it was doing (an agent that comes
	// only after the activation expired), so the timeline shows it.
	for deadline := time.Now().Add(10 * time.Second); c.Agent != nil && c.Agent.Pending() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "outcome: execution %s %s after %s of virtual time (%s of waits skipped in all), %d state transitions, %d Lambda errors\n",
		ex.Name, status, ex.Engine().StopDate().Sub(ex.Engine().StartDate()).Round(time.Second), c.Virtual.Skipped().Round(time.Second),
		ex.Engine().StateTransitions(), c.Lambda.Errors())
	if e, cause := ex.Engine().Error(); e != "" {
		fmt.Fprintf(out, "         error %s: %s\n", e, cause)
	}
	// A deregistered cluster shows DELETING for a while; look once it is gone.
	c.Virtual.Advance(5 * time.Minute)
	left := leftovers(c)
	switch {
	case status == "SUCCEEDED":
		fmt.Fprintf(out, "         kept for the connected cluster: %s\n", strings.Join(left, "; "))
	case len(left) == 0:
		fmt.Fprintln(out, "         left behind: nothing (cluster deregistered, activation, instances and parameters deleted, lock released)")
	default:
		fmt.Fprintf(out, "         left behind: %s\n", strings.Join(left, "; "))
	}
	if status != want {
		return fmt.Errorf("scenario %q should end %s, it ended %s", mode, want, status)
	}
	if want == "FAILED" && len(left) > 0 {
		return fmt.Errorf("scenario %q left resources behind: %v", mode, left)
	}
	return nil
}

func waitExecution(c *localcloud.Cloud, limit time.Duration) (*sfn.Execution, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, ex := range c.SFN.Executions() {
			if strings.Contains(ex.StateMachineArn, "Registration") && !strings.Contains(ex.StateMachineArn, "Deregistration") {
				select {
				case <-ex.Engine().Done():
					return ex, nil
				case <-time.After(time.Until(deadline)):
					return nil, fmt.Errorf("execution %s still %s after %s of real time", ex.Name, ex.Status(), limit)
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, fmt.Errorf("no registration execution started within %s", limit)
}

// leftovers lists what this project created for clusters and did not clean:
// registrations not ACTIVE, parameters, activations, instances.
func leftovers(c *localcloud.Cloud) []string {
	var out []string
	for _, n := range c.SSM.ParameterNames() {
		out = append(out, "parameter "+n)
	}
	for _, id := range c.SSM.ActivationIDs() {
		out = append(out, "activation "+id)
	}
	for _, id := range c.SSM.Instances() {
		out = append(out, "instance "+id)
	}
	for _, n := range c.EKS.ClusterNames() {
		out = append(out, "cluster "+n)
	}
	return out
}

// timeline prints what happened, in virtual time.
type timeline struct {
	out io.Writer
	t0  time.Time
	now func() time.Time

	mu         sync.Mutex
	entered    map[string]int
	looping    bool
	suppressed int
}

func (t *timeline) line(who, format string, args ...any) {
	d := t.now().Sub(t.t0).Round(time.Second)
	fmt.Fprintf(t.out, "+%02d:%02d:%02d  %-22s %s\n", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60, who, fmt.Sprintf(format, args...))
}

// quiet reports whether a poll loop has gone on long enough that its rounds
// are summarised rather than printed: a state entered more than three times
// in one execution is a loop.
func (t *timeline) quiet() bool { return t.looping }

func (t *timeline) enter(ex *sfn.Execution, state string) {
	t.mu.Lock()
	if t.entered == nil {
		t.entered = map[string]int{}
	}
	key := ex.Arn + "/" + state
	t.entered[key]++
	n := t.entered[key]
	wasLooping := t.looping
	t.looping = n > 3
	if t.looping {
		if state == "CheckActivation" || !wasLooping {
			t.suppressed++
		}
		t.mu.Unlock()
		return
	}
	suppressed := t.suppressed
	t.suppressed = 0
	t.mu.Unlock()
	if wasLooping && suppressed > 0 {
		t.line("state machine", "… %d more rounds of the same loop (not printed)", suppressed)
	}
	t.line("state machine", "▶ %s", state)
}

func (t *timeline) attach(c *localcloud.Cloud) {
	c.Router.OnCall = func(call *awsproto.Call, status int) {
		if call.Principal == nil || call.Principal.Name == "admin" || call.Service == "lambda" {
			return
		}
		if t.quiet() && status < 300 {
			return
		}
		mark := ""
		if status >= 300 {
			mark = fmt.Sprintf("  → HTTP %d", status)
		}
		t.line(call.Principal.Name, "%s:%s%s", call.Service, call.Op, mark)
	}
	c.SFN.OnEvent(func(ex *sfn.Execution, ev asl.HistoryEvent) {
		switch {
		case strings.HasSuffix(ev.Type, "StateEntered"):
			t.enter(ex, fmt.Sprint(ev.Details["name"]))
		case strings.HasSuffix(ev.Type, "Failed") || strings.HasSuffix(ev.Type, "TimedOut"):
			t.line("state machine", "✗ %s %v", ev.Type, ev.Details["error"])
		case strings.HasPrefix(ev.Type, "Execution") && ev.Type != "ExecutionStarted":
			t.line("state machine", "■ %s", ev.Type)
		}
	})
	c.Events.Subscribe(func(ev events.Event) {
		t.line("event bus", "★ %s %s", ev.DetailType, summarize(ev.Detail))
	})
	if c.Virtual != nil {
		c.Virtual.OnJump(func(from, to time.Time) {
			if d := to.Sub(from); d >= time.Minute && !t.quiet() {
				t.line("clock", "… %s pass", d.Round(time.Second))
			}
		})
	}
	if c.Agent != nil {
		c.Agent.OnLog = func(r agent.Record) {
			if r.Err != nil {
				t.line("cluster (agent)", "%s: %v", r.What, r.Err)
				return
			}
			t.line("cluster (agent)", "%s", r.What)
		}
	}
}

func summarize(detail json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(detail, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"clusterName", "status", "outcome", "reason", "error", "codeParameter", "installCommand"} {
		if v, ok := m[k]; ok && v != nil {
			if k == "installCommand" {
				parts = append(parts, "\n            install command shown to the operator:\n              "+fmt.Sprint(v))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}
