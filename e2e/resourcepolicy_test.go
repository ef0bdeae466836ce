package e2e

// Resource-based policies, as deployed from template.yaml: the trigger rule
// may invoke the trigger only through the function's permission (SAM's
// AWS::Lambda::Permission), and may put an undeliverable event into its
// dead-letter queue only through RuleDeadLetterQueuePolicy.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// triggerWiring is what the template deploys around the trigger: its rule,
// the rule's dead-letter queue and the function's permission for the rule.
type triggerWiring struct {
	fn         *template.Function
	ruleArn    string
	dlq        template.Queue
	permission template.Permission
}

func wiring(t *testing.T, c *localcloud.Cloud) triggerWiring {
	t.Helper()
	var w triggerWiring
	fn, ok := c.Template.Function("TriggerFunction")
	if !ok {
		t.Fatal("template.yaml has no TriggerFunction")
	}
	w.fn = fn
	for _, r := range c.Template.Rules {
		if len(r.Targets) == 1 && r.Targets[0].Arn == fn.Arn {
			w.ruleArn = "arn:aws:events:" + c.Region + ":" + c.Account + ":rule/" + r.Name
			if r.BusName != "default" {
				w.ruleArn = "arn:aws:events:" + c.Region + ":" + c.Account + ":rule/" + r.BusName + "/" + r.Name
			}
			for _, q := range c.Template.Queues {
				if q.Arn == r.Targets[0].DeadLetterArn {
					w.dlq = q
				}
			}
		}
	}
	for _, p := range c.Template.Permissions {
		if p.FunctionArn == fn.Arn && p.SourceArn == w.ruleArn {
			w.permission = p
		}
	}
	if w.ruleArn == "" || w.dlq.Arn == "" || w.permission.StatementID == "" {
		t.Fatalf("template.yaml: trigger rule %q, its dead-letter queue %q, the function's permission for it %+v: want all three",
			w.ruleArn, w.dlq.Arn, w.permission)
	}
	return w
}

// removePermission deletes the function's permission for the rule, as an
// operator could with `aws lambda remove-permission`.
func removePermission(t *testing.T, e *env, w triggerWiring) {
	t.Helper()
	cli := lambda.NewFromConfig(e.c.ConfigFor("admin"))
	if _, err := cli.RemovePermission(e.ctx(), &lambda.RemovePermissionInput{FunctionName: aws.String(w.fn.FunctionName),
		StatementId: aws.String(w.permission.StatementID)}); err != nil {
		t.Fatalf("RemovePermission: %v", err)
	}
}

