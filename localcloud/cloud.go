// Package localcloud wires the emulated services into one endpoint, deploys
// template.yaml onto it, and runs the simulated agent. It is the embedded AWS
// on which `make run` and every end-to-end test run. Production code never
// imports it.
package localcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	"github.com/platform/eks-connector-registrar/localcloud/cloudformation"
	"github.com/platform/eks-connector-registrar/localcloud/eks"
	"github.com/platform/eks-connector-registrar/localcloud/events"
	"github.com/platform/eks-connector-registrar/localcloud/iam"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	"github.com/platform/eks-connector-registrar/localcloud/policy/reference"
	"github.com/platform/eks-connector-registrar/localcloud/sfn"
	"github.com/platform/eks-connector-registrar/localcloud/sqs"
	"github.com/platform/eks-connector-registrar/localcloud/ssm"
	"github.com/platform/eks-connector-registrar/localcloud/sts"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// FunctionFactory builds a function's handler for in-process runs. cfg points
// at the local cloud and is signed as the function's role; getenv reads the
// function's environment from template.yaml; now is the cloud's clock, the
// only clock an in-process handler may read (one clock per world).
type FunctionFactory func(cfg aws.Config, getenv func(string) string, now func() time.Time) (lambda.Handler, error)

// Options configures a local cloud.
type Options struct {
	// Template is the path of template.yaml.
	Template string
	// Parameters override template parameter defaults.
	Parameters map[string]string
	Region     string // default us-east-1
	Account    string // default 123456789012
	// Addr is the listen address; default 127.0.0.1:0 (a free port).
	Addr string
	// RealTime runs on the wall clock (for `serve`); otherwise time is virtual,
	// starting at Start. A zero Start is clock.Start(): the real current
	// time, or what LOCALCLOUD_START says (clock.StartEnv), so `make run`
	// shows today's dates and `make test` can move every test's world in
	// time. A test that pins Start pins its whole world: the services, the
	// engine, the agent and every in-process handler read this one clock.
	RealTime bool
	Start    time.Time
	// Functions gives the in-process factory for a function of the template,
	// by its code directory name (functions/<dir>). A function without a
	// factory is an error: nothing is deployed half.
	Functions map[string]FunctionFactory
	// Agent configures the simulated agent; a zero Mode means Connects.
	Agent agent.Config
	// NoAgent disables the agent simulator.
	NoAgent bool
	// EKS emulation knobs.
	ClusterQuota         int
	RolePropagationDelay time.Duration
	// ClusterDeletionDuration is how long a deregistered cluster shows
	// DELETING (EKS's default here: 2 minutes).
	ClusterDeletionDuration time.Duration
	// SFNReadLag makes Step Functions' DescribeExecution and ListExecutions
	// eventually consistent, as AWS documents them: they answer from each
	// execution as it was this long ago (sfn.Config.ReadLag). Zero: live.
	SFNReadLag time.Duration
	// Enforce evaluates every caller's template policies (default true via
	// Start; set DisablePolicies to turn it off).
	DisablePolicies bool
	Seed            uint64
	// RIE, when set, runs functions from their built bootstrap behind the
	// Lambda Runtime Interface Emulator instead of in-process (rie.go).
	RIE *RIEOptions
	// DenyUnknownCredentials refuses a request signed with an access key id
	// the cloud does not know (Credentials lists those it does), as AWS
	// answers a key it has no record of (awsproto.UnrecognizedClient).
	// Otherwise such a caller is an administrator.
	DenyUnknownCredentials bool
	// NoSDKBackoff gives in-process functions (and the state machines' own
	// calls) an SDK retryer that retries
	// at once instead of after its exponential backoff; every other rule
	// of the standard retryer (3 attempts, the retry token budget) stays.
	// Virtual time stands still while a function runs, so the backoff
	// would only cost real time: a fault sweep sets it.
	NoSDKBackoff bool
	// FunctionEnv overrides variables of every function's environment, as
	// `sam local invoke --env-vars` does: only variables the template
	// declares are set, others are ignored. Both in-process and RIE-run
	// functions see them (a fault sweep shortens SDK_ATTEMPT_TIMEOUT so a
	// hung call costs it little real time).
	FunctionEnv map[string]string
}

