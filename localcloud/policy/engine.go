package policy

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/policy/reference"
)

// Check is one recorded authorization decision. Identical checks are
// recorded once, in the order first seen, with Count the number of times.
type Check struct {
	// Principal is the caller's name: a function's or state machine's
	// logical id, or a service principal ("events.amazonaws.com").
	Principal, Action, Resource string
	Allowed                     bool
	// MatchedStatement names the deciding statement as "policy/Sid" (or
	// "policy/#index" when it has no Sid): the Deny statement for an
	// explicit deny, the first Allow statement for an allow (an identity
	// policy's before the resource policy's), "" for an implicit deny.
	MatchedStatement string
	// Why says why a denied check was denied; "" for an allowed one.
	Why   string
	Count int
}

// Grant is one (action, resource) pair an Allow statement grants. For a
// NotAction statement Action is "NotAction:[a, b]"; for NotResource,
// Resource is "NotResource:[r1, r2]".
type Grant struct {
	Principal, Policy, Sid, Action, Resource string
}

// resourcePolicy is a resource's policy and how often each statement allowed.
type resourcePolicy struct {
	arn  string
	pol  Policy
	used map[int]int // statement index → allowed checks it took part in
}

// Engine evaluates identity policies per principal name and resource-based
// policies per resource ARN, and records every check. It implements
// awsproto.Authorizer and awsproto.ResourcePolicies and is safe for
// concurrent use.
type Engine struct {
	mu        sync.Mutex
	policies  map[string][]Policy
	resources map[string]*resourcePolicy // by resource ARN
	resOrder  []string                   // resource ARNs in the order first set
	checks    []Check
	checkAt   map[Check]int // Check with Count 0 → index in checks
	used      map[Grant]int // allowed checks each grant was needed for
	usedBy    map[string]map[string]bool
	// ref, when set, is the IAM reference every check is held to: a check
	// of an action it does not list, or against a resource it does not
	// give the action, is an emulator defect. It is denied and recorded in
	// violations.
	ref        *reference.Reference
	violations []string
}

var (
	_ awsproto.Authorizer       = (*Engine)(nil)
	_ awsproto.ResourcePolicies = (*Engine)(nil)
)

// NewEngine returns an engine with no policies: every principal but an
// Admin one is denied everything.
func NewEngine() *Engine {
	return &Engine{
		policies:  map[string][]Policy{},
		resources: map[string]*resourcePolicy{},
		checkAt:   map[Check]int{},
		used:      map[Grant]int{},
		usedBy:    map[string]map[string]bool{},
	}
}

func clonePolicy(p Policy) Policy {
	c := Policy{Name: p.Name, Version: p.Version, Statements: make([]Statement, len(p.Statements))}
	for j, st := range p.Statements {
		s := st
		s.Action = slices.Clone(st.Action)
		s.NotAction = slices.Clone(st.NotAction)
		s.Resource = slices.Clone(st.Resource)
		s.NotResource = slices.Clone(st.NotResource)
		s.Principal = st.Principal.clone()
		s.NotPrincipal = st.NotPrincipal.clone()
		if st.Condition != nil {
			s.Condition = make(map[string]map[string][]string, len(st.Condition))
			for op, keys := range st.Condition {
				s.Condition[op] = make(map[string][]string, len(keys))
				for k, v := range keys {
					s.Condition[op][k] = slices.Clone(v)
				}
			}
		}
		c.Statements[j] = s
	}
	return c
}

func (ps *Principals) clone() *Principals {
	if ps == nil {
		return nil
	}
	return &Principals{All: ps.All, AWS: slices.Clone(ps.AWS), Service: slices.Clone(ps.Service),
		Federated: slices.Clone(ps.Federated), CanonicalUser: slices.Clone(ps.CanonicalUser)}
}

// SetReference holds every later check to ref (nil: none). The local cloud
// sets reference.Default().
func (e *Engine) SetReference(ref *reference.Reference) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ref = ref
}

