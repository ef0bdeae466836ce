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
