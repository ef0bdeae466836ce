package policy

import (
	"fmt"
	"strings"
)

// Report renders the least-privilege report in Markdown: one table of every
// granted (action, resource) pair per principal with how many allowed checks
// needed it ("no" marks a grant a tighter policy could drop), then a table
// of the denied checks (permissions the policies lack, or deny).
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
			if c.MatchedStatement != "" {
				why = "denied by " + c.MatchedStatement
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
