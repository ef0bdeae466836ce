// Package cli is the operator's command, eks-connector-registrar: it puts
// "Register Cluster" and "Deregister Cluster" on the bus (the path production
// uses), follows the executions they start, shows the connected clusters,
// and renders what a cluster needs from the activation in SSM. It is the only
// code of this project that reads the activation code, and only for the
// operator's terminal or files. cmd/eks-connector-registrar is its main; tests
// call Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// Exit statuses.
const (
	ExitOK       = 0 // done: registered, deregistered, written
	ExitFailed   = 1 // the workflow ended otherwise (the reason is printed), or the activation expired
	ExitUsage    = 2 // bad flags or a request the contract rejects: nothing was sent
	ExitAWSError = 3 // an AWS call failed (credentials, permissions, stack not found, throttling)
)

// Local cloud defaults (cmd/localcloud serve, cmd/localcloud keys).
const (
	LocalEndpoint  = "http://127.0.0.1:4566"
	LocalAccessKey = "AKIDLOCALOPERATOR"
	LocalRegion    = "us-east-1"
	LocalStack     = "local" // the stack name the local cloud deploys template.yaml under
	DefaultStack   = "eks-connector-registrar"
)

// Env is what the command takes from its process. Zero fields get the
// process's own (os.Stdout, time.Now, a real sleep, …); tests set them.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Now is the clock "time left" and "elapsed" are measured on.
	Now func() time.Time
	// Sleep waits between two polls of --wait.
	Sleep func(ctx context.Context, d time.Duration) error
	// IsTerminal reports whether w is a terminal (a progress display is
	// redrawn there; elsewhere plain lines are printed).
	IsTerminal func(w io.Writer) bool
	// PollInterval is the time between two polls of --wait (default 5 s).
	PollInterval time.Duration
	// StartTimeout is how long --wait waits for the trigger to start the
	// execution (default 2 minutes).
	StartTimeout time.Duration
}

func (e *Env) defaults() {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	if e.Now == nil {
		panic("cli: Env.Now is required (the command's clock)")
	}
	if e.Sleep == nil {
		e.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if e.IsTerminal == nil {
		e.IsTerminal = func(io.Writer) bool { return false }
	}
	if e.PollInterval == 0 {
		e.PollInterval = 5 * time.Second
	}
	if e.StartTimeout == 0 {
		e.StartTimeout = 2 * time.Minute
	}
}

// globals are the flags every command takes, named as the AWS CLI names them.
type globals struct {
	region, profile, endpoint, output, stack string
	local                                    bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.region, "region", "", "AWS Region (default: AWS_REGION, then the profile's)")
	fs.StringVar(&g.profile, "profile", "", "named profile of the shared AWS config and credentials files")
	fs.StringVar(&g.endpoint, "endpoint-url", "", "send every AWS call to this URL (e.g. the local cloud)")
	fs.StringVar(&g.output, "output", "table", "table or json")
	fs.StringVar(&g.stack, "stack", "", "the CloudFormation stack of the registrar, whose outputs name the bus, the state machines and the parameter prefix (default "+DefaultStack+", with --local "+LocalStack+")")
	fs.BoolVar(&g.local, "local", false, "use the local cloud (go run ./cmd/localcloud serve): endpoint "+LocalEndpoint+" unless --endpoint-url, the operator key "+LocalAccessKey+", Region "+LocalRegion+", stack "+LocalStack)
}

func (g *globals) validate() error {
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("--output %q: must be table or json", g.output)
	}
	return nil
}

// awsConfig loads the SDK configuration as the AWS CLI would, or the local
// cloud's with --local.
func (g *globals) awsConfig(ctx context.Context) (aws.Config, error) {
	if g.local {
		cfg := aws.Config{
			Region:      LocalRegion,
			Credentials: credentials.NewStaticCredentialsProvider(LocalAccessKey, "local", ""),
		}
		if g.region != "" {
			cfg.Region = g.region
		}
		cfg.BaseEndpoint = aws.String(LocalEndpoint)
		if g.endpoint != "" {
			cfg.BaseEndpoint = aws.String(g.endpoint)
		}
		return cfg, nil
	}
	var opts []func(*config.LoadOptions) error
	if g.region != "" {
		opts = append(opts, config.WithRegion(g.region))
	}
	if g.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(g.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if g.endpoint != "" {
		cfg.BaseEndpoint = aws.String(g.endpoint)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS Region: give --region, or set AWS_REGION or a profile's region")
	}
	return cfg, nil
}

func (g *globals) stackName() string {
	switch {
	case g.stack != "":
		return g.stack
	case g.local:
		return LocalStack
	}
	return DefaultStack
}

// Stack is what the command needs from the registrar's stack outputs.
type Stack struct {
	Name                        string
	RegistrationStateMachineArn string
	DeregistrationStateMachine  string
	EventBusName                string
	EventSource                 string
	ParameterPrefix             string
}

// describeStack reads the stack's outputs (cloudformation:DescribeStacks).
func describeStack(ctx context.Context, cfg aws.Config, name string) (Stack, error) {
	out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		return Stack{}, fmt.Errorf("reading the outputs of stack %s (cloudformation:DescribeStacks in %s): %w; give the registrar's stack with --stack", name, cfg.Region, err)
	}
	if len(out.Stacks) == 0 {
		return Stack{}, fmt.Errorf("stack %s not found in %s; give the registrar's stack with --stack", name, cfg.Region)
	}
	o := map[string]string{}
	for _, x := range out.Stacks[0].Outputs {
		o[aws.ToString(x.OutputKey)] = aws.ToString(x.OutputValue)
	}
	s := Stack{Name: name, RegistrationStateMachineArn: o["RegistrationStateMachineArn"], DeregistrationStateMachine: o["DeregistrationStateMachineArn"],
		EventBusName: o["EventBusName"], EventSource: o["EventSource"], ParameterPrefix: o["ParameterPrefix"]}
	var missing []string
	for k, v := range map[string]string{"RegistrationStateMachineArn": s.RegistrationStateMachineArn, "DeregistrationStateMachineArn": s.DeregistrationStateMachine,
		"EventBusName": s.EventBusName, "ParameterPrefix": s.ParameterPrefix} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Stack{}, fmt.Errorf("stack %s has no output %s: is it the registrar's stack (template.yaml)? Give it with --stack", name, strings.Join(missing, ", "))
	}
	if s.EventSource == "" {
		s.EventSource = "eks-connector-registrar" // stacks deployed before the EventSource output: the template default
	}
	s.ParameterPrefix = strings.TrimRight(s.ParameterPrefix, "/")
	return s, nil
}

