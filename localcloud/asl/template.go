package asl

import (
	"fmt"
	"strings"
)

// A payload template (Parameters, ItemSelector, ResultSelector) compiled at
// Parse time: keys ending in ".$" hold a path (`$…` on the input, `$$…` on the
// context object) or an intrinsic function call.

type tmplKind int

const (
	tmplLiteral tmplKind = iota
	tmplObject
	tmplArray
)

type tmplField struct {
	key     string // output key (".$" stripped for dynamic fields)
	srcKey  string // key as written
	val     *tmpl  // static sub-template
	path    *jpath // dynamic: path
	fn      *intrinsic
	dynamic bool
}

type tmpl struct {
	kind   tmplKind
	lit    any
	fields []tmplField
	items  []*tmpl
}

func compileTemplate(v any, where string, problems *[]string) *tmpl {
	if o, ok := asObject(v); ok {
		// The template's own key order: the payload is built in it.
		t := &tmpl{kind: tmplObject}
		for _, k := range o.keys {
			val := o.vals[k]
			if strings.HasSuffix(k, ".$") {
				f := tmplField{key: strings.TrimSuffix(k, ".$"), srcKey: k, dynamic: true}
				s, ok := val.(string)
				if !ok {
					*problems = append(*problems, fmt.Sprintf("%s: field %q ends in \".$\" so its value must be a path or intrinsic function string", where, k))
					continue
				}
				var err error
				if isIntrinsic(s) {
					f.fn, err = parseIntrinsic(s)
				} else {
					f.path, err = parsePath(s)
				}
				if err != nil {
					*problems = append(*problems, fmt.Sprintf("%s: field %q: %v", where, k, err))
					continue
				}
				t.fields = append(t.fields, f)
				continue
			}
			t.fields = append(t.fields, tmplField{key: k, srcKey: k, val: compileTemplate(val, where, problems)})
		}
		return t
	}
	switch x := v.(type) {
	case []any:
		t := &tmpl{kind: tmplArray}
		for _, it := range x {
			t.items = append(t.items, compileTemplate(it, where, problems))
		}
		return t
	default:
		return &tmpl{kind: tmplLiteral, lit: v}
	}
}

func (t *tmpl) eval(env *ienv) (any, *stateErr) {
	switch t.kind {
	case tmplObject:
		out := newObject(len(t.fields))
		for _, f := range t.fields {
			if !f.dynamic {
				v, err := f.val.eval(env)
				if err != nil {
					return nil, err
				}
				out.set(f.key, v)
				continue
			}
			if f.fn != nil {
				v, err := f.fn.eval(env)
				if err != nil {
					return nil, err
				}
				out.set(f.key, v)
				continue
			}
			src := env.input
			if f.path.context {
				src = env.ctx
			}
			v, ok := f.path.get(src)
			if !ok {
				what := "input"
				if f.path.context {
					what = "context object"
				}
				return nil, runtimeErr("The JSONPath '%s' specified for the field '%s' could not be found in the %s '%s'", f.path.raw, f.srcKey, what, jsonText(src))
			}
			out.set(f.key, v)
		}
		return out, nil
	case tmplArray:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		return t.lit, nil
	}
}
