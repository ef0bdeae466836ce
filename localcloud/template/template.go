// Package template reads the SAM template.yaml and resolves it the way the SAM
// transform and CloudFormation would for one stack in one region and account:
// parameters, conditions, intrinsic functions, Globals, physical names and
// ARNs, and the resources SAM implies (execution roles, EventBridge rules,
// dead-letter queues). The local cloud wires itself from the result, so
// nothing is wired twice by hand.
//
// Anything the loader does not understand is an error naming the resource and
// the property path; it never resolves to an empty value.
package template

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"gopkg.in/yaml.v3"
)

// Options places the stack. Zero fields take the defaults us-east-1,
// 123456789012, aws and "local".
type Options struct {
	Region, Account, Partition string
	StackName                  string
	// Parameters override template parameter defaults.
	Parameters map[string]string
	// BaseDir is the directory DefinitionUri paths are relative to; default
	// the directory of the template file.
	BaseDir string
}

// Template is the resolved template.
type Template struct {
	// Parameters are the resolved parameter values (defaults + overrides;
	// lists comma-joined) and the pseudo parameters AWS::Region,
	// AWS::AccountId, AWS::Partition, AWS::StackName, AWS::StackId, AWS::URLSuffix.
	Parameters    map[string]string
	Conditions    map[string]bool
	Functions     []Function
	StateMachines []StateMachine
	// Queues are the AWS::SQS::Queue resources and the queues SAM creates
	// (EventBridgeRule DeadLetterConfig Type SQS, EventInvokeConfig
	// destinations of Type SQS without Destination).
	Queues []Queue
	// Rules come from functions' and state machines' Events (EventBridgeRule)
	// and from AWS::Events::Rule resources.
	Rules []Rule
	// QueuePolicies are the AWS::SQS::QueuePolicy resources and the ones SAM
	// creates for an EventBridgeRule DeadLetterConfig of Type SQS.
	QueuePolicies []QueuePolicy
	// Permissions are the AWS::Lambda::Permission resources and the ones SAM
	// creates for every EventBridgeRule event of a function.
	Permissions []Permission
	// Roles are the AWS::IAM::Role resources and the roles SAM creates for
	// a state machine's EventBridgeRule events, which EventBridge assumes to
	// start an execution. The roles SAM creates for functions and state
	// machines themselves are not listed (their policies are the Function's
	// and StateMachine's).
	Roles   []Role
	Outputs map[string]string
	// OutputDescriptions are the Outputs' Description, where they have one.
	OutputDescriptions map[string]string
	// StackName and StackID are the stack the template is deployed as
	// (AWS::StackName, AWS::StackId).
	StackName, StackID string
}

// Role is an IAM role of the template with its inline policies.
type Role struct {
	// LogicalID is "<StateMachine><Event>Role" for a SAM event role.
	LogicalID, Name, Arn string
	// TrustPolicy is AssumeRolePolicyDocument as JSON; nil if absent.
	TrustPolicy []byte
	// Policies are the inline policies (Policies), in template order. SAM's
	// event role has one, "<LogicalID>StartExecutionPolicy", allowing
	// states:StartExecution on its state machine.
	Policies []InlinePolicy
}

// InlinePolicy is one of a role's inline policies.
type InlinePolicy struct {
	Name     string
	Document []byte // JSON
}

// QueuePolicy is a queue policy: the same document on each of its queues.
type QueuePolicy struct {
	// LogicalID is "<Function><Event>QueuePolicy" for a SAM one.
	LogicalID string
	QueueArns []string // the Queues (URLs) as ARNs; each a queue of the template
	Document  []byte   // PolicyDocument, JSON
}

// Permission is a statement of a function's resource-based policy, as
// AWS::Lambda::Permission adds it. SAM's for an EventBridgeRule event lets
// events.amazonaws.com invoke the function with aws:SourceArn the rule.
type Permission struct {
	// LogicalID is "<Function><Event>Permission" for a SAM one.
	LogicalID string
	// StatementID is the Sid CloudFormation gives the statement:
	// "<stack>-<LogicalID>-<suffix>" (deterministic here).
	StatementID string
	FunctionArn string // unqualified; a function of the template
	Action      string
	Principal   string
	// SourceArn, SourceAccount, PrincipalOrgID, EventSourceToken and
	// FunctionUrlAuthType become the statement's conditions; "" if unset.
	SourceArn, SourceAccount, PrincipalOrgID, EventSourceToken, FunctionURLAuthType string
}

// Function is an AWS::Serverless::Function.
type Function struct {
	// FunctionName is the FunctionName property, else
	// "<stack>-<LogicalID>-<suffix>"; Arn is arn:<p>:lambda:<r>:<a>:function:<name>.
	LogicalID, FunctionName, Arn string
	CodeURI, Handler, Runtime    string
	Architectures                []string // default [x86_64]
	Timeout                      int      // seconds, default 3
	MemorySize                   int      // MB, default 128
	BuildMethod                  string   // Metadata.BuildMethod
	// Environment is Globals.Function.Environment.Variables merged with the
	// function's own, intrinsics resolved.
	Environment map[string]string
	// RoleArn is the Role property, else the role SAM creates:
	// arn:<p>:iam::<a>:role/<stack>-<LogicalID>Role-<suffix>.
	RoleArn string
	// PolicyDocuments are the inline policies written in Policies, one IAM
	// JSON document each.
	PolicyDocuments [][]byte
	// ManagedPolicyArns are the managed policies SAM attaches to the role it
	// creates: AWSLambdaBasicExecutionRole and the names/ARNs in Policies.
	ManagedPolicyArns []string
	// ImplicitPolicyDocuments are the inline policies SAM adds to the role it
	// creates for EventInvokeConfig destinations and the DeadLetterQueue
	// (sqs:SendMessage or sns:Publish on each): Lambda sends with the role.
	ImplicitPolicyDocuments [][]byte
	// AsyncRetries is EventInvokeConfig.MaximumRetryAttempts (default 2).
	AsyncRetries int
	// AsyncMaxEventAgeSeconds is EventInvokeConfig.MaximumEventAgeInSeconds
	// (default 21600).
	AsyncMaxEventAgeSeconds int
	// OnFailureArn / OnSuccessArn are the EventInvokeConfig destinations; "" if none.
	OnFailureArn, OnSuccessArn string
	// DeadLetterArn is DeadLetterQueue.TargetArn (async invocation DLQ); "" if none.
	DeadLetterArn string
}

// StateMachine is an AWS::Serverless::StateMachine.
type StateMachine struct {
	// Name is the Name property, else "<LogicalID>-<suffix>"; Arn is
	// arn:<p>:states:<r>:<a>:stateMachine:<name>.
	LogicalID, Name, Arn string
	Type                 string // STANDARD (default) or EXPRESS
	// Definition is the DefinitionUri file (relative to BaseDir; YAML
	// converted to JSON) or the inline Definition, with ${X} replaced from
	// DefinitionSubstitutions.
	Definition              []byte
	DefinitionSubstitutions map[string]string
	// UnresolvedPlaceholders lists (sorted, once each) the ${X} in the
	// definition with no substitution.
	UnresolvedPlaceholders []string
	RoleArn                string
	// PolicyDocuments are only the inline policies written in Policies.
	PolicyDocuments   [][]byte
	ManagedPolicyArns []string
}