// command is one subcommand.
type command struct {
	name, summary, usage, examples string
	run                            func(ctx context.Context, c *runCtx, args []string) int
}

var commands []command

func init() {
	commands = []command{registerCommand, statusCommand, installCommand, deregisterCommand}
}

// runCtx is one invocation's state.
type runCtx struct {
	env Env
	g   globals
}

func (c *runCtx) errorf(format string, args ...any) {
	fmt.Fprintf(c.env.Stderr, "eks-connector-registrar: "+format+"\n", args...)
}

// aws loads the configuration and the stack; on failure it prints why.
func (c *runCtx) aws(ctx context.Context) (aws.Config, Stack, bool) {
	cfg, err := c.g.awsConfig(ctx)
	if err != nil {
		c.errorf("%v", err)
		return aws.Config{}, Stack{}, false
	}
	st, err := describeStack(ctx, cfg, c.g.stackName())
	if err != nil {
		c.errorf("%v", err)
		return aws.Config{}, Stack{}, false
	}
	return cfg, st, true
}

const mainUsage = `eks-connector-registrar: register clusters that run outside EKS with Amazon EKS Connector, through
the registrar's event-driven workflow, and follow it to its end.

Usage:
  eks-connector-registrar <command> [flags]

Commands:
%s
Global flags (every command; as the AWS CLI names them):
  --region R          AWS Region
  --profile P         named profile
  --endpoint-url URL  send every AWS call there
  --output table|json
  --stack NAME        the registrar's stack (default %s); its outputs name the bus, the state
                      machines and the SSM parameter prefix (cloudformation:DescribeStacks)
  --local             the local cloud (go run ./cmd/localcloud serve): %s, key %s, stack %s

Exit statuses: 0 done; 1 the workflow ended otherwise, or the activation expired (the reason is
printed); 2 bad usage or a rejected request (nothing was sent); 3 an AWS call failed.

Run 'eks-connector-registrar <command> --help' for a command's flags and examples.
`

// Run runs the command line args (without the program name) and returns the
// exit status.
func Run(ctx context.Context, args []string, env Env) int {
	env.defaults()
	var list strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&list, "  %-11s %s\n", c.name, c.summary)
	}
	usage := fmt.Sprintf(mainUsage, list.String(), DefaultStack, LocalEndpoint, LocalAccessKey, LocalStack)
	// Global flags may come before the command too.
	rc := &runCtx{env: env}
	gfs := flag.NewFlagSet("eks-connector-registrar", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	rc.g.register(gfs)
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, usage)
			return ExitOK
		}
		fmt.Fprintf(env.Stderr, "eks-connector-registrar: %v\n\n%s", err, usage)
		return ExitUsage
	}
	rest := gfs.Args()
	if len(rest) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	if rest[0] == "help" {
		if len(rest) > 1 {
			rest = []string{rest[1], "--help"}
		} else {
			fmt.Fprint(env.Stdout, usage)
			return ExitOK
		}
	}
	for _, c := range commands {
		if c.name == rest[0] {
			return c.run(ctx, rc, rest[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "eks-connector-registrar: unknown command %q\n\n%s", rest[0], usage)
	return ExitUsage
}

// flags builds a command's flag set, with the global flags, and parses args.
// It returns false (and the exit status) when parsing ends the command.
func (c *runCtx) parse(name string, args []string, define func(fs *flag.FlagSet)) (int, bool) {
	var cmd command
	for _, x := range commands {
		if x.name == name {
			cmd = x
		}
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	// Global flags given after the command override those given before it.
	var after globals
	after.register(fs)
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: eks-connector-registrar %s\n\n%s\n\nFlags:\n", cmd.usage, cmd.summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprintf(w, "\nExamples:\n%s", cmd.examples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help(c.env.Stdout)
			return ExitOK, false
		}
		c.errorf("%s: %v", cmd.name, err)
		help(c.env.Stderr)
		return ExitUsage, false
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "region":
			c.g.region = after.region
		case "profile":
			c.g.profile = after.profile
		case "endpoint-url":
			c.g.endpoint = after.endpoint
		case "output":
			c.g.output = after.output
		case "stack":
			c.g.stack = after.stack
		case "local":
			c.g.local = after.local
		}
	})
	if fs.NArg() > 0 {
		c.errorf("%s: unexpected argument %q (every value is given with a flag)", cmd.name, fs.Arg(0))
		return ExitUsage, false
	}
	if err := c.g.validate(); err != nil {
		c.errorf("%v", err)
		return ExitUsage, false
	}
	return 0, true
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// human formats a duration for people: 2d3h, 4h05m, 7m12s, 12s.
func human(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d >= 24*time.Hour:
		s = fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		s = fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		s = fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
	default:
		s = fmt.Sprintf("%ds", d/time.Second)
	}
	if neg {
		return "-" + s
	}
	return s
}