func deadLetters(t *testing.T, e *env, q template.Queue) []sqstypes.Message {
	t.Helper()
	out, err := sqs.NewFromConfig(e.c.ConfigFor("admin")).ReceiveMessage(e.ctx(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatalf("ReceiveMessage(%s): %v", q.LogicalID, err)
	}
	return out.Messages
}

func checksOf(c *localcloud.Cloud, principal, action, resource string) []policy.Check {
	var out []policy.Check
	for _, ch := range c.Policies.Checks() {
		if ch.Principal == principal && ch.Action == action && ch.Resource == resource {
			out = append(out, ch)
		}
	}
	return out
}

// The deployed policies are the template's: the rule's permission on the
// function (GetPolicy) and the dead-letter queue's policy (the queue's
// Policy attribute). Without the permission the rule cannot invoke the
// trigger: EventBridge does not retry a permission error and sends the event
// to the dead-letter queue, which RuleDeadLetterQueuePolicy lets it do.
func TestTheRuleNeedsTheFunctionsPermission(t *testing.T) {
	t.Parallel()
	e := start(t, localcloud.Options{})
	w := wiring(t, e.c)

	pol, err := lambda.NewFromConfig(e.c.ConfigFor("admin")).GetPolicy(e.ctx(), &lambda.GetPolicyInput{FunctionName: aws.String(w.fn.FunctionName)})
	if err != nil {
		t.Fatalf("GetPolicy of the trigger: %v", err)
	}
	var fnPolicy struct {
		Statement []struct {
			Sid       string
			Principal map[string]string
			Action    string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &fnPolicy); err != nil || len(fnPolicy.Statement) != 1 {
		t.Fatalf("the trigger's policy %s: %v; want one statement", aws.ToString(pol.Policy), err)
	}
	if st := fnPolicy.Statement[0]; st.Sid != w.permission.StatementID || st.Principal["Service"] != "events.amazonaws.com" ||
		st.Action != "lambda:InvokeFunction" || st.Condition["ArnLike"]["AWS:SourceArn"] != w.ruleArn {
		t.Errorf("the trigger's permission %+v, want events.amazonaws.com for %s", st, w.ruleArn)
	}
	attrs, err := sqs.NewFromConfig(e.c.ConfigFor("admin")).GetQueueAttributes(e.ctx(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(w.dlq.URL), AttributeNames: []sqstypes.QueueAttributeName{"Policy"}})
	if err != nil {
		t.Fatal(err)
	}
	var deployed bool
	for _, qp := range e.c.Template.QueuePolicies {
		if string(qp.Document) == attrs.Attributes["Policy"] {
			deployed = true
		}
	}
	if !deployed {
		t.Errorf("the dead-letter queue's Policy %q is none of the template's queue policies", attrs.Attributes["Policy"])
	}

	removePermission(t, e, w)
	e.register("noperm-01", nil)
	e.settle()

	for _, inv := range e.c.Lambda.Log() {
		if inv.Function == w.fn.FunctionName {
			t.Fatalf("the trigger ran (%+v) without a permission for the rule", inv)
		}
	}
	if n := len(e.c.SFN.Executions()); n != 0 {
		t.Errorf("%d executions started", n)
	}
	msgs := deadLetters(t, e, w.dlq)
	if len(msgs) != 1 {
		t.Fatalf("%d dead letters, want the event", len(msgs))
	}
	var ev struct {
		DetailType string `json:"detail-type"`
		Detail     struct{ ClusterName string }
	}
	_ = json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &ev)
	attr := func(k string) string { return aws.ToString(msgs[0].MessageAttributes[k].StringValue) }
	if ev.DetailType != "Register Cluster" || ev.Detail.ClusterName != "noperm-01" || attr("ERROR_CODE") != "NO_PERMISSIONS" ||
		attr("RULE_ARN") != w.ruleArn || attr("RETRY_ATTEMPTS") != "0" {
		t.Errorf("dead letter %s with ERROR_CODE %q RULE_ARN %q RETRY_ATTEMPTS %q: want the event, NO_PERMISSIONS at the first attempt",
			aws.ToString(msgs[0].Body), attr("ERROR_CODE"), attr("RULE_ARN"), attr("RETRY_ATTEMPTS"))
	}
	if !strings.Contains(attr("ERROR_MESSAGE"), "not authorized to perform: lambda:InvokeFunction") {
		t.Errorf("ERROR_MESSAGE %q does not say what was refused", attr("ERROR_MESSAGE"))
	}
	if fails := e.c.Events.Failures(); len(fails) != 1 || !fails[0].DeadLettered ||
		!strings.Contains(fails[0].Why, "the resource has no resource-based policy") {
		t.Errorf("failures %+v, want the dead-lettered event and why: the function has no policy left", fails)
	}

	invoke := checksOf(e.c, "events.amazonaws.com", "lambda:InvokeFunction", w.fn.Arn)
	if len(invoke) != 1 || invoke[0].Allowed || !strings.Contains(invoke[0].Why, "resource-based policy") {
		t.Errorf("EventBridge's invoke checks %+v, want one denied by the function's policy", invoke)
	}
	send := checksOf(e.c, "events.amazonaws.com", "sqs:SendMessage", w.dlq.Arn)
	if len(send) != 1 || !send[0].Allowed || !strings.HasPrefix(send[0].MatchedStatement, "RuleDeadLetterQueuePolicy/") {
		t.Errorf("EventBridge's dead-letter checks %+v, want one allowed by RuleDeadLetterQueuePolicy", send)
	}
}

// A stack whose queue policy names another rule loses the dead letter:
// EventBridge may not send it, the event is gone, and the local cloud says
// why (EventBridge itself only counts it in InvocationsFailedToBeSentToDlq).
func TestAWrongQueuePolicyConditionLosesTheDeadLetter(t *testing.T) {
	t.Parallel()
	const anchor = ":rule/*" // RuleDeadLetterQueuePolicy's aws:SourceArn pattern
	root := app.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), anchor); n != 1 {
		t.Fatalf("template.yaml holds %q %d times; this test rewrites RuleDeadLetterQueuePolicy's aws:SourceArn pattern and needs it once", anchor, n)
	}
	dir := t.TempDir()
	tpl := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(tpl, []byte(strings.Replace(string(raw), anchor, ":rule/some-other-rule", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "statemachine"), filepath.Join(dir, "statemachine")); err != nil {
		t.Fatal(err)
	}
	e := start(t, localcloud.Options{Template: tpl})
	w := wiring(t, e.c)

	removePermission(t, e, w)
	e.register("lostdlq-01", nil)
	e.settle()

	if msgs := deadLetters(t, e, w.dlq); len(msgs) != 0 {
		t.Fatalf("%d dead letters; the queue policy names another rule", len(msgs))
	}
	if n := e.c.Events.InvocationsFailedToBeSentToDlq(); n != 1 {
		t.Errorf("InvocationsFailedToBeSentToDlq = %d, want 1", n)
	}
	fails := e.c.Events.Failures()
	if len(fails) != 1 || fails[0].DeadLettered || fails[0].Code != "NO_PERMISSIONS" ||
		!strings.Contains(fails[0].DeadLetterError, "not authorized to perform: sqs:SendMessage") ||
		!strings.Contains(fails[0].DeadLetterError, `aws:SourceArn is "`+w.ruleArn+`"`) {
		t.Fatalf("failures %+v, want the lost dead letter and why", fails)
	}
	send := checksOf(e.c, "events.amazonaws.com", "sqs:SendMessage", w.dlq.Arn)
	if len(send) != 1 || send[0].Allowed || !strings.Contains(send[0].Why, "statement EventBridgeDeadLetters does not apply") {
		t.Errorf("EventBridge's dead-letter checks %+v, want one denied, naming the statement that does not apply", send)
	}
	t.Logf("the local cloud's explanation: %s", fails[0].DeadLetterError)
}
