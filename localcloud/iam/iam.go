// Package iam emulates the slice of AWS Identity and Access Management the
// project uses: roles, their trust policies, inline policies and
// permissions boundaries, service-linked roles, and managed policies
// (customer managed ones with their versions, a few AWS managed ones)
// attached to roles (managed.go). It speaks the Query
// protocol (form-encoded requests, XML responses) exactly as aws-sdk-go-v2's
// IAM client sends and expects it.
//
// IAM is global: ARNs carry no region (arn:aws:iam::<account>:role<path><name>).
// Names are unique and looked up case-insensitively, as IAM does.
package iam

import (
	"crypto/sha256"
	"encoding/base32"
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
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	xmlns      = "https://iam.amazonaws.com/doc/2010-05-08/"
	apiVersion = "2010-05-08"

	// IAM default quotas.
	trustPolicyQuota      = 2048  // ACLSizePerRole, non-whitespace characters
	inlinePolicyRoleQuota = 10240 // aggregate inline policy size per role
	maxTags               = 50
)

// Config configures the store.
type Config struct {
	Account string
	Clock   clock.Clock
}

// Tag is an IAM tag.
type Tag struct{ Key, Value string }

type role struct {
	name, path, id, arn string
	created             time.Time
	trustChanged        time.Time
	trust               string
	description         string
	maxSession          int
	boundary            string
	tags                []Tag
	inline              map[string]string
	attached            []string // managed policy ARNs (AttachRolePolicy; a service-linked role's own)
	serviceLinked       bool
	createdBy           string
}

// Store is IAM's state.
type Store struct {
	mu    sync.Mutex
	cfg   Config
	roles map[string]*role // by lower-case name
	// policies are the account's customer managed policies, by lower-case
	// name (unique in the account whatever the path, as role names are);
	// awsPolicies the AWS managed ones the local cloud knows, by ARN.
	policies    map[string]*managedPolicy
	awsPolicies map[string]*managedPolicy
	seq         uint64
}

// Service serves IAM's Query API.
type Service struct{ s *Store }

// New builds the store and its service.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Store{cfg: cfg, roles: map[string]*role{}, policies: map[string]*managedPolicy{}, awsPolicies: awsManagedPolicies()}
	return s, &Service{s: s}
}

// ---------------------------------------------------------------------------
// Go API for other services and tests

// RoleSnapshot is a copy of a role's state, for tests and other services.
type RoleSnapshot struct {
	Name, ARN, ID, Path string
	Created             time.Time
	// TrustPolicy is the assume-role policy document as submitted (not encoded).
	TrustPolicy string
	// InlinePolicies maps policy name to document (as submitted).
	InlinePolicies      map[string]string
	AttachedPolicies    []string
	PermissionsBoundary string
	Description         string
	MaxSessionDuration  int
	Tags                map[string]string
	ServiceLinked       bool
	// CreatedBy is the Principal.Name of the caller whose request created
	// the role ("admin" for a test's own); "" when the cloud created it
	// (the template's roles, a service-linked role EKS created on use).
	CreatedBy string
}

// Role returns a snapshot of the role of that name (case-insensitive).
func (s *Store) Role(name string) (RoleSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[strings.ToLower(name)]
	if r == nil {
		return RoleSnapshot{}, false
	}
	snap := RoleSnapshot{
		Name: r.name, ARN: r.arn, ID: r.id, Path: r.path, Created: r.created,
		TrustPolicy: r.trust, InlinePolicies: map[string]string{},
		AttachedPolicies:    append([]string(nil), r.attached...),
		PermissionsBoundary: r.boundary, Description: r.description,
		MaxSessionDuration: r.maxSession, Tags: tagMap(r.tags), ServiceLinked: r.serviceLinked,
		CreatedBy: r.createdBy,
	}
	for k, v := range r.inline {
		snap.InlinePolicies[k] = v
	}
	return snap, true
}