// Cloud is a running local cloud.
type Cloud struct {
	URL      string
	Region   string
	Account  string
	Clock    clock.Clock
	Virtual  *clock.Virtual // nil in real-time mode
	Router   *awsproto.Router
	Faults   *awsproto.Faults
	Policies *policy.Engine
	Template *template.Template

	IAM    *iam.Store
	EKS    *eks.Store
	SSM    *ssm.Store
	SQS    *sqs.Store
	Events *events.Store
	Lambda *lambda.Store
	SFN    *sfn.Store
	Agent  *agent.Agent
	// CloudFormation answers DescribeStacks for the stack deploy made.
	CloudFormation *cloudformation.Store

	server     *http.Server
	principals map[string]*awsproto.Principal
	// enforce is false with DisablePolicies; templateRoles are the
	// template's roles (Template.Roles) by ARN, as principals whose
	// policies the engine holds under their logical id.
	enforce       bool
	templateRoles map[string]*awsproto.Principal
	closers       []func() // run by Close (the RIE processes)
	// functionEnvOverrides is Options.FunctionEnv.
	functionEnvOverrides map[string]string
}

const (
	adminKey = "AKIDLOCALADMIN"
	agentKey = "AKIDLOCALOPERATOR"
)

// Start builds the services, deploys the template and starts listening.
func Start(o Options) (*Cloud, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	c := &Cloud{Region: o.Region, Account: o.Account, principals: map[string]*awsproto.Principal{},
		enforce: !o.DisablePolicies, functionEnvOverrides: o.FunctionEnv, templateRoles: map[string]*awsproto.Principal{}}
	if o.RealTime {
		c.Clock = clock.Real{}
	} else {
		start := o.Start
		if start.IsZero() {
			var err error
			if start, err = clock.Start(); err != nil {
				return nil, err
			}
		}
		c.Virtual = clock.NewVirtual(start)
		c.Clock = c.Virtual
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.Addr, err)
	}
	c.URL = "http://" + ln.Addr().String()
	c.Faults = awsproto.NewFaults(o.Seed + 1)
	c.Policies = policy.NewEngine()
	// Every check is held to the IAM service authorization reference.
	c.Policies.SetReference(reference.Default())
	var authz awsproto.Authorizer = c.Policies
	if o.DisablePolicies {
		authz = awsproto.AllowAll{}
	}
	c.Router = &awsproto.Router{Account: o.Account, Clock: c.Clock, Authz: authz, Faults: c.Faults,
		Principals:      func(key string) *awsproto.Principal { return c.principals[key] },
		DenyUnknownKeys: o.DenyUnknownCredentials}

	var iamSvc, stsSvc, eksSvc, ssmSvc, sqsSvc, evSvc, lambdaSvc, sfnSvc, cfnSvc awsproto.Service
	c.CloudFormation, cfnSvc = cloudformation.New(cloudformation.Config{Region: o.Region, Account: o.Account})
	c.IAM, iamSvc = iam.New(iam.Config{Account: o.Account, Clock: c.Clock})
	_, stsSvc = sts.New(sts.Config{Account: o.Account, Roles: c.IAM})
	c.SSM, ssmSvc = ssm.New(ssm.Config{Region: o.Region, Account: o.Account, Clock: c.Clock})
	c.EKS, eksSvc = eks.New(eks.Config{Region: o.Region, Account: o.Account, Clock: c.Clock, Roles: c.IAM,
		Activations: c.SSM, ClusterQuota: o.ClusterQuota, RolePropagationDelay: o.RolePropagationDelay,
		DeletionDuration: o.ClusterDeletionDuration})
	// Queue and function policies always go to the engine (a malformed one
	// fails the deploy); authz decides whether they are enforced.
	c.SQS, sqsSvc = sqs.New(sqs.Config{Region: o.Region, Account: o.Account, Clock: c.Clock, Authz: authz, Policies: c.Policies})
	c.Lambda, lambdaSvc = lambda.New(lambda.Config{Region: o.Region, Account: o.Account, Clock: c.Clock, Destinations: c.SQS,
		Authz: authz, Policies: c.Policies})
	c.Faults.Sandboxes = c.Lambda // a KillCaller fault ends the caller's execution environment
	c.Events, evSvc = events.New(events.Config{Region: o.Region, Account: o.Account, Clock: c.Clock,
		Dispatcher: dispatcher{c}, DeadLetters: c.SQS})
	c.SFN, sfnSvc = sfn.New(sfn.Config{Region: o.Region, Account: o.Account, Clock: c.Clock, Seed: o.Seed, ReadLag: o.SFNReadLag,
		ClientConfig: func(smArn string) aws.Config {
			cfg := c.configFor("sm:" + smArn)
			if o.NoSDKBackoff { // Step Functions' own calls too: a backoff would only cost real time
				cfg.Retryer = func() aws.Retryer {
					return retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = noBackoff{} })
				}
			}
			return cfg
		},
		StatusChanged: func(ex *sfn.Execution, detail map[string]any) {
			// Step Functions reports every ended execution on the default bus.
			b, _ := json.Marshal(detail)
			_ = c.Events.PublishServiceEvent(events.Entry{Source: "aws.states",
				DetailType: "Step Functions Execution Status Change", Detail: string(b),
				Resources: []string{ex.Arn}})
		}})
	for _, s := range []awsproto.Service{iamSvc, stsSvc, eksSvc, ssmSvc, sqsSvc, evSvc, lambdaSvc, sfnSvc, cfnSvc} {
		c.Router.Register(s)
	}
	c.principals[adminKey] = &awsproto.Principal{Name: "admin", ARN: fmt.Sprintf("arn:aws:iam::%s:root", o.Account), Admin: true}
	c.principals[agentKey] = &awsproto.Principal{Name: "operator", ARN: fmt.Sprintf("arn:aws:iam::%s:role/PlatformOperator", o.Account), Admin: true}

	if o.Template != "" {
		if err := c.deploy(o); err != nil {
			ln.Close()
			return nil, err
		}
	}
	if !o.NoAgent {
		c.Agent = agent.New(o.Agent, c.Clock, c.ConfigFor("operator"), c.SSM)
		c.Events.Subscribe(func(ev events.Event) {
			c.Agent.HandleEvent(ev.DetailType, ev.Detail)
		})
	}
	c.server = &http.Server{Handler: c.Router, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.server.Serve(ln) }()
	return c, nil
}

