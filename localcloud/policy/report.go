package policy

import (
	"fmt"
	"strings"
)

// Report renders the least-privilege report in Markdown: one table of every
// granted (action, resource) pair per principal with how many allowed checks
// needed it ("no" marks a grant a tighter policy could drop), then a table
// of every statement of the resource-based policies with how many allowed
// checks it took part in, then a table of the denied checks (permissions the
// policies lack, or deny) with why.
func (e *Engine) Report() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	b.WriteString("## Granted permissions\n\n")
	b.WriteString("| Principal | Action | Resource | Statement | Used |\n")
	b.WriteString("|---|---|---|---|---|\n")
	var lastP, lastA string
	for _, g := range e.grantsLocked() {
		p, a := g.Principal, g.Action
		if p == lastP && a == lastA {
			a = ""
		}
		if p == lastP {
			p = ""
		}
		lastP, lastA = g.Principal, g.Action
		used := "**no**"
		if n := e.used[g]; n > 0 {
			used = fmt.Sprintf("yes (%d)", n)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n",
			cell(p), cell(a), cell(g.Resource), cell(g.Policy+"/"+g.Sid), used)
	}
	if len(e.resources) > 0 {
		b.WriteString("\n## Resource-based policies\n\n")
		b.WriteString("| Resource | Statement | Effect | Principal | Action | Used |\n")
		b.WriteString("|---|---|---|---|---|---|\n")
		for _, arn := range e.resOrder {
			rp, ok := e.resources[arn]
			if !ok {
				continue
			}
			for i, st := range rp.pol.Statements {
				used := "**no**"
				if n := rp.used[i]; n > 0 {
					used = fmt.Sprintf("yes (%d)", n)
				} else if st.Effect == "Deny" {
					used = "-"
				}
				acts := strings.Join(st.Action, ", ")
				if st.Action == nil {
					acts = notForm("NotAction", st.NotAction)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(arn), cell(stmtID(rp.pol, i)), st.Effect,
					cell(principalText(st)), cell(acts), used)
			}
		}
	}
	var denied []Check
	for _, c := range e.checks {
		if !c.Allowed {
			denied = append(denied, c)
		}
	}
	if len(denied) > 0 {
		b.WriteString("\n## Denied checks\n\n")
		b.WriteString("| Principal | Action | Resource | Why | Count |\n")
		b.WriteString("|---|---|---|---|---|\n")
		for _, c := range denied {
			why := "no policy allows it"
			switch {
			case c.MatchedStatement != "":
				why = "denied by " + c.MatchedStatement
			case c.Why != "":
				why = c.Why
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n",
				cell(c.Principal), cell(c.Action), cell(c.Resource), cell(why), c.Count)
		}
	}
	return b.String()
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// principalText renders a statement's Principal or NotPrincipal.
func principalText(st Statement) string {
	ps, prefix := st.Principal, ""
	if ps == nil {
		ps, prefix = st.NotPrincipal, "NotPrincipal "
	}
	if ps == nil {
		return ""
	}
	if ps.All {
		return prefix + "*"
	}
	var parts []string
	for _, k := range []struct {
		kind string
		l    []string
	}{{"AWS", ps.AWS}, {"Service", ps.Service}, {"Federated", ps.Federated}, {"CanonicalUser", ps.CanonicalUser}} {
		if len(k.l) > 0 {
			parts = append(parts, k.kind+": "+strings.Join(k.l, ", "))
		}
	}
	return prefix + strings.Join(parts, "; ")
}