// Queue is an SQS queue; URL is what Ref returns.
type Queue struct{ LogicalID, Name, Arn, URL string }

// Rule is an EventBridge rule.
type Rule struct {
	// LogicalID is "<Function><Event>" for SAM events.
	LogicalID, Name, BusName string
	State                    string // ENABLED or DISABLED
	Pattern                  []byte // JSON
	Targets                  []Target
}

// Target is a rule target.
type Target struct {
	ID, Arn          string // function or state machine ARN
	RoleArn          string // role EventBridge assumes (state machine targets)
	Input            string // constant JSON input; "" if none
	InputPath        string
	InputTransformer *InputTransformer
	MaxRetryAttempts *int
	// MaxEventAgeSeconds is RetryPolicy.MaximumEventAgeInSeconds.
	MaxEventAgeSeconds *int
	DeadLetterArn      string
}

// InputTransformer is a target's InputTransformer.
type InputTransformer struct {
	InputPathsMap map[string]string
	InputTemplate string
}

// Function returns the function with the given logical ID.
func (t *Template) Function(logicalID string) (*Function, bool) {
	for i := range t.Functions {
		if t.Functions[i].LogicalID == logicalID {
			return &t.Functions[i], true
		}
	}
	return nil, false
}

// StateMachine returns the state machine with the given logical ID.
func (t *Template) StateMachine(logicalID string) (*StateMachine, bool) {
	for i := range t.StateMachines {
		if t.StateMachines[i].LogicalID == logicalID {
			return &t.StateMachines[i], true
		}
	}
	return nil, false
}

type loader struct {
	o         Options
	out       *Template
	params    map[string]any // string, or []any for list parameters
	mappings  map[string]any
	condDecl  map[string]any
	conds     map[string]bool
	condBusy  map[string]bool
	res       map[string]*resource
	order     []string
	names     map[string]string
	nameBusy  map[string]bool
	resolved  map[string]map[string]any // resolved Properties of existing resources
	globalsFn map[string]any
	globalsSM map[string]any
}

const samTransform = "AWS::Serverless-2016-10-31"

// Load reads and resolves the template at path.
func Load(path string, o Options) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if o.BaseDir == "" {
		o.BaseDir = filepath.Dir(path)
	}
	t, err := load(data, o)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

func load(data []byte, o Options) (*Template, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if o.StackName == "" {
		o.StackName = "local"
	}
	doc, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	l := &loader{
		o:        o,
		out:      &Template{Parameters: map[string]string{}, Conditions: map[string]bool{}, Outputs: map[string]string{}, OutputDescriptions: map[string]string{}},
		params:   map[string]any{},
		conds:    map[string]bool{},
		condBusy: map[string]bool{},
		res:      map[string]*resource{},
		names:    map[string]string{},
		nameBusy: map[string]bool{},
		resolved: map[string]map[string]any{},
	}
	if err := l.run(doc); err != nil {
		return nil, err
	}
	return l.out, nil
}

func section(root map[string]any, name string) (map[string]any, error) {
	v, ok := root[name]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", name)
	}
	return m, nil
}

func (l *loader) run(doc *document) error {
	root := doc.root
	for k := range root {
		switch k {
		case "AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters",
			"Mappings", "Conditions", "Rules", "Globals", "Resources", "Outputs":
		default:
			return fmt.Errorf("%s: unsupported top-level section", k)
		}
	}
	hasSAM := false
	switch tr := root["Transform"].(type) {
	case nil:
	case string:
		if tr != samTransform {
			return fmt.Errorf("Transform: unsupported transform %s", tr)
		}
		hasSAM = true
	case []any:
		for i, e := range tr {
			if e != samTransform {
				return fmt.Errorf("Transform[%d]: unsupported transform %v", i, e)
			}
			hasSAM = true
		}
	default:
		return fmt.Errorf("Transform: unsupported form %s", describe(tr))
	}

	o := l.o
	stackID := fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", o.Partition, o.Region, o.Account, o.StackName, l.stackUUID())
	l.out.StackName, l.out.StackID = o.StackName, stackID
	for k, v := range map[string]string{
		"AWS::Region": o.Region, "AWS::AccountId": o.Account, "AWS::Partition": o.Partition,
		"AWS::StackName": o.StackName, "AWS::StackId": stackID, "AWS::URLSuffix": l.urlSuffix(),
	} {
		l.params[k] = v
		l.out.Parameters[k] = v
	}
	params, err := section(root, "Parameters")
	if err != nil {
		return err
	}
	if err := l.loadParameters(params); err != nil {
		return err
	}
	if l.mappings, err = section(root, "Mappings"); err != nil {
		return err
	}
	if l.condDecl, err = section(root, "Conditions"); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(l.condDecl)) {
		v, err := l.condition(name, "Conditions."+name)
		if err != nil {
			return err
		}
		l.out.Conditions[name] = v
	}
	rules, err := section(root, "Rules")
	if err != nil {
		return err
	}
	if err := l.checkRules(rules); err != nil {
		return err
	}
	globals, err := section(root, "Globals")
	if err != nil {
		return err
	}
	for k := range globals {
		if k != "Function" && k != "StateMachine" {
			return fmt.Errorf("Globals.%s: unsupported Globals section", k)
		}
	}
	if l.globalsFn, err = section(globals, "Function"); err != nil {
		return fmt.Errorf("Globals.%w", err)
	}
	if l.globalsSM, err = section(globals, "StateMachine"); err != nil {
		return fmt.Errorf("Globals.%w", err)
	}

	resources, err := section(root, "Resources")
	if err != nil {
		return err
	}
	if err := l.declare(resources, doc.resourceOrder, hasSAM); err != nil {
		return err
	}
	if err := l.expandSAM(); err != nil {
		return err
	}
	// Resolve every property of every resource, so a bad intrinsic anywhere is
	// reported even where nothing reads it.
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists || r.generated {
			continue
		}
		v, err := l.resolve(r.props, r.path()+".Properties")
		if err != nil {
			return err
		}
		l.resolved[id] = v.(map[string]any)
	}
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists {
			continue
		}
		var err error
		switch {
		case r.typ == typeFunction:
			err = l.function(r)
		case r.typ == typeStateMachine:
			err = l.stateMachine(r)
		case r.typ == typeQueue:
			err = l.queue(r)
		case r.typ == typeRule && !r.generated:
			err = l.eventsRule(r)
		case r.typ == typeRole && !r.generated:
			err = l.iamRole(r)
		}
		if err != nil {
			return err
		}
	}
	// Queue policies and permissions name queues and functions that may be
	// declared after them.
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists || r.generated {
			continue
		}
		var err error
		switch r.typ {
		case typeQueuePolicy:
			err = l.queuePolicy(r)
		case typePermission:
			err = l.permission(r)
		}
		if err != nil {
			return err
		}
	}
	return l.outputs(root)
}