// RoleNames lists the roles' names, sorted.
func (s *Store) RoleNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.roles))
	for _, r := range s.roles {
		names = append(names, r.name)
	}
	sort.Strings(names)
	return names
}

// RoleID returns the unique id (AROA…) of the role of that name, for STS.
func (s *Store) RoleID(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.roles[strings.ToLower(name)]; r != nil {
		return r.id, true
	}
	return "", false
}

// AssumableBy reports whether roleArn names an existing role whose trust
// policy lets servicePrincipal call sts:AssumeRole, and whose creation (and
// last trust-policy change) is at least minAge old on the clock: IAM is
// eventually consistent, and other services see a new role only after a
// while.
func (s *Store) AssumableBy(roleArn, servicePrincipal string, minAge time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roleByARNLocked(roleArn)
	if r == nil {
		return false
	}
	now := s.cfg.Clock.Now()
	if now.Sub(r.created) < minAge || now.Sub(r.trustChanged) < minAge {
		return false
	}
	return trusts(r.trust, servicePrincipal)
}

// EnsureServiceLinkedRole creates the service-linked role of awsServiceName
// if it does not exist and returns its ARN ("" for a service without a
// service-linked role).
func (s *Store) EnsureServiceLinkedRole(awsServiceName string) string {
	slr, ok := serviceLinkedRoles[awsServiceName]
	if !ok {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.roles[strings.ToLower(slr.roleName)]; r != nil {
		return r.arn
	}
	return s.createServiceLinkedLocked(awsServiceName, slr, "").arn
}

func (s *Store) roleByARNLocked(arn string) *role {
	i := strings.LastIndex(arn, "/")
	if i < 0 {
		return nil
	}
	r := s.roles[strings.ToLower(arn[i+1:])]
	if r == nil || r.arn != arn {
		return nil
	}
	return r
}

func (s *Store) arnFor(path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", awsproto.Partition, s.cfg.Account, path, name)
}

// newRoleIDLocked makes an AROA id: 21 characters, uppercase letters and digits.
func (s *Store) newRoleIDLocked(name string) string { return s.newIDLocked("AROA", name) }

// newIDLocked makes a unique id of that prefix (AROA a role, ANPA a managed
// policy): 21 characters, uppercase letters and digits.
func (s *Store) newIDLocked(prefix, name string) string {
	s.seq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", s.cfg.Account, name, s.seq)))
	return prefix + base32.StdEncoding.EncodeToString(h[:])[:17]
}

type slrInfo struct {
	roleName string
	policy   string // managed policy name, attached under /aws-service-role/
	suffix   bool   // whether CustomSuffix is accepted
}

// serviceLinkedRoles is the table of services whose service-linked role the
// local cloud knows.
var serviceLinkedRoles = map[string]slrInfo{
	"eks-connector.amazonaws.com":        {"AWSServiceRoleForAmazonEKSConnector", "AmazonEKSConnectorServiceRolePolicy", false},
	"eks.amazonaws.com":                  {"AWSServiceRoleForAmazonEKS", "AmazonEKSServiceRolePolicy", false},
	"eks-nodegroup.amazonaws.com":        {"AWSServiceRoleForAmazonEKSNodegroup", "AWSServiceRoleForAmazonEKSNodegroup", false},
	"eks-fargate.amazonaws.com":          {"AWSServiceRoleForAmazonEKSForFargate", "AmazonEKSForFargateServiceRolePolicy", false},
	"ssm.amazonaws.com":                  {"AWSServiceRoleForAmazonSSM", "AmazonSSMServiceRolePolicy", false},
	"autoscaling.amazonaws.com":          {"AWSServiceRoleForAutoScaling", "AutoScalingServiceRolePolicy", true},
	"elasticloadbalancing.amazonaws.com": {"AWSServiceRoleForElasticLoadBalancing", "AWSElasticLoadBalancingServiceRolePolicy", false},
}

func (s *Store) createServiceLinkedLocked(service string, slr slrInfo, description string) *role {
	name := slr.roleName
	path := "/aws-service-role/" + service + "/"
	now := s.cfg.Clock.Now()
	r := &role{
		name: name, path: path, id: s.newRoleIDLocked(name), arn: s.arnFor(path, name),
		created: now, trustChanged: now, description: description, maxSession: 3600,
		trust:         `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service + `"},"Action":"sts:AssumeRole"}]}`,
		inline:        map[string]string{},
		attached:      []string{"arn:aws:iam::aws:policy/aws-service-role/" + slr.policy},
		serviceLinked: true,
	}
	s.roles[strings.ToLower(name)] = r
	return r
}

// ---------------------------------------------------------------------------
// Wire

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

// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// XML shapes (member names from the aws-sdk-go-v2 IAM schemas)

type xmlBoundary struct {
	PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlTags = members[xmlTag]

// tagsXML renders tags; nil (no element) for none.
func tagsXML(tags []Tag) *xmlTags {
	if len(tags) == 0 {
		return nil
	}
	x := &xmlTags{}
	for _, t := range tags {
		x.Members = append(x.Members, xmlTag(t))
	}
	return x
}

// tagMap is tags as a snapshot gives them.
func tagMap(tags []Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

type xmlRoleLastUsed struct{}

type xmlRole struct {
	Path                     string           `xml:"Path"`
	RoleName                 string           `xml:"RoleName"`
	RoleId                   string           `xml:"RoleId"`
	Arn                      string           `xml:"Arn"`
	CreateDate               string           `xml:"CreateDate"`
	AssumeRolePolicyDocument string           `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string           `xml:"Description,omitempty"`
	MaxSessionDuration       int              `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *xmlBoundary     `xml:"PermissionsBoundary,omitempty"`
	Tags                     *xmlTags         `xml:"Tags,omitempty"`
	RoleLastUsed             *xmlRoleLastUsed `xml:"RoleLastUsed,omitempty"`
}

// isoDate is IAM's dateType rendering: ISO 8601, UTC, whole seconds.
func isoDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

type roleView int

const (
	viewCreate roleView = iota // CreateRole / CreateServiceLinkedRole
	viewGet                    // GetRole: everything, with RoleLastUsed
	viewList                   // ListRoles: no tags, boundary or last-used
)

func (r *role) xml(v roleView) *xmlRole {
	x := &xmlRole{
		Path: r.path, RoleName: r.name, RoleId: r.id, Arn: r.arn, CreateDate: isoDate(r.created),
		// IAM returns policy documents URL-encoded (RFC 3986); the SDK does
		// not decode them.
		AssumeRolePolicyDocument: encodeRFC3986(r.trust),
		Description:              r.description,
	}
	if v != viewCreate {
		x.MaxSessionDuration = r.maxSession
	}
	if v != viewList {
		if r.boundary != "" {
			x.PermissionsBoundary = &xmlBoundary{"PermissionsBoundaryPolicy", r.boundary}
		}
		x.Tags = tagsXML(r.tags)
	}
	if v == viewGet {
		x.RoleLastUsed = &xmlRoleLastUsed{}
	}
	return x
}

// ---------------------------------------------------------------------------
// Operations

type roleResult struct {
	Role *xmlRole `xml:"Role"`
}

func (s *Store) createServiceLinkedRole(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	service, ok := v.member(f, "AWSServiceName", "aWSServiceName")
	if ok {
		v.length("aWSServiceName", service, 1, 128)
	}
	desc := f.Get("Description")
	v.length("description", desc, 0, 1000)
	suffix := f.Get("CustomSuffix")
	if e := v.err(); e != nil {
		return nil, e
	}
	slr, known := serviceLinkedRoles[service]
	s.mu.Lock()
	defer s.mu.Unlock()
	resource := s.arnFor("/aws-service-role/"+service+"/", slr.roleName)
	if !known {
		resource = s.arnFor("/aws-service-role/"+service+"/", "*")
	}
	if e := c.Authorize("AccessDenied", "iam:CreateServiceLinkedRole", resource,
		map[string]string{"iam:AWSServiceName": service}); e != nil {
		return nil, e
	}
	if !known {
		// Uncertain wording: IAM rejects a service it has no
		// service-linked role for with InvalidInput.
		return nil, awsproto.Errorf(400, "InvalidInput", "Invalid service name: %s", service)
	}
	if suffix != "" && !slr.suffix {
		return nil, awsproto.Errorf(400, "InvalidInput", "Custom suffix is not allowed for %s", service)
	}
	name := slr.roleName
	if suffix != "" {
		name += "_" + suffix
	}
	if s.roles[strings.ToLower(name)] != nil {
		return nil, awsproto.Errorf(400, "InvalidInput",
			"Service role name %s has been taken in this account, please try a different suffix.", name)
	}
	slr.roleName = name
	r := s.createServiceLinkedLocked(service, slr, desc)
	if c.Principal != nil {
		r.createdBy = c.Principal.Name
	}
	return roleResult{r.xml(viewCreate)}, nil
}

func (s *Store) parseTags(v *validation, f url.Values) []Tag {
	var tags []Tag
	for i := 1; ; i++ {
		k, ok := f[fmt.Sprintf("Tags.member.%d.Key", i)]
		if !ok {
			break
		}
		val := f.Get(fmt.Sprintf("Tags.member.%d.Value", i))
		if v.length(fmt.Sprintf("tags.%d.member.key", i), k[0], 1, 128) {
			v.pattern(fmt.Sprintf("tags.%d.member.key", i), k[0], tagKeyRE, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
		}
		v.length(fmt.Sprintf("tags.%d.member.value", i), val, 0, 256)
		tags = append(tags, Tag{k[0], val})
	}
	if len(tags) > maxTags {
		*v = append(*v, fmt.Sprintf("Value '%v' at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", tags, maxTags))
	}
	return tags
}

func (s *Store) createRole(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	path := "/"
	if p, ok := f["Path"]; ok {
		path = p[0]
		if v.length("path", path, 1, 512) {
			v.pattern("path", path, pathRE, `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`)
		}
	}
	trust := v.policyDocument("assumeRolePolicyDocument", f, "AssumeRolePolicyDocument")
	desc := f.Get("Description")
	v.length("description", desc, 0, 1000)
	maxSession := v.number(f, "MaxSessionDuration", "maxSessionDuration", 3600, 43200, 3600)
	boundary := f.Get("PermissionsBoundary")
	if _, ok := f["PermissionsBoundary"]; ok {
		v.length("permissionsBoundary", boundary, 20, 2048)
	}
	tags := s.parseTags(&v, f)
	if e := v.err(); e != nil {
		return nil, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	arn := s.arnFor(path, name)
	var conds map[string]string
	if boundary != "" {
		conds = map[string]string{"iam:PermissionsBoundary": boundary}
	}
	if e := authorizeCreate(c, "iam:CreateRole", "iam:TagRole", arn, conds, tags); e != nil {
		return nil, e
	}
	if boundary != "" {
		if e := s.checkBoundaryLocked(boundary); e != nil {
			return nil, e
		}
	}
	if e := checkTagKeys(tags); e != nil {
		return nil, e
	}
	if s.roles[strings.ToLower(name)] != nil {
		return nil, awsproto.Errorf(409, "EntityAlreadyExists", "Role with name %s already exists.", name)
	}
	if e := s.checkTrustPolicyLocked(trust); e != nil {
		return nil, e
	}
	now := c.Clock.Now()
	r := &role{
		name: name, path: path, id: s.newRoleIDLocked(name), arn: arn, created: now, trustChanged: now,
		trust: trust, description: desc, maxSession: maxSession, boundary: boundary, tags: tags,
		inline: map[string]string{},
	}
	if c.Principal != nil {
		r.createdBy = c.Principal.Name
	}
	s.roles[strings.ToLower(name)] = r
	return roleResult{r.xml(viewCreate)}, nil
}

// authorizeCreate authorizes creating the entity of that ARN and, when the
// request tags it, tagging it (tagging on create also needs iam:TagRole,
// iam:TagPolicy).
func authorizeCreate(c *awsproto.Call, action, tagAction, arn string, conds map[string]string, tags []Tag) *awsproto.Error {
	if e := c.Authorize("AccessDenied", action, arn, conds); e != nil {
		return e
	}
	if len(tags) > 0 {
		return c.Authorize("AccessDenied", tagAction, arn, nil)
	}
	return nil
}

// checkTagKeys refuses a tag key given twice: IAM's tag keys are
// case-insensitive.
func checkTagKeys(tags []Tag) *awsproto.Error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[strings.ToLower(t.Key)] {
			return awsproto.Errorf(400, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[strings.ToLower(t.Key)] = true
	}
	return nil
}

// checkTrustPolicyLocked is the check IAM makes of a role's trust policy
// (CreateRole, UpdateAssumeRolePolicy): a trust policy whose role
// principals exist, within the ACLSizePerRole quota.
func (s *Store) checkTrustPolicyLocked(doc string) *awsproto.Error {
	if e := validateTrustPolicy(doc, s.roleExistsLocked); e != nil {
		return e
	}
	if nonWhitespaceLen(doc) > trustPolicyQuota {
		return awsproto.Errorf(409, "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: %d", trustPolicyQuota)
	}
	return nil
}

func (s *Store) roleExistsLocked(arn string) bool { return s.roleByARNLocked(arn) != nil }

// checkBoundaryLocked validates a permissions boundary ARN as CreateRole
// and PutRolePermissionsBoundary do: a customer managed policy must exist
// in this account (IAM answers NoSuchEntity, 404, "Scope ARN: <arn> does
// not exist or is not attachable."). An AWS managed policy the local cloud
// does not know is accepted: AWS has hundreds, and nothing here reads a
// boundary's document (see DESIGN.md).
func (s *Store) checkBoundaryLocked(arn string) *awsproto.Error {
	if e := checkAttachable(arn); e != nil {
		return e
	}
	if isAWSManaged(arn) {
		return nil
	}
	if s.policyByARNLocked(arn) == nil {
		return awsproto.Errorf(404, "NoSuchEntity", "Scope ARN: %s does not exist or is not attachable.", arn)
	}
	return nil
}

// checkAttachable refuses what can never be attached to a customer's role,
// as a permissions policy or as a boundary: a malformed policy ARN, and a
// service role policy.
func checkAttachable(arn string) *awsproto.Error {
	if e := checkPolicyARN(arn); e != nil {
		return e
	}
	if strings.HasPrefix(arn, "arn:aws:iam::aws:policy/aws-service-role/") {
		return awsproto.Errorf(400, "PolicyNotAttachable", "Cannot attach a Service Role Policy to a Customer Role.")
	}
	return nil
}

// checkPolicyARN refuses a policy ARN that is not one in form.
func checkPolicyARN(arn string) *awsproto.Error {
	if !arnRE.MatchString(arn) {
		return awsproto.Errorf(400, "InvalidInput", "ARN %s is not valid.", arn)
	}
	return nil
}

// boundaryKeyLocked is the iam:PermissionsBoundary condition key of an
// action on the existing role of that name that does not set a boundary
// (PutRolePolicy, DeleteRolePolicy, DeleteRolePermissionsBoundary): the
// role's current boundary, absent when it has none (Service Authorization
// Reference: "Filters access if the specified policy is set as the
// permissions boundary on the IAM entity").
func (s *Store) boundaryKeyLocked(name string) map[string]string {
	if r := s.roles[strings.ToLower(name)]; r != nil && r.boundary != "" {
		return map[string]string{"iam:PermissionsBoundary": r.boundary}
	}
	return nil
}

// roleOp is how an operation on one existing role reaches it.
type roleOp struct {
	action string // authorized on the role's ARN
	// conds gives the request's condition keys; onRole calls it with the
	// store lock held (nil: none).
	conds func(roleName string) map[string]string
	// changes says the operation changes the role, which a service-linked
	// role refuses: it is AWS's (UnmodifiableEntity).
	changes bool
}

// onRole is the frame of every operation on one existing role, in the
// order IAM answers: the request's fields (v: RoleName first, then the
// operation's own), then, with the store lock held, the action authorized
// on the role's ARN (the ARN a role of that name would have when there is
// none), NoSuchEntity for a role that does not exist, UnmodifiableEntity
// for a service-linked role the operation would change, and then do, still
// under the lock.
func (s *Store) onRole(c *awsproto.Call, v validation, name string, op roleOp, do func(r *role) (any, *awsproto.Error)) (any, *awsproto.Error) {
	if e := v.err(); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var conds map[string]string
	if op.conds != nil {
		conds = op.conds(name)
	}
	if e := c.Authorize("AccessDenied", op.action, s.roleARNLocked(name), conds); e != nil {
		return nil, e
	}
	r := s.roles[strings.ToLower(name)]
	if r == nil {
		return nil, noSuchRole(name)
	}
	if op.changes && r.serviceLinked {
		return nil, protectedRole(r.name)
	}
	return do(r)
}

func (s *Store) getRole(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	return s.onRole(c, v, name, roleOp{action: "iam:GetRole"}, func(r *role) (any, *awsproto.Error) {
		return roleResult{r.xml(viewGet)}, nil
	})
}

type listRolesResult struct {
	Roles members[*xmlRole] `xml:"Roles"`
	listEnd
}

func (s *Store) listRoles(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	prefix := "/"
	if p, ok := f["PathPrefix"]; ok {
		prefix = p[0]
		v.length("pathPrefix", prefix, 1, 512)
	}
	marker, maxItems := v.marker(f)
	if e := v.err(); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := c.Authorize("AccessDenied", "iam:ListRoles", s.arnFor(prefix, "*"), nil); e != nil {
		return nil, e
	}
	byKey := map[string]*role{}
	for _, r := range s.roles {
		if strings.HasPrefix(r.path, prefix) {
			byKey[strings.ToLower(r.name)] = r
		}
	}
	roles, more, e := page(byKey, marker, maxItems, func(_ string, r *role) *xmlRole { return r.xml(viewList) })
	if e != nil {
		return nil, e
	}
	return listRolesResult{roles, more}, nil
}

func (s *Store) updateAssumeRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	doc := v.policyDocument("policyDocument", f, "PolicyDocument")
	return s.onRole(c, v, name, roleOp{action: "iam:UpdateAssumeRolePolicy", changes: true}, func(r *role) (any, *awsproto.Error) {
		if e := s.checkTrustPolicyLocked(doc); e != nil {
			return nil, e
		}
		r.trust = doc
		r.trustChanged = c.Clock.Now()
		return nil, nil
	})
}

func (s *Store) putRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	pname := v.policyName(f)
	doc := v.policyDocument("policyDocument", f, "PolicyDocument")
	op := roleOp{action: "iam:PutRolePolicy", conds: s.boundaryKeyLocked, changes: true}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		if e := validatePermissionPolicy(doc); e != nil {
			return nil, e
		}
		total := nonWhitespaceLen(doc)
		for n, d := range r.inline {
			if n != pname {
				total += nonWhitespaceLen(d)
			}
		}
		if total > inlinePolicyRoleQuota {
			return nil, awsproto.Errorf(409, "LimitExceeded", "Maximum policy size of %d bytes exceeded for role %s", inlinePolicyRoleQuota, r.name)
		}
		r.inline[pname] = doc
		return nil, nil
	})
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func noSuchRolePolicy(name string) *awsproto.Error {
	return awsproto.Errorf(404, "NoSuchEntity", "The role policy with name %s cannot be found.", name)
}

func (s *Store) getRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	pname := v.policyName(f)
	return s.onRole(c, v, name, roleOp{action: "iam:GetRolePolicy"}, func(r *role) (any, *awsproto.Error) {
		doc, ok := r.inline[pname]
		if !ok {
			return nil, noSuchRolePolicy(pname)
		}
		return getRolePolicyResult{r.name, pname, encodeRFC3986(doc)}, nil
	})
}

type listRolePoliciesResult struct {
	PolicyNames members[string] `xml:"PolicyNames"`
	listEnd
}

func (s *Store) listRolePolicies(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	marker, maxItems := v.marker(f)
	return s.onRole(c, v, name, roleOp{action: "iam:ListRolePolicies"}, func(r *role) (any, *awsproto.Error) {
		names, more, e := page(r.inline, marker, maxItems, func(name, _ string) string { return name })
		if e != nil {
			return nil, e
		}
		return listRolePoliciesResult{names, more}, nil
	})
}

func (s *Store) deleteRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	pname := v.policyName(f)
	op := roleOp{action: "iam:DeleteRolePolicy", conds: s.boundaryKeyLocked, changes: true}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		if _, ok := r.inline[pname]; !ok {
			return nil, noSuchRolePolicy(pname)
		}
		delete(r.inline, pname)
		return nil, nil
	})
}

