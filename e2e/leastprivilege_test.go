package e2e

// Least privilege, measured (issue 4, item 3).
//
// Every scenario's local cloud enforces the template's policies and records
// which granted (action, resource) pairs it needed (start registers
// recordPolicies). After a full, passing run, TestMain calls
// checkLeastPrivilege: every grant of the template, in each stack
// configuration below, must have been needed by some scenario or be on the
// allowlist (leastprivilege_allowlist_test.go). TestTemplatePoliciesAreScoped
// checks what needs only the template: no wildcard actions, Resource "*" only
// for actions without resource-level permissions, iam:PassRole only on the
// agent role.

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/policy"
	"github.com/platform/eks-connector-registrar/localcloud/policy/reference"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// lpConfig is one way to deploy the stack. Every grant any of them makes is
// in the table and must be needed or allowlisted.
type lpConfig struct {
	Name   string
	Params map[string]string
}

var lpConfigs = []lpConfig{
	{Name: "managed"}, // the defaults: what the scenarios mostly run
	{Name: "existing", Params: map[string]string{
		"AgentRoleMode":        "existing",
		"ExistingAgentRoleArn": "arn:aws:iam::123456789012:role/platform/ExistingConnectorAgentRole",
	}},
	// Every optional parameter set in one of these, so every conditional
	// statement is checked; one each, so the table says which one a grant
	// comes with.
	{Name: "kms", Params: map[string]string{
		"KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
	}},
	{Name: "boundary", Params: map[string]string{ // e2e/agentrole_test.go runs with it
		"AgentRolePermissionsBoundary": "arn:aws:iam::123456789012:policy/ConnectorAgentBoundary",
	}},
}

// noResourceLevel reports whether action has no resource-level
// permissions, so a statement may (must) grant it on Resource "*": the IAM
// service authorization reference (localcloud/policy/reference, generated
// from cfn-lint's machine-readable copy) lists no resource types for it.
func noResourceLevel(action string) bool {
	a, ok := reference.Default().Lookup(action)
	return ok && len(a.ResourceTypes) == 0
}

// managedPolicyAction stands in the Action column for a managed policy SAM
// attaches: its content is AWS's, so it can only be allowlisted.
const managedPolicyAction = "managed policy"

type allowEntry struct {
	// Principal is a logical id; "" matches all.
	Principal string
	// Action is an action, or a service prefix ending in ":" (all of that
	// service's actions), or managedPolicyAction.
	Action string
	// Resource as printed in the table; "" matches all.
	Resource string
	Why      string
}

func (a allowEntry) matches(g lpKey) bool {
	if a.Principal != "" && a.Principal != g.Principal {
		return false
	}
	if strings.HasSuffix(a.Action, ":") {
		if !strings.HasPrefix(strings.ToLower(g.Action), strings.ToLower(a.Action)) {
			return false
		}
	} else if !strings.EqualFold(a.Action, g.Action) {
		return false
	}
	return a.Resource == "" || a.Resource == g.Resource
}

func (a allowEntry) String() string {
	p := a.Principal
	if p == "" {
		p = "every principal"
	}
	act := a.Action
	if strings.HasSuffix(act, ":") {
		act += "*"
	}
	r := a.Resource
	if r == "" {
		r = "any resource"
	}
	return fmt.Sprintf("%s / %s / %s", p, act, r)
}

// lpKey is one granted (action, resource) pair of a principal, the resource
// written with the template's names instead of this stack's values (see
// normalizer), so grants compare across stack configurations.
type lpKey struct{ Principal, Action, Resource string }

// ---------------------------------------------------------------- collector

var lpCollector = struct {
	mu     sync.Mutex
	used   map[lpKey]bool
	clouds int
}{used: map[lpKey]bool{}}

// recordPolicies merges the grants the cloud's scenario needed into the
// package's collector. start registers it as a cleanup of every scenario.
func recordPolicies(c *localcloud.Cloud) {
	if c == nil || c.Policies == nil || c.Template == nil {
		return
	}
	unused := map[policy.Grant]bool{}
	for _, g := range c.Policies.Unused() {
		unused[g] = true
	}
	norm := normalizer(c.Template)
	lpCollector.mu.Lock()
	defer lpCollector.mu.Unlock()
	lpCollector.clouds++
	for _, g := range c.Policies.Grants() {
		if !unused[g] {
			lpCollector.used[lpKey{g.Principal, g.Action, norm(g.Resource)}] = true
		}
	}
}

