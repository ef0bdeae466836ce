package asl

import (
	"fmt"
	"strconv"
	"strings"
)

// The JSONPath subset ASL needs: `$` (or `$$` for the context object),
// `.name` (names may hold any character but `.` and `[`, so `$.detail-type`
// works as on AWS), `['name']` / `["name"]`, `[n]` (negative counts from the
// end), `[*]` / `.*`, and slices `[a:b]`. Recursive descent (`..`), unions and
// filter expressions are refused with a clear error.

type segKind int

const (
	segName segKind = iota
	segIndex
	segWildcard
	segSlice
)

type pathSeg struct {
	kind       segKind
	name       string
	index      int
	start, end *int
}

type jpath struct {
	raw     string
	context bool // starts with $$
	segs    []pathSeg
}

// definite reports whether the path selects at most one node.
func (p *jpath) definite() bool {
	for _, s := range p.segs {
		if s.kind == segWildcard || s.kind == segSlice {
			return false
		}
	}
	return true
}

// reference reports whether p is a Reference Path (usable as ResultPath).
func (p *jpath) reference() bool { return !p.context && p.definite() }

func parsePath(s string) (*jpath, error) {
	p := &jpath{raw: s}
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q must begin with '$'", s)
	}
	i := 1
	if strings.HasPrefix(s, "$$") {
		p.context = true
		i = 2
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				return nil, fmt.Errorf("path %q: recursive descent '..' is not supported", s)
			}
			i++
			if i < len(s) && s[i] == '*' {
				p.segs = append(p.segs, pathSeg{kind: segWildcard})
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] != '.' && s[j] != '[' {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("path %q: empty field name at offset %d", s, i)
			}
			p.segs = append(p.segs, pathSeg{kind: segName, name: s[i:j]})
			i = j
		case '[':
			i++
			if i >= len(s) {
				return nil, fmt.Errorf("path %q: unterminated '['", s)
			}
			switch c := s[i]; {
			case c == '\'' || c == '"':
				var b strings.Builder
				j := i + 1
				for ; j < len(s) && s[j] != c; j++ {
					if s[j] == '\\' && j+1 < len(s) {
						j++
					}
					b.WriteByte(s[j])
				}
				if j >= len(s) || j+1 >= len(s) || s[j+1] != ']' {
					if j+1 < len(s) && s[j+1] == ',' {
						return nil, fmt.Errorf("path %q: unions are not supported", s)
					}
					return nil, fmt.Errorf("path %q: bad quoted name", s)
				}
				p.segs = append(p.segs, pathSeg{kind: segName, name: b.String()})
				i = j + 2
			case c == '?' || c == '(':
				return nil, fmt.Errorf("path %q: filter and script expressions are not supported", s)
			default:
				j := strings.IndexByte(s[i:], ']')
				if j < 0 {
					return nil, fmt.Errorf("path %q: unterminated '['", s)
				}
				body := strings.TrimSpace(s[i : i+j])
				i += j + 1
				switch {
				case body == "*":
					p.segs = append(p.segs, pathSeg{kind: segWildcard})
				case strings.Contains(body, ","):
					return nil, fmt.Errorf("path %q: unions are not supported", s)
				case strings.Contains(body, ":"):
					parts := strings.Split(body, ":")
					if len(parts) > 2 {
						return nil, fmt.Errorf("path %q: slice steps are not supported", s)
					}
					seg := pathSeg{kind: segSlice}
					for k, ptr := range []**int{&seg.start, &seg.end} {
						if t := strings.TrimSpace(parts[k]); t != "" {
							n, err := strconv.Atoi(t)
							if err != nil {
								return nil, fmt.Errorf("path %q: bad slice bound %q", s, t)
							}
							*ptr = &n
						}
					}
					p.segs = append(p.segs, seg)
				default:
					n, err := strconv.Atoi(body)
					if err != nil {
						return nil, fmt.Errorf("path %q: bad array index %q", s, body)
					}
					p.segs = append(p.segs, pathSeg{kind: segIndex, index: n})
				}
			}
		default:
			return nil, fmt.Errorf("path %q: unexpected character %q at offset %d", s, s[i], i)
		}
	}
	return p, nil
}