// putRolePermissionsBoundary sets or replaces the role's boundary. The
// iam:PermissionsBoundary condition key is the boundary being set.
func (s *Store) putRolePermissionsBoundary(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	boundary, ok := v.member(f, "PermissionsBoundary", "permissionsBoundary")
	if ok {
		v.length("permissionsBoundary", boundary, 20, 2048)
	}
	op := roleOp{action: "iam:PutRolePermissionsBoundary", changes: true, conds: func(string) map[string]string {
		return map[string]string{"iam:PermissionsBoundary": boundary}
	}}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		if e := s.checkBoundaryLocked(boundary); e != nil {
			return nil, e
		}
		r.boundary = boundary
		return nil, nil
	})
}

// deleteRolePermissionsBoundary removes the role's boundary; a role without
// one is left as it is, without an error. The iam:PermissionsBoundary
// condition key is the boundary being removed.
func (s *Store) deleteRolePermissionsBoundary(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	op := roleOp{action: "iam:DeleteRolePermissionsBoundary", conds: s.boundaryKeyLocked, changes: true}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		r.boundary = ""
		return nil, nil
	})
}

type xmlAttached struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedResult struct {
	AttachedPolicies members[xmlAttached] `xml:"AttachedPolicies"`
	listEnd
}

func (s *Store) listAttachedRolePolicies(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	marker, maxItems := v.marker(f)
	prefix, _ := v.policyPath("pathPrefix", f, "PathPrefix")
	return s.onRole(c, v, name, roleOp{action: "iam:ListAttachedRolePolicies"}, func(r *role) (any, *awsproto.Error) {
		byArn := map[string]bool{}
		for _, a := range r.attached {
			p := a[strings.Index(a, ":policy")+len(":policy"):]
			if strings.HasPrefix(p, prefix) {
				byArn[a] = true
			}
		}
		attached, more, e := page(byArn, marker, maxItems, func(a string, _ bool) xmlAttached {
			return xmlAttached{a[strings.LastIndex(a, "/")+1:], a}
		})
		if e != nil {
			return nil, e
		}
		return listAttachedResult{attached, more}, nil
	})
}

func (s *Store) deleteRole(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	return s.onRole(c, v, name, roleOp{action: "iam:DeleteRole", changes: true}, func(r *role) (any, *awsproto.Error) {
		if len(r.attached) > 0 {
			return nil, awsproto.Errorf(409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
		}
		if len(r.inline) > 0 {
			return nil, awsproto.Errorf(409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		delete(s.roles, strings.ToLower(r.name))
		return nil, nil
	})
}
