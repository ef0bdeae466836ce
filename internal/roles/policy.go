package roles

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// IAM hands policy documents back URL-encoded (RFC 3986) and accepts them as
// JSON; Statement, Action, Resource and Principal values may each be one
// string or a list. This file is the small policy model the role checks need.

// InlinePolicyName is the agent role's inline policy (eksctl's name).
const InlinePolicyName = "eks-connector-agent"

// stringList decodes a JSON string or list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// statement keeps its original JSON so that a rewritten document preserves
// every statement someone else added, field for field.
type statement struct {
	raw       json.RawMessage
	Effect    string
	Action    stringList
	Resource  stringList
	Services  stringList // Principal.Service
	Condition bool       // has a Condition: we do not evaluate conditions
}

type document struct {
	Version    string
	Statements []statement
}

func parseDocument(text string) (document, error) {
	if strings.HasPrefix(strings.TrimSpace(text), "%") || !strings.HasPrefix(strings.TrimSpace(text), "{") {
		if u, err := url.QueryUnescape(text); err == nil {
			text = u
		}
	}
	var top struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(text), &top); err != nil {
		return document{}, fmt.Errorf("policy document is not JSON: %w", err)
	}
	var raws []json.RawMessage
	if len(top.Statement) > 0 && top.Statement[0] == '{' {
		raws = []json.RawMessage{top.Statement}
	} else if len(top.Statement) > 0 {
		if err := json.Unmarshal(top.Statement, &raws); err != nil {
			return document{}, fmt.Errorf("policy Statement is neither an object nor a list: %w", err)
		}
	}
	d := document{Version: top.Version}
	for _, r := range raws {
		var s struct {
			Effect    string          `json:"Effect"`
			Action    stringList      `json:"Action"`
			Resource  stringList      `json:"Resource"`
			Principal json.RawMessage `json:"Principal"`
			Condition json.RawMessage `json:"Condition"`
		}
		if err := json.Unmarshal(r, &s); err != nil {
			return document{}, fmt.Errorf("policy statement %s: %w", r, err)
		}
		st := statement{raw: r, Effect: s.Effect, Action: s.Action, Resource: s.Resource, Condition: len(s.Condition) > 0 && string(s.Condition) != "null"}
		if len(s.Principal) > 0 && s.Principal[0] == '{' {
			var p struct {
				Service stringList `json:"Service"`
			}
			if err := json.Unmarshal(s.Principal, &p); err == nil {
				st.Services = p.Service
			}
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

// withStatements returns the document's JSON with extra statements appended;
// every existing statement is kept as it was.
func (d document) withStatements(extra ...json.RawMessage) string {
	all := make([]json.RawMessage, 0, len(d.Statements)+len(extra))
	for _, s := range d.Statements {
		all = append(all, s.raw)
	}
	all = append(all, extra...)
	v := d.Version
	if v == "" {
		v = "2012-10-17"
	}
	b, _ := json.Marshal(struct {
		Version   string            `json:"Version"`
		Statement []json.RawMessage `json:"Statement"`
	}{v, all})
	return string(b)
}

// glob matches IAM wildcards: '*' any run of characters (including '/'),
// '?' exactly one character.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if glob(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if glob(p, s) {
			return true
		}
	}
	return false
}

// allows: some Allow statement without conditions grants action on resource.
// Deny statements, NotAction and conditions are not evaluated: a grant that
// depends on them is reported missing, which is the safe direction.
func (d document) allows(action, resource string) bool {
	for _, s := range d.Statements {
		if s.Effect == "Allow" && !s.Condition && anyGlob(s.Action, action, true) && anyGlob(s.Resource, resource, false) {
			return true
		}
	}
	return false
}

// trusts: some Allow statement lets service call sts:AssumeRole.
func (d document) trusts(service string) bool {
	for _, s := range d.Statements {
		if s.Effect == "Allow" && anyGlob(s.Action, "sts:AssumeRole", true) {
			for _, svc := range s.Services {
				if svc == service {
					return true
				}
			}
		}
	}
	return false
}

// The agent's needs, from the EKS Connector documentation.
const agentService = "ssm.amazonaws.com"

type grant struct{ Action, Resource string }

func agentGrants(partition string) []grant {
	return []grant{
		{"ssmmessages:CreateControlChannel", "arn:" + partition + ":eks:*:*:cluster/*"},
		{"ssmmessages:CreateDataChannel", "*"},
		{"ssmmessages:OpenDataChannel", "*"},
		{"ssmmessages:OpenControlChannel", "*"},
	}
}

func trustStatement() json.RawMessage {
	return json.RawMessage(`{"Sid":"EKSConnectorAgentTrust","Effect":"Allow","Principal":{"Service":"` + agentService + `"},"Action":"sts:AssumeRole"}`)
}

func controlChannelStatement(partition string) json.RawMessage {
	return json.RawMessage(`{"Sid":"SsmControlChannel","Effect":"Allow","Action":["ssmmessages:CreateControlChannel"],"Resource":"arn:` + partition + `:eks:*:*:cluster/*"}`)
}

func dataChannelStatement() json.RawMessage {
	return json.RawMessage(`{"Sid":"SsmDataplaneOperations","Effect":"Allow","Action":["ssmmessages:CreateDataChannel","ssmmessages:OpenDataChannel","ssmmessages:OpenControlChannel"],"Resource":"*"}`)
}

func trustDocument() string { return document{}.withStatements(trustStatement()) }
func agentPolicy(p string) string {
	return document{}.withStatements(controlChannelStatement(p), dataChannelStatement())
}

// missingGrants lists the agent grants none of docs allows, as "action on resource".
func missingGrants(partition string, docs []document) []string {
	var missing []string
	for _, g := range agentGrants(partition) {
		ok := false
		for _, d := range docs {
			if d.allows(g.Action, g.Resource) {
				ok = true
				break
			}
		}
		if !ok {
			missing = append(missing, g.Action+" on "+g.Resource)
		}
	}
	return missing
}

// partitionOf returns the partition of an ARN ("aws", "aws-cn", "aws-us-gov").
func partitionOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil || a.Partition == "" {
		return "aws"
	}
	return a.Partition
}

// roleNameOf returns the role name of an IAM role ARN
// (arn:aws:iam::123456789012:role/path/Name → Name), or "".
func roleNameOf(s string) string {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return ""
	}
	return a.Resource[strings.LastIndex(a.Resource, "/")+1:]
}