// get evaluates the path on data. A definite path returns the one node or
// ok=false; an indefinite path returns the (possibly empty) list of matches.
func (p *jpath) get(data any) (any, bool) {
	if p.definite() {
		cur := data
		for _, s := range p.segs {
			switch s.kind {
			case segName:
				var ok bool
				cur, ok = lookup(cur, s.name)
				if !ok {
					return nil, false
				}
			case segIndex:
				a, ok := cur.([]any)
				if !ok {
					return nil, false
				}
				i := s.index
				if i < 0 {
					i += len(a)
				}
				if i < 0 || i >= len(a) {
					return nil, false
				}
				cur = a[i]
			}
		}
		return cur, true
	}
	nodes := []any{data}
	for _, s := range p.segs {
		var next []any
		for _, n := range nodes {
			switch s.kind {
			case segName:
				if v, ok := lookup(n, s.name); ok {
					next = append(next, v)
				}
			case segIndex:
				if a, ok := n.([]any); ok {
					i := s.index
					if i < 0 {
						i += len(a)
					}
					if i >= 0 && i < len(a) {
						next = append(next, a[i])
					}
				}
			case segWildcard:
				switch c := n.(type) {
				case []any:
					next = append(next, c...)
				case *object, map[string]any:
					o, _ := asObject(c)
					for _, k := range o.keys {
						next = append(next, o.vals[k])
					}
				}
			case segSlice:
				if a, ok := n.([]any); ok {
					lo, hi := 0, len(a)
					if s.start != nil {
						lo = clampIndex(*s.start, len(a))
					}
					if s.end != nil {
						hi = clampIndex(*s.end, len(a))
					}
					for i := lo; i < hi; i++ {
						next = append(next, a[i])
					}
				}
			}
		}
		nodes = next
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, true
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	if i < 0 {
		return 0
	}
	if i > n {
		return n
	}
	return i
}

// set returns a copy of root with val placed at the reference path p,
// creating intermediate objects. Only the containers along the path are
// copied; the rest is shared (values are never mutated in place).
func (p *jpath) set(root, val any) (any, error) {
	return setAt(root, true, p.segs, val, p.raw)
}

func setAt(cur any, exists bool, segs []pathSeg, val any, raw string) (any, error) {
	if len(segs) == 0 {
		return val, nil
	}
	s := segs[0]
	switch s.kind {
	case segName:
		// An existing field keeps its place; a new one goes at the end.
		var m *object
		if c, ok := asObject(cur); ok {
			m = c.clone()
		} else {
			if exists {
				return nil, fmt.Errorf("unable to apply ResultPath %q: field %q is not inside an object (found %s)", raw, s.name, jsonType(cur))
			}
			m = newObject(1)
		}
		child, ok := m.get(s.name)
		nv, err := setAt(child, ok, segs[1:], val, raw)
		if err != nil {
			return nil, err
		}
		m.set(s.name, nv)
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		i := s.index
		if ok && i < 0 {
			i += len(a)
		}
		if !ok || i < 0 || i >= len(a) {
			return nil, fmt.Errorf("unable to apply ResultPath %q: index %d does not exist", raw, s.index)
		}
		na := append([]any(nil), a...)
		nv, err := setAt(a[i], true, segs[1:], val, raw)
		if err != nil {
			return nil, err
		}
		na[i] = nv
		return na, nil
	}
	return nil, fmt.Errorf("ResultPath %q is not a reference path", raw)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *object, map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return "number"
	}
}

// PathStep is one step of a definite path: a name, or (IsIndex) an array
// index, negative counting from the end.
type PathStep struct {
	Name    string
	Index   int
	IsIndex bool
}

// DefinitePath parses s with the engine's JSONPath syntax and returns its
// steps when it selects at most one node of the input: `$`, not `$$`; no
// wildcards or slices. It is for services that read a narrower subset of the
// same syntax (EventBridge's InputPath and InputPathsMap), which check the
// steps further themselves.
func DefinitePath(s string) ([]PathStep, error) {
	p, err := parsePath(s)
	if err != nil {
		return nil, err
	}
	if p.context {
		return nil, fmt.Errorf("path %q: the context object $$ is not available here", s)
	}
	if !p.definite() {
		return nil, fmt.Errorf("path %q: wildcards and slices are not allowed here", s)
	}
	steps := make([]PathStep, len(p.segs))
	for i, seg := range p.segs {
		steps[i] = PathStep{Name: seg.name, Index: seg.index, IsIndex: seg.kind == segIndex}
	}
	return steps, nil
}
