package iam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Policy-document handling: the parse IAM does before it stores a document,
// with the MalformedPolicyDocument messages IAM answers.

type statement struct {
	Effect       string
	Principal    json.RawMessage
	NotPrincipal json.RawMessage
	Action       json.RawMessage
	NotAction    json.RawMessage
	Resource     json.RawMessage
	NotResource  json.RawMessage
	Condition    json.RawMessage
	Sid          json.RawMessage
}

type document struct {
	Version    string
	Statements []statement
}

func malformed(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(400, "MalformedPolicyDocument", format, args...)
}

// parseDocument reads a policy document as IAM does: JSON object, optional
// Version (2012-10-17 or 2008-10-17), Statement as one object or a list, each
// statement with Effect Allow or Deny.
func parseDocument(doc string) (document, *awsproto.Error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&raw); err != nil || raw == nil || dec.More() {
		return document{}, malformed("This policy contains invalid Json")
	}
	var d document
	for k, v := range raw {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &d.Version); err != nil {
				return d, malformed("The policy must contain a valid version string")
			}
		case "Statement":
			stmts, err := unmarshalOneOrMany[statement](v)
			if err != nil {
				return d, malformed("Syntax errors in policy.")
			}
			d.Statements = stmts
		case "Id":
		default:
			return d, malformed("Syntax errors in policy.")
		}
	}
	if d.Version != "" && d.Version != "2012-10-17" && d.Version != "2008-10-17" {
		return d, malformed("The policy must contain a valid version string")
	}
	if len(d.Statements) == 0 {
		return d, malformed("Syntax errors in policy.")
	}
	for _, st := range d.Statements {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return d, malformed("Syntax errors in policy.")
		}
		if len(st.Action) == 0 && len(st.NotAction) == 0 {
			return d, malformed("Policy statement must contain actions.")
		}
		for _, a := range append(stringsOf(st.Action), stringsOf(st.NotAction)...) {
			if a != "*" && !strings.Contains(a, ":") {
				return d, malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
		}
		if (len(st.Action) > 0 && stringsOf(st.Action) == nil) || (len(st.NotAction) > 0 && stringsOf(st.NotAction) == nil) {
			return d, malformed("Syntax errors in policy.")
		}
	}
	return d, nil
}

// validateTrustPolicy is the check CreateRole and UpdateAssumeRolePolicy make.
func validateTrustPolicy(doc string, roleExists func(arn string) bool) *awsproto.Error {
	d, e := parseDocument(doc)
	if e != nil {
		return e
	}
	for _, st := range d.Statements {
		if len(st.Resource) > 0 || len(st.NotResource) > 0 {
			return malformed("Has prohibited field Resource")
		}
		if len(st.Principal) == 0 && len(st.NotPrincipal) == 0 {
			return malformed("Missing required field Principal")
		}
		for _, a := range stringsOf(st.Action) {
			if !isSTSAssumeAction(a) {
				return malformed("AssumeRole policy may only specify STS AssumeRole actions.")
			}
		}
		p := st.Principal
		if len(p) == 0 {
			p = st.NotPrincipal
		}
		if e := validatePrincipal(p, roleExists); e != nil {
			return e
		}
	}
	return nil
}

var servicePrincipalRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$`)
var accountRE = regexp.MustCompile(`^\d{12}$`)
var iamPrincipalARNRE = regexp.MustCompile(`^arn:aws:(iam|sts)::(\d{12}):(root|role/.+|user/.+|assumed-role/.+|federated-user/.+)$`)

func validatePrincipal(raw json.RawMessage, roleExists func(string) bool) *awsproto.Error {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star == "*" {
			return nil
		}
		return malformed("Invalid principal in policy: %q", star)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return malformed("Syntax errors in policy.")
	}
	for kind, v := range m {
		vals := stringsOf(v)
		if vals == nil {
			return malformed("Syntax errors in policy.")
		}
		for _, val := range vals {
			bad := false
			switch kind {
			case "Service":
				bad = !servicePrincipalRE.MatchString(val)
			case "AWS":
				switch {
				case val == "*", accountRE.MatchString(val):
				case iamPrincipalARNRE.MatchString(val):
					// IAM resolves role ARNs to unique ids when it stores the
					// policy, so a role that does not exist is rejected.
					if strings.Contains(val, ":role/") && roleExists != nil && !roleExists(val) {
						bad = true
					}
				default:
					bad = true
				}
			case "Federated", "CanonicalUser":
				bad = val == ""
			default:
				return malformed("Syntax errors in policy.")
			}
			if bad {
				return malformed("Invalid principal in policy: \"%s\":\"%s\"", strings.ToUpper(kind), val)
			}
		}
	}
	return nil
}

func isSTSAssumeAction(a string) bool {
	l := strings.ToLower(a)
	if l == "*" || l == "sts:*" {
		return true
	}
	if !strings.HasPrefix(l, "sts:") {
		return false
	}
	switch strings.TrimPrefix(l, "sts:") {
	case "assumerole", "assumerolewithsaml", "assumerolewithwebidentity", "tagsession",
		"setsourceidentity", "setcontext":
		return true
	}
	// Wildcards within sts are accepted.
	return strings.ContainsAny(l, "*?")
}

// validatePermissionPolicy is the check PutRolePolicy makes.
func validatePermissionPolicy(doc string) *awsproto.Error {
	d, e := parseDocument(doc)
	if e != nil {
		return e
	}
	for _, st := range d.Statements {
		if len(st.Principal) > 0 || len(st.NotPrincipal) > 0 {
			return malformed("Policy document should not specify a principal.")
		}
		if len(st.Resource) == 0 && len(st.NotResource) == 0 {
			return malformed("Policy statement must contain resources.")
		}
		for _, r := range append(stringsOf(st.Resource), stringsOf(st.NotResource)...) {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return malformed("Resource %s must be in ARN format or \"*\".", r)
			}
		}
	}
	return nil
}

// trusts reports whether doc lets servicePrincipal call sts:AssumeRole: an
// Allow statement naming the service principal (string or list) with an
// action matching sts:AssumeRole, and no Deny statement doing the same.
// Principal "*" is not counted: SSM looks for its own service principal.
func trusts(doc, servicePrincipal string) bool {
	d, e := parseDocument(doc)
	if e != nil {
		return false
	}
	allowed := false
	for _, st := range d.Statements {
		if len(st.Principal) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(st.Principal, &m) != nil {
			continue
		}
		named := false
		for _, s := range stringsOf(m["Service"]) {
			if s == servicePrincipal {
				named = true
			}
		}
		if !named {
			continue
		}
		acts := false
		for _, a := range stringsOf(st.Action) {
			if globMatch(strings.ToLower(a), "sts:assumerole") {
				acts = true
			}
		}
		if !acts {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

// globMatch matches IAM-style wildcards (* and ?).
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	default:
		return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
	}
}

func unmarshalOneOrMany[T any](raw json.RawMessage) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var many []T
		err := json.Unmarshal(raw, &many)
		return many, err
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}

// stringsOf reads a string-or-list-of-strings member; nil when absent or not
// of that shape.
func stringsOf(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	v, err := unmarshalOneOrMany[string](raw)
	if err != nil {
		return nil
	}
	return v
}

// nonWhitespaceLen is how IAM measures policy size for its quotas.
func nonWhitespaceLen(s string) int {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// encodeRFC3986 percent-encodes every byte outside the RFC 3986 unreserved
// set, as IAM does for the policy documents it returns.
func encodeRFC3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