// properties checks r's properties against those the loader supports for
// its type (allowed), and returns their path, their resolved values, and
// r's physical name ("" for a type without one).
func (l *loader) properties(r *resource, allowed map[string]bool) (path string, props map[string]any, name string, err error) {
	if err := checkProps(r, allowed); err != nil {
		return "", nil, "", err
	}
	if knownTypes[r.typ].style != styleNone {
		if name, err = l.physicalName(r); err != nil {
			return "", nil, "", err
		}
	}
	return r.path() + ".Properties", l.resolved[r.id], name, nil
}

func (l *loader) queue(r *resource) error {
	name, err := l.physicalName(r)
	if err != nil {
		return err
	}
	l.out.Queues = append(l.out.Queues, Queue{LogicalID: r.id, Name: name,
		Arn: l.arn("sqs", l.o.Region, name), URL: l.queueURL(name)})
	return nil
}

var queuePolicyProps = map[string]bool{"Queues": true, "PolicyDocument": true}

func (l *loader) queuePolicy(r *resource) error {
	p, props, _, err := l.properties(r, queuePolicyProps)
	if err != nil {
		return err
	}
	qp := QueuePolicy{LogicalID: r.id}
	urls, ok := props["Queues"].([]any)
	if !ok || len(urls) == 0 {
		return fmt.Errorf("%s.Queues: required, a list of queue URLs", p)
	}
	for i, u := range urls {
		s, _ := scalarString(u)
		arn := ""
		for _, q := range l.out.Queues {
			if q.URL == s {
				arn = q.Arn
			}
		}
		if arn == "" {
			return fmt.Errorf("%s.Queues[%d]: %v is not the URL of a queue of this template (write !Ref <Queue>)", p, i, u)
		}
		qp.QueueArns = append(qp.QueueArns, arn)
	}
	doc, ok := props["PolicyDocument"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s.PolicyDocument: required, a policy document", p)
	}
	if qp.Document, err = toJSON(doc); err != nil {
		return fmt.Errorf("%s.PolicyDocument: %v", p, err)
	}
	l.out.QueuePolicies = append(l.out.QueuePolicies, qp)
	return nil
}

var permissionProps = map[string]bool{"Action": true, "FunctionName": true, "Principal": true, "SourceArn": true,
	"SourceAccount": true, "PrincipalOrgID": true, "EventSourceToken": true, "FunctionUrlAuthType": true}

func (l *loader) permission(r *resource) error {
	p, props, _, err := l.properties(r, permissionProps)
	if err != nil {
		return err
	}
	perm := Permission{LogicalID: r.id, StatementID: l.statementID(r.id)}
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"Action", &perm.Action, true}, {"Principal", &perm.Principal, true}, {"SourceArn", &perm.SourceArn, false},
		{"SourceAccount", &perm.SourceAccount, false}, {"PrincipalOrgID", &perm.PrincipalOrgID, false},
		{"EventSourceToken", &perm.EventSourceToken, false}, {"FunctionUrlAuthType", &perm.FunctionURLAuthType, false},
	} {
		v, err := getString(props, f.key, p)
		if err != nil {
			return err
		}
		if f.required && v == "" {
			return fmt.Errorf("%s.%s: required", p, f.key)
		}
		*f.dst = v
	}
	name, err := getString(props, "FunctionName", p)
	if err != nil {
		return err
	}
	for _, f := range l.out.Functions {
		if name == f.FunctionName || name == f.Arn {
			perm.FunctionArn = f.Arn
		}
	}
	if perm.FunctionArn == "" {
		return fmt.Errorf("%s.FunctionName: %q is not a function of this template (write !Ref <Function> or !GetAtt <Function>.Arn; versions and aliases are not supported)", p, name)
	}
	l.out.Permissions = append(l.out.Permissions, perm)
	return nil
}

// statementID is the Sid CloudFormation gives an AWS::Lambda::Permission's
// statement: <stack>-<LogicalID>-<suffix>, at most 100 characters.
func (l *loader) statementID(id string) string {
	return truncate(l.o.StackName+"-"+id, 100, l.suffix(id))
}

// stackUUID is a deterministic stand-in for the UUID in AWS::StackId.
func (l *loader) stackUUID() string {
	h := sha256.Sum256([]byte("AWS::StackId/" + l.o.StackName))
	return awsproto.UUID([16]byte(h[:16]), false)
}

// declare records the template's resources, evaluates their Conditions and
// merges Globals.
func (l *loader) declare(resources map[string]any, order []string, hasSAM bool) error {
	for _, id := range order {
		p := "Resources." + id
		m, ok := resources[id].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", p)
		}
		r := &resource{id: id, exists: true, props: map[string]any{}}
		for k, v := range m {
			switch k {
			case "Type":
				r.typ, _ = v.(string)
			case "Properties":
				if v == nil {
					continue
				}
				if r.props, ok = v.(map[string]any); !ok {
					return fmt.Errorf("%s.Properties: not a mapping", p)
				}
			case "Metadata":
				r.metadata, _ = v.(map[string]any)
			case "Condition":
				if r.condition, ok = v.(string); !ok {
					return fmt.Errorf("%s.Condition: expected a condition name", p)
				}
			case "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy":
			default:
				return fmt.Errorf("%s.%s: unsupported resource attribute", p, k)
			}
		}
		if _, ok := knownTypes[r.typ]; !ok {
			return fmt.Errorf("%s: unsupported resource type %q (teach localcloud/template about it)", p, r.typ)
		}
		if strings.HasPrefix(r.typ, "AWS::Serverless::") && !hasSAM {
			return fmt.Errorf("%s: %s needs Transform: %s", p, r.typ, samTransform)
		}
		if r.condition != "" {
			c, err := l.condition(r.condition, p+".Condition")
			if err != nil {
				return err
			}
			r.exists = c
		}
		switch r.typ {
		case typeFunction:
			r.props = mergeGlobals(l.globalsFn, r.props).(map[string]any)
		case typeStateMachine:
			r.props = mergeGlobals(l.globalsSM, r.props).(map[string]any)
		}
		l.res[id] = r
		l.order = append(l.order, id)
	}
	return nil
}

