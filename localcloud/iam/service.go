package iam

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

func (*Service) SigV4Name() string { return "iam" }

func (*Service) WriteError(w http.ResponseWriter, c *awsproto.Call, e *awsproto.Error) {
	awsproto.WriteQueryError(w, xmlns, c.RequestID, e)
}

type handler func(s *Store, c *awsproto.Call, f url.Values) (any, *awsproto.Error)

var handlers = map[string]handler{
	"CreateServiceLinkedRole":       (*Store).createServiceLinkedRole,
	"CreateRole":                    (*Store).createRole,
	"GetRole":                       (*Store).getRole,
	"ListRoles":                     (*Store).listRoles,
	"UpdateAssumeRolePolicy":        (*Store).updateAssumeRolePolicy,
	"PutRolePolicy":                 (*Store).putRolePolicy,
	"GetRolePolicy":                 (*Store).getRolePolicy,
	"ListRolePolicies":              (*Store).listRolePolicies,
	"DeleteRolePolicy":              (*Store).deleteRolePolicy,
	"ListAttachedRolePolicies":      (*Store).listAttachedRolePolicies,
	"AttachRolePolicy":              (*Store).attachRolePolicy,
	"DetachRolePolicy":              (*Store).detachRolePolicy,
	"CreatePolicy":                  (*Store).createPolicy,
	"GetPolicy":                     (*Store).getPolicy,
	"ListPolicies":                  (*Store).listPolicies,
	"DeletePolicy":                  (*Store).deletePolicy,
	"CreatePolicyVersion":           (*Store).createPolicyVersion,
	"GetPolicyVersion":              (*Store).getPolicyVersion,
	"ListPolicyVersions":            (*Store).listPolicyVersions,
	"SetDefaultPolicyVersion":       (*Store).setDefaultPolicyVersion,
	"DeletePolicyVersion":           (*Store).deletePolicyVersion,
	"DeleteRole":                    (*Store).deleteRole,
	"PutRolePermissionsBoundary":    (*Store).putRolePermissionsBoundary,
	"DeleteRolePermissionsBoundary": (*Store).deleteRolePermissionsBoundary,
}

func (v *Service) ServeAWS(w http.ResponseWriter, r *http.Request, c *awsproto.Call) {
	if err := r.ParseForm(); err != nil {
		v.WriteError(w, c, awsproto.Errorf(400, "MalformedQueryString", "%v", err))
		return
	}
	action := r.Form.Get("Action")
	h, ok := handlers[action]
	if !ok {
		v.WriteError(w, c, awsproto.Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, apiVersion))
		return
	}
	if e := c.Begin(action); e != nil {
		v.WriteError(w, c, e)
		return
	}
	out, e := h(v.s, c, r.Form)
	if e != nil {
		v.WriteError(w, c, e)
		return
	}
	awsproto.WriteQuery(w, xmlns, action, c.RequestID, out)
}

// Validation in the Coral shape IAM answers with (ValidationError).

var (
	nameRE   = regexp.MustCompile(`^[\w+=,.@-]+$`) // role and policy names
	pathRE   = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	arnRE    = regexp.MustCompile(`^arn:aws:iam::(aws|\d{12}):policy/[\x21-\x7E]+$`)
)

type validation []string

func (v *validation) required(field, val string, present bool) bool {
	if !present {
		*v = append(*v, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field))
		return false
	}
	return true
}

func (v *validation) length(field, val string, min, max int) bool {
	n := len([]rune(val))
	switch {
	case n < min:
		*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", val, field, min))
	case n > max:
		*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", val, field, max))
	default:
		return true
	}
	return false
}

func (v *validation) pattern(field, val string, re *regexp.Regexp, shown string) bool {
	if !re.MatchString(val) {
		*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", val, field, shown))
		return false
	}
	return true
}

func (v validation) err() *awsproto.Error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return awsproto.Errorf(400, "ValidationError", "1 validation error detected: %s", v[0])
	default:
		return awsproto.Errorf(400, "ValidationError", "%d validation errors detected: %s", len(v), strings.Join(v, "; "))
	}
}

// member reads a required member of the request ("" and false when it is
// absent, which is a validation error).
func (v *validation) member(f url.Values, key, field string) (string, bool) {
	x, ok := f[key]
	if !v.required(field, "", ok) {
		return "", false
	}
	return x[0], true
}

func (v *validation) roleName(f url.Values) string {
	return v.entityName(f, "RoleName", "roleName", 64)
}

func (v *validation) policyName(f url.Values) string {
	return v.entityName(f, "PolicyName", "policyName", 128)
}

// entityName reads a role or policy name: required, 1 to max characters
// of IAM's name alphabet.
func (v *validation) entityName(f url.Values, key, field string, max int) string {
	name, ok := v.member(f, key, field)
	if ok && v.length(field, name, 1, max) {
		v.pattern(field, name, nameRE, `[\w+=,.@-]+`)
	}
	return name
}

func (v *validation) policyDocument(field string, f url.Values, key string) string {
	doc, ok := v.member(f, key, field)
	if ok {
		v.length(field, doc, 1, 131072)
	}
	return doc
}

// number reads an optional whole number from min to max (def when it is
// absent or not valid).
func (v *validation) number(f url.Values, key, field string, min, max, def int) int {
	m, ok := f[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(m[0])
	switch {
	case err != nil:
		*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be a number", m[0], field))
	case n < min:
		*v = append(*v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", n, field, min))
	case n > max:
		*v = append(*v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", n, field, max))
	default:
		return n
	}
	return def
}

func (v *validation) marker(f url.Values) (marker string, maxItems int) {
	return f.Get("Marker"), v.number(f, "MaxItems", "maxItems", 1, 1000, 100)
}

// members is a list as IAM sends it: <member> elements, in an element that
// is there even when the list is empty (<PolicyNames/>).
type members[T any] struct {
	Members []T `xml:"member"`
}

// listEnd ends every list result: whether there is more, and the Marker
// that gets it.
type listEnd struct {
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}

// page lists the entries of byKey in the order of their keys, from after
// the marker (the last key of the page before), maxItems at most, each as
// conv renders it.
func page[T, X any](byKey map[string]T, marker string, maxItems int, conv func(key string, v T) X) (members[X], listEnd, *awsproto.Error) {
	keys := slices.Sorted(maps.Keys(byKey))
	start := 0
	if marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil {
			return members[X]{}, listEnd{}, awsproto.Errorf(400, "InvalidInput", "Invalid Marker.")
		}
		start = sort.SearchStrings(keys, string(b))
		if start < len(keys) && keys[start] == string(b) {
			start++
		}
	}
	end := min(start+maxItems, len(keys))
	var out members[X]
	for _, k := range keys[start:end] {
		out.Members = append(out.Members, conv(k, byKey[k]))
	}
	var more listEnd
	if end < len(keys) {
		more = listEnd{IsTruncated: true, Marker: base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))}
	}
	return out, more, nil
}

func noSuchRole(name string) *awsproto.Error {
	return awsproto.Errorf(404, "NoSuchEntity", "The role with name %s cannot be found.", name)
}

func protectedRole(name string) *awsproto.Error {
	return awsproto.Errorf(400, "UnmodifiableEntity",
		"Cannot perform the operation on the protected role '%s' - this role is only modifiable by AWS", name)
}

func (s *Store) roleARNLocked(name string) string {
	if r := s.roles[strings.ToLower(name)]; r != nil {
		return r.arn
	}
	return s.arnFor("/", name)
}