// Violations lists, once each and in the order first seen, the checks that
// departed from the reference set with SetReference: "action on resource:
// why". Any is a defect in the local cloud (a service authorizing an action
// AWS does not have, or against an ARN AWS would not use).
func (e *Engine) Violations() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.violations)
}

// SetPolicies replaces the identity policies of the principal named
// principalName (awsproto.Principal.Name). Records of earlier checks are
// kept; usage is keyed by policy name, Sid/index and patterns, so it
// carries over to an unchanged statement.
func (e *Engine) SetPolicies(principalName string, policies []Policy) {
	cp := make([]Policy, len(policies))
	for i, p := range policies {
		cp[i] = clonePolicy(p)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[principalName] = cp
}

// SetResourcePolicy sets (or, with an empty doc, removes) the
// resource-based policy of the resource resourceArn: an SQS queue policy, a
// Lambda function policy. name is how records and the report name it. A
// malformed document is refused with an error wrapping ErrMalformed, and
// the resource keeps its old policy.
func (e *Engine) SetResourcePolicy(resourceArn, name string, doc []byte) error {
	if len(bytes.TrimSpace(doc)) == 0 {
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.resources, resourceArn)
		return nil
	}
	p, err := ParseResourcePolicy(doc)
	if err != nil {
		return err
	}
	p.Name = name
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.resources[resourceArn]; !ok && !slices.Contains(e.resOrder, resourceArn) {
		e.resOrder = append(e.resOrder, resourceArn)
	}
	e.resources[resourceArn] = &resourcePolicy{arn: resourceArn, pol: p, used: map[int]int{}}
	return nil
}

// ResourcePolicy returns the resource-based policy set for resourceArn.
func (e *Engine) ResourcePolicy(resourceArn string) (Policy, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rp, ok := e.resources[resourceArn]
	if !ok {
		return Policy{}, false
	}
	return clonePolicy(rp.pol), true
}

func stmtID(p Policy, i int) string {
	return p.Name + "/" + sidOrIndex(p.Statements[i], i)
}

func sidOrIndex(st Statement, i int) string {
	if st.Sid != "" {
		return st.Sid
	}
	return "#" + strconv.Itoa(i)
}

func notForm(elem string, l []string) string {
	return elem + ":[" + strings.Join(l, ", ") + "]"
}

// applies reports whether st applies to the request, and which of its
// action and resource patterns matched (the NotAction/NotResource form for
// those statements). Principal matching is the caller's business.
func applies(st Statement, vars bool, action, resource string, ctx map[string]string) (ok bool, acts, ress []string) {
	ok, acts, ress, _ = evalStatement(st, vars, action, resource, ctx)
	return ok, acts, ress
}

// evalStatement is applies with, when the statement does not apply, the
// reason ("its Action does not include ssm:PutParameter").
func evalStatement(st Statement, vars bool, action, resource string, ctx map[string]string) (ok bool, acts, ress []string, why string) {
	if st.Action != nil {
		for _, a := range st.Action {
			if matchAction(a, action) {
				acts = append(acts, a)
			}
		}
	} else {
		for _, a := range st.NotAction {
			if matchAction(a, action) {
				return false, nil, nil, "its NotAction excludes " + action
			}
		}
		acts = []string{notForm("NotAction", st.NotAction)}
	}
	if len(acts) == 0 {
		return false, nil, nil, "its Action does not include " + action
	}
	if st.Resource != nil {
		for _, r := range st.Resource {
			if p, ok := expand(r, vars, ctx); ok && matchResource(p, resource) {
				ress = append(ress, r)
			}
		}
	} else {
		for _, r := range st.NotResource {
			if p, ok := expand(r, vars, ctx); ok && matchResource(p, resource) {
				return false, nil, nil, "its NotResource excludes " + resource
			}
		}
		ress = []string{notForm("NotResource", st.NotResource)}
	}
	if len(ress) == 0 {
		return false, nil, nil, "its Resource does not include " + resource
	}
	// Every operator, and every key within one, must hold.
	for _, op := range slices.Sorted(maps.Keys(st.Condition)) {
		keys := st.Condition[op]
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			vals := keys[k]
			res, valid := evalCondition(op, k, vals, ctx, vars)
			if !valid {
				// Fail safe: an Allow never applies, a Deny always does.
				if st.Effect == "Deny" {
					return true, acts, ress, ""
				}
				return false, nil, nil, fmt.Sprintf("its condition operator %s cannot be evaluated", op)
			}
			if !res {
				v, present := ctx[strings.ToLower(k)]
				got := k + " is absent"
				if present {
					got = fmt.Sprintf("%s is %q", k, v)
				}
				return false, nil, nil, fmt.Sprintf("its condition %s %s %v does not hold (%s)", op, k, vals, got)
			}
		}
	}
	return true, acts, ress, ""
}

