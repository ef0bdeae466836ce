package template

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fixture = "testdata/template.yaml"

func mustLoad(t *testing.T, o Options) *Template {
	t.Helper()
	tp, err := Load(fixture, o)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func fn(t *testing.T, tp *Template, id string) *Function {
	t.Helper()
	f, ok := tp.Function(id)
	if !ok {
		t.Fatalf("no function %s", id)
	}
	return f
}

func sm(t *testing.T, tp *Template, id string) *StateMachine {
	t.Helper()
	s, ok := tp.StateMachine(id)
	if !ok {
		t.Fatalf("no state machine %s", id)
	}
	return s
}

func rule(t *testing.T, tp *Template, id string) *Rule {
	t.Helper()
	for i := range tp.Rules {
		if tp.Rules[i].LogicalID == id {
			return &tp.Rules[i]
		}
	}
	t.Fatalf("no rule %s", id)
	return nil
}

func queue(tp *Template, id string) *Queue {
	for i := range tp.Queues {
		if tp.Queues[i].LogicalID == id {
			return &tp.Queues[i]
		}
	}
	return nil
}

func ptr(n int) *int { return &n }

// Names and suffixes for the default Options (stack "local"); deterministic.
const (
	arnPrefix   = "arn:aws:lambda:us-east-1:123456789012:function:"
	ensureName  = "local-EnsureRolesFunction-EL7FBAC57QA7"
	cleanupName = "local-CleanupFunction-OGBBN34DYFJP"
	checkName   = "local-CheckActivationFunction-NHKSTNU7ULQ2"
	deregSMName = "DeregistrationStateMachine-JS6H64DMFX3O"
	smPrefix    = "arn:aws:states:us-east-1:123456789012:stateMachine:"
	queueURL    = "https://sqs.us-east-1.amazonaws.com/123456789012/"
	queueArn    = "arn:aws:sqs:us-east-1:123456789012:"
)

func TestFixtureResolution(t *testing.T) {
	tp := mustLoad(t, Options{})
	tests := []struct {
		name string
		got  func(*Template) any
		want any
	}{
		// parameters and pseudo parameters
		{"default parameter", func(tp *Template) any { return tp.Parameters["ParameterPrefix"] }, "/eks-connector-registrar"},
		{"number parameter", func(tp *Template) any { return tp.Parameters["LogRetentionDays"] }, "30"},
		{"pseudo AWS::Region", func(tp *Template) any { return tp.Parameters["AWS::Region"] }, "us-east-1"},
		{"pseudo AWS::StackName", func(tp *Template) any { return tp.Parameters["AWS::StackName"] }, "local"},
		// conditions
		{"Fn::Equals", func(tp *Template) any { return tp.Conditions["IsManagedRole"] }, true},
		{"Fn::Not + Condition", func(tp *Template) any { return tp.Conditions["IsExistingRole"] }, false},
		{"Fn::Or", func(tp *Template) any { return tp.Conditions["CreateAlarms"] }, false},
		{"Fn::And", func(tp *Template) any { return tp.Conditions["ManagedInProd"] }, false},
		// functions: names, ARNs, Globals
		{"FunctionName via Fn::Sub", func(tp *Template) any { return fn(t, tp, "TriggerFunction").FunctionName }, "local-trigger"},
		{"function ARN", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Arn }, arnPrefix + "local-trigger"},
		{"generated function name", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").FunctionName }, ensureName},
		{"CodeUri", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").CodeURI }, "functions/ensure-roles"},
		{"Globals Handler", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").Handler }, "bootstrap"},
		{"Globals Runtime", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").Runtime }, "provided.al2023"},
		{"Globals Architectures", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").Architectures }, []string{"arm64"}},
		{"Globals Timeout", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Timeout }, 30},
		{"own Timeout overrides Globals", func(tp *Template) any { return fn(t, tp, "EnsureRolesFunction").Timeout }, 60},
		{"Globals MemorySize via FindInMap", func(tp *Template) any { return fn(t, tp, "TriggerFunction").MemorySize }, 256},
		{"own MemorySize", func(tp *Template) any { return fn(t, tp, "RegisterClusterFunction").MemorySize }, 1024},
		{"Metadata.BuildMethod", func(tp *Template) any { return fn(t, tp, "TriggerFunction").BuildMethod }, "go1.x"},
		{"generated role ARN", func(tp *Template) any { return fn(t, tp, "TriggerFunction").RoleArn },
			"arn:aws:iam::123456789012:role/local-TriggerFunctionRole-HTOND7OVNYA6"},
		{"implicit managed policy + policy name", func(tp *Template) any { return fn(t, tp, "CleanupFunction").ManagedPolicyArns },
			[]string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"}},
		// environment: Globals merged, every intrinsic
		{"env Globals Ref param", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Environment["PARAMETER_PREFIX"] }, "/eks-connector-registrar"},
		{"env Globals FindInMap", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Environment["LOG_LEVEL"] }, "debug"},
		{"env Fn::If NoValue drops key", func(tp *Template) any { _, ok := fn(t, tp, "TriggerFunction").Environment["KMS_KEY_ID"]; return ok }, false},
		{"env Ref state machine = ARN", func(tp *Template) any {
			return fn(t, tp, "TriggerFunction").Environment["REGISTRATION_STATE_MACHINE_ARN"]
		},
			smPrefix + "local-registration"},
		{"env GetAtt state machine Arn", func(tp *Template) any {
			return fn(t, tp, "TriggerFunction").Environment["DEREGISTRATION_STATE_MACHINE_ARN"]
		},
			smPrefix + deregSMName},
		{"env Join of list parameter", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Environment["CONSOLE_ACCESS_ARNS"] },
			"arn:aws:iam::123456789012:role/Admin;arn:aws:iam::123456789012:role/Ops"},
		{"env Select of list parameter", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Environment["FIRST_CONSOLE_ARN"] },
			"arn:aws:iam::123456789012:role/Admin"},
		{"env Ref queue = URL", func(tp *Template) any { return fn(t, tp, "TriggerFunction").Environment["FAILURE_QUEUE_URL"] },
			queueURL + "local-trigger-failures"},
		{"env Fn::If true branch with Sub", func(tp *Template) any { return fn(t, tp, "RegisterClusterFunction").Environment["AGENT_ROLE_ARN"] },
			"arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole"},
		{"env Fn::If false branch NoValue", func(tp *Template) any {
			_, ok := fn(t, tp, "EnsureRolesFunction").Environment["AGENT_ROLE_ARN"]
			return ok
		}, false},
		// EventInvokeConfig
		{"AsyncRetries", func(tp *Template) any { return fn(t, tp, "TriggerFunction").AsyncRetries }, 0},
		{"AsyncRetries default", func(tp *Template) any { return fn(t, tp, "CleanupFunction").AsyncRetries }, 2},
		{"MaximumEventAgeInSeconds", func(tp *Template) any { return fn(t, tp, "TriggerFunction").AsyncMaxEventAgeSeconds }, 3600},
		{"OnFailure Destination GetAtt queue Arn", func(tp *Template) any { return fn(t, tp, "TriggerFunction").OnFailureArn }, queueArn + "local-trigger-failures"},
		{"OnFailure Type SQS without Destination: SAM queue", func(tp *Template) any { return fn(t, tp, "RegisterClusterFunction").OnFailureArn },
			queueArn + "local-RegisterClusterFunctionEventInvokeConfigOnFailureQueue-MW6CEV4NOXDN"},
		{"implicit destination policy", func(tp *Template) any { return string(fn(t, tp, "TriggerFunction").ImplicitPolicyDocuments[0]) },
			`{"Statement":[{"Action":"sqs:SendMessage","Effect":"Allow","Resource":"` + queueArn + `local-trigger-failures"}],"Version":"2012-10-17"}`},
		{"no OnFailure", func(tp *Template) any { return fn(t, tp, "CleanupFunction").OnFailureArn }, ""},
		// state machines
		{"state machine Name via Sub", func(tp *Template) any { return sm(t, tp, "RegistrationStateMachine").Name }, "local-registration"},
		{"generated state machine name", func(tp *Template) any { return sm(t, tp, "DeregistrationStateMachine").Name }, deregSMName},
		{"state machine role", func(tp *Template) any { return sm(t, tp, "RegistrationStateMachine").RoleArn },
			"arn:aws:iam::123456789012:role/local-RegistrationStateMachineRole-VEWETT4UGYQR"},
		{"state machine: only written policies", func(tp *Template) any { return len(sm(t, tp, "RegistrationStateMachine").PolicyDocuments) }, 1},
		{"state machine: no implicit managed policies", func(tp *Template) any { return sm(t, tp, "RegistrationStateMachine").ManagedPolicyArns }, []string(nil)},
		{"substitution: GetAtt function Arn", func(tp *Template) any {
			return sm(t, tp, "RegistrationStateMachine").DefinitionSubstitutions["CleanupFunctionArn"]
		},
			arnPrefix + cleanupName},
		{"substitution: number", func(tp *Template) any {
			return sm(t, tp, "RegistrationStateMachine").DefinitionSubstitutions["ActivationTimeoutSeconds"]
		}, "259200"},
		{"substitution: Join of pseudo params and Ref function", func(tp *Template) any {
			return sm(t, tp, "DeregistrationStateMachine").DefinitionSubstitutions["CheckClusterFunctionArn"]
		}, arnPrefix + checkName},
		{"no unresolved placeholders", func(tp *Template) any { return sm(t, tp, "RegistrationStateMachine").UnresolvedPlaceholders }, []string(nil)},
		// queues: declared, SAM-generated, conditional
		{"queue URL", func(tp *Template) any { return queue(tp, "TriggerFailureQueue").URL }, queueURL + "local-trigger-failures"},
		{"EventBridgeRule DLQ queue", func(tp *Template) any { return queue(tp, "TriggerFunctionRegistrationRequestedQueue").Name },
			"local-TriggerFunctionRegistrationRequestedQueue-RFDAVAOZ7B52"},
		{"queue with false Condition does not exist", func(tp *Template) any { return queue(tp, "AuditQueue") == nil }, true},
		// rules from function events
		{"event rule bus", func(tp *Template) any { return rule(t, tp, "TriggerFunctionRegistrationRequested").BusName }, "default"},
		{"event rule pattern", func(tp *Template) any { return string(rule(t, tp, "TriggerFunctionRegistrationRequested").Pattern) },
			`{"detail-type":["Register Cluster","Deregister Cluster"],"source":["eks-connector-registrar"]}`},
		{"event rule target", func(tp *Template) any { return rule(t, tp, "TriggerFunctionRegistrationRequested").Targets[0] }, Target{
			ID: "TriggerFunctionRegistrationRequestedLambdaTarget", Arn: arnPrefix + "local-trigger",
			MaxRetryAttempts: ptr(4), MaxEventAgeSeconds: ptr(3600),
			DeadLetterArn: queueArn + "local-TriggerFunctionRegistrationRequestedQueue-RFDAVAOZ7B52"}},
		{"event RuleName, Target.Id, InputPath, DeadLetterConfig.Arn", func(tp *Template) any {
			r := rule(t, tp, "TriggerFunctionManualRetry")
			return []any{r.Name, r.Targets[0].ID, r.Targets[0].InputPath, r.Targets[0].DeadLetterArn, r.Targets[0].MaxRetryAttempts}
		}, []any{"local-manual-retry", "ManualRetryTarget", "$.detail", queueArn + "local-trigger-failures", (*int)(nil)}},
		// rules from state machine events
		{"state machine event target", func(tp *Template) any { return rule(t, tp, "DeregistrationStateMachineClusterDeleted").Targets[0] }, Target{
			ID: "DeregistrationStateMachineClusterDeletedStepFunctionsTarget", Arn: smPrefix + deregSMName,
			RoleArn:          "arn:aws:iam::123456789012:role/local-DeregistrationStateMachineClusterDeletedRole-3OSC6WVNCKXA",
			InputTransformer: &InputTransformer{InputPathsMap: map[string]string{"cluster": "$.detail.name", "id": "$.id"}, InputTemplate: `{"clusterName": <cluster>, "eventId": <id>}`},
			MaxRetryAttempts: ptr(10)}},
		// AWS::Events::Rule resource
		{"rule resource", func(tp *Template) any {
			r := rule(t, tp, "ConnectorDisconnectedRule")
			return []any{r.Name, r.BusName, r.State, string(r.Pattern), len(r.Targets)}
		}, []any{"local-ConnectorDisconnectedRule-J4LDBXRORKXP", "default", "DISABLED", `{"detail-type":["EKS Connector Deregistered"],"source":["aws.eks"]}`, 2}},
		{"rule resource targets", func(tp *Template) any { return rule(t, tp, "ConnectorDisconnectedRule").Targets }, []Target{
			{ID: "Cleanup", Arn: arnPrefix + cleanupName, Input: `{"reason": "disconnected"}`, MaxRetryAttempts: ptr(2), MaxEventAgeSeconds: ptr(600),
				DeadLetterArn: queueArn + "local-trigger-failures"},
			{ID: "Deregister", Arn: smPrefix + deregSMName, RoleArn: "arn:aws:iam::123456789012:role/service-role/local-RuleInvokeRole-HSVK4RQI5DIL", InputPath: "$.detail"},
		}},
		{"rule order: template order, events by name", func(tp *Template) any {
			var ids []string
			for _, r := range tp.Rules {
				ids = append(ids, r.LogicalID)
			}
			return ids
		}, []string{"TriggerFunctionManualRetry", "TriggerFunctionRegistrationRequested", "DeregistrationStateMachineClusterDeleted", "ConnectorDisconnectedRule"}},
		// outputs
		{"output Ref function = name", func(tp *Template) any { return tp.Outputs["TriggerFunctionName"] }, "local-trigger"},
		{"output GetAtt generated role", func(tp *Template) any { return tp.Outputs["TriggerRoleArn"] }, "arn:aws:iam::123456789012:role/local-TriggerFunctionRole-HTOND7OVNYA6"},
		{"output GetAtt state machine Name", func(tp *Template) any { return tp.Outputs["DeregistrationStateMachineName"] }, deregSMName},
		{"output log group Arn", func(tp *Template) any { return tp.Outputs["StateMachineLogGroupArn"] },
			"arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/local-registration:*"},
		{"output Ref log group = name", func(tp *Template) any { return tp.Outputs["StateMachineLogGroupName"] }, "/aws/vendedlogs/states/local-registration"},
		{"output Ref alarm = generated name", func(tp *Template) any { return tp.Outputs["AlarmName"] }, "local-TriggerFailuresAlarm-GFCINRDRFZ6K"},
		{"output with false Condition omitted", func(tp *Template) any { _, ok := tp.Outputs["ProdAlarmArn"]; return ok }, false},
		{"output rule Arn", func(tp *Template) any { return tp.Outputs["RuleArn"] }, "arn:aws:events:us-east-1:123456789012:rule/local-ConnectorDisconnectedRule-J4LDBXRORKXP"},
		{"output IAM role with Path", func(tp *Template) any { return tp.Outputs["RuleInvokeRoleArn"] }, "arn:aws:iam::123456789012:role/service-role/local-RuleInvokeRole-HSVK4RQI5DIL"},
		{"output Select of Split", func(tp *Template) any { return tp.Outputs["SecondConsoleArn"] }, "arn:aws:iam::123456789012:role/Ops"},
		{"output Sub with variables, ${!Literal}, URLSuffix", func(tp *Template) any { return tp.Outputs["Escaped"] }, "${Literal}-dev-amazonaws.com"},
		{"output Base64", func(tp *Template) any { return tp.Outputs["Encoded"] }, "aGVsbG8="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(tp); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func sids(t *testing.T, docs [][]byte) []string {
	t.Helper()
	var out []string
	for _, d := range docs {
		var doc struct {
			Statement []struct{ Sid string }
		}
		if err := json.Unmarshal(d, &doc); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		for _, s := range doc.Statement {
			out = append(out, s.Sid)
		}
	}
	return out
}

func TestPoliciesFollowConditions(t *testing.T) {
	tests := []struct {
		mode     string
		sids     []string
		docs     int
		passRole string
	}{
		{"managed", []string{"ReadRoles", "ManageAgentRole", "ServiceLinkedRole"}, 1, "arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole"},
		{"existing", []string{"ReadRoles", "ServiceLinkedRole", "PassExistingRole"}, 2, "arn:aws:iam::123456789012:role/Mine"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			tp := mustLoad(t, Options{Parameters: map[string]string{"AgentRoleMode": tc.mode, "AgentRoleArn": "arn:aws:iam::123456789012:role/Mine"}})
			f := fn(t, tp, "EnsureRolesFunction")
			if got := sids(t, f.PolicyDocuments); !reflect.DeepEqual(got, tc.sids) {
				t.Errorf("EnsureRolesFunction statements %v, want %v", got, tc.sids)
			}
			if len(f.PolicyDocuments) != tc.docs {
				t.Errorf("%d policy documents, want %d", len(f.PolicyDocuments), tc.docs)
			}
			var doc struct {
				Statement []map[string]any
			}
			if err := json.Unmarshal(fn(t, tp, "RegisterClusterFunction").PolicyDocuments[0], &doc); err != nil {
				t.Fatal(err)
			}
			if got := doc.Statement[2]["Resource"]; got != tc.passRole {
				t.Errorf("PassRole resource %v, want %s", got, tc.passRole)
			}
			if got := fn(t, tp, "RegisterClusterFunction").Environment["AGENT_ROLE_ARN"]; got != tc.passRole {
				t.Errorf("AGENT_ROLE_ARN %s, want %s", got, tc.passRole)
			}
		})
	}
}

func TestFnIfDropsStatement(t *testing.T) {
	plain := mustLoad(t, Options{})
	withKey := mustLoad(t, Options{Parameters: map[string]string{"KmsKeyId": "k-1"}})
	count := func(tp *Template) int {
		var doc struct{ Statement []any }
		if err := json.Unmarshal(fn(t, tp, "RegisterClusterFunction").PolicyDocuments[0], &doc); err != nil {
			t.Fatal(err)
		}
		return len(doc.Statement)
	}
	if a, b := count(plain), count(withKey); a != 3 || b != 4 {
		t.Errorf("statements without/with KMS key: %d/%d, want 3/4", a, b)
	}
	if got := fn(t, withKey, "TriggerFunction").Environment["KMS_KEY_ID"]; got != "k-1" {
		t.Errorf("KMS_KEY_ID = %q", got)
	}
	if !withKey.Conditions["CreateAlarms"] || withKey.Outputs["ProdAlarmArn"] != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:local-registration-failures" {
		t.Errorf("CreateAlarms %v, ProdAlarmArn %q", withKey.Conditions["CreateAlarms"], withKey.Outputs["ProdAlarmArn"])
	}
}

func TestProdParameters(t *testing.T) {
	tp := mustLoad(t, Options{StackName: "prod", Region: "eu-west-1", Account: "111122223333",
		Parameters: map[string]string{"EnvironmentName": "prod", "EventBusName": "registrations"}})
	f := fn(t, tp, "TriggerFunction")
	if f.MemorySize != 512 || f.Environment["LOG_LEVEL"] != "info" || f.Arn != "arn:aws:lambda:eu-west-1:111122223333:function:prod-trigger" {
		t.Errorf("prod trigger: %d %s %s", f.MemorySize, f.Environment["LOG_LEVEL"], f.Arn)
	}
	q := queue(tp, "AuditQueue")
	if q == nil || !strings.HasPrefix(q.Name, "prod-AuditQueue-") || !strings.HasSuffix(q.Name, ".fifo") {
		t.Fatalf("AuditQueue %+v, want a generated FIFO name", q)
	}
	if r := rule(t, tp, "TriggerFunctionRegistrationRequested"); r.BusName != "registrations" {
		t.Errorf("bus %s", r.BusName)
	}
	if r := rule(t, tp, "ConnectorDisconnectedRule"); r.BusName != "registrations" {
		t.Errorf("bus %s", r.BusName)
	}
	if got, want := tp.Outputs["RuleArn"], "arn:aws:events:eu-west-1:111122223333:rule/registrations/prod-ConnectorDisconnectedRule-"; !strings.HasPrefix(got, want) {
		t.Errorf("RuleArn %s, want prefix %s", got, want)
	}
}

func TestDeterministicNames(t *testing.T) {
	a, b := mustLoad(t, Options{}), mustLoad(t, Options{})
	if !reflect.DeepEqual(a, b) {
		t.Error("two loads differ")
	}
	c := mustLoad(t, Options{StackName: "other"})
	if got := fn(t, c, "EnsureRolesFunction").FunctionName; !strings.HasPrefix(got, "other-EnsureRolesFunction-") || got == "other"+ensureName[len("local"):] {
		t.Errorf("other stack name %s", got)
	}
	// Long names are truncated to Lambda's 64 characters.
	long := mustLoad(t, Options{StackName: strings.Repeat("s", 60)})
	if n := fn(t, long, "EnsureRolesFunction").FunctionName; len(n) > 64 {
		t.Errorf("%s is %d characters", n, len(n))
	}
}

func TestDefinitions(t *testing.T) {
	tp := mustLoad(t, Options{})
	reg := sm(t, tp, "RegistrationStateMachine")
	var def struct {
		TimeoutSeconds int
		States         map[string]struct {
			Resource   string
			Parameters map[string]string
		}
	}
	if err := json.Unmarshal(reg.Definition, &def); err != nil {
		t.Fatalf("%v\n%s", err, reg.Definition)
	}
	if def.TimeoutSeconds != 259200 || def.States["EnsureRoles"].Parameters["FunctionName"] != arnPrefix+ensureName ||
		def.States["Cleanup"].Resource != arnPrefix+cleanupName {
		t.Errorf("registration definition not substituted:\n%s", reg.Definition)
	}
	// The YAML definition is converted to JSON.
	dereg := sm(t, tp, "DeregistrationStateMachine")
	if err := json.Unmarshal(dereg.Definition, &def); err != nil {
		t.Fatalf("%v\n%s", err, dereg.Definition)
	}
	if def.States["CheckGone"].Resource != arnPrefix+checkName {
		t.Errorf("deregistration definition:\n%s", dereg.Definition)
	}
}

func writeTemplate(t *testing.T, body string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(p, []byte("Transform: AWS::Serverless-2016-10-31\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMissingDefinitionSubstitution(t *testing.T) {
	p := writeTemplate(t, `
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/x, Handler: bootstrap, Runtime: provided.al2023}
  FromFile:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm.json
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
  Inline:
    Type: AWS::Serverless::StateMachine
    Properties:
      Role: arn:aws:iam::123456789012:role/existing
      Definition:
        StartAt: A
        States:
          A: {Type: Task, Resource: "${FnArn}", Next: B}
          B: {Type: Task, Resource: "${Forgotten}", End: true}
      DefinitionSubstitutions:
        FnArn: !Ref Fn
`, map[string]string{"sm.json": `{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${FnArn}","Next":"B"},` +
		`"B":{"Type":"Task","Resource":"${MissingArn}","Next":"C"},"C":{"Type":"Task","Resource":"${AlsoMissing}","Next":"D"},` +
		`"D":{"Type":"Task","Resource":"${MissingArn}","End":true}}}`})
	tp, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := sm(t, tp, "FromFile")
	if want := []string{"AlsoMissing", "MissingArn"}; !reflect.DeepEqual(f.UnresolvedPlaceholders, want) {
		t.Errorf("UnresolvedPlaceholders %v, want %v", f.UnresolvedPlaceholders, want)
	}
	if !strings.Contains(string(f.Definition), `"Resource":"`+arnPrefix+"local-Fn-") || !strings.Contains(string(f.Definition), "${MissingArn}") {
		t.Errorf("definition %s", f.Definition)
	}
	in := sm(t, tp, "Inline")
	if want := []string{"Forgotten"}; !reflect.DeepEqual(in.UnresolvedPlaceholders, want) {
		t.Errorf("inline UnresolvedPlaceholders %v, want %v", in.UnresolvedPlaceholders, want)
	}
	if in.RoleArn != "arn:aws:iam::123456789012:role/existing" || in.PolicyDocuments != nil {
		t.Errorf("inline role %s, policies %d", in.RoleArn, len(in.PolicyDocuments))
	}
	if !strings.Contains(string(in.Definition), `"Resource":"local-Fn-`) {
		t.Errorf("inline definition %s", in.Definition)
	}
}

func TestErrors(t *testing.T) {
	const fnHead = `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/x
      Handler: bootstrap
      Runtime: provided.al2023
`
	tests := []struct {
		name   string
		body   string
		params map[string]string
		want   []string // substrings of the error
	}{
		{"unknown intrinsic (long form)", "Resources:" + fnHead + `
      Environment:
        Variables:
          X: {"Fn::Frobnicate": [a, b]}
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X", "unsupported intrinsic function Fn::Frobnicate"}},
		{"unsupported intrinsic (short form)", "Resources:" + fnHead + `
      Environment:
        Variables:
          X: !ImportValue shared-thing
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X", "Fn::ImportValue"}},
		{"unknown YAML tag", "Resources:" + fnHead + `
      Environment:
        Variables:
          X: !Frob a
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X", "unknown YAML tag !Frob"}},
		{"unknown intrinsic in a resource nothing reads", "Resources:" + fnHead + `
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Threshold: {"Fn::Nope": 1}
`, nil, []string{"Resources.Alarm.Properties.Threshold", "Fn::Nope"}},
		{"SAM policy template", "Resources:" + fnHead + `
      Policies:
        - SQSSendMessagePolicy: {QueueName: q}
`, nil, []string{"Resources.Fn.Properties.Policies[0]", "unsupported policy template SQSSendMessagePolicy"}},
		{"policy template behind Fn::If", `
Conditions:
  Yes: !Equals [a, a]
Resources:` + fnHead + `
      Policies:
        - !If [Yes, {DynamoDBCrudPolicy: {TableName: t}}, !Ref AWS::NoValue]
`, nil, []string{"unsupported policy template DynamoDBCrudPolicy"}},
		{"Ref to nothing", "Resources:" + fnHead + `
      Environment: {Variables: {X: !Ref Nowhere}}
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X.Ref", `"Nowhere" is neither a parameter nor a resource`}},
		{"Sub of unknown name", "Resources:" + fnHead + `
      Environment: {Variables: {X: !Sub "${Nowhere}-x"}}
`, nil, []string{"Fn::Sub", `"Nowhere"`}},
		{"Ref to a resource whose Condition is false", `
Conditions:
  No: !Equals [a, b]
Resources:` + fnHead + `
      Environment: {Variables: {X: !GetAtt Q.Arn}}
  Q:
    Type: AWS::SQS::Queue
    Condition: No
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X", "Q is not created (its Condition No is false)"}},
		{"GetAtt unsupported attribute", "Resources:" + fnHead + `
      Environment: {Variables: {X: !GetAtt Q.Nope}}
  Q:
    Type: AWS::SQS::Queue
`, nil, []string{"Fn::GetAtt Nope is not supported on Q (AWS::SQS::Queue)"}},
		{"unsupported resource type", "Resources:" + fnHead + `
  T:
    Type: AWS::DynamoDB::Table
`, nil, []string{"Resources.T", `unsupported resource type "AWS::DynamoDB::Table"`}},
		{"unsupported event type", "Resources:" + fnHead + `
      Events:
        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
`, nil, []string{"Resources.Fn.Properties.Events.Tick.Type", "unsupported event type Schedule"}},
		{"unsupported function property", "Resources:" + fnHead + `
      FunctionUrlConfig: {AuthType: NONE}
`, nil, []string{"Resources.Fn.Properties.FunctionUrlConfig", "unsupported"}},
		{"Globals list concatenation", `
Globals:
  Function:
    Architectures: [arm64]
Resources:` + fnHead + `
      Architectures: [x86_64]
`, nil, []string{"Resources.Fn.Properties.Architectures", "exactly one"}},
		{"Role and Policies", "Resources:" + fnHead + `
      Role: arn:aws:iam::123456789012:role/r
      Policies: [AWSXrayWriteOnlyAccess]
`, nil, []string{"Resources.Fn.Properties.Policies", "Role is set"}},
		{"condition function outside Conditions", "Resources:" + fnHead + `
      Environment: {Variables: {X: !Equals [a, b]}}
`, nil, []string{"Fn::Equals is a condition function"}},
		{"circular condition", `
Conditions:
  A: !Not [!Condition B]
  B: !Not [!Condition A]
Resources:` + fnHead, nil, []string{"refers to itself"}},
		{"unknown condition in Fn::If", "Resources:" + fnHead + `
      Environment: {Variables: {X: !If [Nope, a, b]}}
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X.Fn::If", `unknown condition "Nope"`}},
		{"AllowedValues", `
Parameters:
  Mode: {Type: String, Default: managed, AllowedValues: [managed, existing]}
Resources:` + fnHead, map[string]string{"Mode": "other"}, []string{"Parameters.Mode", `"other" is not one of AllowedValues`}},
		{"AllowedPattern", `
Parameters:
  Prefix: {Type: String, Default: /ok, AllowedPattern: "/.*"}
Resources:` + fnHead, map[string]string{"Prefix": "nope"}, []string{"Parameters.Prefix", "AllowedPattern"}},
		{"override of an undeclared parameter", "Resources:" + fnHead, map[string]string{"Typo": "x"},
			[]string{`override for "Typo"`}},
		{"parameter without value", `
Parameters:
  Needed: {Type: String}
Resources:` + fnHead, nil, []string{"Parameters.Needed", "no value"}},
		{"Number parameter", `
Parameters:
  N: {Type: Number, Default: 1}
Resources:` + fnHead, map[string]string{"N": "many"}, []string{"Parameters.N", "not a Number"}},
		{"MinValue", `
Parameters:
  N: {Type: Number, Default: 10, MinValue: 5}
Resources:` + fnHead, map[string]string{"N": "4"}, []string{"Parameters.N", "violates MinValue 5"}},
		{"Select out of range", "Resources:" + fnHead + `
      Environment: {Variables: {X: !Select [3, [a, b]]}}
`, nil, []string{"Fn::Select index 3 out of range"}},
		{"FindInMap missing key", `
Mappings:
  M: {dev: {A: x}}
Resources:` + fnHead + `
      Environment: {Variables: {X: !FindInMap [M, prod, A]}}
`, nil, []string{`mapping M has no key "prod"`}},
		{"environment value is a list", "Resources:" + fnHead + `
      Environment: {Variables: {X: !Split [",", "a,b"]}}
`, nil, []string{"Resources.Fn.Properties.Environment.Variables.X", "expected a string, got a list"}},
		{"missing DefinitionUri file", `
Resources:
  S:
    Type: AWS::Serverless::StateMachine
    Properties: {DefinitionUri: nowhere.json}
`, nil, []string{"Resources.S.Properties.DefinitionUri", "nowhere.json"}},
		{"DefinitionUri in S3", `
Resources:
  S:
    Type: AWS::Serverless::StateMachine
    Properties: {DefinitionUri: {Bucket: b, Key: k}}
`, nil, []string{"Resources.S.Properties.DefinitionUri", "only a local path"}},
		{"EventInvokeConfig destination without ARN", "Resources:" + fnHead + `
      EventInvokeConfig:
        DestinationConfig:
          OnFailure: {Type: Lambda}
`, nil, []string{"Resources.Fn.Properties.EventInvokeConfig.DestinationConfig.OnFailure.Destination", "required"}},
		{"rule with a schedule", "Resources:" + fnHead + `
  R:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 minute)
      Targets: [{Id: t, Arn: !GetAtt Fn.Arn}]
`, nil, []string{"Resources.R.Properties.ScheduleExpression", "unsupported"}},
		{"DeadLetterConfig Type and Arn", "Resources:" + fnHead + `
      Events:
        E:
          Type: EventBridgeRule
          Properties:
            Pattern: {source: [x]}
            DeadLetterConfig: {Type: SQS, Arn: arn:aws:sqs:us-east-1:123456789012:q}
`, nil, []string{"Resources.Fn.Properties.Events.E.Properties.DeadLetterConfig", "not both"}},
		{"typo in event property", "Resources:" + fnHead + `
      Events:
        E:
          Type: EventBridgeRule
          Properties:
            Patern: {source: [x]}
`, nil, []string{"Resources.Fn.Properties.Events.E.Properties.Patern"}},
		{"unsupported top-level section", "Hooks: {}\nResources:" + fnHead, nil, []string{"Hooks: unsupported top-level section"}},
		{"failed rule assertion", `
Parameters:
  Mode: {Type: String, Default: managed}
  Arn: {Type: String, Default: ""}
Rules:
  NeedsArn:
    RuleCondition: !Equals [!Ref Mode, existing]
    Assertions:
      - Assert: !Not [!Equals [!Ref Arn, ""]]
        AssertDescription: existing needs Arn
Resources:` + fnHead, map[string]string{"Mode": "existing"}, []string{"Rules.NeedsArn.Assertions[0]", "existing needs Arn"}},
		{"duplicate key", "Transform: [AWS::LanguageExtensions]\n", nil, []string{"duplicate key"}},
		{"SSM parameter type", `
Parameters:
  P: {Type: "AWS::SSM::Parameter::Value<String>", Default: /x}
Resources:` + fnHead, nil, []string{"Parameters.P", "unsupported parameter type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemplate(t, tc.body, nil)
			_, err := Load(p, Options{Parameters: tc.params})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLanguageExtensionsRejected(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(p, []byte("Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\nResources: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, Options{}); err == nil || !strings.Contains(err.Error(), "unsupported transform AWS::LanguageExtensions") {
		t.Fatalf("err = %v", err)
	}
}

// TestRealTemplate loads the project's template.yaml when it exists and checks
// it against the working agreement in docs/functions.md.
func TestRealTemplate(t *testing.T) {
	path := filepath.Join("..", "..", "template.yaml")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		t.Skip("template.yaml not written yet")
	}
	for _, mode := range []map[string]string{
		nil,
		{"AgentRoleMode": "existing", "ExistingAgentRoleArn": "arn:aws:iam::123456789012:role/Agent"},
	} {
		if _, err := Load(path, Options{Parameters: mode}); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				t.Skipf("template.yaml refers to a file not written yet: %v", err)
			}
			t.Fatalf("parameters %v: %v", mode, err)
		}
	}
	// Its Rules refuse, as CloudFormation would, the existing agent role
	// mode without the role's ARN.
	_, err := Load(path, Options{Parameters: map[string]string{"AgentRoleMode": "existing"}})
	if err == nil || !strings.Contains(err.Error(), "ExistingAgentRoleArn must name the agent role") {
		t.Errorf("AgentRoleMode existing without ExistingAgentRoleArn: got %v, want the rule ExistingAgentRoleNeedsArn's refusal", err)
	}
	tp, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tp.StateMachines {
		if len(s.UnresolvedPlaceholders) > 0 {
			t.Errorf("%s: no DefinitionSubstitutions for %v", s.LogicalID, s.UnresolvedPlaceholders)
		}
		if !json.Valid(s.Definition) {
			t.Errorf("%s: definition is not JSON", s.LogicalID)
		}
	}
	// Every function of docs/functions.md. (Its CodeUri column is not
	// checked: template.yaml builds every function from "." with
	// BuildMethod makefile, one build-<LogicalId> target each.)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "functions.md"))
	if err != nil {
		t.Skip("docs/functions.md: ", err)
	}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasSuffix(strings.TrimSpace(cells[1]), "Function") {
			continue
		}
		id := strings.TrimSpace(cells[1])
		if _, ok := tp.Function(id); !ok {
			t.Errorf("docs/functions.md lists %s; template.yaml does not declare it", id)
		}
	}
	if len(tp.Rules) == 0 {
		t.Error("no EventBridge rules: nothing would invoke the trigger")
	}
}

// SAM's EventBridgeRule event gives the function a permission for the rule
// (AWS::Lambda::Permission "<Function><Event>Permission"), and a
// DeadLetterConfig of Type SQS a queue policy for the rule
// ("<Function><Event>QueuePolicy").
func TestSAMPermissionsAndQueuePolicies(t *testing.T) {
	tp := mustLoad(t, Options{})
	ruleArn := "arn:aws:events:us-east-1:123456789012:rule/"
	perms := tp.Permissions
	want := []Permission{
		{LogicalID: "TriggerFunctionManualRetryPermission", StatementID: "local-TriggerFunctionManualRetryPermission-" + suffixOf(t, tp, "TriggerFunctionManualRetryPermission"),
			FunctionArn: arnPrefix + "local-trigger", Action: "lambda:InvokeFunction", Principal: "events.amazonaws.com", SourceArn: ruleArn + "local-manual-retry"},
		{LogicalID: "TriggerFunctionRegistrationRequestedPermission", StatementID: "local-TriggerFunctionRegistrationRequestedPermission-" + suffixOf(t, tp, "TriggerFunctionRegistrationRequestedPermission"),
			FunctionArn: arnPrefix + "local-trigger", Action: "lambda:InvokeFunction", Principal: "events.amazonaws.com",
			SourceArn: ruleArn + rule(t, tp, "TriggerFunctionRegistrationRequested").Name},
	}
	if !reflect.DeepEqual(perms, want) {
		t.Errorf("permissions\n got %+v\nwant %+v", perms, want)
	}
	if len(tp.QueuePolicies) != 1 {
		t.Fatalf("queue policies %+v, want SAM's one for the Type SQS dead-letter queue", tp.QueuePolicies)
	}
	qp := tp.QueuePolicies[0]
	dlq := queue(tp, "TriggerFunctionRegistrationRequestedQueue").Arn
	wantDoc := `{"Statement":[{"Action":"sqs:SendMessage","Condition":{"ArnEquals":{"aws:SourceArn":"` + ruleArn +
		rule(t, tp, "TriggerFunctionRegistrationRequested").Name + `"}},"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Resource":"` +
		dlq + `"}],"Version":"2012-10-17"}`
	if qp.LogicalID != "TriggerFunctionRegistrationRequestedQueuePolicy" || !reflect.DeepEqual(qp.QueueArns, []string{dlq}) || string(qp.Document) != wantDoc {
		t.Errorf("queue policy %s %v\n%s\nwant %s", qp.LogicalID, qp.QueueArns, qp.Document, wantDoc)
	}
}

// suffixOf is the deterministic suffix of a generated name.
func suffixOf(t *testing.T, tp *Template, id string) string {
	t.Helper()
	l := &loader{o: Options{StackName: tp.Parameters["AWS::StackName"]}}
	return l.suffix(id)
}

func TestExplicitQueuePoliciesAndPermissions(t *testing.T) {
	const fn = `
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: bootstrap
      Runtime: provided.al2023
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt Dlq.Arn}
`
	p := writeTemplate(t, `
Resources:
  DlqPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Dlq, !Ref Other]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: events.amazonaws.com}
            Action: sqs:SendMessage
            Resource: "*"
  ByName:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref Fn
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: !GetAtt Rule.Arn
      SourceAccount: !Ref AWS::AccountId
  ByArn:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !GetAtt Fn.Arn
      Action: lambda:InvokeFunction
      Principal: "123456789012"
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [app]}
      Targets: [{Id: fn, Arn: !GetAtt Fn.Arn, DeadLetterConfig: {Arn: !GetAtt Dlq.Arn}}]
  Dlq: {Type: AWS::SQS::Queue}
  Other: {Type: AWS::SQS::Queue}
`+fn, nil)
	tp, err := Load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.QueuePolicies) != 1 || len(tp.QueuePolicies[0].QueueArns) != 2 ||
		tp.QueuePolicies[0].QueueArns[0] != queue(tp, "Dlq").Arn || !strings.Contains(string(tp.QueuePolicies[0].Document), `"Principal":{"Service":"events.amazonaws.com"}`) {
		t.Errorf("queue policies %+v", tp.QueuePolicies)
	}
	f, _ := tp.Function("Fn")
	if len(tp.Permissions) != 2 || tp.Permissions[0].FunctionArn != f.Arn || tp.Permissions[1].FunctionArn != f.Arn ||
		tp.Permissions[0].SourceArn != "arn:aws:events:us-east-1:123456789012:rule/"+rule(t, tp, "Rule").Name ||
		tp.Permissions[0].SourceAccount != "123456789012" || tp.Permissions[1].Principal != "123456789012" ||
		!strings.HasPrefix(tp.Permissions[0].StatementID, "local-ByName-") {
		t.Errorf("permissions %+v", tp.Permissions)
	}
	// SAM's DeadLetterQueuePolicy on the role it creates.
	if len(f.ImplicitPolicyDocuments) != 1 || string(f.ImplicitPolicyDocuments[0]) !=
		`{"Statement":[{"Action":"sqs:SendMessage","Effect":"Allow","Resource":"`+queue(tp, "Dlq").Arn+`"}],"Version":"2012-10-17"}` {
		t.Errorf("implicit policies %s", f.ImplicitPolicyDocuments)
	}

	for _, tc := range []struct{ name, body, want string }{
		{"queue not of the template", `
  P:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [https://sqs.us-east-1.amazonaws.com/123456789012/elsewhere]
      PolicyDocument: {Statement: []}
  Dlq: {Type: AWS::SQS::Queue}`, "is not the URL of a queue of this template"},
		{"queue policy without a document", `
  P:
    Type: AWS::SQS::QueuePolicy
    Properties: {Queues: [!Ref Dlq]}
  Dlq: {Type: AWS::SQS::Queue}`, "PolicyDocument: required"},
		{"permission for another function", `
  P:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: elsewhere, Action: lambda:InvokeFunction, Principal: events.amazonaws.com}
  Dlq: {Type: AWS::SQS::Queue}`, `"elsewhere" is not a function of this template`},
		{"permission without a principal", `
  P:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunction}
  Dlq: {Type: AWS::SQS::Queue}`, "Principal: required"},
		{"unsupported permission property", `
  P:
    Type: AWS::Lambda::Permission
    Properties: {FunctionName: !Ref Fn, Action: lambda:InvokeFunction, Principal: "*", InvokedViaFunctionUrl: true}
  Dlq: {Type: AWS::SQS::Queue}`, "InvokedViaFunctionUrl: unsupported"},
		{"DeadLetterQueue without Type", `
  Dlq: {Type: AWS::SQS::Queue}
  G:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., DeadLetterQueue: {TargetArn: !GetAtt Dlq.Arn}}`, "needs Type (SQS or SNS)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeTemplate(t, "Resources:"+tc.body+fn, nil), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
