package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

const (
	queue   = "arn:aws:sqs:us-east-1:" + acct + ":local-RuleDeadLetterQueue-ABC"
	ruleArn = "arn:aws:events:us-east-1:" + acct + ":rule/local-TriggerFunctionClusterRequests-XYZ"
	fnArn   = "arn:aws:lambda:us-east-1:" + acct + ":function:local-TriggerFunction-XYZ"
)

var events = awsproto.ServicePrincipal("events.amazonaws.com")

// The queue policy of template.yaml's RuleDeadLetterQueuePolicy, resolved.
const dlqPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"EventBridgeDeadLetters","Effect":"Allow",
	"Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + queue + `",
	"Condition":{"StringEquals":{"aws:SourceAccount":"` + acct + `"},
	"ArnLike":{"aws:SourceArn":"arn:aws:events:us-east-1:` + acct + `:rule/*"}}}]}`

// What Lambda makes of SAM's AWS::Lambda::Permission for an EventBridgeRule
// event (Lambda writes the condition key as AWS:SourceArn).
const fnPolicy = `{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"local-TriggerFunctionClusterRequestsPermission-1A2B",
	"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `",
	"Condition":{"ArnLike":{"AWS:SourceArn":"` + ruleArn + `"}}}]}`

func TestParseResourcePolicy(t *testing.T) {
	p, err := ParseResourcePolicy([]byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"a-b_c.1","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"` + queue + `"},
		{"Effect":"Allow","Principal":{"AWS":["` + acct + `","arn:aws:iam::` + acct + `:role/R"],"Service":"events.amazonaws.com"},"Action":"sqs:*","Resource":"*"},
		{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sqs:*","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []*Principals{
		{All: true},
		{AWS: []string{acct, "arn:aws:iam::" + acct + ":role/R"}, Service: []string{"events.amazonaws.com"}},
		nil,
	}
	for i, st := range p.Statements {
		if !reflect.DeepEqual(st.Principal, want[i]) {
			t.Errorf("statement %d: Principal %+v, want %+v", i, st.Principal, want[i])
		}
	}
	if np := p.Statements[2].NotPrincipal; np == nil || !reflect.DeepEqual(np.AWS, []string{"arn:aws:iam::" + acct + ":root"}) {
		t.Errorf("NotPrincipal %+v", np)
	}

	const ok = `"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"`
	for _, tt := range []struct{ name, doc, want string }{
		{"no principal", `{"Statement":{` + ok + `}}`, "needs Principal or NotPrincipal"},
		{"both", `{"Statement":{` + ok + `,"Principal":"*","NotPrincipal":"*"}}`, "both Principal and NotPrincipal"},
		{"bare service name", `{"Statement":{` + ok + `,"Principal":"events.amazonaws.com"}}`, `must be "*" or an object`},
		{"unknown kind", `{"Statement":{` + ok + `,"Principal":{"Services":"events.amazonaws.com"}}}`, `unknown principal kind "Services"`},
		{"empty object", `{"Statement":{` + ok + `,"Principal":{}}}`, "empty object"},
		{"partial wildcard ARN", `{"Statement":{` + ok + `,"Principal":{"AWS":"arn:aws:iam::` + acct + `:role/*"}}}`, "cannot hold wildcards"},
		{"not an account or ARN", `{"Statement":{` + ok + `,"Principal":{"AWS":"12345"}}}`, "account id"},
		{"service wildcard", `{"Statement":{` + ok + `,"Principal":{"Service":"*"}}}`, "service principal such as"},
		{"sid with a space", `{"Statement":{"Sid":"a b",` + ok + `,"Principal":"*"}}`, "may hold only"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResourcePolicy([]byte(tt.doc))
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrMalformed mentioning %q", err, tt.want)
			}
		})
	}
	// An identity policy still may not name principals.
	if _, err := ParseDocument([]byte(`{"Statement":{` + ok + `,"Principal":"*"}}`)); err == nil {
		t.Error("ParseDocument accepted a Principal")
	}
}

func TestResourcePolicies(t *testing.T) {
	roleP := &awsproto.Principal{Name: "TriggerFunction", ARN: "arn:aws:iam::" + acct + ":role/local-TriggerFunctionRole-X"}
	other := &awsproto.Principal{Name: "Other", ARN: "arn:aws:iam::" + acct + ":role/Other"}
	srcCtx := func(rule string) map[string]string {
		return map[string]string{"aws:SourceArn": rule, "aws:SourceAccount": acct}
	}
	type call struct {
		name     string
		p        *awsproto.Principal
		action   string
		resource string
		ctx      map[string]string
		allowed  bool
		deny     string // Decision.ExplicitDeny
		why      string // in Decision.Why
	}
	tests := []struct {
		name     string
		identity map[string]string // principal name → identity policy
		resource map[string]string // resource ARN → its policy
		calls    []call
	}{
		{
			name:     "the template's dead-letter queue policy",
			resource: map[string]string{queue: dlqPolicy},
			calls: []call{
				{"the rule's dead letter", events, "sqs:SendMessage", queue, srcCtx(ruleArn), true, "", ""},
				{"a rule on another bus", events, "sqs:SendMessage", queue, srcCtx("arn:aws:events:us-east-1:" + acct + ":rule/bus/r"), true, "", ""},
				{"a rule of another account", events, "sqs:SendMessage", queue, map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:999999999999:rule/r", "aws:SourceAccount": acct}, false, "",
					`condition ArnLike aws:SourceArn [arn:aws:events:us-east-1:` + acct + `:rule/*] does not hold (aws:SourceArn is "arn:aws:events:us-east-1:999999999999:rule/r")`},
				{"no source account", events, "sqs:SendMessage", queue, map[string]string{"aws:SourceArn": ruleArn}, false, "", "aws:SourceAccount is absent"},
				{"another service", awsproto.ServicePrincipal("sns.amazonaws.com"), "sqs:SendMessage", queue, srcCtx(ruleArn), false, "",
					"statement EventBridgeDeadLetters does not name sns.amazonaws.com"},
				{"another action", events, "sqs:ReceiveMessage", queue, srcCtx(ruleArn), false, "", "its Action does not include sqs:ReceiveMessage"},
				{"another queue has no policy", events, "sqs:SendMessage", queue + "2", srcCtx(ruleArn), false, "",
					"a service principal has no identity-based policies, and the resource has no resource-based policy"},
				{"a role the policy does not name", other, "sqs:SendMessage", queue, nil, false, "", "does not name " + other.ARN},
			},
		},
		{
			name:     "a function policy from a Lambda permission",
			resource: map[string]string{fnArn: fnPolicy},
			calls: []call{
				{"the rule", events, "lambda:InvokeFunction", fnArn, srcCtx(ruleArn), true, "", ""},
				{"another rule", events, "lambda:InvokeFunction", fnArn, srcCtx(ruleArn + "2"), false, "", "does not hold"},
				{"a qualified ARN is another resource", events, "lambda:InvokeFunction", fnArn + ":live", srcCtx(ruleArn), false, "", ""},
			},
		},
		{
			name: "identity OR resource policy within the account; an explicit deny in either wins",
			identity: map[string]string{
				"TriggerFunction": stmt(`{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}`),
				"Other":           stmt(`{"Sid":"NoSend","Effect":"Deny","Action":"sqs:SendMessage","Resource":"*"}`),
				// A service principal has no identity policies, whatever is set under its name.
				"events.amazonaws.com": stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`),
			},
			resource: map[string]string{
				queue + "-role": `{"Statement":[{"Sid":"Role","Effect":"Allow","Principal":{"AWS":"` + other.ARN + `"},"Action":"sqs:SendMessage","Resource":"*"},
					{"Sid":"RoleOnly","Effect":"Allow","Principal":{"AWS":"` + roleP.ARN + `"},"Action":"sqs:ReceiveMessage","Resource":"*"}]}`,
				queue + "-account": `{"Statement":[{"Sid":"Account","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sqs:*","Resource":"*"}]}`,
				queue + "-root":    `{"Statement":[{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sqs:*","Resource":"*"}]}`,
				queue + "-deny":    `{"Statement":[{"Sid":"NoTrigger","Effect":"Deny","Principal":{"AWS":"` + roleP.ARN + `"},"Action":"sqs:SendMessage","Resource":"*"}]}`,
				queue + "-denyall": `{"Statement":[{"Sid":"OnlyOther","Effect":"Deny","NotPrincipal":{"AWS":"` + other.ARN + `"},"Action":"sqs:*","Resource":"*"},
					{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}]}`,
				queue + "-public": `{"Statement":[{"Sid":"Anyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:GetQueueUrl","Resource":"*"}]}`,
			},
			calls: []call{
				{"identity allows, no resource policy", roleP, "sqs:SendMessage", queue, nil, true, "", ""},
				{"identity denies explicitly, the resource policy allows the role", other, "sqs:SendMessage", queue + "-role", nil, false, "identity-based", "Other-0/NoSend"},
				{"no identity allow, the resource policy names the role", roleP, "sqs:ReceiveMessage", queue + "-role", nil, true, "", ""},
				{"no identity allow, the resource policy names only the account", roleP, "sqs:ReceiveMessage", queue + "-account", nil, false, "",
					"statement Account names only the account " + acct},
				{"the account root ARN is the account too", roleP, "sqs:ReceiveMessage", queue + "-root", nil, false, "", "names only the account"},
				{"identity allows, the resource policy names the account", roleP, "sqs:SendMessage", queue + "-account", nil, true, "", ""},
				{"identity allows, the resource policy denies the role", roleP, "sqs:SendMessage", queue + "-deny", nil, false, "resource-based", "q-deny/NoTrigger"},
				{"NotPrincipal deny of everyone else", roleP, "sqs:SendMessage", queue + "-denyall", nil, false, "resource-based", "OnlyOther"},
				{"NotPrincipal spares the one it names", &awsproto.Principal{Name: "Nobody", ARN: other.ARN}, "sqs:ReceiveMessage", queue + "-denyall", nil, true, "", ""},
				{"AWS * is everyone, services included", events, "sqs:GetQueueUrl", queue + "-public", nil, true, "", ""},
				{"a service principal's identity policies are ignored", events, "sqs:SendMessage", queue, nil, false, "", "a service principal has no identity-based policies"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine()
			for name, doc := range tt.identity {
				e.SetPolicies(name, []Policy{mustParse(t, name+"-0", doc)})
			}
			for arn, doc := range tt.resource {
				name := "q" + strings.TrimPrefix(arn, queue)
				if arn == fnArn || arn == queue {
					name = "P"
				}
				if err := e.SetResourcePolicy(arn, name, []byte(doc)); err != nil {
					t.Fatalf("SetResourcePolicy(%s): %v", arn, err)
				}
			}
			for _, c := range tt.calls {
				d := e.Decide(c.p, c.action, c.resource, c.ctx)
				if d.Allowed != c.allowed || d.ExplicitDeny != c.deny || !strings.Contains(d.Why, c.why) {
					t.Errorf("%s: %+v, want allowed %v, explicit deny %q, why containing %q", c.name, d, c.allowed, c.deny, c.why)
				}
			}
		})
	}
}

func TestResourcePolicyRecords(t *testing.T) {
	e := NewEngine()
	if err := e.SetResourcePolicy(queue, "RuleDeadLetterQueuePolicy", []byte(dlqPolicy)); err != nil {
		t.Fatal(err)
	}
	ctx := map[string]string{"aws:SourceArn": ruleArn, "aws:SourceAccount": acct}
	e.Decide(events, "sqs:SendMessage", queue, ctx)
	e.Decide(events, "sqs:SendMessage", queue, ctx)
	e.Decide(events, "sqs:SendMessage", queue, map[string]string{"aws:SourceArn": ruleArn})
	checks := e.Checks()
	if len(checks) != 2 {
		t.Fatalf("checks %+v, want 2", checks)
	}
	if c := checks[0]; c.Principal != "events.amazonaws.com" || !c.Allowed || c.Count != 2 ||
		c.MatchedStatement != "RuleDeadLetterQueuePolicy/EventBridgeDeadLetters" {
		t.Errorf("allowed check %+v", c)
	}
	if c := checks[1]; c.Allowed || !strings.Contains(c.Why, "aws:SourceAccount is absent") {
		t.Errorf("denied check %+v", c)
	}
	r := e.Report()
	for _, want := range []string{
		"## Resource-based policies",
		"| " + queue + " | RuleDeadLetterQueuePolicy/EventBridgeDeadLetters | Allow | Service: events.amazonaws.com | sqs:SendMessage | yes (2) |",
		"| events.amazonaws.com | sqs:SendMessage | " + queue + " | a service principal has no identity-based policies",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
	// Resource policies are not identity grants: the least-privilege lists do not show them.
	if g := e.Grants(); len(g) != 0 {
		t.Errorf("Grants %+v, want none", g)
	}

	// A malformed policy is refused and the old one kept; an empty one removes it.
	if err := e.SetResourcePolicy(queue, "Bad", []byte(`{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed policy: %v", err)
	}
	if !e.Decide(events, "sqs:SendMessage", queue, ctx).Allowed {
		t.Error("the old policy was lost")
	}
	if err := e.SetResourcePolicy(queue, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.ResourcePolicy(queue); ok || e.Decide(events, "sqs:SendMessage", queue, ctx).Allowed {
		t.Error("the removed policy still allows")
	}
}