// mergeGlobals applies SAM's Globals rules: mappings merge key by key, lists
// are concatenated (Globals first), anything else (including intrinsic
// functions) is overridden by the resource's own value.
func mergeGlobals(g, own any) any {
	gm, gok := g.(map[string]any)
	om, ook := own.(map[string]any)
	if gok && ook {
		_, _, gi := isIntrinsic(gm)
		_, _, oi := isIntrinsic(om)
		if !gi && !oi {
			out := make(map[string]any, len(gm)+len(om))
			for k, v := range gm {
				out[k] = v
			}
			for k, v := range om {
				if gv, ok := out[k]; ok {
					out[k] = mergeGlobals(gv, v)
				} else {
					out[k] = v
				}
			}
			return out
		}
	}
	gl, gok := g.([]any)
	ol, ook := own.([]any)
	if gok && ook {
		return append(slices.Clone(gl), ol...)
	}
	return own
}

// addGenerated inserts a resource the SAM transform creates, right after its owner.
func (l *loader) addGenerated(owner *resource, id, typ string, props map[string]any) (*resource, error) {
	if _, dup := l.res[id]; dup {
		return nil, fmt.Errorf("%s: SAM would generate resource %s, which the template already declares", owner.path(), id)
	}
	r := &resource{id: id, typ: typ, props: props, exists: owner.exists, generated: true,
		owner: owner.id, condition: owner.condition}
	l.res[id] = r
	i := slices.Index(l.order, owner.id) + 1
	for i < len(l.order) && l.res[l.order[i]].owner == owner.id {
		i++
	}
	l.order = slices.Insert(l.order, i, id)
	return r, nil
}

