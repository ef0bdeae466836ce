package iam

// Managed policies: customer managed policies (CreatePolicy, their versions,
// DeletePolicy), the few AWS managed policies the local cloud knows
// (awsManagedPolicies), and their attachment to roles (AttachRolePolicy,
// DetachRolePolicy). Messages are IAM's where they are known; the ones
// marked "uncertain wording" are the local cloud's best guess.

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

const (
	managedPolicySizeQuota = 6144 // PolicySize: non-whitespace characters of a managed policy version
	maxPolicyVersions      = 5    // versions a managed policy keeps
	attachedPerRoleQuota   = 10   // PoliciesPerRole: managed policies attached to a role (default quota)
)

var (
	// policyPathType of the IAM model (CreatePolicy Path, PathPrefix of the
	// policy lists); the Coral message shows it unanchored.
	policyPathRE    = regexp.MustCompile(`^((/[A-Za-z0-9\.,\+@=_-]+)*)/$`)
	policyPathShown = `((/[A-Za-z0-9\.,\+@=_-]+)*)/`
	versionIDRE     = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)
	versionIDShown  = `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`
	policyDocRE     = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)
	policyDocShown  = `[\u0009\u000A\u000D\u0020-\u00FF]+`
)

type policyVersion struct {
	id      string
	n       int // the number in the id, for ordering
	doc     string
	created time.Time
}

type managedPolicy struct {
	name, path, id, arn string
	description         string
	created, updated    time.Time
	versions            []*policyVersion // oldest first
	defaultVersion      string
	lastVersion         int // IAM never reuses a version number
	tags                []Tag
	awsManaged          bool
}

func (p *managedPolicy) version(id string) *policyVersion {
	for _, v := range p.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// awsManagedPolicy is an AWS managed policy as the AWS managed policy
// reference describes it: its default version only (earlier versions are
// not modelled).
type awsManagedPolicy struct {
	name, path, description string
	created, versionCreated time.Time
	version, document       string
}

// awsManaged lists the AWS managed policies the local cloud knows; a role's
// permissions may come from one (AttachRolePolicy), and reading it
// (GetPolicy, GetPolicyVersion) gives its default version.
var awsManaged = []awsManagedPolicy{{
	name: "AmazonSSMManagedInstanceCore", path: "/",
	description: "The policy for Amazon EC2 Role to enable AWS Systems Manager service core functionality.",
	// The reference gives the creation time to the minute.
	created: time.Date(2019, 3, 15, 17, 22, 0, 0, time.UTC), versionCreated: time.Date(2019, 5, 23, 16, 54, 21, 0, time.UTC),
	version: "v2",
	document: `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ssm:DescribeAssociation",
                "ssm:GetDeployablePatchSnapshotForInstance",
                "ssm:GetDocument",
                "ssm:DescribeDocument",
                "ssm:GetManifest",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:ListAssociations",
                "ssm:ListInstanceAssociations",
                "ssm:PutInventory",
                "ssm:PutComplianceItems",
                "ssm:PutConfigurePackageResult",
                "ssm:UpdateAssociationStatus",
                "ssm:UpdateInstanceAssociationStatus",
                "ssm:UpdateInstanceInformation"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel"
            ],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "ec2messages:AcknowledgeMessage",
                "ec2messages:DeleteMessage",
                "ec2messages:FailMessage",
                "ec2messages:GetEndpoint",
                "ec2messages:GetMessages",
                "ec2messages:SendReply"
            ],
            "Resource": "*"
        }
    ]
}`,
}}

func awsManagedPolicies() map[string]*managedPolicy {
	out := map[string]*managedPolicy{}
	for _, a := range awsManaged {
		arn := "arn:" + awsproto.Partition + ":iam::aws:policy" + a.path + a.name
		n, _ := strconv.Atoi(strings.TrimPrefix(a.version, "v"))
		// AWS managed policy ids are the same in every account.
		h := sha256.Sum256([]byte(arn))
		out[arn] = &managedPolicy{
			name: a.name, path: a.path, id: "ANPA" + base32.StdEncoding.EncodeToString(h[:])[:17], arn: arn,
			description: a.description, created: a.created, updated: a.versionCreated,
			versions:       []*policyVersion{{id: a.version, n: n, doc: a.document, created: a.versionCreated}},
			defaultVersion: a.version, lastVersion: n, awsManaged: true,
		}
	}
	return out
}

func isAWSManaged(arn string) bool { return strings.HasPrefix(arn, "arn:aws:iam::aws:policy/") }

func (s *Store) policyARN(path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:policy%s%s", awsproto.Partition, s.cfg.Account, path, name)
}

// policyByARNLocked returns the managed policy of that ARN: an AWS managed
// one the local cloud knows, or a customer managed one of this account.
func (s *Store) policyByARNLocked(arn string) *managedPolicy {
	if isAWSManaged(arn) {
		return s.awsPolicies[arn]
	}
	i := strings.LastIndex(arn, "/")
	if i < 0 {
		return nil
	}
	p := s.policies[strings.ToLower(arn[i+1:])]
	if p == nil || p.arn != arn {
		return nil
	}
	return p
}

// usageLocked counts the roles that have the policy attached, and those
// that have it as their permissions boundary.
func (s *Store) usageLocked(arn string) (attached, boundary int) {
	for _, r := range s.roles {
		for _, a := range r.attached {
			if a == arn {
				attached++
			}
		}
		if r.boundary == arn {
			boundary++
		}
	}
	return attached, boundary
}

// ---------------------------------------------------------------------------
// Go API for other services and tests

// PolicySnapshot is a copy of a managed policy's state.
type PolicySnapshot struct {
	Name, ARN, ID, Path, Description string
	DefaultVersion                   string
	// Versions maps version id to document (as submitted).
	Versions                 map[string]string
	AttachmentCount          int
	PermissionsBoundaryUsage int
	AWSManaged               bool
	Created, Updated         time.Time
	Tags                     map[string]string
}

// ManagedPolicy returns a snapshot of the managed policy of that ARN.
func (s *Store) ManagedPolicy(arn string) (PolicySnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.policyByARNLocked(arn)
	if p == nil {
		return PolicySnapshot{}, false
	}
	snap := PolicySnapshot{Name: p.name, ARN: p.arn, ID: p.id, Path: p.path, Description: p.description,
		DefaultVersion: p.defaultVersion, Versions: map[string]string{}, AWSManaged: p.awsManaged,
		Created: p.created, Updated: p.updated, Tags: tagMap(p.tags)}
	for _, v := range p.versions {
		snap.Versions[v.id] = v.doc
	}
	snap.AttachmentCount, snap.PermissionsBoundaryUsage = s.usageLocked(p.arn)
	return snap, true
}

// ---------------------------------------------------------------------------
// Validation

func (v *validation) policyArn(f url.Values) string {
	arn, ok := v.member(f, "PolicyArn", "policyArn")
	if ok {
		v.length("policyArn", arn, 20, 2048)
	}
	return arn
}

func (v *validation) versionID(f url.Values) string {
	id, ok := v.member(f, "VersionId", "versionId")
	if ok {
		v.pattern("versionId", id, versionIDRE, versionIDShown)
	}
	return id
}

func (v *validation) policyPath(field string, f url.Values, key string) (string, bool) {
	p, ok := f[key]
	if !ok {
		return "/", false
	}
	if v.length(field, p[0], 1, 512) {
		v.pattern(field, p[0], policyPathRE, policyPathShown)
	}
	return p[0], true
}

func (v *validation) managedPolicyDocument(f url.Values) string {
	doc := v.policyDocument("policyDocument", f, "PolicyDocument")
	if doc != "" {
		v.pattern("policyDocument", doc, policyDocRE, policyDocShown)
	}
	return doc
}

func (v *validation) boolean(field string, f url.Values, key string) bool {
	b, ok := f[key]
	if !ok {
		return false
	}
	switch b[0] {
	case "true":
		return true
	case "false":
		return false
	}
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", b[0], field))
	return false
}

func (v *validation) enum(field string, f url.Values, key string, values ...string) string {
	e, ok := f[key]
	if !ok {
		return ""
	}
	for _, x := range values {
		if e[0] == x {
			return x
		}
	}
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
		e[0], field, strings.Join(values, ", ")))
	return ""
}

func noSuchPolicy(arn string) *awsproto.Error {
	return awsproto.Errorf(404, "NoSuchEntity", "Policy %s was not found.", arn)
}

func noSuchVersion(arn, id string) *awsproto.Error {
	return awsproto.Errorf(404, "NoSuchEntity", "Policy %s version %s does not exist or is not attachable.", arn, id)
}

// awsOwned is the answer to a change of an AWS managed policy: it belongs to
// AWS, so no policy of the account can allow it. Uncertain wording.
func awsOwned(c *awsproto.Call, action, arn string) *awsproto.Error {
	p := c.Principal
	if p == nil || (p.ARN == "" && p.Service == "") {
		p = &awsproto.Principal{ARN: "arn:aws:iam::" + c.Account + ":root"}
	}
	return awsproto.AccessDenied("AccessDenied", p, action, arn, awsproto.Decision{})
}

// policyOp is how an operation on one existing managed policy reaches it.
type policyOp struct {
	action string // authorized on the policy's ARN
	// changes says the operation changes the policy, which an AWS managed
	// policy refuses: it is AWS's (awsOwned).
	changes bool
	// missing answers for a policy that does not exist (nil: noSuchPolicy).
	missing *awsproto.Error
}

// onPolicy is the frame of every operation on one existing managed policy,
// in the order IAM answers: the request's fields (v), then, with the store
// lock held, the action authorized on the ARN, InvalidInput for an ARN
// that is not a policy's, NoSuchEntity for a policy that does not exist,
// AccessDenied for a change of an AWS managed policy, and then do, still
// under the lock.
func (s *Store) onPolicy(c *awsproto.Call, v validation, arn string, op policyOp, do func(p *managedPolicy) (any, *awsproto.Error)) (any, *awsproto.Error) {
	if e := v.err(); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := c.Authorize("AccessDenied", op.action, arn, nil); e != nil {
		return nil, e
	}
	if e := checkPolicyARN(arn); e != nil {
		return nil, e
	}
	p := s.policyByARNLocked(arn)
	if p == nil {
		if op.missing != nil {
			return nil, op.missing
		}
		return nil, noSuchPolicy(arn)
	}
	if op.changes && p.awsManaged {
		return nil, awsOwned(c, op.action, arn)
	}
	return do(p)
}

// ---------------------------------------------------------------------------
// XML shapes

type xmlPolicy struct {
	PolicyName                    string   `xml:"PolicyName"`
	PolicyId                      string   `xml:"PolicyId"`
	Arn                           string   `xml:"Arn"`
	Path                          string   `xml:"Path"`
	DefaultVersionId              string   `xml:"DefaultVersionId"`
	AttachmentCount               int      `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int      `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool     `xml:"IsAttachable"`
	Description                   string   `xml:"Description,omitempty"`
	CreateDate                    string   `xml:"CreateDate"`
	UpdateDate                    string   `xml:"UpdateDate"`
	Tags                          *xmlTags `xml:"Tags,omitempty"`
}

type policyView int

const (
	// CreatePolicy: tags, no description (the API reference names only
	// GetPolicy as giving it; uncertain for CreatePolicy).
	policyViewCreate policyView = iota
	policyViewGet               // GetPolicy: description and tags
	policyViewList              // ListPolicies: neither
)

func (s *Store) policyXMLLocked(p *managedPolicy, v policyView) *xmlPolicy {
	attached, boundary := s.usageLocked(p.arn)
	x := &xmlPolicy{
		PolicyName: p.name, PolicyId: p.id, Arn: p.arn, Path: p.path, DefaultVersionId: p.defaultVersion,
		AttachmentCount: attached, PermissionsBoundaryUsageCount: boundary, IsAttachable: true,
		CreateDate: isoDate(p.created), UpdateDate: isoDate(p.updated),
	}
	if v == policyViewGet {
		x.Description = p.description
	}
	if v != policyViewList {
		x.Tags = tagsXML(p.tags)
	}
	return x
}

type xmlPolicyVersion struct {
	// IAM returns the document URL-encoded (RFC 3986), as it does a role's
	// policies; the SDK does not decode it. Only GetPolicyVersion sends it.
	Document         string `xml:"Document,omitempty"`
	VersionId        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

func versionXML(p *managedPolicy, v *policyVersion, withDoc bool) *xmlPolicyVersion {
	x := &xmlPolicyVersion{VersionId: v.id, IsDefaultVersion: v.id == p.defaultVersion, CreateDate: isoDate(v.created)}
	if withDoc {
		x.Document = encodeRFC3986(v.doc)
	}
	return x
}

type policyResult struct {
	Policy *xmlPolicy `xml:"Policy"`
}

type policyVersionResult struct {
	PolicyVersion *xmlPolicyVersion `xml:"PolicyVersion"`
}

type listPoliciesResult struct {
	Policies members[*xmlPolicy] `xml:"Policies"`
	listEnd
}

type listPolicyVersionsResult struct {
	Versions members[*xmlPolicyVersion] `xml:"Versions"`
	listEnd
}

// ---------------------------------------------------------------------------
// Policies

// checkManagedDocument is the check IAM makes of a managed policy version:
// a permissions policy, within the PolicySize quota.
func checkManagedDocument(doc string) *awsproto.Error {
	if e := validatePermissionPolicy(doc); e != nil {
		return e
	}
	if nonWhitespaceLen(doc) > managedPolicySizeQuota {
		return awsproto.Errorf(409, "LimitExceeded", "Cannot exceed quota for PolicySize: %d", managedPolicySizeQuota)
	}
	return nil
}

func (s *Store) createPolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.policyName(f)
	path, _ := v.policyPath("path", f, "Path")
	doc := v.managedPolicyDocument(f)
	desc := f.Get("Description")
	v.length("description", desc, 0, 1000)
	tags := s.parseTags(&v, f)
	if e := v.err(); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := s.policyARN(path, name)
	if e := authorizeCreate(c, "iam:CreatePolicy", "iam:TagPolicy", arn, nil, tags); e != nil {
		return nil, e
	}
	if e := checkTagKeys(tags); e != nil {
		return nil, e
	}
	if s.policies[strings.ToLower(name)] != nil {
		return nil, awsproto.Errorf(409, "EntityAlreadyExists", "A policy called %s already exists. Duplicate names are not allowed.", name)
	}
	if e := checkManagedDocument(doc); e != nil {
		return nil, e
	}
	now := c.Clock.Now()
	p := &managedPolicy{
		name: name, path: path, id: s.newIDLocked("ANPA", name), arn: arn, description: desc,
		created: now, updated: now, tags: tags,
		versions:       []*policyVersion{{id: "v1", n: 1, doc: doc, created: now}},
		defaultVersion: "v1", lastVersion: 1,
	}
	s.policies[strings.ToLower(name)] = p
	return policyResult{s.policyXMLLocked(p, policyViewCreate)}, nil
}

func (s *Store) getPolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	return s.onPolicy(c, v, arn, policyOp{action: "iam:GetPolicy"}, func(p *managedPolicy) (any, *awsproto.Error) {
		return policyResult{s.policyXMLLocked(p, policyViewGet)}, nil
	})
}

// listPolicies lists the managed policies of the scope (All, AWS, Local),
// ordered by name. ListPolicies has no resource-level permissions: it is
// authorized on "*".
func (s *Store) listPolicies(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	scope := v.enum("scope", f, "Scope", "All", "AWS", "Local")
	onlyAttached := v.boolean("onlyAttached", f, "OnlyAttached")
	prefix, _ := v.policyPath("pathPrefix", f, "PathPrefix")
	usage := v.enum("policyUsageFilter", f, "PolicyUsageFilter", "PermissionsPolicy", "PermissionsBoundary")
	marker, maxItems := v.marker(f)
	if e := v.err(); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := c.Authorize("AccessDenied", "iam:ListPolicies", "*", nil); e != nil {
		return nil, e
	}
	var all []*managedPolicy
	if scope != "Local" {
		for _, p := range s.awsPolicies {
			all = append(all, p)
		}
	}
	if scope != "AWS" {
		for _, p := range s.policies {
			all = append(all, p)
		}
	}
	byKey := map[string]*managedPolicy{}
	for _, p := range all {
		if !strings.HasPrefix(p.path, prefix) {
			continue
		}
		attached, boundary := s.usageLocked(p.arn)
		used := attached + boundary
		switch usage {
		case "PermissionsPolicy":
			used = attached
		case "PermissionsBoundary":
			used = boundary
		}
		if onlyAttached && used == 0 {
			continue
		}
		byKey[strings.ToLower(p.name)+" "+p.arn] = p
	}
	policies, more, e := page(byKey, marker, maxItems, func(_ string, p *managedPolicy) *xmlPolicy {
		return s.policyXMLLocked(p, policyViewList)
	})
	if e != nil {
		return nil, e
	}
	return listPoliciesResult{policies, more}, nil
}

// deletePolicy deletes a customer managed policy that nothing uses and that
// has only its default version left.
func (s *Store) deletePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	return s.onPolicy(c, v, arn, policyOp{action: "iam:DeletePolicy", changes: true}, func(p *managedPolicy) (any, *awsproto.Error) {
		// A boundary counts as a use: IAM refuses to delete a policy that is
		// some role's permissions boundary, with the same message
		// (uncertain wording).
		if attached, boundary := s.usageLocked(arn); attached+boundary > 0 {
			return nil, awsproto.Errorf(409, "DeleteConflict", "Cannot delete a policy attached to entities.")
		}
		if len(p.versions) > 1 {
			return nil, awsproto.Errorf(409, "DeleteConflict", "This policy has more than one version. Before you delete a policy, "+
				"you must delete the policy's versions. The default version is deleted with the policy.")
		}
		delete(s.policies, strings.ToLower(p.name))
		return nil, nil
	})
}

// ---------------------------------------------------------------------------
// Versions

func (s *Store) createPolicyVersion(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	doc := v.managedPolicyDocument(f)
	setDefault := v.boolean("setAsDefault", f, "SetAsDefault")
	return s.onPolicy(c, v, arn, policyOp{action: "iam:CreatePolicyVersion", changes: true}, func(p *managedPolicy) (any, *awsproto.Error) {
		if len(p.versions) >= maxPolicyVersions {
			return nil, awsproto.Errorf(409, "LimitExceeded", "A managed policy can have up to %d versions. Before you create a new version, "+
				"you must delete an existing version.", maxPolicyVersions)
		}
		if e := checkManagedDocument(doc); e != nil {
			return nil, e
		}
		now := c.Clock.Now()
		p.lastVersion++
		pv := &policyVersion{id: "v" + strconv.Itoa(p.lastVersion), n: p.lastVersion, doc: doc, created: now}
		p.versions = append(p.versions, pv)
		p.updated = now
		if setDefault {
			p.defaultVersion = pv.id
		}
		return policyVersionResult{versionXML(p, pv, false)}, nil
	})
}

func (s *Store) getPolicyVersion(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	id := v.versionID(f)
	op := policyOp{action: "iam:GetPolicyVersion", missing: noSuchVersion(arn, id)} // uncertain wording
	return s.onPolicy(c, v, arn, op, func(p *managedPolicy) (any, *awsproto.Error) {
		pv := p.version(id)
		if pv == nil {
			return nil, noSuchVersion(arn, id)
		}
		return policyVersionResult{versionXML(p, pv, true)}, nil
	})
}