// CheckWire fails t, when it ends, for every answer of this cloud that broke
// its operation's AWS model (awsproto.CheckWire). Every test that starts a
// cloud calls it.
func (c *Cloud) CheckWire(t testing.TB) {
	t.Helper()
	awsproto.CheckWire(t, c.Router)
}

// Close stops the server.
func (c *Cloud) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.server.Shutdown(ctx)
	for _, f := range c.closers {
		f()
	}
}

// ConfigFor returns an aws.Config for a named caller: "admin", "operator", a
// function's logical id, or a state machine's logical id. The SDK reaches the
// local cloud through BaseEndpoint, as AWS_ENDPOINT_URL does in Lambda.
func (c *Cloud) ConfigFor(name string) aws.Config {
	switch name {
	case "admin":
		return c.configWithKey(adminKey)
	case "operator":
		return c.configWithKey(agentKey)
	}
	if c.Template != nil {
		if f, ok := c.Template.Function(name); ok {
			return c.configWithKey(functionKey(f.LogicalID))
		}
		if sm, ok := c.Template.StateMachine(name); ok {
			return c.configWithKey(stateMachineKey(sm.LogicalID))
		}
	}
	panic(fmt.Sprintf("localcloud: no caller named %q", name))
}

func (c *Cloud) configFor(ref string) aws.Config {
	if arn, ok := strings.CutPrefix(ref, "sm:"); ok && c.Template != nil {
		for _, sm := range c.Template.StateMachines {
			if sm.Arn == arn {
				return c.configWithKey(stateMachineKey(sm.LogicalID))
			}
		}
	}
	return c.configWithKey(adminKey)
}

func (c *Cloud) configWithKey(key string) aws.Config {
	return aws.Config{
		Region:       c.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(key, "local-secret", ""),
		BaseEndpoint: aws.String(c.URL),
	}
}

func functionKey(logicalID string) string     { return "AKIDFN" + strings.ToUpper(logicalID) }
func stateMachineKey(logicalID string) string { return "AKIDSM" + strings.ToUpper(logicalID) }

// Credential is an access key id the cloud maps to a principal. The cloud
// does not check secrets or signatures: the key id alone names the caller.
type Credential struct {
	AccessKeyID string
	// Name is the principal's name in permission records: "admin",
	// "operator", or a function's or state machine's logical id.
	Name string
	// Kind is "admin", "operator", "function" or "state machine".
	Kind string
	// ARN is the principal's: the account root for admin, otherwise a role
	// (a function's or state machine's is its template role).
	ARN string
}