// expandSAM creates the resources SAM implies, so Ref/GetAtt on them work
// (e.g. !GetAtt TriggerFunctionRole.Arn) and their names are stable.
func (l *loader) expandSAM() error {
	for _, id := range slices.Clone(l.order) {
		r := l.res[id]
		if r.typ != typeFunction && r.typ != typeStateMachine {
			continue
		}
		if _, hasRole := r.props["Role"]; !hasRole {
			props := map[string]any{}
			if rp, ok := r.props["RolePath"]; ok {
				props["Path"] = rp
			}
			if _, err := l.addGenerated(r, id+"Role", typeRole, props); err != nil {
				return err
			}
		}
		events, err := l.events(r)
		if err != nil {
			return err
		}
		for _, ev := range events {
			props := map[string]any{}
			if v, ok := ev.props["RuleName"]; ok {
				props["Name"] = v
			}
			if v, ok := ev.props["EventBusName"]; ok {
				props["EventBusName"] = v
			}
			if _, err := l.addGenerated(r, ev.ruleID, typeRule, props); err != nil {
				return err
			}
			if r.typ == typeFunction {
				if _, err := l.addGenerated(r, ev.ruleID+"Permission", typePermission, map[string]any{}); err != nil {
					return err
				}
			}
			if r.typ == typeStateMachine {
				if _, err := l.addGenerated(r, ev.ruleID+"Role", typeRole, map[string]any{}); err != nil {
					return err
				}
			}
			if dlc, ok := ev.props["DeadLetterConfig"].(map[string]any); ok {
				if t, has := dlc["Type"]; has {
					if t != "SQS" {
						return fmt.Errorf("%s.DeadLetterConfig.Type: %v is not SQS", ev.path, t)
					}
					if _, both := dlc["Arn"]; both {
						return fmt.Errorf("%s.DeadLetterConfig: specify Type or Arn, not both", ev.path)
					}
					qid := ev.ruleID + "Queue"
					if v, ok := dlc["QueueLogicalId"]; ok {
						if qid, ok = v.(string); !ok {
							return fmt.Errorf("%s.DeadLetterConfig.QueueLogicalId: expected a literal string", ev.path)
						}
					}
					if _, err := l.addGenerated(r, qid, typeQueue, map[string]any{}); err != nil {
						return err
					}
					if _, err := l.addGenerated(r, ev.ruleID+"QueuePolicy", typeQueuePolicy, map[string]any{}); err != nil {
						return err
					}
				}
			}
		}
		if r.typ != typeFunction || !r.exists {
			continue
		}
		// EventInvokeConfig destinations of Type SQS/SNS without a
		// Destination: SAM creates the queue/topic.
		eic, _ := r.props["EventInvokeConfig"].(map[string]any)
		dc, _ := eic["DestinationConfig"].(map[string]any)
		for _, which := range []string{"OnSuccess", "OnFailure"} {
			d, ok := dc[which].(map[string]any)
			if !ok {
				continue
			}
			p := r.path() + ".Properties.EventInvokeConfig.DestinationConfig." + which
			dest, err := l.resolve(d["Destination"], p+".Destination")
			if err != nil {
				return err
			}
			if dest != nil && dest != noValue {
				continue
			}
			base := id + "EventInvokeConfig" + which
			switch d["Type"] {
			case "SQS":
				_, err = l.addGenerated(r, base+"Queue", typeQueue, map[string]any{})
			case "SNS":
				_, err = l.addGenerated(r, base+"Topic", typeTopic, map[string]any{})
			default:
				err = fmt.Errorf("%s.Destination: required unless Type is SQS or SNS", p)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

type samEvent struct {
	name, ruleID, path string
	props              map[string]any // raw
}

var eventProps = map[string]bool{
	"Pattern": true, "EventBusName": true, "Input": true, "InputPath": true, "InputTransformer": true,
	"RetryPolicy": true, "DeadLetterConfig": true, "RuleName": true, "State": true, "Target": true,
}

// events lists r's Events (raw), sorted by name.
func (l *loader) events(r *resource) ([]samEvent, error) {
	raw, ok := r.props["Events"]
	if !ok {
		return nil, nil
	}
	evs, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.Properties.Events: not a mapping", r.path())
	}
	var out []samEvent
	for _, name := range slices.Sorted(maps.Keys(evs)) {
		p := r.path() + ".Properties.Events." + name
		ev, ok := evs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not a mapping", p)
		}
		if typ := ev["Type"]; typ != "EventBridgeRule" && typ != "CloudWatchEvent" {
			return nil, fmt.Errorf("%s.Type: unsupported event type %v (only EventBridgeRule)", p, typ)
		}
		props, ok := ev["Properties"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.Properties: not a mapping", p)
		}
		for k := range props {
			if !eventProps[k] {
				return nil, fmt.Errorf("%s.Properties.%s: unsupported EventBridgeRule property", p, k)
			}
		}
		out = append(out, samEvent{name: name, ruleID: r.id + name, path: p + ".Properties", props: props})
	}
	return out, nil
}

// --- extraction ---

var functionProps = map[string]bool{
	// read
	"FunctionName": true, "CodeUri": true, "InlineCode": true, "Handler": true, "Runtime": true,
	"Architectures": true, "Timeout": true, "MemorySize": true, "Environment": true, "Role": true,
	"Policies": true, "EventInvokeConfig": true, "Events": true, "DeadLetterQueue": true, "RolePath": true,
	// accepted: no effect on what the local cloud runs
	"Description": true, "Tags": true, "PropagateTags": true, "Tracing": true, "LoggingConfig": true,
	"KmsKeyArn": true, "Layers": true, "RecursiveLoop": true, "RuntimeManagementConfig": true,
	"SnapStart": true, "EphemeralStorage": true, "PermissionsBoundary": true, "AssumeRolePolicyDocument": true,
	"CodeSigningConfigArn": true, "ReservedConcurrentExecutions": true, "VpcConfig": true,
	"AutoPublishAlias": true, "VersionDescription": true, "PackageType": true,
}

var stateMachineProps = map[string]bool{
	"Name": true, "Type": true, "Definition": true, "DefinitionUri": true, "DefinitionSubstitutions": true,
	"Role": true, "RolePath": true, "Policies": true, "Events": true,
	"Logging": true, "Tracing": true, "Tags": true, "PropagateTags": true, "PermissionsBoundary": true,
}

func checkProps(r *resource, allowed map[string]bool) error {
	for _, k := range slices.Sorted(maps.Keys(r.props)) {
		if !allowed[k] {
			return fmt.Errorf("%s.Properties.%s: unsupported %s property", r.path(), k, r.typ)
		}
	}
	return nil
}

func getString(m map[string]any, key, path string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", fmt.Errorf("%s.%s: expected a string, got %s", path, key, describe(v))
	}
	return s, nil
}

func getInt(m map[string]any, key, path string, def int) (int, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		var n int
		if _, err := fmt.Sscanf(x, "%d", &n); err == nil && fmt.Sprint(n) == x {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s.%s: expected an integer, got %v", path, key, v)
}

func getMap(m map[string]any, key, path string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.%s: expected a mapping, got %s", path, key, describe(v))
	}
	return mm, nil
}

func toJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (l *loader) generatedRoleArn(r *resource, path string) (string, error) {
	role, ok := l.res[r.id+"Role"]
	if !ok || !role.generated {
		return "", fmt.Errorf("%s: no Role and no generated role", path)
	}
	v, err := l.attribute(role, "Arn", path)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (l *loader) function(r *resource) error {
	p, props, name, err := l.properties(r, functionProps)
	if err != nil {
		return err
	}
	f := Function{LogicalID: r.id, FunctionName: name, Arn: l.arn("lambda", l.o.Region, "function:"+name)}
	if v, ok := props["CodeUri"]; ok {
		if f.CodeURI, ok = v.(string); !ok {
			return fmt.Errorf("%s.CodeUri: only a local path is supported, got %s", p, describe(v))
		}
	} else if _, ok := props["InlineCode"]; !ok {
		return fmt.Errorf("%s.CodeUri: required", p)
	}
	if pt, _ := getString(props, "PackageType", p); pt != "" && pt != "Zip" {
		return fmt.Errorf("%s.PackageType: unsupported %s", p, pt)
	}
	if f.Handler, err = getString(props, "Handler", p); err != nil {
		return err
	}
	if f.Runtime, err = getString(props, "Runtime", p); err != nil {
		return err
	}
	f.Architectures = []string{"x86_64"}
	if v, ok := props["Architectures"]; ok {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s.Architectures: expected a list, got %s", p, describe(v))
		}
		f.Architectures = nil
		for i, a := range list {
			s, ok := a.(string)
			if !ok {
				return fmt.Errorf("%s.Architectures[%d]: expected a string", p, i)
			}
			f.Architectures = append(f.Architectures, s)
		}
		if len(f.Architectures) != 1 || (f.Architectures[0] != "x86_64" && f.Architectures[0] != "arm64") {
			return fmt.Errorf("%s.Architectures: %v: Lambda takes exactly one of x86_64, arm64 (SAM concatenates Globals lists with the function's)", p, f.Architectures)
		}
	}
	if f.Timeout, err = getInt(props, "Timeout", p, 3); err != nil {
		return err
	}
	if f.MemorySize, err = getInt(props, "MemorySize", p, 128); err != nil {
		return err
	}
	if bm, ok := r.metadata["BuildMethod"].(string); ok {
		f.BuildMethod = bm
	}
	env, err := getMap(props, "Environment", p)
	if err != nil {
		return err
	}
	vars, err := getMap(env, "Variables", p+".Environment")
	if err != nil {
		return err
	}
	f.Environment = map[string]string{}
	for k, v := range vars {
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("%s.Environment.Variables.%s: expected a string, got %s", p, k, describe(v))
		}
		f.Environment[k] = s
	}
	implicit := []string{"arn:" + l.o.Partition + ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
	if tracing, _ := scalarString(props["Tracing"]); tracing == "Active" {
		// SAM attaches the X-Ray write policy to the role it creates for a
		// traced function.
		implicit = append(implicit, "arn:"+l.o.Partition+":iam::aws:policy/AWSXrayWriteOnlyAccess")
	}
	if f.RoleArn, f.PolicyDocuments, f.ManagedPolicyArns, err = l.role(r, props, implicit); err != nil {
		return err
	}
	dlq, err := getMap(props, "DeadLetterQueue", p)
	if err != nil {
		return err
	}
	if err := l.eventInvokeConfig(r, props, &f); err != nil {
		return err
	}
	if dlq != nil {
		if f.DeadLetterArn, err = getString(dlq, "TargetArn", p+".DeadLetterQueue"); err != nil {
			return err
		}
		typ, err := getString(dlq, "Type", p+".DeadLetterQueue")
		if err != nil {
			return err
		}
		action := map[string]string{"SQS": "sqs:SendMessage", "SNS": "sns:Publish"}[typ]
		if action == "" || f.DeadLetterArn == "" {
			return fmt.Errorf("%s.DeadLetterQueue: needs Type (SQS or SNS) and TargetArn", p)
		}
		if _, ownRole := props["Role"]; !ownRole {
			// SAM's DeadLetterQueuePolicy: Lambda sends with the role.
			doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": action, "Resource": f.DeadLetterArn}}})
			if err != nil {
				return err
			}
			f.ImplicitPolicyDocuments = append(f.ImplicitPolicyDocuments, doc)
		}
	}
	l.out.Functions = append(l.out.Functions, f)
	return l.samRules(r, f.Arn, "LambdaTarget")
}

func (l *loader) eventInvokeConfig(r *resource, props map[string]any, f *Function) error {
	p := r.path() + ".Properties.EventInvokeConfig"
	f.AsyncRetries, f.AsyncMaxEventAgeSeconds = 2, 21600
	eic, err := getMap(props, "EventInvokeConfig", r.path()+".Properties")
	if err != nil || eic == nil {
		return err
	}
	for k := range eic {
		if k != "MaximumRetryAttempts" && k != "MaximumEventAgeInSeconds" && k != "DestinationConfig" {
			return fmt.Errorf("%s.%s: unsupported property", p, k)
		}
	}
	if f.AsyncRetries, err = getInt(eic, "MaximumRetryAttempts", p, 2); err != nil {
		return err
	}
	if f.AsyncRetries < 0 || f.AsyncRetries > 2 {
		return fmt.Errorf("%s.MaximumRetryAttempts: %d is not 0..2", p, f.AsyncRetries)
	}
	if f.AsyncMaxEventAgeSeconds, err = getInt(eic, "MaximumEventAgeInSeconds", p, 21600); err != nil {
		return err
	}
	dc, err := getMap(eic, "DestinationConfig", p)
	if err != nil {
		return err
	}
	for k := range dc {
		if k != "OnSuccess" && k != "OnFailure" {
			return fmt.Errorf("%s.DestinationConfig.%s: unsupported property", p, k)
		}
	}
	for _, which := range []string{"OnSuccess", "OnFailure"} {
		dp := p + ".DestinationConfig." + which
		d, err := getMap(dc, which, p+".DestinationConfig")
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		typ, err := getString(d, "Type", dp)
		if err != nil {
			return err
		}
		arn, err := getString(d, "Destination", dp)
		if err != nil {
			return err
		}
		if arn == "" {
			suffix := map[string]string{"SQS": "Queue", "SNS": "Topic"}[typ]
			g, ok := l.res[r.id+"EventInvokeConfig"+which+suffix]
			if !ok {
				return fmt.Errorf("%s.Destination: required for Type %q", dp, typ)
			}
			v, err := l.attribute(g, "Arn", dp)
			if typ == "SNS" {
				v, err = l.attribute(g, "", dp)
			}
			if err != nil {
				return err
			}
			arn = v.(string)
		}
		action := map[string]string{"SQS": "sqs:SendMessage", "SNS": "sns:Publish",
			"Lambda": "lambda:InvokeFunction", "EventBridge": "events:PutEvents"}[typ]
		if action == "" {
			return fmt.Errorf("%s.Type: %q must be one of SQS, SNS, Lambda, EventBridge", dp, typ)
		}
		if which == "OnFailure" {
			f.OnFailureArn = arn
		} else {
			f.OnSuccessArn = arn
		}
		if _, ownRole := props["Role"]; !ownRole {
			doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": action, "Resource": arn}}})
			if err != nil {
				return err
			}
			f.ImplicitPolicyDocuments = append(f.ImplicitPolicyDocuments, doc)
		}
	}
	return nil
}

// role returns the execution role ARN and, for a role SAM creates, the
// policies written in Policies.
func (l *loader) role(r *resource, props map[string]any, implicitManaged []string) (string, [][]byte, []string, error) {
	p := r.path() + ".Properties"
	if v, ok := props["Role"]; ok {
		if _, has := props["Policies"]; has {
			return "", nil, nil, fmt.Errorf("%s.Policies: has no effect when Role is set", p)
		}
		s, ok := scalarString(v)
		if !ok || s == "" {
			return "", nil, nil, fmt.Errorf("%s.Role: expected a role ARN, got %s", p, describe(v))
		}
		return s, nil, nil, nil
	}
	arn, err := l.generatedRoleArn(r, p+".Role")
	if err != nil {
		return "", nil, nil, err
	}
	docs, managed, err := l.policies(props["Policies"], p+".Policies")
	if err != nil {
		return "", nil, nil, err
	}
	return arn, docs, append(slices.Clone(implicitManaged), managed...), nil
}

// policies converts a resolved SAM Policies value: inline documents
// ({Statement: ...}) and managed policy names/ARNs. SAM policy templates are
// not supported.
func (l *loader) policies(v any, path string) ([][]byte, []string, error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil, nil
	case []any:
		items = x
	default:
		items = []any{x}
	}
	var docs [][]byte
	var managed []string
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		switch x := it.(type) {
		case string:
			if strings.HasPrefix(x, "arn:") {
				managed = append(managed, x)
			} else {
				managed = append(managed, "arn:"+l.o.Partition+":iam::aws:policy/"+x)
			}
		case map[string]any:
			if _, ok := x["Statement"]; !ok {
				if len(x) == 1 {
					for k := range x {
						return nil, nil, fmt.Errorf("%s: unsupported policy template %s", ip, k)
					}
				}
				return nil, nil, fmt.Errorf("%s: a policy document needs Statement", ip)
			}
			for k := range x {
				if k != "Statement" && k != "Version" && k != "Id" {
					return nil, nil, fmt.Errorf("%s.%s: unsupported policy document key", ip, k)
				}
			}
			switch st := x["Statement"].(type) {
			case []any:
				for j, s := range st {
					if _, ok := s.(map[string]any); !ok {
						return nil, nil, fmt.Errorf("%s.Statement[%d]: expected a mapping, got %s", ip, j, describe(s))
					}
				}
			case map[string]any:
			default:
				return nil, nil, fmt.Errorf("%s.Statement: expected a list or mapping, got %s", ip, describe(st))
			}
			doc, err := toJSON(x)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", ip, err)
			}
			docs = append(docs, doc)
		default:
			return nil, nil, fmt.Errorf("%s: expected a policy document or managed policy, got %s", ip, describe(it))
		}
	}
	return docs, managed, nil
}