// principalMatch is how a statement's Principal names a caller.
type principalMatch int

const (
	noMatch principalMatch = iota
	// accountMatch: the statement names the caller's account. Within the
	// account this delegates to the caller's identity policies: it never
	// allows on its own, but a Deny applies.
	accountMatch
	// exactMatch: "*", the caller's role or user ARN, or its service.
	exactMatch
)

// accountOf is the account of a principal's ARN ("" when it is not one).
func accountOf(principalArn string) string {
	a, err := arn.Parse(principalArn)
	if err != nil {
		return ""
	}
	return a.AccountID
}

// match says how ps names the caller p.
func (ps *Principals) match(p *awsproto.Principal) principalMatch {
	if ps.All {
		return exactMatch
	}
	best := noMatch
	if p.Service != "" {
		for _, s := range ps.Service {
			if strings.EqualFold(s, p.Service) {
				return exactMatch
			}
		}
		if slices.Contains(ps.AWS, "*") {
			return exactMatch
		}
		return noMatch
	}
	acct := accountOf(p.ARN)
	for _, a := range ps.AWS {
		switch {
		case a == "*" || (p.ARN != "" && a == p.ARN):
			return exactMatch
		case acct != "" && (a == acct || a == "arn:"+partitionOf(p.ARN)+":iam::"+acct+":root"):
			best = accountMatch
		}
	}
	return best
}

// partitionOf is the partition of a principal's ARN (aws when it is not one).
func partitionOf(principalArn string) string {
	a, err := arn.Parse(principalArn)
	if err != nil {
		return "aws"
	}
	return a.Partition
}

// statementPrincipal says how a resource-policy statement names p:
// NotPrincipal names everyone it does not list.
func statementPrincipal(st Statement, p *awsproto.Principal) principalMatch {
	if st.NotPrincipal != nil {
		if st.NotPrincipal.match(p) != noMatch {
			return noMatch
		}
		return exactMatch
	}
	if st.Principal == nil {
		return noMatch
	}
	return st.Principal.match(p)
}

func describePrincipal(p *awsproto.Principal) string {
	if p.Service != "" {
		return p.Service
	}
	if p.ARN != "" {
		return p.ARN
	}
	return p.Name
}

// Authorize is Decide's verdict alone.
func (e *Engine) Authorize(p *awsproto.Principal, action, resource string, conditions map[string]string) bool {
	return e.Decide(p, action, resource, conditions).Allowed
}

