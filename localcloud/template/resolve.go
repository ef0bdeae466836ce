package template

import (
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// noValue is what {"Ref": "AWS::NoValue"} resolves to: a map key or list
// element holding it is dropped.
type noValueT struct{}

var noValue = noValueT{}

// isIntrinsic reports whether m is a single-key intrinsic function call.
func isIntrinsic(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, v, true
		}
	}
	return "", nil, false
}

// resolve returns v with every intrinsic function evaluated. Map keys and list
// elements that resolve to AWS::NoValue are dropped; v itself may resolve to
// noValue.
func (l *loader) resolve(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if fn, arg, ok := isIntrinsic(x); ok {
			return l.intrinsic(fn, arg, path)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := l.resolve(e, joinPath(path, k))
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			r, err := l.resolve(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if r == noValue {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

// scalarString renders a resolved scalar as CloudFormation does when a string
// is expected.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func describe(v any) string {
	switch v.(type) {
	case noValueT:
		return "AWS::NoValue"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func (l *loader) resolveString(v any, path string) (string, error) {
	r, err := l.resolve(v, path)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(r)
	if !ok {
		return "", fmt.Errorf("%s: expected a string, got %s", path, describe(r))
	}
	return s, nil
}

func (l *loader) resolveList(v any, path string) ([]any, error) {
	r, err := l.resolve(v, path)
	if err != nil {
		return nil, err
	}
	list, ok := r.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a list, got %s", path, describe(r))
	}
	return list, nil
}

func argList(fn string, arg any, n int, path string) ([]any, error) {
	list, ok := arg.([]any)
	if !ok || (n >= 0 && len(list) != n) {
		return nil, fmt.Errorf("%s: %s takes a list of %d arguments", path, fn, n)
	}
	return list, nil
}

func (l *loader) intrinsic(fn string, arg any, path string) (any, error) {
	p := joinPath(path, fn)
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%s: Ref takes a logical ID or parameter name, got %s", p, describe(arg))
		}
		return l.ref(name, p)
	case "Fn::GetAtt":
		var args []any
		switch a := arg.(type) {
		case string:
			res, attr, ok := strings.Cut(a, ".")
			if !ok {
				return nil, fmt.Errorf("%s: %q is not Resource.Attribute", p, a)
			}
			args = []any{res, attr}
		case []any:
			args = a
		}
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: Fn::GetAtt takes [LogicalID, Attribute]", p)
		}
		res, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: Fn::GetAtt logical ID must be a literal string", p)
		}
		attr, err := l.resolveString(args[1], p+"[1]")
		if err != nil {
			return nil, err
		}
		return l.getAtt(res, attr, p)
	case "Fn::Sub":
		var tpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("%s: Fn::Sub takes a string or [string, {variables}]", p)
			}
			s, ok := a[0].(string)
			if !ok {
				return nil, fmt.Errorf("%s: Fn::Sub template must be a literal string", p)
			}
			tpl = s
			m, ok := a[1].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: Fn::Sub variables must be a mapping", p)
			}
			for k, v := range m {
				r, err := l.resolve(v, p+"[1]."+k)
				if err != nil {
					return nil, err
				}
				vars[k] = r
			}
		default:
			return nil, fmt.Errorf("%s: Fn::Sub takes a string or [string, {variables}]", p)
		}
		return l.sub(tpl, vars, p)
	case "Fn::If":
		args, err := argList(fn, arg, 3, p)
		if err != nil {
			return nil, err
		}
		name, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: Fn::If condition must be a condition name", p)
		}
		c, err := l.condition(name, p)
		if err != nil {
			return nil, err
		}
		if c {
			return l.resolve(args[1], p+"[1]")
		}
		return l.resolve(args[2], p+"[2]")
	case "Fn::Join":
		args, err := argList(fn, arg, 2, p)
		if err != nil {
			return nil, err
		}
		delim, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: Fn::Join delimiter must be a literal string", p)
		}
		list, err := l.resolveList(args[1], p+"[1]")
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(list))
		for i, e := range list {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("%s[1][%d]: expected a string, got %s", p, i, describe(e))
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		args, err := argList(fn, arg, 2, p)
		if err != nil {
			return nil, err
		}
		is, err := l.resolveString(args[0], p+"[0]")
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(is)
		if err != nil {
			return nil, fmt.Errorf("%s: Fn::Select index %q is not an integer", p, is)
		}
		list, err := l.resolveList(args[1], p+"[1]")
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("%s: Fn::Select index %d out of range (list has %d elements)", p, i, len(list))
		}
		return list[i], nil
	case "Fn::Split":
		args, err := argList(fn, arg, 2, p)
		if err != nil {
			return nil, err
		}
		delim, ok := args[0].(string)
		if !ok || delim == "" {
			return nil, fmt.Errorf("%s: Fn::Split delimiter must be a non-empty literal string", p)
		}
		s, err := l.resolveString(args[1], p+"[1]")
		if err != nil {
			return nil, err
		}
		var out []any
		for _, part := range strings.Split(s, delim) {
			out = append(out, part)
		}
		return out, nil
	case "Fn::FindInMap":
		args, err := argList(fn, arg, 3, p)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 3)
		for i, a := range args {
			if keys[i], err = l.resolveString(a, fmt.Sprintf("%s[%d]", p, i)); err != nil {
				return nil, err
			}
		}
		m, ok := l.mappings[keys[0]].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: no mapping %q", p, keys[0])
		}
		top, ok := m[keys[1]].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: mapping %s has no key %q", p, keys[0], keys[1])
		}
		v, ok := top[keys[2]]
		if !ok {
			return nil, fmt.Errorf("%s: mapping %s.%s has no key %q", p, keys[0], keys[1], keys[2])
		}
		return v, nil
	case "Fn::Base64":
		s, err := l.resolveString(arg, p)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return nil, fmt.Errorf("%s: %s is a condition function; use it under Conditions and refer to the condition with Fn::If", p, fn)
	}
	return nil, fmt.Errorf("%s: unsupported intrinsic function %s", p, fn)
}