// samRules builds the rules of r's EventBridgeRule events, targeting arn.
func (l *loader) samRules(r *resource, targetArn, targetSuffix string) error {
	events, err := l.events(r)
	if err != nil {
		return err
	}
	resolvedEvents, _ := l.resolved[r.id]["Events"].(map[string]any)
	for _, ev := range events {
		evr, _ := resolvedEvents[ev.name].(map[string]any)
		props, _ := evr["Properties"].(map[string]any)
		rr := l.res[ev.ruleID]
		name, err := l.physicalName(rr)
		if err != nil {
			return err
		}
		bus, err := getString(props, "EventBusName", ev.path)
		if err != nil {
			return err
		}
		rule := Rule{LogicalID: ev.ruleID, Name: name, BusName: busName(bus), State: "ENABLED"}
		if rule.Pattern, err = patternJSON(props["Pattern"], ev.path+".Pattern"); err != nil {
			return err
		}
		if s, err := getString(props, "State", ev.path); err != nil {
			return err
		} else if s != "" {
			rule.State = s
		}
		id := r.id + ev.name + targetSuffix
		if len(id) > 64 {
			id = (r.id + ev.name)[:64-len(targetSuffix)] + targetSuffix
		}
		tgt, err := getMap(props, "Target", ev.path)
		if err != nil {
			return err
		}
		for k := range tgt {
			if k != "Id" {
				return fmt.Errorf("%s.Target.%s: unsupported property", ev.path, k)
			}
		}
		if s, err := getString(tgt, "Id", ev.path+".Target"); err != nil {
			return err
		} else if s != "" {
			id = s
		}
		ruleArn, err := l.attribute(rr, "Arn", ev.path)
		if err != nil {
			return err
		}
		if r.typ == typeFunction {
			// SAM's AWS::Lambda::Permission for the rule.
			l.out.Permissions = append(l.out.Permissions, Permission{LogicalID: ev.ruleID + "Permission",
				StatementID: l.statementID(ev.ruleID + "Permission"), FunctionArn: targetArn,
				Action: "lambda:InvokeFunction", Principal: "events.amazonaws.com", SourceArn: ruleArn.(string)})
		}
		t := Target{ID: id, Arn: targetArn}
		if r.typ == typeStateMachine {
			if t.RoleArn, err = l.samEventRole(ev.ruleID+"Role", targetArn, ev.path); err != nil {
				return err
			}
		}
		if err := l.targetCommon(props, ev.path, &t); err != nil {
			return err
		}
		if dlc, err := getMap(props, "DeadLetterConfig", ev.path); err != nil {
			return err
		} else if dlc != nil {
			dp := ev.path + ".DeadLetterConfig"
			if _, typed := dlc["Type"]; typed {
				qid := ev.ruleID + "Queue"
				if s, _ := getString(dlc, "QueueLogicalId", dp); s != "" {
					qid = s
				}
				v, err := l.attribute(l.res[qid], "Arn", dp)
				if err != nil {
					return err
				}
				t.DeadLetterArn = v.(string)
				// SAM's AWS::SQS::QueuePolicy lets the rule send its dead letters.
				doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
					"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"},
					"Resource": t.DeadLetterArn, "Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleArn}}}}})
				if err != nil {
					return err
				}
				l.out.QueuePolicies = append(l.out.QueuePolicies, QueuePolicy{LogicalID: ev.ruleID + "QueuePolicy",
					QueueArns: []string{t.DeadLetterArn}, Document: doc})
			} else {
				for k := range dlc {
					if k != "Arn" {
						return fmt.Errorf("%s.%s: unsupported property", dp, k)
					}
				}
				if t.DeadLetterArn, err = getString(dlc, "Arn", dp); err != nil {
					return err
				}
			}
		}
		rule.Targets = []Target{t}
		l.out.Rules = append(l.out.Rules, rule)
	}
	return nil
}