// ------------------------------------------------------------ template side

// lpGrant is a grant of a loaded template, with where it comes from.
type lpGrant struct {
	lpKey
	Statement string // "Sid" of the template's statement, or what SAM adds
}

type lpStack struct {
	cfg    lpConfig
	tpl    *template.Template
	grants []lpGrant
	// statements for the static checks
	stmts []lpStatement
}

type lpStatement struct {
	Principal, Sid string
	SAM            bool // added by SAM, not written in template.yaml
	st             policy.Statement
}

func loadStacks() ([]*lpStack, error) {
	tplPath := filepath.Join(app.RepoRoot(), "template.yaml")
	var out []*lpStack
	for _, cfg := range lpConfigs {
		tpl, err := template.Load(tplPath, template.Options{Region: "us-east-1", Account: "123456789012",
			Partition: "aws", StackName: "local", Parameters: cfg.Params})
		if err != nil {
			return nil, fmt.Errorf("loading template.yaml with the %s parameters: %w", cfg.Name, err)
		}
		s := &lpStack{cfg: cfg, tpl: tpl}
		norm := normalizer(tpl)
		add := func(principal string, docs [][]byte, sam bool) error {
			for i, d := range docs {
				p, err := policy.ParseDocument(d)
				if err != nil {
					return fmt.Errorf("%s: policy %d of template.yaml (%s parameters): %w", principal, i, cfg.Name, err)
				}
				for j, st := range p.Statements {
					sid := st.Sid
					if sid == "" {
						sid = fmt.Sprintf("statement #%d of policy %d", j, i)
					}
					if sam {
						sid = "added by SAM"
					}
					s.stmts = append(s.stmts, lpStatement{Principal: principal, Sid: sid, SAM: sam, st: st})
					if st.Effect != "Allow" {
						continue
					}
					acts, ress := st.Action, st.Resource
					if acts == nil {
						acts = []string{"NotAction:[" + strings.Join(st.NotAction, ", ") + "]"}
					}
					if ress == nil {
						ress = []string{"NotResource:[" + strings.Join(st.NotResource, ", ") + "]"}
					}
					for _, a := range acts {
						for _, r := range ress {
							s.grants = append(s.grants, lpGrant{lpKey{principal, a, norm(r)}, sid})
						}
					}
				}
			}
			return nil
		}
		for _, f := range tpl.Functions {
			if err := add(f.LogicalID, f.PolicyDocuments, false); err != nil {
				return nil, err
			}
			if err := add(f.LogicalID, f.ImplicitPolicyDocuments, true); err != nil {
				return nil, err
			}
			for _, m := range f.ManagedPolicyArns {
				s.grants = append(s.grants, lpGrant{lpKey{f.LogicalID, managedPolicyAction, m}, "added by SAM"})
			}
		}
		for _, sm := range tpl.StateMachines {
			if err := add(sm.LogicalID, sm.PolicyDocuments, false); err != nil {
				return nil, err
			}
			for _, m := range sm.ManagedPolicyArns {
				s.grants = append(s.grants, lpGrant{lpKey{sm.LogicalID, managedPolicyAction, m}, "managed policy"})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// agentRoleArn is the role RegisterCluster passes: the managed role, or
// ExistingAgentRoleArn.
func agentRoleArn(t *template.Template) string {
	p := t.Parameters
	if p["AgentRoleMode"] == "existing" {
		return p["ExistingAgentRoleArn"]
	}
	return "arn:" + p["AWS::Partition"] + ":iam::" + p["AWS::AccountId"] + ":role" + p["AgentRolePath"] + p["AgentRoleName"]
}

// normalizer rewrites a resource ARN of this stack with the template's names:
// ${X.Arn} for its functions, state machines and queues,
// ${X.Name} for state machine names, ${AgentRoleArn}, ${KmsKeyArn},
// ${ParameterPrefix}, ${EventBusName}, ${AWS::Region}, ${AWS::AccountId}.
func normalizer(t *template.Template) func(string) string {
	type pair struct{ old, new string }
	var pairs []pair
	for _, f := range t.Functions {
		pairs = append(pairs, pair{f.Arn, "${" + f.LogicalID + ".Arn}"})
	}
	for _, sm := range t.StateMachines {
		pairs = append(pairs, pair{sm.Arn, "${" + sm.LogicalID + ".Arn}"})
	}
	for _, q := range t.Queues {
		pairs = append(pairs, pair{q.Arn, "${" + q.LogicalID + ".Arn}"})
	}
	if a := agentRoleArn(t); a != "" {
		pairs = append(pairs, pair{a, "${AgentRoleArn}"})
	}
	p := t.Parameters
	if k := p["KmsKeyArn"]; k != "" {
		pairs = append(pairs, pair{k, "${KmsKeyArn}"})
	}
	for _, sm := range t.StateMachines {
		pairs = append(pairs, pair{":" + sm.Name + ":", ":${" + sm.LogicalID + ".Name}:"})
	}
	if pre := p["ParameterPrefix"]; pre != "" {
		pairs = append(pairs, pair{":parameter" + pre + "/", ":parameter${ParameterPrefix}/"})
	}
	if bus := p["EventBusName"]; bus != "" {
		pairs = append(pairs, pair{":event-bus/" + bus, ":event-bus/${EventBusName}"})
	}
	pairs = append(pairs,
		pair{":" + p["AWS::Region"] + ":", ":${AWS::Region}:"},
		pair{":" + p["AWS::AccountId"] + ":", ":${AWS::AccountId}:"})
	return func(s string) string {
		for _, pr := range pairs {
			if pr.old == "" || pr.old == ":" || pr.old == "::" {
				continue
			}
			s = strings.ReplaceAll(s, pr.old, pr.new)
		}
		return s
	}
}

// ------------------------------------------------------------ static checks

// TestTemplatePoliciesAreScoped checks every policy of template.yaml, in
// every stack configuration, for what needs no scenario.
func TestTemplatePoliciesAreScoped(t *testing.T) {
	stacks, err := loadStacks()
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range staticProblems(stacks) {
		t.Error(problem)
	}
}

func staticProblems(stacks []*lpStack) []string {
	seen := map[string]bool{}
	var out []string
	report := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range activationCodeProblems(stacks) {
		report(p)
	}
	for _, s := range stacks {
		agent := agentRoleArn(s.tpl)
		for _, st := range s.stmts {
			if st.st.Effect != "Allow" {
				continue
			}
			where := fmt.Sprintf("%s, statement %s (%s parameters)", st.Principal, st.Sid, s.cfg.Name)
			if st.st.NotAction != nil {
				report(fmt.Sprintf("%s allows NotAction %v, which grants every other action: list the actions it needs in Action instead.", where, st.st.NotAction))
			}
			if st.st.NotResource != nil {
				report(fmt.Sprintf("%s allows on NotResource %v, which grants every other resource: list the resources in Resource instead.", where, st.st.NotResource))
			}
			for _, a := range st.st.Action {
				switch {
				case a == "*":
					report(fmt.Sprintf("%s grants Action \"*\" (every action of every service): name the actions it needs.", where))
				case strings.ContainsAny(a, "*?"):
					report(fmt.Sprintf("%s grants the wildcard action %q: name the actions it needs instead.", where, a))
				}
			}
			if slices.Contains(st.st.Resource, "*") {
				var bad []string
				for _, a := range st.st.Action {
					if !noResourceLevel(a) {
						bad = append(bad, a)
					}
				}
				if len(bad) > 0 {
					report(fmt.Sprintf("%s grants %s on Resource \"*\", but %s resource-level permissions: scope the resource to ARNs, "+
						"(the IAM service authorization reference, localcloud/policy/reference, lists resource types for it).",
						where, strings.Join(bad, ", "), map[bool]string{true: "that action has", false: "those actions have"}[len(bad) == 1]))
				}
			}
			passes := false
			for _, a := range st.st.Action {
				if ok, _ := path.Match(strings.ToLower(a), "iam:passrole"); ok {
					passes = true
				}
			}
			if passes {
				for _, r := range st.st.Resource {
					if r != agent {
						report(fmt.Sprintf("%s allows iam:PassRole on %q: iam:PassRole must be limited to the agent role %s, with no wildcard.", where, r, agent))
					}
				}
			}
		}
		for _, g := range s.grants {
			if g.Action != managedPolicyAction {
				continue
			}
			if _, ok := allowlisted(g.lpKey); !ok {
				report(fmt.Sprintf("%s has the managed policy %s attached (%s parameters): its permissions cannot be measured or scoped here; "+
					"write the statements it needs inline in template.yaml instead.", g.Principal, g.Resource, s.cfg.Name))
			}
		}
	}
	return out
}

// codeReaders are the SSM actions that return a parameter's value (with
// the default aws/ssm key, anyone allowed to read a SecureString can decrypt
// it). GetParametersByPath is authorized on the path, and a grant on a path
// covers every level below it, so it is checked on every folder above the
// code too.
var codeReaders = []string{"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"}

// codeWriter is the one principal that may write the activation code.
const codeWriter = "RegisterClusterFunction"

// activationCodeProblems: no principal may read <prefix>/clusters/<name>/activation-code
// (or list a folder above it), and only codeWriter may write it.
func activationCodeProblems(stacks []*lpStack) []string {
	var out []string
	for _, s := range stacks {
		p := s.tpl.Parameters
		base := "arn:" + p["AWS::Partition"] + ":ssm:" + p["AWS::Region"] + ":" + p["AWS::AccountId"] + ":parameter"
		code := strings.TrimRight(p["ParameterPrefix"], "/") + "/clusters/edge-1/activation-code"
		codeArn := base + code
		var folders []string // every folder above the code: /a, /a/clusters, /a/clusters/edge-1
		for i := 1; i < len(code); i++ {
			if code[i] == '/' {
				folders = append(folders, base+code[:i])
			}
		}
		for _, st := range s.stmts {
			if st.st.Effect != "Allow" {
				continue
			}
			where := fmt.Sprintf("%s, statement %s (%s parameters)", st.Principal, st.Sid, s.cfg.Name)
			for _, a := range codeReaders {
				if !stmtAllowsAction(st.st, a) {
					continue
				}
				if r, ok := stmtAllowsResource(st.st, codeArn); ok {
					out = append(out, fmt.Sprintf("%s grants %s on %q, which matches the activation code %s: no function may read the code; "+
						"grant reads on the records by name (clusters/*/intent, clusters/*/activation).", where, a, r, codeArn))
				}
				if a != "ssm:GetParametersByPath" {
					continue
				}
				for _, f := range folders {
					if r, ok := stmtAllowsResource(st.st, f); ok {
						out = append(out, fmt.Sprintf("%s grants %s on %q, which matches the folder %s above the activation code: listing it returns the code.", where, a, r, f))
					}
				}
			}
			if st.Principal != codeWriter && stmtAllowsAction(st.st, "ssm:PutParameter") {
				if r, ok := stmtAllowsResource(st.st, codeArn); ok {
					out = append(out, fmt.Sprintf("%s grants ssm:PutParameter on %q, which matches the activation code %s: only %s may write it.", where, r, codeArn, codeWriter))
				}
			}
		}
	}
	return out
}

func stmtAllowsAction(st policy.Statement, action string) bool {
	if st.NotAction != nil {
		return !slices.ContainsFunc(st.NotAction, func(p string) bool { return iamMatch(strings.ToLower(p), strings.ToLower(action)) })
	}
	return slices.ContainsFunc(st.Action, func(p string) bool { return iamMatch(strings.ToLower(p), strings.ToLower(action)) })
}

// stmtAllowsResource reports whether the statement covers arn, and by which pattern.
func stmtAllowsResource(st policy.Statement, arn string) (string, bool) {
	if st.NotResource != nil {
		if slices.ContainsFunc(st.NotResource, func(p string) bool { return iamMatch(p, arn) }) {
			return "", false
		}
		return "NotResource:[" + strings.Join(st.NotResource, ", ") + "]", true
	}
	for _, r := range st.Resource {
		if iamMatch(r, arn) {
			return r, true
		}
	}
	return "", false
}

// iamMatch is IAM's string wildcard match: * any run of characters
// (slashes included), ? exactly one.
func iamMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if iamMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && iamMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && iamMatch(pattern[1:], s[1:])
}

func allowlisted(k lpKey) (allowEntry, bool) {
	for _, a := range leastPrivilegeAllowlist {
		if a.matches(k) {
			return a, true
		}
	}
	return allowEntry{}, false
}

// ---------------------------------------------------------- measured check

// lpRow is one row of the table: a grant, where it holds, whether a scenario
// needed it.
type lpRow struct {
	lpKey
	When       string
	Statements []string
	Used       bool
	Allow      *allowEntry
}

func lpRows(stacks []*lpStack, used map[lpKey]bool) []lpRow {
	in := map[lpKey]map[string]bool{}
	stmts := map[lpKey][]string{}
	var order []lpKey
	for _, s := range stacks {
		for _, g := range s.grants {
			if in[g.lpKey] == nil {
				in[g.lpKey] = map[string]bool{}
				order = append(order, g.lpKey)
			}
			in[g.lpKey][s.cfg.Name] = true
			if !slices.Contains(stmts[g.lpKey], g.Statement) {
				stmts[g.lpKey] = append(stmts[g.lpKey], g.Statement)
			}
		}
	}
	// Principals in template order (functions, then state machines);
	// within one, the order of the statements.
	rank := map[string]int{}
	for i, k := range order {
		if _, ok := rank[k.Principal]; !ok {
			rank[k.Principal] = i
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return rank[order[i].Principal] < rank[order[j].Principal] })
	var rows []lpRow
	for _, k := range order {
		m := in[k]
		when := "always"
		switch {
		case m["managed"] && m["existing"]:
		case m["managed"]:
			when = "managed role"
		case m["existing"]:
			when = "existing role"
		case m["kms"]:
			when = "KmsKeyArn set"
		case m["boundary"]:
			when = "managed role with AgentRolePermissionsBoundary"
		}
		r := lpRow{lpKey: k, When: when, Statements: stmts[k], Used: used[k]}
		if !r.Used {
			if a, ok := allowlisted(k); ok {
				r.Allow = &a
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// measuredProblems: grants no scenario needed and no allowlist entry covers,
// and allowlist entries that cover nothing unused.
func measuredProblems(rows []lpRow) []string {
	var out []string
	hits := make([]int, len(leastPrivilegeAllowlist))
	for _, r := range rows {
		if r.Used {
			continue
		}
		matched := false
		for i, a := range leastPrivilegeAllowlist {
			if a.matches(r.lpKey) {
				hits[i]++
				matched = true
			}
		}
		if !matched {
			out = append(out, fmt.Sprintf("%s is granted %s on %s (statement %s; %s) but no scenario needed it: "+
				"remove it from template.yaml, add a scenario that needs it, or, if no scenario can, allowlist it with the reason in e2e/leastprivilege_allowlist_test.go.",
				r.Principal, r.Action, r.Resource, strings.Join(r.Statements, ", "), r.When))
		}
	}
	for i, n := range hits {
		if n == 0 {
			out = append(out, fmt.Sprintf("the least-privilege allowlist entry %q matches no unneeded grant any more (the template lost it, or a scenario now needs it): "+
				"remove it from e2e/leastprivilege_allowlist_test.go.", leastPrivilegeAllowlist[i].String()))
		}
	}
	return out
}

// lpTable renders the rows as the Markdown that goes into README.md: one row
// per granted (action, resource), then the allowlist's reasons, numbered.
func lpTable(rows []lpRow) string {
	var b strings.Builder
	b.WriteString("| Principal | Action | Resource | When | Needed by a scenario |\n")
	b.WriteString("|---|---|---|---|---|\n")
	notes := map[string]int{}
	var why []string
	var lastP, lastA string
	for _, r := range rows {
		p, a := r.Principal, r.Action
		if p == lastP && a == lastA {
			a = ""
		}
		if p == lastP {
			p = ""
		}
		lastP, lastA = r.Principal, r.Action
		used := "yes"
		if !r.Used {
			if r.Allow != nil {
				n, ok := notes[r.Allow.Why]
				if !ok {
					why = append(why, r.Allow.Why)
					n = len(why)
					notes[r.Allow.Why] = n
				}
				used = fmt.Sprintf("no, allowlisted (%d)", n)
			} else {
				used = "**no: not needed, remove it**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(p, false), mdCell(a, a != managedPolicyAction),
			mdCell(r.Resource, true), r.When, used)
	}
	b.WriteString("\nAllowlisted: granted, but no scenario on the local cloud can show the need.\n\n")
	for i, w := range why {
		fmt.Fprintf(&b, "%d. %s.\n", i+1, w)
	}
	b.WriteString("\n`${AgentRoleArn}` is `arn:${AWS::Partition}:iam::${AWS::AccountId}:role${AgentRolePath}${AgentRoleName}` " +
		"with the managed role, `ExistingAgentRoleArn` with an existing one. Generated by `make readme` from the " +
		"scenarios in `e2e/`; `go test ./e2e/` fails when this table is stale.\n")
	return b.String()
}

func mdCell(s string, code bool) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	if code {
		return "`" + s + "`"
	}
	return s
}

// ---------------------------------------------------------------- README

const (
	readmeBegin = "<!-- least-privilege:begin -->"
	readmeEnd   = "<!-- least-privilege:end -->"
)

// readmeWithTable returns README.md's text with table between the markers.
func readmeWithTable(readme, table string) (string, error) {
	i := strings.Index(readme, readmeBegin)
	j := strings.Index(readme, readmeEnd)
	if i < 0 || j < i {
		return "", errors.New("README.md has no " + readmeBegin + " … " + readmeEnd + " markers: add them to its Security section, then run `make readme`")
	}
	return readme[:i+len(readmeBegin)] + "\n" + table + readme[j:], nil
}

// checkLeastPrivilege runs after the full scenario set passed. It prints the
// table; with update it writes it into README.md, else it checks README.md
// holds it. It returns the failures, each a sentence.
func checkLeastPrivilege(update bool) []string {
	stacks, err := loadStacks()
	if err != nil {
		return []string{err.Error()}
	}
	lpCollector.mu.Lock()
	used := make(map[lpKey]bool, len(lpCollector.used))
	for k := range lpCollector.used {
		used[k] = true
	}
	clouds := lpCollector.clouds
	lpCollector.mu.Unlock()
	if clouds == 0 {
		return []string{"no scenario recorded its permission checks: start() in e2e/harness_test.go must register recordPolicies"}
	}
	rows := lpRows(stacks, used)
	table := lpTable(rows)
	fmt.Printf("least privilege, measured over %d scenario clouds:\n\n%s\n", clouds, table)

	problems := staticProblems(stacks)
	problems = append(problems, measuredProblems(rows)...)

	readmePath := filepath.Join(app.RepoRoot(), "README.md")
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		return append(problems, fmt.Sprintf("reading README.md for its least-privilege table: %v", err))
	}
	want, err := readmeWithTable(string(raw), table)
	if err != nil {
		return append(problems, err.Error())
	}
	switch {
	case want == string(raw):
	case update:
		if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
			problems = append(problems, fmt.Sprintf("writing README.md: %v", err))
		} else {
			fmt.Println("README.md: least-privilege table updated")
		}
	default:
		problems = append(problems, "README.md's least-privilege table is stale: run `make readme`")
	}
	return problems
}

// The static checks catch what they promise to, on a synthetic template.
func TestStaticChecksCatchBroadGrants(t *testing.T) {
	tpl := &template.Template{Parameters: map[string]string{"AgentRoleMode": "managed", "AWS::Partition": "aws",
		"AWS::AccountId": "123456789012", "AgentRolePath": "/", "AgentRoleName": "Agent"}}
	allow := func(acts, ress []string) lpStatement {
		return lpStatement{Principal: "Fn", Sid: "S", st: policy.Statement{Effect: "Allow", Action: acts, Resource: ress}}
	}
	for _, c := range []struct {
		st   lpStatement
		want string // in one of the problems; "" for none
	}{
		{allow([]string{"*"}, []string{"arn:aws:s3:::b"}), `Action "*"`},
		{allow([]string{"ssm:*"}, []string{"arn:aws:ssm:us-east-1:123456789012:parameter/x"}), `wildcard action "ssm:*"`},
		{allow([]string{"ssm:GetParameter"}, []string{"*"}), `ssm:GetParameter on Resource "*"`},
		{allow([]string{"ssm:CreateActivation"}, []string{"*"}), ""},
		{allow([]string{"iam:PassRole"}, []string{"arn:aws:iam::123456789012:role/*"}), "limited to the agent role"},
		{allow([]string{"iam:PassRole"}, []string{"arn:aws:iam::123456789012:role/Agent"}), ""},
		{lpStatement{Principal: "Fn", Sid: "S", st: policy.Statement{Effect: "Allow", NotAction: []string{"iam:*"}, Resource: []string{"*"}}}, "NotAction"},
	} {
		got := staticProblems([]*lpStack{{cfg: lpConfig{Name: "test"}, tpl: tpl, stmts: []lpStatement{c.st}}})
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%v: unexpected problems %q", c.st.st, got)
		case c.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, c.want) }):
			t.Errorf("%v: problems %q, want one saying %q", c.st.st, got, c.want)
		}
	}
}

// The activation-code check catches every way a grant can reach the code, on
// a synthetic stack, and passes the by-name grants the template uses.
func TestActivationCodeCheckCatchesReadersAndWriters(t *testing.T) {
	tpl := &template.Template{Parameters: map[string]string{"AWS::Partition": "aws", "AWS::Region": "us-east-1",
		"AWS::AccountId": "123456789012", "ParameterPrefix": "/ecr"}}
	const arn = "arn:aws:ssm:us-east-1:123456789012:parameter"
	st := func(principal string, acts, ress []string) lpStatement {
		return lpStatement{Principal: principal, Sid: "S", st: policy.Statement{Effect: "Allow", Action: acts, Resource: ress}}
	}
	for _, c := range []struct {
		name string
		st   lpStatement
		want string // in one of the problems; "" for none
	}{
		{"read on the cluster folder", st("CheckClusterFunction", []string{"ssm:GetParameter"}, []string{arn + "/ecr/clusters/*"}), "ssm:GetParameter on"},
		{"wildcard read action", st("CleanupFunction", []string{"ssm:Get*"}, []string{arn + "/ecr/clusters/*/activation-code"}), "ssm:GetParameterHistory"},
		{"batch read", st("CleanupFunction", []string{"ssm:GetParameters"}, []string{arn + "/ecr/*"}), "ssm:GetParameters on"},
		{"listing a folder above the code", st("CleanupFunction", []string{"ssm:GetParametersByPath"}, []string{arn + "/ecr/clusters/*"}), "folder"},
		{"listing the prefix", st("CleanupFunction", []string{"ssm:GetParametersByPath"}, []string{arn + "/ecr"}), "folder"},
		{"the writer reading its code back", st(codeWriter, []string{"ssm:GetParameter"}, []string{arn + "/ecr/clusters/*"}), "no function may read"},
		{"another writer", st("TriggerFunction", []string{"ssm:PutParameter"}, []string{arn + "/ecr/clusters/*"}), "only RegisterClusterFunction"},
		{"NotResource", lpStatement{Principal: "CleanupFunction", Sid: "S", st: policy.Statement{Effect: "Allow", Action: []string{"ssm:GetParameter"}, NotResource: []string{arn + "/ecr/locks/*"}}}, "NotResource"},
		{"the writer writing", st(codeWriter, []string{"ssm:PutParameter"}, []string{arn + "/ecr/clusters/*/activation-code"}), ""},
		{"reads by name", st("CheckClusterFunction", []string{"ssm:GetParameter"}, []string{arn + "/ecr/clusters/*/intent", arn + "/ecr/clusters/*/activation"}), ""},
		{"deleting the code", st("CleanupFunction", []string{"ssm:DeleteParameters"}, []string{arn + "/ecr/clusters/*/activation-code"}), ""},
		{"the lock folder", st("TriggerFunction", []string{"ssm:GetParametersByPath", "ssm:GetParameter", "ssm:PutParameter"}, []string{arn + "/ecr/locks/*"}), ""},
	} {
		got := activationCodeProblems([]*lpStack{{cfg: lpConfig{Name: "test"}, tpl: tpl, stmts: []lpStatement{c.st}}})
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: unexpected problems %q", c.name, got)
		case c.want != "" && !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, c.want) }):
			t.Errorf("%s: problems %q, want one saying %q", c.name, got, c.want)
		}
	}
}
