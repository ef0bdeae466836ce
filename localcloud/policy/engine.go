package policy

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Check is one recorded authorization decision. Identical checks are
// recorded once, in the order first seen, with Count the number of times.
type Check struct {
	Principal, Action, Resource string
	Allowed                     bool
	// MatchedStatement names the deciding statement as "policy/Sid" (or
	// "policy/#index" when it has no Sid): the Deny statement for an
	// explicit deny, the first Allow statement for an allow, "" for an
	// implicit deny.
	MatchedStatement string
	Count            int
}

// Grant is one (action, resource) pair an Allow statement grants. For a
// NotAction statement Action is "NotAction:[a, b]"; for NotResource,
// Resource is "NotResource:[r1, r2]".
type Grant struct {
	Principal, Policy, Sid, Action, Resource string
}

// Engine evaluates identity policies per principal name and records every
// check. It implements awsproto.Authorizer and is safe for concurrent use.
type Engine struct {
	mu       sync.Mutex
	policies map[string][]Policy
	checks   []Check
	checkAt  map[Check]int // Check with Count 0 → index in checks
	used     map[Grant]int // allowed checks each grant was needed for
	usedBy   map[string]map[string]bool
}

var _ awsproto.Authorizer = (*Engine)(nil)

// NewEngine returns an engine with no policies: every principal but an
// Admin one is denied everything.
func NewEngine() *Engine {
	return &Engine{
		policies: map[string][]Policy{},
		checkAt:  map[Check]int{},
		used:     map[Grant]int{},
		usedBy:   map[string]map[string]bool{},
	}
}

// SetPolicies replaces the identity policies of the principal named
// principalName (awsproto.Principal.Name). Records of earlier checks are
// kept; usage is keyed by policy name, Sid/index and patterns, so it
// carries over to an unchanged statement.
func (e *Engine) SetPolicies(principalName string, policies []Policy) {
	cp := make([]Policy, len(policies))
	for i, p := range policies {
		cp[i] = Policy{Name: p.Name, Version: p.Version, Statements: make([]Statement, len(p.Statements))}
		for j, st := range p.Statements {
			c := st
			c.Action = slices.Clone(st.Action)
			c.NotAction = slices.Clone(st.NotAction)
			c.Resource = slices.Clone(st.Resource)
			c.NotResource = slices.Clone(st.NotResource)
			if st.Condition != nil {
				c.Condition = make(map[string]map[string][]string, len(st.Condition))
				for op, keys := range st.Condition {
					c.Condition[op] = make(map[string][]string, len(keys))
					for k, v := range keys {
						c.Condition[op][k] = slices.Clone(v)
					}
				}
			}
			cp[i].Statements[j] = c
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.policies[principalName] = cp
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
// those statements).
func applies(st Statement, vars bool, action, resource string, ctx map[string]string) (ok bool, acts, ress []string) {
	if st.Action != nil {
		for _, a := range st.Action {
			if matchAction(a, action) {
				acts = append(acts, a)
			}
		}
	} else {
		for _, a := range st.NotAction {
			if matchAction(a, action) {
				return false, nil, nil
			}
		}
		acts = []string{notForm("NotAction", st.NotAction)}
	}
	if len(acts) == 0 {
		return false, nil, nil
	}
	if st.Resource != nil {
		for _, r := range st.Resource {
			if p, ok := expand(r, vars, ctx); ok && matchARN(p, resource) {
				ress = append(ress, r)
			}
		}
	} else {
		for _, r := range st.NotResource {
			if p, ok := expand(r, vars, ctx); ok && matchARN(p, resource) {
				return false, nil, nil
			}
		}
		ress = []string{notForm("NotResource", st.NotResource)}
	}
	if len(ress) == 0 {
		return false, nil, nil
	}
	// Every operator, and every key within one, must hold.
	for op, keys := range st.Condition {
		for k, vals := range keys {
			res, valid := evalCondition(op, k, vals, ctx, vars)
			if !valid {
				// Fail safe: an Allow never applies, a Deny always does.
				return st.Effect == "Deny", acts, ress
			}
			if !res {
				return false, nil, nil
			}
		}
	}
	return true, acts, ress
}

// Authorize decides whether p may perform action on resource, as IAM
// evaluates identity policies in one account: an explicit Deny wins, then
// any Allow, else an implicit deny. conditions is the request context
// (keys case-insensitive); aws:PrincipalArn is added from p.ARN when absent.
// Admin principals are allowed without a record.
func (e *Engine) Authorize(p *awsproto.Principal, action, resource string, conditions map[string]string) bool {
	if p != nil && p.Admin {
		return true
	}
	var name, arn string
	if p != nil {
		name, arn = p.Name, p.ARN
	}
	ctx := make(map[string]string, len(conditions)+1)
	for k, v := range conditions {
		ctx[strings.ToLower(k)] = v
	}
	if _, ok := ctx["aws:principalarn"]; !ok && arn != "" {
		ctx["aws:principalarn"] = arn
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	var pols []Policy
	if p != nil {
		pols = e.policies[name]
	}
	type allowMatch struct {
		pol, sid   string
		acts, ress []string
	}
	var allows []allowMatch
	deny := ""
	for _, pol := range pols {
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
	allowed := deny == "" && len(allows) > 0
	c := Check{Principal: name, Action: action, Resource: resource, Allowed: allowed, MatchedStatement: deny}
	if allowed {
		c.MatchedStatement = allows[0].pol + "/" + allows[0].sid
		for _, m := range allows {
			for _, a := range m.acts {
				for _, r := range m.ress {
					e.used[Grant{Principal: name, Policy: m.pol, Sid: m.sid, Action: a, Resource: r}]++
					if e.usedBy[name] == nil {
						e.usedBy[name] = map[string]bool{}
					}
					e.usedBy[name][action+" "+r] = true
				}
			}
		}
	}
	if i, seen := e.checkAt[c]; seen {
		e.checks[i].Count++
	} else {
		e.checkAt[c] = len(e.checks)
		c.Count = 1
		e.checks = append(e.checks, c)
	}
	return allowed
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