// targetCommon reads Input, InputPath, InputTransformer and RetryPolicy.
func (l *loader) targetCommon(m map[string]any, path string, t *Target) error {
	var err error
	if t.Input, err = getString(m, "Input", path); err != nil {
		return err
	}
	if t.Input != "" && !json.Valid([]byte(t.Input)) {
		return fmt.Errorf("%s.Input: not valid JSON", path)
	}
	if t.InputPath, err = getString(m, "InputPath", path); err != nil {
		return err
	}
	it, err := getMap(m, "InputTransformer", path)
	if err != nil {
		return err
	}
	if it != nil {
		tp := path + ".InputTransformer"
		t.InputTransformer = &InputTransformer{InputPathsMap: map[string]string{}}
		if t.InputTransformer.InputTemplate, err = getString(it, "InputTemplate", tp); err != nil {
			return err
		}
		ipm, err := getMap(it, "InputPathsMap", tp)
		if err != nil {
			return err
		}
		for k, v := range ipm {
			s, ok := scalarString(v)
			if !ok {
				return fmt.Errorf("%s.InputPathsMap.%s: expected a string", tp, k)
			}
			t.InputTransformer.InputPathsMap[k] = s
		}
	}
	rp, err := getMap(m, "RetryPolicy", path)
	if err != nil || rp == nil {
		return err
	}
	for k := range rp {
		if k != "MaximumRetryAttempts" && k != "MaximumEventAgeInSeconds" {
			return fmt.Errorf("%s.RetryPolicy.%s: unsupported property", path, k)
		}
	}
	if _, ok := rp["MaximumRetryAttempts"]; ok {
		n, err := getInt(rp, "MaximumRetryAttempts", path+".RetryPolicy", 0)
		if err != nil {
			return err
		}
		t.MaxRetryAttempts = &n
	}
	if _, ok := rp["MaximumEventAgeInSeconds"]; ok {
		n, err := getInt(rp, "MaximumEventAgeInSeconds", path+".RetryPolicy", 0)
		if err != nil {
			return err
		}
		t.MaxEventAgeSeconds = &n
	}
	return nil
}

// patternJSON renders an event pattern (a mapping, or a JSON string) as JSON.
func patternJSON(v any, path string) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		return toJSON(x)
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %v", path, err)
		}
		return toJSON(m)
	case nil:
		return nil, fmt.Errorf("%s: required", path)
	}
	return nil, fmt.Errorf("%s: expected a mapping, got %s", path, describe(v))
}

var ruleProps = map[string]bool{"Name": true, "EventBusName": true, "EventPattern": true, "State": true,
	"Targets": true, "Description": true, "RoleArn": true}
var targetProps = map[string]bool{"Id": true, "Arn": true, "RoleArn": true, "Input": true, "InputPath": true,
	"InputTransformer": true, "RetryPolicy": true, "DeadLetterConfig": true}

func (l *loader) eventsRule(r *resource) error {
	p, props, name, err := l.properties(r, ruleProps)
	if err != nil {
		return err
	}
	bus, err := getString(props, "EventBusName", p)
	if err != nil {
		return err
	}
	rule := Rule{LogicalID: r.id, Name: name, BusName: busName(bus), State: "ENABLED"}
	if rule.Pattern, err = patternJSON(props["EventPattern"], p+".EventPattern"); err != nil {
		return err
	}
	if s, err := getString(props, "State", p); err != nil {
		return err
	} else if s != "" {
		rule.State = s
	}
	targets, _ := props["Targets"].([]any)
	if v, ok := props["Targets"]; ok && targets == nil {
		return fmt.Errorf("%s.Targets: expected a list, got %s", p, describe(v))
	}
	for i, tv := range targets {
		tp := fmt.Sprintf("%s.Targets[%d]", p, i)
		tm, ok := tv.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping", tp)
		}
		for _, k := range slices.Sorted(maps.Keys(tm)) {
			if !targetProps[k] {
				return fmt.Errorf("%s.%s: unsupported target property", tp, k)
			}
		}
		var t Target
		if t.ID, err = getString(tm, "Id", tp); err != nil {
			return err
		}
		if t.Arn, err = getString(tm, "Arn", tp); err != nil {
			return err
		}
		if t.ID == "" || t.Arn == "" {
			return fmt.Errorf("%s: Id and Arn are required", tp)
		}
		if t.RoleArn, err = getString(tm, "RoleArn", tp); err != nil {
			return err
		}
		if err := l.targetCommon(tm, tp, &t); err != nil {
			return err
		}
		dlc, err := getMap(tm, "DeadLetterConfig", tp)
		if err != nil {
			return err
		}
		if t.DeadLetterArn, err = getString(dlc, "Arn", tp+".DeadLetterConfig"); err != nil {
			return err
		}
		rule.Targets = append(rule.Targets, t)
	}
	l.out.Rules = append(l.out.Rules, rule)
	return nil
}