// Credentials lists the access key ids the cloud knows: admin, operator,
// then the template's functions and state machines in template order. A
// request signed with any other key is an unknown caller
// (Options.DenyUnknownCredentials).
func (c *Cloud) Credentials() []Credential {
	out := []Credential{c.credential(adminKey, "admin"), c.credential(agentKey, "operator")}
	if c.Template != nil {
		for _, f := range c.Template.Functions {
			out = append(out, c.credential(functionKey(f.LogicalID), "function"))
		}
		for _, sm := range c.Template.StateMachines {
			out = append(out, c.credential(stateMachineKey(sm.LogicalID), "state machine"))
		}
	}
	return out
}

func (c *Cloud) credential(key, kind string) Credential {
	p := c.principals[key]
	return Credential{AccessKeyID: key, Name: p.Name, Kind: kind, ARN: p.ARN}
}

// CodeDir maps a function's logical id to its code directory under
// functions/: EnsureRolesFunction → ensure-roles. The Makefile's
// build-<LogicalId> targets follow the same rule (a test checks it).
func CodeDir(logicalID string) string {
	base := strings.TrimSuffix(logicalID, "Function")
	var b strings.Builder
	for i, r := range base {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// deploy does what `sam deploy` would: queues, functions with their roles'
// policies, state machines, rules.
func (c *Cloud) deploy(o Options) error {
	tpl, err := template.Load(o.Template, template.Options{Region: o.Region, Account: o.Account, Partition: "aws",
		StackName: "local", Parameters: o.Parameters, BaseDir: filepath.Dir(o.Template)})
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.Template, err)
	}
	c.Template = tpl
	for _, q := range tpl.Queues {
		if arn := c.SQS.CreateQueue(q.Name); arn != q.Arn {
			return fmt.Errorf("queue %s: ARN %s, template says %s", q.LogicalID, arn, q.Arn)
		}
	}
	for i := range tpl.Functions {
		f := &tpl.Functions[i]
		dir := CodeDir(f.LogicalID)
		key := functionKey(f.LogicalID)
		c.principals[key] = &awsproto.Principal{Name: f.LogicalID, ARN: f.RoleArn}
		// The role's policies: those written in Policies and those SAM adds
		// (destinations, dead-letter queue), which Lambda itself uses.
		if err := c.setPolicies(f.LogicalID, f.PolicyDocuments, f.ImplicitPolicyDocuments...); err != nil {
			return fmt.Errorf("function %s: %w", f.LogicalID, err)
		}
		var runner lambda.Runner
		if r := c.rieRunner(o.RIE, f, key); r != nil {
			runner = r
		} else {
			factory, ok := o.Functions[dir]
			if !ok {
				return fmt.Errorf("function %s: no in-process factory for functions/%s", f.LogicalID, dir)
			}
			env := overrideEnv(f.Environment, o.FunctionEnv)
			// One handler per execution environment, each signed with a
			// session token of its own, as Lambda gives each environment.
			pool, err := lambda.NewPool(f.FunctionName, f.Arn, func(sessionToken string) (lambda.Handler, error) {
				cfg := c.configWithKey(key)
				cfg.Credentials = credentials.NewStaticCredentialsProvider(key, "local-secret", sessionToken)
				if o.NoSDKBackoff {
					cfg.Retryer = func() aws.Retryer {
						return retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = noBackoff{} })
					}
				}
				return factory(cfg, func(k string) string { return env[k] }, c.Clock.Now)
			})
			if err != nil {
				return fmt.Errorf("function %s: building its handler: %w", f.LogicalID, err)
			}
			runner = pool
		}
		c.Lambda.AddFunction(&lambda.Function{
			Name: f.FunctionName, Arn: f.Arn, Timeout: time.Duration(f.Timeout) * time.Second,
			Runner:       runner,
			AsyncRetries: f.AsyncRetries, OnFailureArn: f.OnFailureArn,
			MaxEventAge:   time.Duration(f.AsyncMaxEventAgeSeconds) * time.Second,
			DeadLetterArn: f.DeadLetterArn,
			Role:          c.principals[key],
		})
	}
	for _, qp := range tpl.QueuePolicies {
		for _, arn := range qp.QueueArns {
			if err := c.SQS.SetQueuePolicy(arn, qp.LogicalID, string(qp.Document)); err != nil {
				return fmt.Errorf("queue policy %s: %w", qp.LogicalID, err)
			}
		}
	}
	for _, p := range tpl.Permissions {
		if _, e := c.Lambda.AddPermission(p.FunctionArn, lambda.Permission{StatementID: p.StatementID, Action: p.Action,
			Principal: p.Principal, SourceArn: p.SourceArn, SourceAccount: p.SourceAccount, PrincipalOrgID: p.PrincipalOrgID,
			EventSourceToken: p.EventSourceToken, FunctionURLAuthType: p.FunctionURLAuthType}); e != nil {
			return fmt.Errorf("permission %s: %s", p.LogicalID, e.Message)
		}
	}
	for _, sm := range tpl.StateMachines {
		if len(sm.UnresolvedPlaceholders) > 0 {
			return fmt.Errorf("state machine %s: no DefinitionSubstitution for %v", sm.LogicalID, sm.UnresolvedPlaceholders)
		}
		c.principals[stateMachineKey(sm.LogicalID)] = &awsproto.Principal{Name: sm.LogicalID, ARN: sm.RoleArn}
		if err := c.setPolicies(sm.LogicalID, sm.PolicyDocuments); err != nil {
			return fmt.Errorf("state machine %s: %w", sm.LogicalID, err)
		}
		if _, e := c.SFN.CreateStateMachine(sm.Name, string(sm.Definition), sm.RoleArn); e != nil {
			return fmt.Errorf("state machine %s: %s", sm.LogicalID, e.Message)
		}
	}
	// Roles other services assume (EventBridge, for a state machine target).
	for _, r := range tpl.Roles {
		var ps []policy.Policy
		for _, ip := range r.Policies {
			p, err := policy.ParseDocument(ip.Document)
			if err != nil {
				return fmt.Errorf("role %s: policy %s: %w", r.LogicalID, ip.Name, err)
			}
			p.Name = ip.Name
			ps = append(ps, p)
		}
		c.Policies.SetPolicies(r.LogicalID, ps)
		c.templateRoles[r.Arn] = &awsproto.Principal{Name: r.LogicalID, ARN: r.Arn}
	}
	outputs := map[string]cloudformation.Output{}
	for k, v := range tpl.Outputs {
		outputs[k] = cloudformation.Output{Value: v, Description: tpl.OutputDescriptions[k]}
	}
	c.CloudFormation.AddStack(tpl.StackName, tpl.StackID, c.Clock.Now(), outputs)
	for _, r := range tpl.Rules {
		rule := events.Rule{Name: r.Name, BusName: r.BusName, Pattern: json.RawMessage(r.Pattern), State: "ENABLED"}
		for _, t := range r.Targets {
			et := events.Target{ID: t.ID, Arn: t.Arn, RoleArn: t.RoleArn, Input: t.Input, InputPath: t.InputPath, DeadLetterArn: t.DeadLetterArn}
			if t.InputTransformer != nil {
				et.InputTransformer = &events.InputTransformer{InputPathsMap: t.InputTransformer.InputPathsMap, InputTemplate: t.InputTransformer.InputTemplate}
			}
			if t.MaxRetryAttempts != nil || t.MaxEventAgeSeconds != nil {
				et.RetryPolicy = &events.RetryPolicy{}
				if t.MaxRetryAttempts != nil {
					et.RetryPolicy.MaximumRetryAttempts = *t.MaxRetryAttempts
				}
				if t.MaxEventAgeSeconds != nil {
					et.RetryPolicy.MaximumEventAgeInSeconds = *t.MaxEventAgeSeconds
				}
			}
			rule.Targets = append(rule.Targets, et)
		}
		if _, err := c.Events.PutRule(rule); err != nil {
			return fmt.Errorf("rule %s: %w", r.LogicalID, err)
		}
	}
	return nil
}

