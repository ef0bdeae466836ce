package policy

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/policy/reference"
)

const (
	acct  = "123456789012"
	param = "arn:aws:ssm:us-east-1:" + acct + ":parameter/x/y"
	role  = "arn:aws:iam::" + acct + ":role/AgentRole"
)

var fn = &awsproto.Principal{Name: "RegisterFunction", ARN: "arn:aws:iam::" + acct + ":role/RegisterRole"}

func mustParse(t *testing.T, name, doc string) Policy {
	t.Helper()
	p, err := ParseDocument([]byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.Name = name
	return p
}

// stmt wraps statements in a 2012-10-17 document.
func stmt(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

type req struct {
	action, resource string
	ctx              map[string]string
	want             bool
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name string
		docs []string
		reqs []req
	}{
		{
			name: "action wildcards, case-insensitive",
			docs: []string{stmt(`{"Effect":"Allow","Action":["ssm:Get*","sqs:?endMessage"],"Resource":"*"}`)},
			reqs: []req{
				{"ssm:GetParameter", param, nil, true},
				{"ssm:getparametersbypath", param, nil, true},
				{"SSM:GETPARAMETER", param, nil, true},
				{"ssm:PutParameter", param, nil, false},
				{"sqs:SendMessage", "*", nil, true},
				{"sqs:SendMessageBatch", "*", nil, false},
				{"ssmx:GetParameter", param, nil, false},
			},
		},
		{
			name: "star action",
			docs: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
			reqs: []req{{"iam:CreateRole", role, nil, true}, {"anything:AtAll", "*", nil, true}},
		},
		{
			name: "resource wildcards are ARN-aware and case-sensitive",
			docs: []string{stmt(`{"Effect":"Allow","Action":"ssm:*","Resource":[
				"arn:aws:ssm:us-east-1:123456789012:parameter/x/*",
				"arn:aws:ssm:*:123456789012:parameter/q?",
				"arn:aws:ssm:us-east-1:*:parameter/any:colon*"]}`)},
			reqs: []req{
				{"ssm:GetParameter", param, nil, true},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/x/deep/er", nil, true},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/X/y", nil, false},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/x", nil, false},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:999999999999:parameter/x/y", nil, false},
				{"ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/q1", nil, true},
				{"ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/q12", nil, false},
				// A * in the region must not span into the account.
				{"ssm:GetParameter", "arn:aws:ssm:eu:west:123456789012:parameter/q1", nil, false},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/any:colon:here", nil, true},
				// "*" as the requested resource only matches a "*" pattern.
				{"ssm:DescribeParameters", "*", nil, false},
			},
		},
		{
			name: "explicit Deny overrides Allow, across policies",
			docs: []string{
				stmt(`{"Effect":"Allow","Action":"ssm:*","Resource":"*"}`),
				stmt(`{"Sid":"NoDelete","Effect":"Deny","Action":"ssm:Delete*","Resource":"arn:aws:ssm:*:*:parameter/x/*"}`),
			},
			reqs: []req{
				{"ssm:DeleteParameter", param, nil, false},
				{"ssm:DeleteParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/z", nil, true},
				{"ssm:GetParameter", param, nil, true},
			},
		},
		{
			name: "Deny alone, no Allow: implicit deny either way",
			docs: []string{stmt(`{"Effect":"Deny","Action":"ssm:DeleteParameter","Resource":"*"}`)},
			reqs: []req{{"ssm:GetParameter", param, nil, false}, {"ssm:DeleteParameter", param, nil, false}},
		},
		{
			name: "NotAction allows everything but",
			docs: []string{stmt(`{"Effect":"Allow","NotAction":["iam:*","ssm:Delete*"],"Resource":"*"}`)},
			reqs: []req{
				{"ssm:GetParameter", param, nil, true},
				{"ssm:DeleteParameter", param, nil, false},
				{"IAM:PassRole", role, nil, false},
				{"eks:RegisterCluster", "*", nil, true},
			},
		},
		{
			name: "Deny with NotAction denies everything but",
			docs: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`,
				`{"Effect":"Deny","NotAction":"ssm:GetParameter","Resource":"*"}`)},
			reqs: []req{{"ssm:GetParameter", param, nil, true}, {"ssm:PutParameter", param, nil, false}},
		},
		{
			name: "NotResource",
			docs: []string{stmt(`{"Effect":"Allow","Action":"ssm:GetParameter","NotResource":"arn:aws:ssm:*:*:parameter/secret/*"}`)},
			reqs: []req{
				{"ssm:GetParameter", param, nil, true},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/secret/a", nil, false},
				{"ssm:PutParameter", param, nil, false},
			},
		},
		{
			name: "StringEquals, key case-insensitive, value case-sensitive, missing key fails",
			docs: []string{stmt(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":["ssm.amazonaws.com","states.amazonaws.com"]}}}`)},
			reqs: []req{
				{"iam:PassRole", role, map[string]string{"iam:PassedToService": "ssm.amazonaws.com"}, true},
				{"iam:PassRole", role, map[string]string{"IAM:PASSEDTOSERVICE": "states.amazonaws.com"}, true},
				{"iam:PassRole", role, map[string]string{"iam:PassedToService": "SSM.amazonaws.com"}, false},
				{"iam:PassRole", role, map[string]string{"iam:PassedToService": "lambda.amazonaws.com"}, false},
				{"iam:PassRole", role, nil, false},
			},
		},
		{
			name: "StringNotEquals: a missing key satisfies a negated operator (AWS)",
			docs: []string{stmt(`{"Effect":"Allow","Action":"events:PutEvents","Resource":"*","Condition":{"StringNotEquals":{"events:source":["aws.ec2","aws.s3"]}}}`)},
			reqs: []req{
				{"events:PutEvents", "*", map[string]string{"events:source": "my.app"}, true},
				{"events:PutEvents", "*", map[string]string{"events:source": "aws.s3"}, false},
				{"events:PutEvents", "*", nil, true},
			},
		},
		{
			name: "StringEqualsIgnoreCase and StringNotEqualsIgnoreCase",
			docs: []string{stmt(`{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*","Condition":{
				"StringEqualsIgnoreCase":{"iam:AWSServiceName":"SSM.AmazonAWS.com"},
				"StringNotEqualsIgnoreCase":{"aws:RequestedRegion":"CN-NORTH-1"}}}`)},
			reqs: []req{
				{"iam:CreateServiceLinkedRole", "*", map[string]string{"iam:awsservicename": "ssm.amazonaws.com", "aws:RequestedRegion": "us-east-1"}, true},
				{"iam:CreateServiceLinkedRole", "*", map[string]string{"iam:AWSServiceName": "ssm.amazonaws.com", "aws:RequestedRegion": "cn-north-1"}, false},
				{"iam:CreateServiceLinkedRole", "*", map[string]string{"iam:AWSServiceName": "eks.amazonaws.com"}, false},
				{"iam:CreateServiceLinkedRole", "*", map[string]string{"iam:AWSServiceName": "ssm.amazonaws.com"}, true},
			},
		},
		{
			name: "StringLike and StringNotLike",
			docs: []string{stmt(`{"Effect":"Allow","Action":"events:PutEvents","Resource":"*","Condition":{
				"StringLike":{"events:detail-type":["Cluster * Requested","Agent ?"]},
				"StringNotLike":{"events:source":"aws.*"}}}`)},
			reqs: []req{
				{"events:PutEvents", "*", map[string]string{"events:detail-type": "Cluster Registration Requested", "events:source": "registrar"}, true},
				{"events:PutEvents", "*", map[string]string{"events:detail-type": "Agent X"}, true},
				{"events:PutEvents", "*", map[string]string{"events:detail-type": "Agent XY"}, false},
				{"events:PutEvents", "*", map[string]string{"events:detail-type": "cluster x requested"}, false},
				{"events:PutEvents", "*", map[string]string{"events:detail-type": "Agent X", "events:source": "aws.ec2"}, false},
				{"events:PutEvents", "*", map[string]string{"events:source": "registrar"}, false},
			},
		},
		{
			name: "ArnEquals and ArnLike compare ARN parts",
			docs: []string{stmt(`{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*","Condition":{
				"ArnLike":{"aws:SourceArn":"arn:aws:events:*:123456789012:rule/*"},
				"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/RegisterRole"}}}`)},
			reqs: []req{
				{"sqs:SendMessage", "*", map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r1"}, true},
				{"sqs:SendMessage", "*", map[string]string{"aws:SourceArn": "arn:aws:events:us:east:123456789012:rule/r1"}, false},
				{"sqs:SendMessage", "*", map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:999999999999:rule/r1"}, false},
				{"sqs:SendMessage", "*", map[string]string{"aws:SourceArn": "not-an-arn"}, false},
				{"sqs:SendMessage", "*", nil, false},
				// aws:PrincipalArn given explicitly overrides the principal's.
				{"sqs:SendMessage", "*", map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r1", "aws:PrincipalArn": role}, false},
			},
		},
		{
			name: "ArnNotEquals and ArnNotLike",
			docs: []string{stmt(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{
				"ArnNotLike":{"iam:AssociatedResourceArn":"arn:aws:ec2:*:*:instance/*"},
				"ArnNotEquals":{"aws:SourceArn":"arn:aws:events:us-east-1:123456789012:rule/bad"}}}`)},
			reqs: []req{
				{"iam:PassRole", role, map[string]string{"iam:AssociatedResourceArn": "arn:aws:ssm:us-east-1:123456789012:activation/a"}, true},
				{"iam:PassRole", role, map[string]string{"iam:AssociatedResourceArn": "arn:aws:ec2:us-east-1:123456789012:instance/i-1"}, false},
				{"iam:PassRole", role, map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/bad"}, false},
				{"iam:PassRole", role, map[string]string{"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/good"}, true},
				{"iam:PassRole", role, nil, true},
			},
		},
		{
			name: "Bool",
			docs: []string{stmt(`{"Effect":"Allow","Action":"ssm:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}}`)},
			reqs: []req{
				{"ssm:GetParameter", param, map[string]string{"aws:SecureTransport": "true"}, true},
				{"ssm:GetParameter", param, map[string]string{"aws:SecureTransport": "TRUE"}, true},
				{"ssm:GetParameter", param, map[string]string{"aws:SecureTransport": "false"}, false},
				{"ssm:GetParameter", param, nil, false},
			},
		},
		{
			name: "Null",
			docs: []string{stmt(
				`{"Effect":"Allow","Action":"iam:CreateRole","Resource":"*","Condition":{"Null":{"iam:PermissionsBoundary":"false"}}}`,
				`{"Effect":"Allow","Action":"iam:TagRole","Resource":"*","Condition":{"Null":{"aws:RequestTag/team":"true"}}}`)},
			reqs: []req{
				{"iam:CreateRole", role, map[string]string{"iam:PermissionsBoundary": "arn:aws:iam::123456789012:policy/b"}, true},
				{"iam:CreateRole", role, nil, false},
				{"iam:TagRole", role, nil, true},
				{"iam:TagRole", role, map[string]string{"aws:requesttag/TEAM": "x"}, false},
			},
		},
		{
			name: "IfExists passes on a missing key, checks a present one",
			docs: []string{stmt(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{
				"StringEqualsIfExists":{"iam:PassedToService":"ssm.amazonaws.com"},
				"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"},
				"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:ssm:*:*:*"}}}`)},
			reqs: []req{
				{"iam:PassRole", role, nil, true},
				{"iam:PassRole", role, map[string]string{"iam:PassedToService": "ssm.amazonaws.com"}, true},
				{"iam:PassRole", role, map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}, false},
				{"iam:PassRole", role, map[string]string{"aws:MultiFactorAuthPresent": "false"}, false},
				{"iam:PassRole", role, map[string]string{"aws:SourceArn": "arn:aws:sqs:us-east-1:1:q"}, false},
			},
		},
		{
			name: "Deny with StringNotEqualsIfExists",
			docs: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`,
				`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}}`)},
			reqs: []req{
				// IfExists on an absent key holds, so the Deny applies.
				{"ssm:GetParameter", param, nil, false},
				{"ssm:GetParameter", param, map[string]string{"aws:RequestedRegion": "us-east-1"}, true},
				{"ssm:GetParameter", param, map[string]string{"aws:RequestedRegion": "eu-west-1"}, false},
			},
		},
		{
			name: "set operators on single-valued keys",
			docs: []string{stmt(
				`{"Effect":"Allow","Action":"iam:TagRole","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}}`,
				`{"Effect":"Allow","Action":"iam:UntagRole","Resource":"*","Condition":{"ForAnyValue:StringLike":{"aws:TagKeys":"t*"}}}`)},
			reqs: []req{
				{"iam:TagRole", role, map[string]string{"aws:TagKeys": "team"}, true},
				{"iam:TagRole", role, map[string]string{"aws:TagKeys": "owner"}, false},
				{"iam:TagRole", role, nil, true}, // ForAllValues over no values is true, as in AWS
				{"iam:UntagRole", role, map[string]string{"aws:TagKeys": "team"}, true},
				{"iam:UntagRole", role, nil, false},
			},
		},
		{
			name: "conditions are ANDed across operators and keys",
			docs: []string{stmt(`{"Effect":"Allow","Action":"events:PutEvents","Resource":"*","Condition":{
				"StringEquals":{"events:source":"registrar","events:detail-type":"Done"},
				"StringLike":{"aws:RequestedRegion":"us-*"}}}`)},
			reqs: []req{
				{"events:PutEvents", "*", map[string]string{"events:source": "registrar", "events:detail-type": "Done", "aws:RequestedRegion": "us-east-1"}, true},
				{"events:PutEvents", "*", map[string]string{"events:source": "registrar", "events:detail-type": "Done", "aws:RequestedRegion": "eu-west-1"}, false},
				{"events:PutEvents", "*", map[string]string{"events:source": "registrar", "aws:RequestedRegion": "us-east-1"}, false},
			},
		},
		{
			name: "policy variables under 2012-10-17",
			docs: []string{stmt(
				`{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/${aws:PrincipalTag/team}/*"}`,
				`{"Effect":"Allow","Action":"ssm:PutParameter","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/${aws:PrincipalTag/team, 'shared'}/${*}"}`)},
			reqs: []req{
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/blue/a", map[string]string{"aws:PrincipalTag/team": "blue"}, true},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/red/a", map[string]string{"aws:PrincipalTag/team": "blue"}, false},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/blue/a", nil, false},
				// A substituted value is literal: "*" from the context is no wildcard.
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/blue/a", map[string]string{"aws:PrincipalTag/team": "*"}, false},
				{"ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/shared/*", nil, true},
				{"ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/shared/x", nil, false},
			},
		},
		{
			name: "policy variables are literal under 2008-10-17",
			docs: []string{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/${x:y}"}}`},
			reqs: []req{
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/${x:y}", nil, true},
				{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/v", map[string]string{"x:y": "v"}, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine()
			var pols []Policy
			for i, d := range tt.docs {
				pols = append(pols, mustParse(t, fmt.Sprintf("P%d", i), d))
			}
			e.SetPolicies(fn.Name, pols)
			for _, r := range tt.reqs {
				if got := e.Authorize(fn, r.action, r.resource, r.ctx); got != r.want {
					t.Errorf("Authorize(%s, %s, %v) = %v, want %v", r.action, r.resource, r.ctx, got, r.want)
				}
			}
		})
	}
}

func TestPrincipalsWithoutPolicies(t *testing.T) {
	e := NewEngine()
	e.SetPolicies("Other", []Policy{mustParse(t, "all", stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`))})
	e.SetPolicies("Empty", nil)
	tests := []struct {
		name string
		p    *awsproto.Principal
		want bool
	}{
		{"unknown principal denied", fn, false},
		{"principal with an empty policy list denied", &awsproto.Principal{Name: "Empty"}, false},
		{"nil principal denied", nil, false},
		{"admin allowed", &awsproto.Principal{Name: "admin", Admin: true}, true},
		{"admin allowed even when named like a principal with policies", &awsproto.Principal{Name: "Empty", Admin: true}, true},
		{"principal with policies allowed", &awsproto.Principal{Name: "Other"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Authorize(tt.p, "ssm:GetParameter", param, nil); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, c := range e.Checks() {
		if c.Principal == "admin" || (c.Principal == "Empty" && c.Allowed) {
			t.Errorf("admin check recorded: %+v", c)
		}
	}
	if n := len(e.Checks()); n != 4 {
		t.Errorf("recorded %d checks, want 4 (admins are not recorded): %+v", n, e.Checks())
	}
}

func TestUnsupportedOperatorInGoPolicyFailsSafe(t *testing.T) {
	e := NewEngine()
	e.SetPolicies(fn.Name, []Policy{{Name: "go", Statements: []Statement{
		{Effect: "Allow", Action: []string{"ssm:*"}, Resource: []string{"*"}},
		{Effect: "Allow", Action: []string{"sqs:*"}, Resource: []string{"*"},
			Condition: map[string]map[string][]string{"NumericLessThan": {"a:b": {"3"}}}},
		{Effect: "Deny", Action: []string{"ssm:Delete*"}, Resource: []string{"*"},
			Condition: map[string]map[string][]string{"DateLessThan": {"aws:CurrentTime": {"2000-01-01T00:00:00Z"}}}},
	}}})
	tests := []struct {
		action string
		want   bool
	}{
		{"sqs:SendMessage", false},     // an Allow it cannot evaluate never applies
		{"ssm:DeleteParameter", false}, // a Deny it cannot evaluate always applies
		{"ssm:GetParameter", true},
	}
	for _, tt := range tests {
		if got := e.Authorize(fn, tt.action, "*", map[string]string{"a:b": "1"}); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.action, got, tt.want)
		}
	}
}

const noIdentityAllow = "no identity-based policy allows it, and the resource has no resource-based policy"

func TestRecords(t *testing.T) {
	e := NewEngine()
	e.SetPolicies(fn.Name, []Policy{
		mustParse(t, "Params", stmt(
			`{"Sid":"Read","Effect":"Allow","Action":["ssm:GetParameter","ssm:GetParameters"],"Resource":["arn:aws:ssm:*:*:parameter/x/*","arn:aws:ssm:*:*:parameter/z/*"]}`,
			`{"Effect":"Allow","Action":"ssm:Get*","Resource":"*"}`,
			`{"Sid":"NoDelete","Effect":"Deny","Action":"ssm:DeleteParameter","Resource":"*"}`)),
		mustParse(t, "Pass", stmt(
			`{"Sid":"Pass","Effect":"Allow","Action":"iam:PassRole","Resource":"`+role+`","Condition":{"StringEquals":{"iam:PassedToService":"ssm.amazonaws.com"}}}`,
			`{"Sid":"Others","Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:ssm:*:*:parameter/secret"}`)),
	})
	agent := &awsproto.Principal{Name: "Agent"}
	e.SetPolicies("Agent", []Policy{mustParse(t, "AgentPolicy", stmt(`{"Effect":"Allow","Action":"ssm:UpdateInstanceInformation","Resource":"*"}`))})

	calls := []struct {
		p                *awsproto.Principal
		action, resource string
		ctx              map[string]string
		want             bool
	}{
		{fn, "ssm:GetParameter", param, nil, true},
		{fn, "ssm:GetParameter", param, nil, true},
		{fn, "ssm:DeleteParameter", param, nil, false},
		{fn, "iam:PassRole", role, map[string]string{"iam:PassedToService": "ssm.amazonaws.com"}, true},
		{fn, "iam:PassRole", role, map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}, false},
		{fn, "iam:CreateRole", role, nil, false},
		{fn, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q", nil, true},
		{fn, "ssm:GetParameter", param, nil, true},
	}
	for _, c := range calls {
		if got := e.Authorize(c.p, c.action, c.resource, c.ctx); got != c.want {
			t.Fatalf("Authorize(%s %s) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}

	t.Run("Checks dedupe with counts, in order", func(t *testing.T) {
		want := []Check{
			{"RegisterFunction", "ssm:GetParameter", param, true, "Params/Read", "", 3},
			{"RegisterFunction", "ssm:DeleteParameter", param, false, "Params/NoDelete", "explicitly denied by Params/NoDelete", 1},
			{"RegisterFunction", "iam:PassRole", role, true, "Pass/Pass", "", 1},
			// The same tuple with a different outcome is a different check.
			{"RegisterFunction", "iam:PassRole", role, false, "", noIdentityAllow, 1},
			{"RegisterFunction", "iam:CreateRole", role, false, "", noIdentityAllow, 1},
			{"RegisterFunction", "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q", true, "Pass/Others", "", 1},
		}
		if got := e.Checks(); !reflect.DeepEqual(got, want) {
			t.Fatalf("Checks:\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("Used", func(t *testing.T) {
		want := map[string]map[string]bool{"RegisterFunction": {
			"ssm:GetParameter arn:aws:ssm:*:*:parameter/x/*":                  true,
			"ssm:GetParameter *":                                              true, // the second Allow also matched
			"ssm:GetParameter NotResource:[arn:aws:ssm:*:*:parameter/secret]": true, // and so did Others
			"iam:PassRole " + role:                                            true,
			"sqs:SendMessage NotResource:[arn:aws:ssm:*:*:parameter/secret]":  true,
		}}
		if got := e.Used(); !reflect.DeepEqual(got, want) {
			t.Fatalf("Used:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("Grants and Unused", func(t *testing.T) {
		g := func(p, pol, sid, a, r string) Grant { return Grant{p, pol, sid, a, r} }
		wantGrants := []Grant{
			g("Agent", "AgentPolicy", "#0", "ssm:UpdateInstanceInformation", "*"),
			g("RegisterFunction", "Params", "Read", "ssm:GetParameter", "arn:aws:ssm:*:*:parameter/x/*"),
			g("RegisterFunction", "Params", "Read", "ssm:GetParameter", "arn:aws:ssm:*:*:parameter/z/*"),
			g("RegisterFunction", "Params", "Read", "ssm:GetParameters", "arn:aws:ssm:*:*:parameter/x/*"),
			g("RegisterFunction", "Params", "Read", "ssm:GetParameters", "arn:aws:ssm:*:*:parameter/z/*"),
			g("RegisterFunction", "Params", "#1", "ssm:Get*", "*"),
			g("RegisterFunction", "Pass", "Pass", "iam:PassRole", role),
			g("RegisterFunction", "Pass", "Others", "NotAction:[iam:*]", "NotResource:[arn:aws:ssm:*:*:parameter/secret]"),
		}
		if got := e.Grants(); !reflect.DeepEqual(got, wantGrants) {
			t.Fatalf("Grants:\n got %+v\nwant %+v", got, wantGrants)
		}
		wantUnused := []Grant{wantGrants[0], wantGrants[2], wantGrants[3], wantGrants[4]}
		if got := e.Unused(); !reflect.DeepEqual(got, wantUnused) {
			t.Fatalf("Unused:\n got %+v\nwant %+v", got, wantUnused)
		}
		// A denied check never marks a grant used.
		e.Authorize(agent, "ssm:UpdateInstanceInformation", "*", nil)
		if got := e.Unused(); !reflect.DeepEqual(got, wantUnused[1:]) {
			t.Fatalf("Unused after the agent's check:\n got %+v\nwant %+v", got, wantUnused[1:])
		}
	})

	t.Run("Report", func(t *testing.T) {
		r := e.Report()
		for _, want := range []string{
			"| Principal | Action | Resource | Statement | Used |",
			"| RegisterFunction | ssm:GetParameter | arn:aws:ssm:*:*:parameter/x/* | Params/Read | yes (3) |",
			"|  |  | arn:aws:ssm:*:*:parameter/z/* | Params/Read | **no** |",
			"|  | iam:PassRole | " + role + " | Pass/Pass | yes (1) |",
			"| Agent | ssm:UpdateInstanceInformation | * | AgentPolicy/#0 | yes (1) |",
			"## Denied checks",
			"| RegisterFunction | ssm:DeleteParameter | " + param + " | denied by Params/NoDelete | 1 |",
			"| RegisterFunction | iam:CreateRole | " + role + " | " + noIdentityAllow + " | 1 |",
		} {
			if !strings.Contains(r, want) {
				t.Errorf("report lacks %q:\n%s", want, r)
			}
		}
	})
}

func TestReportEscapesPipes(t *testing.T) {
	e := NewEngine()
	e.SetPolicies("P", []Policy{mustParse(t, "a|b", stmt(`{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/a|b"}`))})
	if r := e.Report(); !strings.Contains(r, `parameter/a\|b | a\|b/#0 | **no** |`) {
		t.Fatalf("pipes not escaped:\n%s", r)
	}
}

func TestSetPoliciesCopies(t *testing.T) {
	e := NewEngine()
	pols := []Policy{mustParse(t, "p", stmt(`{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}`))}
	e.SetPolicies(fn.Name, pols)
	pols[0].Statements[0].Action[0] = "*"
	if e.Authorize(fn, "sqs:SendMessage", "*", nil) {
		t.Fatal("mutating the caller's slice changed the engine's policy")
	}
}

func TestConcurrentUse(t *testing.T) {
	e := NewEngine()
	e.SetPolicies(fn.Name, []Policy{mustParse(t, "p", stmt(`{"Effect":"Allow","Action":"ssm:Get*","Resource":"*"}`))})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				e.Authorize(fn, "ssm:GetParameter", fmt.Sprintf("arn:aws:ssm:us-east-1:1:parameter/%d", j%10), nil)
				if i == 0 && j%50 == 0 {
					e.SetPolicies("other", nil)
					_ = e.Report()
					_ = e.Unused()
					_ = e.Used()
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range e.Checks() {
		total += c.Count
	}
	if total != 8*200 {
		t.Fatalf("recorded %d checks, want %d", total, 8*200)
	}
}

// An action without resource-level permissions is authorized against "*":
// only a statement whose Resource is "*" grants it (SAR). A statement naming
// ARNs, even every cluster's, does not; and with the reference set, a check
// against an ARN for such an action is a local cloud defect.
func TestActionWithoutResourceTypes(t *testing.T) {
	e := NewEngine()
	e.SetReference(reference.Default())
	p := &awsproto.Principal{Name: "fn", ARN: "arn:aws:iam::123456789012:role/fn"}
	scoped := Policy{Name: "scoped", Version: Version2012, Statements: []Statement{{Sid: "S", Effect: "Allow",
		Action: []string{"eks:RegisterCluster"}, Resource: []string{"arn:aws:eks:*:*:cluster/*"}}}}
	e.SetPolicies("fn", []Policy{scoped})
	if e.Authorize(p, "eks:RegisterCluster", "*", nil) {
		t.Error("a statement scoped to cluster ARNs granted eks:RegisterCluster")
	}
	for _, res := range []string{"?", "arn:*"} {
		e.SetPolicies("fn", []Policy{{Name: "odd", Version: Version2012, Statements: []Statement{{Effect: "Allow",
			Action: []string{"eks:RegisterCluster"}, Resource: []string{res}}}}})
		if e.Authorize(p, "eks:RegisterCluster", "*", nil) {
			t.Errorf("Resource %q granted an action authorized against \"*\"", res)
		}
	}
	e.SetPolicies("fn", []Policy{{Name: "star", Version: Version2012, Statements: []Statement{{Effect: "Allow",
		Action: []string{"eks:RegisterCluster"}, Resource: []string{"*"}}}}})
	if !e.Authorize(p, "eks:RegisterCluster", "*", nil) {
		t.Error(`Resource "*" did not grant eks:RegisterCluster`)
	}
	if len(e.Violations()) != 0 {
		t.Fatalf("violations %v", e.Violations())
	}
	// The local cloud's old check, against the cluster's ARN, is refused.
	if e.Authorize(p, "eks:RegisterCluster", "arn:aws:eks:us-east-1:123456789012:cluster/c", nil) {
		t.Error("a check against an ARN the reference does not give the action was allowed")
	}
	if e.Authorize(p, "eks:NoSuchAction", "*", nil) {
		t.Error("a check of an action the reference does not list was allowed")
	}
	if v := e.Violations(); len(v) != 2 || !strings.Contains(v[0], "eks:RegisterCluster") || !strings.Contains(v[1], "lists no action eks:NoSuchAction") {
		t.Fatalf("violations %v", v)
	}
}
