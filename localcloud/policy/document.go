// Package policy evaluates IAM policies for the local cloud, as AWS does for
// a request within one account: the principal's identity-based policies and
// the resource's resource-based policy (an SQS queue policy, a Lambda
// function policy) together. An explicit Deny in either wins, otherwise an
// Allow in either allows, otherwise the request is implicitly denied.
//
// The Engine implements awsproto.Authorizer. It records every permission
// check so a least-privilege report can list, per principal, which granted
// (action, resource) pairs were needed and which never were.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Statement is one statement of a policy, with every string-or-list member
// normalised to a list.
type Statement struct {
	Sid    string
	Effect string // Allow | Deny
	// Principal and NotPrincipal are set only in resource-based policies,
	// which need exactly one of them.
	Principal, NotPrincipal *Principals
	Action                  []string // may hold wildcards: "ssm:Get*", "*"
	NotAction               []string
	Resource                []string // wildcards * and ?; "*"
	NotResource             []string
	// Condition is operator → key → values, e.g.
	// {"StringEquals": {"iam:PassedToService": ["ssm.amazonaws.com"]}}.
	Condition map[string]map[string][]string
}

// Principals is a resource-based policy's Principal (or NotPrincipal): "*"
// (All), or principals by kind. AWS holds "*", an account id, an account
// root ARN or an IAM role/user ARN; Service holds service principals such as
// "events.amazonaws.com". Federated and CanonicalUser are kept but never
// match a local-cloud caller.
type Principals struct {
	All                                    bool
	AWS, Service, Federated, CanonicalUser []string
}

// Policy is a named identity or resource-based policy.
type Policy struct {
	Name string
	// Version is the document's policy language version. Policy variables
	// (${aws:PrincipalArn}) are substituted only under "2012-10-17"; under
	// "2008-10-17" or no version they are literal text, as in AWS.
	Version    string
	Statements []Statement
}

// ErrMalformed is wrapped by every error ParseDocument and Validate return.
var ErrMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Policy language versions IAM accepts.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

var sidRE = regexp.MustCompile(`^[0-9A-Za-z]*$`)
var vendorRE = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// ParseDocument reads an IAM JSON identity-policy document: an object with
// an optional Version and Id and a Statement that is one object or a
// non-empty list of them; Action, NotAction, Resource, NotResource and
// condition values may each be a string or a list. The returned Policy has
// no Name; the caller sets it.
//
// Refused, with an error wrapping ErrMalformed: invalid JSON, trailing data,
// duplicate keys (encoding/json would silently keep the last one), unknown
// elements, Principal/NotPrincipal (not allowed in identity policies), a
// statement without exactly one of Action/NotAction and exactly one of
// Resource/NotResource, bad or duplicate Sids, actions without a service
// prefix, resources that are neither "*" nor an ARN, and condition
// operators this package does not evaluate.
func ParseDocument(doc []byte) (Policy, error) {
	return parse(doc, false)
}

// ParseResourcePolicy reads a resource-based policy document (an SQS queue
// policy, a Lambda function policy) as ParseDocument reads an identity
// policy, except that every statement needs exactly one of Principal and
// NotPrincipal, and a Sid may hold the characters Lambda statement ids use
// (letters, digits, '-', '_' and '.').
func ParseResourcePolicy(doc []byte) (Policy, error) {
	return parse(doc, true)
}

func parse(doc []byte, resource bool) (Policy, error) {
	if err := checkJSON(doc); err != nil {
		return Policy{}, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return Policy{}, malformed("the document must be a JSON object")
	}
	var p Policy
	var stmtRaw json.RawMessage
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil {
				return Policy{}, malformed("Version must be a string")
			}
			if p.Version != Version2012 && p.Version != Version2008 {
				return Policy{}, malformed("Version %q is not %q or %q", p.Version, Version2012, Version2008)
			}
		case "Id":
			var id string
			if err := json.Unmarshal(v, &id); err != nil {
				return Policy{}, malformed("Id must be a string")
			}
		case "Statement":
			stmtRaw = v
		default:
			return Policy{}, malformed("unknown top-level element %q", k)
		}
	}
	if stmtRaw == nil {
		return Policy{}, malformed("missing Statement")
	}
	raws, err := oneOrMany(stmtRaw)
	if err != nil {
		return Policy{}, malformed("Statement must be an object or a list of objects")
	}
	if len(raws) == 0 {
		return Policy{}, malformed("Statement is an empty list")
	}
	for i, r := range raws {
		st, err := parseStatement(r, resource)
		if err != nil {
			return Policy{}, fmt.Errorf("Statement[%d]: %w", i, err)
		}
		p.Statements = append(p.Statements, st)
	}
	if err := p.validate(resource); err != nil {
		return Policy{}, err
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, resource bool) (Statement, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return Statement{}, malformed("a statement must be a JSON object")
	}
	var st Statement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			if json.Unmarshal(v, &st.Sid) != nil {
				err = malformed("Sid must be a string")
			}
		case "Effect":
			if json.Unmarshal(v, &st.Effect) != nil {
				err = malformed("Effect must be a string")
			}
		case "Action":
			st.Action, err = stringList(k, v)
		case "NotAction":
			st.NotAction, err = stringList(k, v)
		case "Resource":
			st.Resource, err = stringList(k, v)
		case "NotResource":
			st.NotResource, err = stringList(k, v)
		case "Condition":
			st.Condition, err = parseCondition(v)
		case "Principal", "NotPrincipal":
			if !resource {
				err = malformed("%s is not allowed in an identity-based policy", k)
				break
			}
			var ps *Principals
			if ps, err = parsePrincipals(k, v); err == nil {
				if k == "Principal" {
					st.Principal = ps
				} else {
					st.NotPrincipal = ps
				}
			}
		default:
			err = malformed("unknown statement element %q", k)
		}
		if err != nil {
			return Statement{}, err
		}
	}
	if _, ok := m["Effect"]; !ok {
		return Statement{}, malformed("missing Effect")
	}
	return st, nil
}