// setPolicies gives a principal its identity policies: docs written in the
// template, then sam, the ones the SAM transform adds.
func (c *Cloud) setPolicies(principal string, docs [][]byte, sam ...[]byte) error {
	var ps []policy.Policy
	for i, d := range append(append([][]byte(nil), docs...), sam...) {
		p, err := policy.ParseDocument(d)
		if err != nil {
			return fmt.Errorf("policy %d: %w", i, err)
		}
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s-policy-%d", principal, i)
			if i >= len(docs) {
				p.Name = fmt.Sprintf("%s-sam-policy-%d", principal, i-len(docs))
			}
		}
		ps = append(ps, p)
	}
	c.Policies.SetPolicies(principal, ps)
	return nil
}

// dispatcher delivers EventBridge targets: a Lambda function is invoked
// asynchronously (EventBridge's delivery succeeds once Lambda accepts the
// event; the function's own retries and on-failure destination apply after),
// a state machine gets StartExecution, made with the target's role.
type dispatcher struct{ c *Cloud }

func (d dispatcher) Deliver(ctx context.Context, t events.Target, input []byte) error {
	switch {
	case strings.Contains(t.Arn, ":lambda:"):
		f, ok := d.c.Lambda.Lookup(t.Arn)
		if !ok {
			return &events.DeliveryError{Code: "NO_RESOURCE", Message: fmt.Sprintf("Function not found: %s", t.Arn), NoRetry: true}
		}
		// EventBridge invokes as its service principal, for the rule: the
		// function's policy must allow it (SAM's AWS::Lambda::Permission).
		// EventBridge does not retry a permission error.
		src := map[string]string{"aws:SourceArn": t.RuleArn, "aws:SourceAccount": d.c.Account}
		if err := d.c.Lambda.InvokeAsyncAs(awsproto.ServicePrincipal(events.Principal), src, f, input); err != nil {
			de := &events.DeliveryError{Code: "NO_PERMISSIONS", Message: err.Error(), NoRetry: true}
			var denied *awsproto.DeniedError
			if errors.As(err, &denied) {
				de.Message, de.Why = denied.Err.Message, denied.Why
			}
			return de
		}
		return nil
	case events.IsStateMachineArn(t.Arn):
		// EventBridge assumes the target's role and calls StartExecution
		// with it: a role it cannot assume, or whose policies do not allow
		// the call, is a permission error, which EventBridge does not retry.
		if err := d.c.authorizeTargetRole(t.RoleArn, "states:StartExecution", t.Arn); err != nil {
			return err
		}
		_, e := d.c.SFN.StartExecution(t.Arn, "", string(input))
		if e != nil {
			return errors.New(e.Error())
		}
		return nil
	}
	return fmt.Errorf("the local cloud cannot deliver to target %s", t.Arn)
}