// sub implements Fn::Sub: ${Param}, ${AWS::Pseudo}, ${Resource} (Ref),
// ${Resource.Attr} (GetAtt), ${Var} from the variables map, ${!Literal}.
func (l *loader) sub(tpl string, vars map[string]any, path string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tpl, "${")
		if i < 0 {
			b.WriteString(tpl)
			return b.String(), nil
		}
		b.WriteString(tpl[:i])
		rest := tpl[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "", fmt.Errorf("%s: unterminated ${ in %q", path, tpl)
		}
		name := rest[:j]
		tpl = rest[j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var val any
		var err error
		if v, ok := vars[name]; ok {
			val = v
		} else if res, attr, ok := strings.Cut(name, "."); ok {
			val, err = l.getAtt(res, attr, path)
		} else {
			val, err = l.ref(name, path)
		}
		if err != nil {
			return "", err
		}
		s, ok := scalarString(val)
		if !ok {
			return "", fmt.Errorf("%s: ${%s} is %s, not a string", path, name, describe(val))
		}
		b.WriteString(s)
	}
}

// ref resolves Ref: AWS::NoValue, pseudo parameters, template parameters, resources.
func (l *loader) ref(name, path string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue, nil
	}
	if name == "AWS::NotificationARNs" {
		return []any{}, nil
	}
	if v, ok := l.params[name]; ok {
		return v, nil
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, fmt.Errorf("%s: unsupported pseudo parameter %s", path, name)
	}
	r, err := l.resourceFor(name, path)
	if err != nil {
		return nil, err
	}
	return l.attribute(r, "", path)
}

func (l *loader) getAtt(id, attr, path string) (any, error) {
	r, err := l.resourceFor(id, path)
	if err != nil {
		return nil, err
	}
	if attr == "" {
		return nil, fmt.Errorf("%s: empty attribute name for %s", path, id)
	}
	return l.attribute(r, attr, path)
}

