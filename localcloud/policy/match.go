package policy

import (
	"strings"
)

// pattern is an IAM wildcard pattern: '*' matches any run of characters,
// '?' exactly one, except where lit marks the character literal (it came
// from ${*}, ${?} or a substituted policy variable).
type pattern struct {
	r   []rune
	lit []bool // nil: no literal wildcards
}

func plain(s string) pattern { return pattern{r: []rune(s)} }

func (p pattern) wild(i int) bool {
	return (p.r[i] == '*' || p.r[i] == '?') && (p.lit == nil || !p.lit[i])
}

// match reports whether s matches the whole pattern (greedy two-pointer
// matching with backtracking to the last star: linear-ish, never
// exponential).
func (p pattern) match(s string) bool {
	t := []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p.r) && p.wild(pi) && p.r[pi] == '*':
			star, mark = pi, ti
			pi++
		case pi < len(p.r) && ((p.wild(pi) && p.r[pi] == '?') || (!p.wild(pi) && p.r[pi] == t[ti])):
			pi++
			ti++
		case star >= 0:
			mark++
			pi, ti = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p.r) && p.wild(pi) && p.r[pi] == '*' {
		pi++
	}
	return pi == len(p.r)
}

// lower folds ASCII letters (action names and ARNs' service parts are ASCII;
// folding only ASCII keeps the literal mask aligned).
func (p pattern) lower() pattern {
	r := make([]rune, len(p.r))
	for i, c := range p.r {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		r[i] = c
	}
	return pattern{r: r, lit: p.lit}
}

func asciiLower(s string) string {
	return string(plain(s).lower().r)
}

// slice returns p[i:j].
func (p pattern) slice(i, j int) pattern {
	q := pattern{r: p.r[i:j]}
	if p.lit != nil {
		q.lit = p.lit[i:j]
	}
	return q
}

// splitARN splits an ARN (or ARN pattern) into its six parts:
// arn:partition:service:region:account:resource. The resource part keeps
// any further colons. ok is false when there are fewer than five colons.
func (p pattern) splitARN() (parts [6]pattern, ok bool) {
	start, n := 0, 0
	for i, c := range p.r {
		if c == ':' && n < 5 {
			parts[n] = p.slice(start, i)
			n++
			start = i + 1
		}
	}
	if n < 5 {
		return parts, false
	}
	parts[5] = p.slice(start, len(p.r))
	return parts, true
}

// matchARN matches an ARN against an ARN pattern part by part, so a wildcard
// in one part (the region, say) never spans a colon into the next; the
// resource part may hold colons and wildcards match them there. When either
// side is not ARN-shaped (the resource "*", a pattern "*"), the whole
// strings are matched. Case-sensitive, as Resource and Arn* conditions are.
func matchARN(p pattern, s string) bool {
	pp, okp := p.splitARN()
	sp, oks := plain(s).splitARN()
	if !okp || !oks {
		return p.match(s)
	}
	for i := range pp {
		if !pp[i].match(string(sp[i].r)) {
			return false
		}
	}
	return true
}

// matchResource matches a request's resource against a Resource (or
// NotResource) pattern. An action without resource-level permissions is
// authorized against "*" (the SAR pages: "If there is no value for this
// column, you must specify all resources ("*") ... in the Resource
// element"), so that request matches only a pattern of wildcard stars: a
// pattern naming any ARN, however broad ("arn:aws:eks:*:*:cluster/*"),
// does not, and neither does "?" (which a plain wildcard match would let
// match the one character "*").
func matchResource(p pattern, resource string) bool {
	if resource != "*" {
		return matchARN(p, resource)
	}
	if len(p.r) == 0 {
		return false
	}
	for i := range p.r {
		if !(p.wild(i) && p.r[i] == '*') {
			return false
		}
	}
	return true
}

// matchAction matches an action ("ssm:GetParameter") against an action
// pattern case-insensitively.
func matchAction(pat, action string) bool {
	return plain(pat).lower().match(asciiLower(action))
}

// expand substitutes policy variables in a Resource or condition value
// when the policy's Version is 2012-10-17: ${key} becomes the request
// context's value for key (case-insensitive), ${key, 'default'} falls back
// to default, and ${*} ${?} ${$} are a literal *, ? and $. Substituted text
// is literal (its * and ? are not wildcards). ok is false when a variable
// has no value and no default: AWS then treats the element as not matching.
func expand(s string, vars bool, ctx map[string]string) (p pattern, ok bool) {
	if !vars || !strings.Contains(s, "${") {
		return plain(s), true
	}
	var r []rune
	var lit []bool
	add := func(text string, literal bool) {
		for _, c := range text {
			r = append(r, c)
			lit = append(lit, literal)
		}
	}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			add(s, false)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			add(s, false)
			break
		}
		add(s[:i], false)
		body := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		switch body {
		case "*", "?", "$":
			add(body, true)
			continue
		}
		key, def, hasDef := strings.Cut(body, ",")
		key = strings.TrimSpace(key)
		if v, present := ctx[strings.ToLower(key)]; present {
			add(v, true)
			continue
		}
		def = strings.TrimSpace(def)
		if hasDef && len(def) >= 2 && def[0] == '\'' && def[len(def)-1] == '\'' {
			add(def[1:len(def)-1], true)
			continue
		}
		return pattern{}, false
	}
	return pattern{r: r, lit: lit}, true
}