// parsePrincipals reads "*" or an object of kind → string or list.
func parsePrincipals(elem string, raw json.RawMessage) (*Principals, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, malformed("%s must be \"*\" or an object such as {\"Service\": \"events.amazonaws.com\"}, not %q", elem, star)
		}
		return &Principals{All: true}, nil
	}
	var kinds map[string]json.RawMessage
	if err := json.Unmarshal(raw, &kinds); err != nil || kinds == nil {
		return nil, malformed("%s must be \"*\" or an object of AWS, Service, Federated or CanonicalUser principals", elem)
	}
	if len(kinds) == 0 {
		return nil, malformed("%s is an empty object", elem)
	}
	ps := &Principals{}
	for k, v := range kinds {
		l, err := stringList(elem+"."+k, v)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			ps.AWS = l
		case "Service":
			ps.Service = l
		case "Federated":
			ps.Federated = l
		case "CanonicalUser":
			ps.CanonicalUser = l
		default:
			return nil, malformed("%s: unknown principal kind %q (AWS, Service, Federated or CanonicalUser)", elem, k)
		}
	}
	return ps, nil
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)
var iamPrincipalRE = regexp.MustCompile(`^arn:aws[a-z-]*:(iam::[0-9]{12}:(root|role/.+|user/.+)|sts::[0-9]{12}:assumed-role/.+)$`)

func (ps *Principals) validate(elem string) error {
	for _, a := range ps.AWS {
		if a != "*" && !accountRE.MatchString(a) && !iamPrincipalRE.MatchString(a) {
			return malformed("%s AWS %q must be \"*\", an account id, an account root ARN or an IAM role or user ARN", elem, a)
		}
		if a != "*" && strings.ContainsAny(a, "*?") {
			return malformed("%s AWS %q: a principal ARN cannot hold wildcards", elem, a)
		}
	}
	for _, sv := range ps.Service {
		if !strings.Contains(sv, ".") || strings.ContainsAny(sv, "*? ") {
			return malformed("%s Service %q must be a service principal such as events.amazonaws.com", elem, sv)
		}
	}
	return nil
}

// stringList reads a string or a non-empty list of strings.
func stringList(elem string, raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var l []string
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, malformed("%s must be a string or a list of strings", elem)
		}
		if len(l) == 0 {
			return nil, malformed("%s is an empty list", elem)
		}
		return l, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, malformed("%s must be a string or a list of strings", elem)
	}
	return []string{s}, nil
}

func parseCondition(raw json.RawMessage) (map[string]map[string][]string, error) {
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ops); err != nil || ops == nil {
		return nil, malformed("Condition must be an object of operator → {key: values}")
	}
	out := make(map[string]map[string][]string, len(ops))
	for op, body := range ops {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil || keys == nil {
			return nil, malformed("Condition %q must be an object of key → values", op)
		}
		out[op] = make(map[string][]string, len(keys))
		for k, v := range keys {
			vals, err := conditionValues(v)
			if err != nil {
				return nil, malformed("Condition %q key %q: %v", op, k, err)
			}
			out[op][k] = vals
		}
	}
	return out, nil
}

// conditionValues reads a scalar (string, boolean or number) or a
// non-empty list of scalars, as text.
func conditionValues(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '[' {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, errors.New("empty list of values")
		}
	} else {
		items = []json.RawMessage{raw}
	}
	vals := make([]string, 0, len(items))
	for _, it := range items {
		dec := json.NewDecoder(bytes.NewReader(it))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, err
		}
		switch x := x.(type) {
		case string:
			vals = append(vals, x)
		case bool:
			vals = append(vals, strconv.FormatBool(x))
		case json.Number:
			vals = append(vals, x.String())
		default:
			return nil, errors.New("values must be strings, booleans or numbers")
		}
	}
	return vals, nil
}

