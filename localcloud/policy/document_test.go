package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseDocumentShapes(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Policy
	}{
		{
			name: "statement as object, strings",
			doc: `{"Version":"2012-10-17","Statement":{"Sid":"A1","Effect":"Allow",
				"Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/x"}}`,
			want: Policy{Version: "2012-10-17", Statements: []Statement{{Sid: "A1", Effect: "Allow",
				Action: []string{"ssm:GetParameter"}, Resource: []string{"arn:aws:ssm:us-east-1:123456789012:parameter/x"}}}},
		},
		{
			name: "statement as list, lists",
			doc: `{"Version":"2012-10-17","Id":"x","Statement":[
				{"Effect":"Allow","Action":["ssm:Get*","ssm:PutParameter"],"Resource":["*"]},
				{"Effect":"Deny","NotAction":"iam:PassRole","NotResource":["arn:aws:iam::123456789012:role/r"]}]}`,
			want: Policy{Version: "2012-10-17", Statements: []Statement{
				{Effect: "Allow", Action: []string{"ssm:Get*", "ssm:PutParameter"}, Resource: []string{"*"}},
				{Effect: "Deny", NotAction: []string{"iam:PassRole"}, NotResource: []string{"arn:aws:iam::123456789012:role/r"}},
			}},
		},
		{
			name: "no version, condition scalars and lists normalised",
			doc: `{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{
				"StringEquals":{"iam:PassedToService":"ssm.amazonaws.com","aws:RequestedRegion":["us-east-1","eu-west-1"]},
				"Bool":{"aws:SecureTransport":true},
				"StringLike":{"x:n":12}}}]}`,
			want: Policy{Statements: []Statement{{Effect: "Allow", Action: []string{"iam:PassRole"}, Resource: []string{"*"},
				Condition: map[string]map[string][]string{
					"StringEquals": {"iam:PassedToService": {"ssm.amazonaws.com"}, "aws:RequestedRegion": {"us-east-1", "eu-west-1"}},
					"Bool":         {"aws:SecureTransport": {"true"}},
					"StringLike":   {"x:n": {"12"}},
				}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDocument([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParseDocument: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseDocumentRefusesMalformed(t *testing.T) {
	const ok = `"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"`
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{"Statement":`, "invalid JSON"},
		{"trailing data", `{"Statement":{` + ok + `}} {}`, "data after"},
		{"array top level", `[{"Statement":{` + ok + `}}]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"duplicate top-level key", `{"Statement":{` + ok + `},"Statement":{` + ok + `}}`, `duplicate key "Statement"`},
		{"duplicate statement key", `{"Statement":{"Effect":"Deny",` + ok + `}}`, `duplicate key "Effect"`},
		{"bad version", `{"Version":"2012-10-18","Statement":{` + ok + `}}`, "Version"},
		{"version not string", `{"Version":2012,"Statement":{` + ok + `}}`, "Version must be a string"},
		{"unknown top-level", `{"Statements":{` + ok + `}}`, `unknown top-level element "Statements"`},
		{"missing statement", `{"Version":"2012-10-17"}`, "missing Statement"},
		{"empty statement list", `{"Statement":[]}`, "empty list"},
		{"statement a string", `{"Statement":"x"}`, "object or a list"},
		{"statement list of strings", `{"Statement":["x"]}`, "must be a JSON object"},
		{"missing effect", `{"Statement":{"Action":"ssm:GetParameter","Resource":"*"}}`, "missing Effect"},
		{"lower-case effect", `{"Statement":{"Effect":"allow","Action":"ssm:GetParameter","Resource":"*"}}`, `Effect must be "Allow" or "Deny"`},
		{"no action", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "needs Action or NotAction"},
		{"action and notaction", `{"Statement":{` + ok + `,"NotAction":"ssm:PutParameter"}}`, "both Action and NotAction"},
		{"no resource", `{"Statement":{"Effect":"Allow","Action":"ssm:GetParameter"}}`, "needs Resource or NotResource"},
		{"resource and notresource", `{"Statement":{` + ok + `,"NotResource":"*"}}`, "both Resource and NotResource"},
		{"empty action list", `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Action is an empty list"},
		{"action list of numbers", `{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`, "string or a list of strings"},
		{"action without vendor", `{"Statement":{"Effect":"Allow","Action":"GetParameter","Resource":"*"}}`, "service:action"},
		{"action empty name", `{"Statement":{"Effect":"Allow","Action":"ssm:","Resource":"*"}}`, "service:action"},
		{"resource not an ARN", `{"Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"parameter/x"}}`, `must be "*" or an ARN`},
		{"principal", `{"Statement":{` + ok + `,"Principal":"*"}}`, "Principal is not allowed"},
		{"unknown statement element", `{"Statement":{` + ok + `,"Actions":"x"}}`, `unknown statement element "Actions"`},
		{"sid not alphanumeric", `{"Statement":{"Sid":"my-sid",` + ok + `}}`, "alphanumeric"},
		{"duplicate sid", `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, "must be unique"},
		{"condition not object", `{"Statement":{` + ok + `,"Condition":["x"]}}`, "Condition must be an object"},
		{"condition body not object", `{"Statement":{` + ok + `,"Condition":{"StringEquals":"x"}}}`, `Condition "StringEquals" must be an object`},
		{"condition value object", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"a:b":{"c":1}}}}}`, "strings, booleans or numbers"},
		{"condition empty values", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"a:b":[]}}}}`, "empty list of values"},
		{"condition key without prefix", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"region":"x"}}}}`, "must have a prefix"},
		{"unknown operator", `{"Statement":{` + ok + `,"Condition":{"StringEqual":{"a:b":"x"}}}}`, `unknown condition operator "StringEqual"`},
		{"operator wrong case", `{"Statement":{` + ok + `,"Condition":{"stringequals":{"a:b":"x"}}}}`, "unknown condition operator"},
		{"unsupported operator", `{"Statement":{` + ok + `,"Condition":{"NumericLessThan":{"a:b":"1"}}}}`, "not supported"},
		{"unsupported operator IfExists", `{"Statement":{` + ok + `,"Condition":{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}}}`, "not supported"},
		{"NullIfExists", `{"Statement":{` + ok + `,"Condition":{"NullIfExists":{"a:b":"true"}}}}`, "Null takes neither"},
		{"Null bad value", `{"Statement":{` + ok + `,"Condition":{"Null":{"a:b":"yes"}}}}`, "not true or false"},
		{"Bool bad value", `{"Statement":{` + ok + `,"Condition":{"Bool":{"aws:SecureTransport":"1"}}}}`, "not true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDocument([]byte(tt.doc))
			if err == nil {
				t.Fatalf("accepted %s", tt.doc)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestParseDocumentNamesTheStatement(t *testing.T) {
	_, err := ParseDocument([]byte(`{"Statement":[
		{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"},
		{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"bucket"}]}`))
	if err == nil || !strings.Contains(err.Error(), "Statement[1]") {
		t.Fatalf("error %v does not name Statement[1]", err)
	}
}