// authorizeTargetRole decides whether EventBridge, assuming roleArn, may
// perform action on resource: the role must be one the local cloud knows (a
// role of the template, or one created through IAM that trusts
// events.amazonaws.com) and its inline policies must allow the action. The
// check is recorded like any other (under the role's logical id, or an IAM
// role's name). A refusal is a NO_PERMISSIONS delivery error.
func (c *Cloud) authorizeTargetRole(roleArn, action, resource string) error {
	if !c.enforce {
		return nil
	}
	p, ok := c.templateRoles[roleArn]
	if !ok {
		p, ok = c.iamRole(roleArn)
	}
	if !ok {
		return &events.DeliveryError{Code: "NO_PERMISSIONS", NoRetry: true,
			Message: fmt.Sprintf("EventBridge could not assume the role %s to call %s.", roleArn, action)}
	}
	if err := awsproto.Authorize(c.Policies, "AccessDeniedException", p, action, resource, nil); err != nil {
		de := &events.DeliveryError{Code: "NO_PERMISSIONS", Message: err.Error(), NoRetry: true}
		var denied *awsproto.DeniedError
		if errors.As(err, &denied) {
			de.Message, de.Why = denied.Err.Message, denied.Why
		}
		return de
	}
	return nil
}

// iamRole is a role created through the IAM API that EventBridge may
// assume, as a principal whose inline policies the engine now holds under
// the role's name. Attached managed policies are not evaluated.
func (c *Cloud) iamRole(roleArn string) (*awsproto.Principal, bool) {
	name := roleArn[strings.LastIndex(roleArn, "/")+1:]
	snap, ok := c.IAM.Role(name)
	if !ok || snap.ARN != roleArn || !c.IAM.AssumableBy(roleArn, events.Principal, 0) {
		return nil, false
	}
	names := make([]string, 0, len(snap.InlinePolicies))
	for n := range snap.InlinePolicies {
		names = append(names, n)
	}
	sort.Strings(names)
	var ps []policy.Policy
	for _, n := range names {
		p, err := policy.ParseDocument([]byte(snap.InlinePolicies[n]))
		if err != nil {
			continue // IAM refused it when it was put; nothing to allow
		}
		p.Name = n
		ps = append(ps, p)
	}
	c.Policies.SetPolicies(snap.Name, ps)
	return &awsproto.Principal{Name: snap.Name, ARN: snap.ARN}, true
}

// overrideEnv is env with the declared variables over replaced
// (Options.FunctionEnv).
func overrideEnv(env, over map[string]string) map[string]string {
	if len(over) == 0 {
		return env
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range over {
		if _, declared := env[k]; declared {
			out[k] = v
		}
	}
	return out
}

// noBackoff retries at once (Options.NoSDKBackoff).
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }
