package iam

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

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