func (l *loader) resourceFor(id, path string) (*resource, error) {
	r, ok := l.res[id]
	if !ok {
		return nil, fmt.Errorf("%s: %q is neither a parameter nor a resource", path, id)
	}
	if !r.exists {
		return nil, fmt.Errorf("%s: resource %s is not created (its Condition %s is false)", path, id, r.condition)
	}
	return r, nil
}

// --- parameters, mappings, conditions ---

func (l *loader) loadParameters(decls map[string]any) error {
	for name := range l.o.Parameters {
		if _, ok := decls[name]; !ok {
			return fmt.Errorf("Parameters: override for %q, which the template does not declare", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		p := "Parameters." + name
		d, ok := decls[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", p)
		}
		typ, _ := d["Type"].(string)
		if typ == "" {
			return fmt.Errorf("%s: missing Type", p)
		}
		val, ok := l.o.Parameters[name]
		if !ok {
			dv, has := d["Default"]
			if !has {
				return fmt.Errorf("%s: no value: no Default and no override in Options.Parameters", p)
			}
			if val, ok = scalarString(dv); !ok {
				return fmt.Errorf("%s.Default: expected a string, got %s", p, describe(dv))
			}
		}
		var values []string
		isList := typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<")
		switch {
		case strings.HasPrefix(typ, "AWS::SSM::Parameter::"):
			return fmt.Errorf("%s: unsupported parameter type %s (the local cloud does not resolve SSM parameter values)", p, typ)
		case isList:
			if val != "" {
				for _, e := range strings.Split(val, ",") {
					values = append(values, strings.TrimSpace(e))
				}
			}
		case typ == "Number":
			if _, err := strconv.ParseFloat(val, 64); err != nil {
				return fmt.Errorf("%s: value %q is not a Number", p, val)
			}
			values = []string{val}
		case typ == "String" || strings.HasPrefix(typ, "AWS::"):
			values = []string{val}
		default:
			return fmt.Errorf("%s: unsupported parameter type %s", p, typ)
		}
		if av, ok := d["AllowedValues"].([]any); ok {
			for _, v := range values {
				if !slices.ContainsFunc(av, func(a any) bool { s, _ := scalarString(a); return s == v }) {
					return fmt.Errorf("%s: value %q is not one of AllowedValues %v", p, v, av)
				}
			}
		}
		if ap, ok := d["AllowedPattern"].(string); ok {
			re, err := regexp.Compile("^(?:" + ap + ")$")
			if err != nil {
				return fmt.Errorf("%s.AllowedPattern: %v", p, err)
			}
			for _, v := range values {
				if !re.MatchString(v) {
					return fmt.Errorf("%s: value %q does not match AllowedPattern %s", p, v, ap)
				}
			}
		}
		for _, c := range []struct {
			key string
			bad func(v string, limit float64) bool
		}{
			{"MinLength", func(v string, n float64) bool { return typ == "String" && float64(len(v)) < n }},
			{"MaxLength", func(v string, n float64) bool { return typ == "String" && float64(len(v)) > n }},
			{"MinValue", func(v string, n float64) bool { f, _ := strconv.ParseFloat(v, 64); return typ == "Number" && f < n }},
			{"MaxValue", func(v string, n float64) bool { f, _ := strconv.ParseFloat(v, 64); return typ == "Number" && f > n }},
		} {
			lv, ok := d[c.key]
			if !ok {
				continue
			}
			ls, _ := scalarString(lv)
			limit, err := strconv.ParseFloat(ls, 64)
			if err != nil {
				return fmt.Errorf("%s.%s: not a number", p, c.key)
			}
			for _, v := range values {
				if c.bad(v, limit) {
					return fmt.Errorf("%s: value %q violates %s %s", p, v, c.key, ls)
				}
			}
		}
		if isList {
			list := make([]any, len(values))
			for i, v := range values {
				list[i] = v
			}
			l.params[name] = list
		} else {
			l.params[name] = val
		}
		l.out.Parameters[name] = val
	}
	return nil
}

// condition evaluates a named condition (memoized, cycle-checked).
func (l *loader) condition(name, path string) (bool, error) {
	if v, ok := l.conds[name]; ok {
		return v, nil
	}
	expr, ok := l.condDecl[name]
	if !ok {
		return false, fmt.Errorf("%s: unknown condition %q", path, name)
	}
	if l.condBusy[name] {
		return false, fmt.Errorf("%s: condition %s refers to itself", path, name)
	}
	l.condBusy[name] = true
	v, err := l.evalCondition(expr, "Conditions."+name)
	delete(l.condBusy, name)
	if err != nil {
		return false, err
	}
	l.conds[name] = v
	return v, nil
}

func (l *loader) evalCondition(expr any, path string) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("%s: expected a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)", path)
	}
	for fn, arg := range m {
		p := joinPath(path, fn)
		switch fn {
		case "Condition":
			name, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("%s: expected a condition name", p)
			}
			return l.condition(name, p)
		case "Fn::Equals":
			args, err := argList(fn, arg, 2, p)
			if err != nil {
				return false, err
			}
			a, err := l.resolveString(args[0], p+"[0]")
			if err != nil {
				return false, err
			}
			b, err := l.resolveString(args[1], p+"[1]")
			if err != nil {
				return false, err
			}
			return a == b, nil
		case "Fn::Not":
			args, err := argList(fn, arg, 1, p)
			if err != nil {
				return false, err
			}
			v, err := l.evalCondition(args[0], p+"[0]")
			return !v, err
		case "Fn::And", "Fn::Or":
			args, ok := arg.([]any)
			if !ok || len(args) < 2 || len(args) > 10 {
				return false, fmt.Errorf("%s: %s takes 2 to 10 conditions", p, fn)
			}
			and := fn == "Fn::And"
			res := and
			for i, a := range args {
				v, err := l.evalCondition(a, fmt.Sprintf("%s[%d]", p, i))
				if err != nil {
					return false, err
				}
				if and {
					res = res && v
				} else {
					res = res || v
				}
			}
			return res, nil
		}
		return false, fmt.Errorf("%s: unsupported condition function %s", p, fn)
	}
	panic("unreachable")
}