// listPolicyVersions lists the versions without their documents, the
// newest first.
func (s *Store) listPolicyVersions(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	marker, maxItems := v.marker(f)
	return s.onPolicy(c, v, arn, policyOp{action: "iam:ListPolicyVersions"}, func(p *managedPolicy) (any, *awsproto.Error) {
		byKey := map[string]*policyVersion{}
		for _, pv := range p.versions {
			byKey[fmt.Sprintf("%09d", 999999999-pv.n)] = pv // sorts the newest first
		}
		versions, more, e := page(byKey, marker, maxItems, func(_ string, pv *policyVersion) *xmlPolicyVersion {
			return versionXML(p, pv, false)
		})
		if e != nil {
			return nil, e
		}
		return listPolicyVersionsResult{versions, more}, nil
	})
}

func (s *Store) setDefaultPolicyVersion(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	id := v.versionID(f)
	return s.onPolicy(c, v, arn, policyOp{action: "iam:SetDefaultPolicyVersion", changes: true}, func(p *managedPolicy) (any, *awsproto.Error) {
		if p.version(id) == nil {
			return nil, noSuchVersion(arn, id)
		}
		p.defaultVersion = id
		return nil, nil
	})
}

func (s *Store) deletePolicyVersion(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	arn := v.policyArn(f)
	id := v.versionID(f)
	return s.onPolicy(c, v, arn, policyOp{action: "iam:DeletePolicyVersion", changes: true}, func(p *managedPolicy) (any, *awsproto.Error) {
		if p.version(id) == nil {
			return nil, noSuchVersion(arn, id)
		}
		if id == p.defaultVersion {
			return nil, awsproto.Errorf(409, "DeleteConflict", "Cannot delete the default version of a policy.")
		}
		kept := p.versions[:0]
		for _, pv := range p.versions {
			if pv.id != id {
				kept = append(kept, pv)
			}
		}
		p.versions = kept
		return nil, nil
	})
}

// ---------------------------------------------------------------------------
// Attachments

// attachConds gives the condition keys of AttachRolePolicy and
// DetachRolePolicy: iam:PolicyARN, the policy being attached or detached,
// and iam:PermissionsBoundary, the role's boundary when it has one.
func (s *Store) attachConds(policyArn string) func(role string) map[string]string {
	return func(role string) map[string]string {
		conds := map[string]string{"iam:PolicyARN": policyArn}
		for k, v := range s.boundaryKeyLocked(role) {
			conds[k] = v
		}
		return conds
	}
}

func (s *Store) attachRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	arn := v.policyArn(f)
	op := roleOp{action: "iam:AttachRolePolicy", conds: s.attachConds(arn), changes: true}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		if e := checkAttachable(arn); e != nil {
			return nil, e
		}
		if s.policyByARNLocked(arn) == nil {
			return nil, awsproto.Errorf(404, "NoSuchEntity", "Policy %s does not exist or is not attachable.", arn)
		}
		for _, a := range r.attached {
			if a == arn {
				return nil, nil // attaching again changes nothing
			}
		}
		if len(r.attached) >= attachedPerRoleQuota {
			return nil, awsproto.Errorf(409, "LimitExceeded", "Cannot exceed quota for PoliciesPerRole: %d", attachedPerRoleQuota)
		}
		r.attached = append(r.attached, arn)
		return nil, nil
	})
}

func (s *Store) detachRolePolicy(c *awsproto.Call, f url.Values) (any, *awsproto.Error) {
	var v validation
	name := v.roleName(f)
	arn := v.policyArn(f)
	op := roleOp{action: "iam:DetachRolePolicy", conds: s.attachConds(arn), changes: true}
	return s.onRole(c, v, name, op, func(r *role) (any, *awsproto.Error) {
		if e := checkPolicyARN(arn); e != nil {
			return nil, e
		}
		for i, a := range r.attached {
			if a == arn {
				r.attached = append(r.attached[:i:i], r.attached[i+1:]...)
				return nil, nil
			}
		}
		return nil, noSuchPolicy(arn) // uncertain wording
	})
}