func oneOrMany(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var l []json.RawMessage
		err := json.Unmarshal(raw, &l)
		return l, err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("not an object")
	}
	return []json.RawMessage{raw}, nil
}

// checkJSON accepts exactly one JSON value with no duplicate object keys.
func checkJSON(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := walkJSON(dec, "$"); err != nil {
		if errors.Is(err, ErrMalformed) {
			return err
		}
		return malformed("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("invalid JSON: data after the policy object")
	}
	return nil
}

func walkJSON(dec *json.Decoder, path string) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if seen[k] {
				return malformed("duplicate key %q in %s", k, path)
			}
			seen[k] = true
			if err := walkJSON(dec, path+"."+k); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// Validate checks a policy's statements as ParseDocument does. Policies
// built in Go need not call it, but the Engine evaluates a condition whose
// operator it does not support fail-safe: an Allow statement with it never
// applies, a Deny statement with it always applies.
func (p Policy) Validate() error { return p.validate(false) }

// ValidateResource checks a resource-based policy's statements as
// ParseResourcePolicy does.
func (p Policy) ValidateResource() error { return p.validate(true) }

func (p Policy) validate(resource bool) error {
	if p.Version != "" && p.Version != Version2012 && p.Version != Version2008 {
		return malformed("Version %q is not %q or %q", p.Version, Version2012, Version2008)
	}
	if len(p.Statements) == 0 {
		return malformed("no statements")
	}
	sids := map[string]int{}
	for i, st := range p.Statements {
		if err := st.validate(resource); err != nil {
			return fmt.Errorf("Statement[%d]: %w", i, err)
		}
		if st.Sid != "" {
			if j, dup := sids[st.Sid]; dup {
				return malformed("Statement[%d]: Sid %q is also the Sid of Statement[%d]; Sids must be unique within a policy", i, st.Sid, j)
			}
			sids[st.Sid] = i
		}
	}
	return nil
}

var resourceSidRE = regexp.MustCompile(`^[0-9A-Za-z_.-]*$`)

func (st Statement) validate(resource bool) error {
	if st.Effect != "Allow" && st.Effect != "Deny" {
		return malformed("Effect must be \"Allow\" or \"Deny\", not %q", st.Effect)
	}
	switch {
	case resource && !resourceSidRE.MatchString(st.Sid):
		return malformed("Sid %q may hold only letters, digits, '-', '_' and '.'", st.Sid)
	case !resource && !sidRE.MatchString(st.Sid):
		return malformed("Sid %q must be alphanumeric ([0-9A-Za-z]*)", st.Sid)
	}
	switch {
	case !resource && (st.Principal != nil || st.NotPrincipal != nil):
		return malformed("Principal is not allowed in an identity-based policy")
	case resource && st.Principal == nil && st.NotPrincipal == nil:
		return malformed("a resource-based policy statement needs Principal or NotPrincipal")
	case st.Principal != nil && st.NotPrincipal != nil:
		return malformed("the statement has both Principal and NotPrincipal")
	case st.Principal != nil:
		if err := st.Principal.validate("Principal"); err != nil {
			return err
		}
	case st.NotPrincipal != nil:
		if err := st.NotPrincipal.validate("NotPrincipal"); err != nil {
			return err
		}
	}
	switch {
	case st.Action == nil && st.NotAction == nil:
		return malformed("the statement needs Action or NotAction")
	case st.Action != nil && st.NotAction != nil:
		return malformed("the statement has both Action and NotAction")
	case st.Resource == nil && st.NotResource == nil:
		return malformed("the statement needs Resource or NotResource")
	case st.Resource != nil && st.NotResource != nil:
		return malformed("the statement has both Resource and NotResource")
	}
	for _, a := range append(append([]string(nil), st.Action...), st.NotAction...) {
		if a == "*" {
			continue
		}
		vendor, name, ok := strings.Cut(a, ":")
		if !ok || !vendorRE.MatchString(vendor) || name == "" {
			return malformed("action %q must be \"*\" or service:action, e.g. ssm:GetParameter", a)
		}
	}
	for _, r := range append(append([]string(nil), st.Resource...), st.NotResource...) {
		if r != "*" && !strings.HasPrefix(r, "arn:") {
			return malformed("resource %q must be \"*\" or an ARN", r)
		}
	}
	for op, keys := range st.Condition {
		if _, err := parseOperator(op); err != nil {
			return err
		}
		o, _ := parseOperator(op)
		for k, vals := range keys {
			if !strings.Contains(k, ":") {
				return malformed("condition key %q must have a prefix, e.g. aws:RequestedRegion", k)
			}
			if len(vals) == 0 {
				return malformed("condition %s %q has no values", op, k)
			}
			if o.base == "Bool" || o.base == "Null" {
				for _, v := range vals {
					if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
						return malformed("condition %s %q: value %q is not true or false", op, k, v)
					}
				}
			}
		}
	}
	return nil
}