// Decide decides whether p may perform action on resource as AWS does for
// a request within one account: an explicit Deny in p's identity policies or
// in the resource's policy wins; then an Allow in either allows (a resource
// policy statement that names only p's account delegates to p's identity
// policies, so it does not allow on its own); else an implicit deny. The
// local cloud is one account: every caller is treated as the resource's
// account's own (no cross-account evaluation). A service principal
// (p.Service) has no identity policies: only the resource policy can allow
// it. conditions is the request context (keys case-insensitive); the
// engine adds aws:PrincipalArn, aws:PrincipalAccount,
// aws:PrincipalIsAWSService and aws:PrincipalServiceName when absent. Admin
// principals are allowed without a record.
func (e *Engine) Decide(p *awsproto.Principal, action, resource string, conditions map[string]string) awsproto.Decision {
	if p != nil && p.Admin {
		return awsproto.Decision{Allowed: true}
	}
	if p == nil {
		p = &awsproto.Principal{}
	}
	if d, bad := e.checkReference(p, action, resource); bad {
		return d
	}
	ctx := make(map[string]string, len(conditions)+4)
	for k, v := range conditions {
		ctx[strings.ToLower(k)] = v
	}
	setDefault := func(k, v string) {
		if _, ok := ctx[k]; !ok && v != "" {
			ctx[k] = v
		}
	}
	if p.Service != "" {
		setDefault("aws:principalisawsservice", "true")
		setDefault("aws:principalservicename", p.Service)
	} else {
		setDefault("aws:principalisawsservice", "false")
		setDefault("aws:principalarn", p.ARN)
		setDefault("aws:principalaccount", accountOf(p.ARN))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	type allowMatch struct {
		pol, sid   string
		acts, ress []string
	}
	// Identity-based policies.
	var allows []allowMatch
	deny := ""
	if p.Service == "" {
		for _, pol := range e.policies[p.Name] {
			vars := pol.Version == Version2012
			for i, st := range pol.Statements {
				if st.Effect != "Allow" && st.Effect != "Deny" {
					continue
				}
				ok, acts, ress := applies(st, vars, action, resource, ctx)
				if !ok {
					continue
				}
				if st.Effect == "Deny" {
					if deny == "" {
						deny = stmtID(pol, i)
					}
					continue
				}
				allows = append(allows, allowMatch{pol.Name, sidOrIndex(st, i), acts, ress})
			}
		}
	}
	// The resource's policy.
	rp := e.resources[resource]
	var resAllows, resAccountAllows []int
	resDeny := ""
	var whyNot []string
	if rp != nil {
		vars := rp.pol.Version == Version2012
		for i, st := range rp.pol.Statements {
			pm := statementPrincipal(st, p)
			if pm == noMatch {
				if st.Effect == "Allow" {
					whyNot = append(whyNot, fmt.Sprintf("statement %s does not name %s", sidOrIndex(st, i), describePrincipal(p)))
				}
				continue
			}
			ok, _, _, why := evalStatement(st, vars, action, resource, ctx)
			if !ok {
				if st.Effect == "Allow" {
					whyNot = append(whyNot, fmt.Sprintf("statement %s does not apply: %s", sidOrIndex(st, i), why))
				}
				continue
			}
			switch {
			case st.Effect == "Deny":
				if resDeny == "" {
					resDeny = stmtID(rp.pol, i)
				}
			case pm == exactMatch:
				resAllows = append(resAllows, i)
			default:
				resAccountAllows = append(resAccountAllows, i)
				whyNot = append(whyNot, fmt.Sprintf("statement %s names only the account %s, which leaves the decision to identity-based policies",
					sidOrIndex(st, i), accountOf(p.ARN)))
			}
		}
	}

	var d awsproto.Decision
	c := Check{Principal: p.Name, Action: action, Resource: resource}
	switch {
	case deny != "":
		d.ExplicitDeny, c.MatchedStatement = "identity-based", deny
		d.Why = "explicitly denied by " + deny
	case resDeny != "":
		d.ExplicitDeny, c.MatchedStatement = "resource-based", resDeny
		d.Why = "explicitly denied by " + resDeny
	default:
		d.Allowed = len(allows) > 0 || len(resAllows) > 0
	}
	if !d.Allowed && d.Why == "" {
		d.Why = implicitWhy(p, rp, whyNot)
	}
	c.Allowed, c.Why = d.Allowed, d.Why
	if d.Allowed {
		if len(allows) > 0 {
			c.MatchedStatement = allows[0].pol + "/" + allows[0].sid
		} else {
			c.MatchedStatement = stmtID(rp.pol, resAllows[0])
		}
		for _, m := range allows {
			for _, a := range m.acts {
				for _, r := range m.ress {
					e.used[Grant{Principal: p.Name, Policy: m.pol, Sid: m.sid, Action: a, Resource: r}]++
					if e.usedBy[p.Name] == nil {
						e.usedBy[p.Name] = map[string]bool{}
					}
					e.usedBy[p.Name][action+" "+r] = true
				}
			}
		}
		for _, i := range append(resAllows, resAccountAllows...) {
			rp.used[i]++
		}
	}
	if i, seen := e.checkAt[c]; seen {
		e.checks[i].Count++
	} else {
		e.checkAt[c] = len(e.checks)
		c.Count = 1
		e.checks = append(e.checks, c)
	}
	return d
}

// checkReference denies, and records, a check the reference says AWS never
// makes.
func (e *Engine) checkReference(p *awsproto.Principal, action, resource string) (awsproto.Decision, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ref == nil {
		return awsproto.Decision{}, false
	}
	err := e.ref.CheckRequest(action, resource)
	if err == nil {
		return awsproto.Decision{}, false
	}
	v := action + " on " + resource + ": " + err.Error()
	if !slices.Contains(e.violations, v) {
		e.violations = append(e.violations, v)
	}
	d := awsproto.Decision{Why: "local cloud defect: " + err.Error()}
	c := Check{Principal: p.Name, Action: action, Resource: resource, Why: d.Why}
	if i, seen := e.checkAt[c]; seen {
		e.checks[i].Count++
	} else {
		e.checkAt[c] = len(e.checks)
		c.Count = 1
		e.checks = append(e.checks, c)
	}
	return d, true
}

// implicitWhy explains an implicit deny.
func implicitWhy(p *awsproto.Principal, rp *resourcePolicy, whyNot []string) string {
	var parts []string
	switch {
	case p.Service != "":
		parts = append(parts, "a service principal has no identity-based policies")
	default:
		parts = append(parts, "no identity-based policy allows it")
	}
	switch {
	case rp == nil:
		parts = append(parts, "the resource has no resource-based policy")
	case len(whyNot) == 0:
		parts = append(parts, "its resource-based policy "+rp.pol.Name+" has no Allow statement for it")
	default:
		parts = append(parts, "its resource-based policy "+rp.pol.Name+" does not allow it: "+strings.Join(whyNot, "; "))
	}
	return strings.Join(parts, ", and ")
}

// Checks returns every recorded check in the order first seen, identical
// ones merged with a Count.
func (e *Engine) Checks() []Check {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.checks)
}