// checkRules evaluates the template's Rules as CloudFormation does before
// it creates or updates a stack: for each rule whose RuleCondition holds
// (or that has none), every Assert must hold, else the deployment is
// refused with the assertion's AssertDescription. Rule functions supported:
// Fn::Equals, Fn::Not, Fn::And, Fn::Or over parameter Refs and literals.
func (l *loader) checkRules(rules map[string]any) error {
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		path := "Rules." + name
		r, ok := rules[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", path)
		}
		for k := range r {
			if k != "RuleCondition" && k != "Assertions" {
				return fmt.Errorf("%s.%s: unsupported rule key", path, k)
			}
		}
		if c, ok := r["RuleCondition"]; ok {
			v, err := l.evalCondition(c, path+".RuleCondition")
			if err != nil {
				return err
			}
			if !v {
				continue
			}
		}
		asserts, ok := r["Assertions"].([]any)
		if !ok || len(asserts) == 0 {
			return fmt.Errorf("%s.Assertions: expected a non-empty list", path)
		}
		for i, a := range asserts {
			ap := fmt.Sprintf("%s.Assertions[%d]", path, i)
			am, ok := a.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: not a mapping", ap)
			}
			v, err := l.evalCondition(am["Assert"], ap+".Assert")
			if err != nil {
				return err
			}
			if !v {
				desc, _ := am["AssertDescription"].(string)
				if desc == "" {
					desc = "Template validation error: assertion failed"
				}
				return fmt.Errorf("%s: the parameters break rule %s: %s", ap, name, desc)
			}
		}
	}
	return nil
}