// samEventRole records the role SAM creates for a state machine's
// EventBridgeRule event (trusting events.amazonaws.com, with an inline
// policy allowing states:StartExecution on the state machine) and returns
// its ARN.
func (l *loader) samEventRole(id, smArn, path string) (string, error) {
	rr := l.res[id]
	v, err := l.attribute(rr, "Arn", path)
	if err != nil {
		return "", err
	}
	name, err := l.physicalName(rr)
	if err != nil {
		return "", err
	}
	trust, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": []any{"sts:AssumeRole"}, "Principal": map[string]any{"Service": []any{"events.amazonaws.com"}}}}})
	if err != nil {
		return "", err
	}
	doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "states:StartExecution", "Resource": smArn}}})
	if err != nil {
		return "", err
	}
	l.out.Roles = append(l.out.Roles, Role{LogicalID: id, Name: name, Arn: v.(string), TrustPolicy: trust,
		Policies: []InlinePolicy{{Name: id + "StartExecutionPolicy", Document: doc}}})
	return v.(string), nil
}

// iamRole reads an AWS::IAM::Role's trust policy and inline policies (the
// other properties are not modelled and not checked).
func (l *loader) iamRole(r *resource) error {
	p := r.path() + ".Properties"
	props := l.resolved[r.id]
	name, err := l.physicalName(r)
	if err != nil {
		return err
	}
	v, err := l.attribute(r, "Arn", p)
	if err != nil {
		return err
	}
	role := Role{LogicalID: r.id, Name: name, Arn: v.(string)}
	if tp, err := getMap(props, "AssumeRolePolicyDocument", p); err != nil {
		return err
	} else if tp != nil {
		if role.TrustPolicy, err = toJSON(tp); err != nil {
			return fmt.Errorf("%s.AssumeRolePolicyDocument: %v", p, err)
		}
	}
	list, _ := props["Policies"].([]any)
	if v, ok := props["Policies"]; ok && list == nil {
		return fmt.Errorf("%s.Policies: expected a list, got %s", p, describe(v))
	}
	for i, it := range list {
		ip := fmt.Sprintf("%s.Policies[%d]", p, i)
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping, got %s", ip, describe(it))
		}
		pn, err := getString(m, "PolicyName", ip)
		if err != nil {
			return err
		}
		doc, err := getMap(m, "PolicyDocument", ip)
		if err != nil {
			return err
		}
		if pn == "" || doc == nil {
			return fmt.Errorf("%s: PolicyName and PolicyDocument are required", ip)
		}
		b, err := toJSON(doc)
		if err != nil {
			return fmt.Errorf("%s.PolicyDocument: %v", ip, err)
		}
		role.Policies = append(role.Policies, InlinePolicy{Name: pn, Document: b})
	}
	l.out.Roles = append(l.out.Roles, role)
	return nil
}

// placeholders returns the [start, end) offsets of every ${...} in s.
func placeholders(s string) [][2]int {
	var out [][2]int
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return out
		}
		j += i
		k := strings.IndexByte(s[j:], '}')
		if k < 0 {
			return out
		}
		out = append(out, [2]int{j, j + k + 1})
		i = j + k + 1
	}
}

func (l *loader) stateMachine(r *resource) error {
	p, props, name, err := l.properties(r, stateMachineProps)
	if err != nil {
		return err
	}
	sm := StateMachine{LogicalID: r.id, Name: name, Arn: l.arn("states", l.o.Region, "stateMachine:"+name),
		Type: "STANDARD", DefinitionSubstitutions: map[string]string{}}
	if s, err := getString(props, "Type", p); err != nil {
		return err
	} else if s != "" {
		sm.Type = s
	}
	subs, err := getMap(props, "DefinitionSubstitutions", p)
	if err != nil {
		return err
	}
	for k, v := range subs {
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("%s.DefinitionSubstitutions.%s: expected a string, got %s", p, k, describe(v))
		}
		sm.DefinitionSubstitutions[k] = s
	}
	var text string
	def, hasDef := props["Definition"]
	uri, hasURI := props["DefinitionUri"]
	switch {
	case hasDef && hasURI:
		return fmt.Errorf("%s: Definition and DefinitionUri are exclusive", p)
	case hasDef:
		b, err := toJSON(def)
		if err != nil {
			return fmt.Errorf("%s.Definition: %v", p, err)
		}
		text = string(b)
	case hasURI:
		u, ok := uri.(string)
		if !ok {
			return fmt.Errorf("%s.DefinitionUri: only a local path is supported, got %s", p, describe(uri))
		}
		if !filepath.IsAbs(u) {
			u = filepath.Join(l.o.BaseDir, u)
		}
		b, err := os.ReadFile(u)
		if err != nil {
			return fmt.Errorf("%s.DefinitionUri: %w", p, err)
		}
		text = string(b)
	default:
		return fmt.Errorf("%s: Definition or DefinitionUri is required", p)
	}
	var b strings.Builder
	last := 0
	missing := map[string]bool{}
	for _, loc := range placeholders(text) {
		key := text[loc[0]+2 : loc[1]-1]
		b.WriteString(text[last:loc[0]])
		if v, ok := sm.DefinitionSubstitutions[key]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(text[loc[0]:loc[1]])
			missing[key] = true
		}
		last = loc[1]
	}
	b.WriteString(text[last:])
	if len(missing) > 0 {
		sm.UnresolvedPlaceholders = slices.Sorted(maps.Keys(missing))
	}
	sm.Definition = []byte(b.String())
	if !json.Valid(sm.Definition) {
		// DefinitionUri may be YAML.
		var v any
		if err := yaml.Unmarshal(sm.Definition, &v); err != nil {
			return fmt.Errorf("%s: definition is neither JSON nor YAML: %v", p, err)
		}
		if sm.Definition, err = toJSON(v); err != nil {
			return fmt.Errorf("%s: definition: %v", p, err)
		}
	}
	if sm.RoleArn, sm.PolicyDocuments, sm.ManagedPolicyArns, err = l.role(r, props, nil); err != nil {
		return err
	}
	l.out.StateMachines = append(l.out.StateMachines, sm)
	return l.samRules(r, sm.Arn, "StepFunctionsTarget")
}

func (l *loader) outputs(root map[string]any) error {
	outs, err := section(root, "Outputs")
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(outs)) {
		p := "Outputs." + name
		o, ok := outs[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", p)
		}
		if c, ok := o["Condition"]; ok {
			cn, ok := c.(string)
			if !ok {
				return fmt.Errorf("%s.Condition: expected a condition name", p)
			}
			v, err := l.condition(cn, p+".Condition")
			if err != nil {
				return err
			}
			if !v {
				continue
			}
		}
		val, ok := o["Value"]
		if !ok {
			return fmt.Errorf("%s.Value: required", p)
		}
		s, err := l.resolveString(val, p+".Value")
		if err != nil {
			return err
		}
		if _, err := l.resolve(o["Export"], p+".Export"); err != nil {
			return err
		}
		l.out.Outputs[name] = s
		if d, ok := o["Description"].(string); ok {
			l.out.OutputDescriptions[name] = d
		}
	}
	return nil
}