// Used maps each principal to the set of "action resource-pattern" it was
// allowed by: the action as requested, the Resource pattern (or NotResource
// form) of each statement that allowed it.
func (e *Engine) Used() map[string]map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]map[string]bool, len(e.usedBy))
	for p, s := range e.usedBy {
		out[p] = maps.Clone(s)
	}
	return out
}

// Grants lists every (action pattern, resource pattern) pair the Allow
// statements of the current policies grant, by principal name, then policy
// and statement order.
func (e *Engine) Grants() []Grant {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.grantsLocked()
}

func (e *Engine) grantsLocked() []Grant {
	names := slices.Collect(maps.Keys(e.policies))
	sort.Strings(names)
	var out []Grant
	for _, n := range names {
		for _, pol := range e.policies[n] {
			for i, st := range pol.Statements {
				if st.Effect != "Allow" {
					continue
				}
				acts, ress := st.Action, st.Resource
				if acts == nil {
					acts = []string{notForm("NotAction", st.NotAction)}
				}
				if ress == nil {
					ress = []string{notForm("NotResource", st.NotResource)}
				}
				for _, a := range acts {
					for _, r := range ress {
						out = append(out, Grant{Principal: n, Policy: pol.Name, Sid: sidOrIndex(st, i), Action: a, Resource: r})
					}
				}
			}
		}
	}
	return out
}

// Unused lists the grants that never allowed a check: the permissions a
// least-privilege policy could drop.
func (e *Engine) Unused() []Grant {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Grant
	for _, g := range e.grantsLocked() {
		if e.used[g] == 0 {
			out = append(out, g)
		}
	}
	return out
}
