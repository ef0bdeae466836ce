package template

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

type loader struct {
	o         Options
	out       *Template
	params    map[string]any // string, or []any for list parameters
	mappings  map[string]any
	condDecl  map[string]any
	conds     map[string]bool
	condBusy  map[string]bool
	res       map[string]*resource
	order     []string
	names     map[string]string
	nameBusy  map[string]bool
	resolved  map[string]map[string]any // resolved Properties of existing resources
	globalsFn map[string]any
	globalsSM map[string]any
}

const samTransform = "AWS::Serverless-2016-10-31"

// Load reads and resolves the template at path.
func Load(path string, o Options) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if o.BaseDir == "" {
		o.BaseDir = filepath.Dir(path)
	}
	t, err := load(data, o)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

func load(data []byte, o Options) (*Template, error) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if o.StackName == "" {
		o.StackName = "local"
	}
	doc, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	l := &loader{
		o:        o,
		out:      &Template{Parameters: map[string]string{}, Conditions: map[string]bool{}, Outputs: map[string]string{}, OutputDescriptions: map[string]string{}},
		params:   map[string]any{},
		conds:    map[string]bool{},
		condBusy: map[string]bool{},
		res:      map[string]*resource{},
		names:    map[string]string{},
		nameBusy: map[string]bool{},
		resolved: map[string]map[string]any{},
	}
	if err := l.run(doc); err != nil {
		return nil, err
	}
	return l.out, nil
}

func section(root map[string]any, name string) (map[string]any, error) {
	v, ok := root[name]
	if !ok || v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", name)
	}
	return m, nil
}

func (l *loader) run(doc *document) error {
	root := doc.root
	for k := range root {
		switch k {
		case "AWSTemplateFormatVersion", "Transform", "Description", "Metadata", "Parameters",
			"Mappings", "Conditions", "Rules", "Globals", "Resources", "Outputs":
		default:
			return fmt.Errorf("%s: unsupported top-level section", k)
		}
	}
	hasSAM := false
	switch tr := root["Transform"].(type) {
	case nil:
	case string:
		if tr != samTransform {
			return fmt.Errorf("Transform: unsupported transform %s", tr)
		}
		hasSAM = true
	case []any:
		for i, e := range tr {
			if e != samTransform {
				return fmt.Errorf("Transform[%d]: unsupported transform %v", i, e)
			}
			hasSAM = true
		}
	default:
		return fmt.Errorf("Transform: unsupported form %s", describe(tr))
	}

	o := l.o
	stackID := fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/%s", o.Partition, o.Region, o.Account, o.StackName, l.stackUUID())
	l.out.StackName, l.out.StackID = o.StackName, stackID
	for k, v := range map[string]string{
		"AWS::Region": o.Region, "AWS::AccountId": o.Account, "AWS::Partition": o.Partition,
		"AWS::StackName": o.StackName, "AWS::StackId": stackID, "AWS::URLSuffix": l.urlSuffix(),
	} {
		l.params[k] = v
		l.out.Parameters[k] = v
	}
	params, err := section(root, "Parameters")
	if err != nil {
		return err
	}
	if err := l.loadParameters(params); err != nil {
		return err
	}
	if l.mappings, err = section(root, "Mappings"); err != nil {
		return err
	}
	if l.condDecl, err = section(root, "Conditions"); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(l.condDecl)) {
		v, err := l.condition(name, "Conditions."+name)
		if err != nil {
			return err
		}
		l.out.Conditions[name] = v
	}
	rules, err := section(root, "Rules")
	if err != nil {
		return err
	}
	if err := l.checkRules(rules); err != nil {
		return err
	}
	globals, err := section(root, "Globals")
	if err != nil {
		return err
	}
	for k := range globals {
		if k != "Function" && k != "StateMachine" {
			return fmt.Errorf("Globals.%s: unsupported Globals section", k)
		}
	}
	if l.globalsFn, err = section(globals, "Function"); err != nil {
		return fmt.Errorf("Globals.%w", err)
	}
	if l.globalsSM, err = section(globals, "StateMachine"); err != nil {
		return fmt.Errorf("Globals.%w", err)
	}

	resources, err := section(root, "Resources")
	if err != nil {
		return err
	}
	if err := l.declare(resources, doc.resourceOrder, hasSAM); err != nil {
		return err
	}
	if err := l.expandSAM(); err != nil {
		return err
	}
	// Resolve every property of every resource, so a bad intrinsic anywhere is
	// reported even where nothing reads it.
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists || r.generated {
			continue
		}
		v, err := l.resolve(r.props, r.path()+".Properties")
		if err != nil {
			return err
		}
		l.resolved[id] = v.(map[string]any)
	}
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists {
			continue
		}
		var err error
		switch {
		case r.typ == typeFunction:
			err = l.function(r)
		case r.typ == typeStateMachine:
			err = l.stateMachine(r)
		case r.typ == typeQueue:
			err = l.queue(r)
		case r.typ == typeRule && !r.generated:
			err = l.eventsRule(r)
		case r.typ == typeRole && !r.generated:
			err = l.iamRole(r)
		}
		if err != nil {
			return err
		}
	}
	// Queue policies and permissions name queues and functions that may be
	// declared after them.
	for _, id := range l.order {
		r := l.res[id]
		if !r.exists || r.generated {
			continue
		}
		var err error
		switch r.typ {
		case typeQueuePolicy:
			err = l.queuePolicy(r)
		case typePermission:
			err = l.permission(r)
		}
		if err != nil {
			return err
		}
	}
	return l.outputs(root)
}

// properties checks r's properties against those the loader supports for
// its type (allowed), and returns their path, their resolved values, and
// r's physical name ("" for a type without one).
func (l *loader) properties(r *resource, allowed map[string]bool) (path string, props map[string]any, name string, err error) {
	if err := checkProps(r, allowed); err != nil {
		return "", nil, "", err
	}
	if knownTypes[r.typ].style != styleNone {
		if name, err = l.physicalName(r); err != nil {
			return "", nil, "", err
		}
	}
	return r.path() + ".Properties", l.resolved[r.id], name, nil
}

// statementID is the Sid CloudFormation gives an AWS::Lambda::Permission's
// statement: <stack>-<LogicalID>-<suffix>, at most 100 characters.
func (l *loader) statementID(id string) string {
	return truncate(l.o.StackName+"-"+id, 100, l.suffix(id))
}

// stackUUID is a deterministic stand-in for the UUID in AWS::StackId.
func (l *loader) stackUUID() string {
	h := sha256.Sum256([]byte("AWS::StackId/" + l.o.StackName))
	return awsproto.UUID([16]byte(h[:16]), false)
}

// declare records the template's resources, evaluates their Conditions and
// merges Globals.
func (l *loader) declare(resources map[string]any, order []string, hasSAM bool) error {
	for _, id := range order {
		p := "Resources." + id
		m, ok := resources[id].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", p)
		}
		r := &resource{id: id, exists: true, props: map[string]any{}}
		for k, v := range m {
			switch k {
			case "Type":
				r.typ, _ = v.(string)
			case "Properties":
				if v == nil {
					continue
				}
				if r.props, ok = v.(map[string]any); !ok {
					return fmt.Errorf("%s.Properties: not a mapping", p)
				}
			case "Metadata":
				r.metadata, _ = v.(map[string]any)
			case "Condition":
				if r.condition, ok = v.(string); !ok {
					return fmt.Errorf("%s.Condition: expected a condition name", p)
				}
			case "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "UpdatePolicy", "CreationPolicy":
			default:
				return fmt.Errorf("%s.%s: unsupported resource attribute", p, k)
			}
		}
		if _, ok := knownTypes[r.typ]; !ok {
			return fmt.Errorf("%s: unsupported resource type %q (teach localcloud/template about it)", p, r.typ)
		}
		if strings.HasPrefix(r.typ, "AWS::Serverless::") && !hasSAM {
			return fmt.Errorf("%s: %s needs Transform: %s", p, r.typ, samTransform)
		}
		if r.condition != "" {
			c, err := l.condition(r.condition, p+".Condition")
			if err != nil {
				return err
			}
			r.exists = c
		}
		switch r.typ {
		case typeFunction:
			r.props = mergeGlobals(l.globalsFn, r.props).(map[string]any)
		case typeStateMachine:
			r.props = mergeGlobals(l.globalsSM, r.props).(map[string]any)
		}
		l.res[id] = r
		l.order = append(l.order, id)
	}
	return nil
}

func checkProps(r *resource, allowed map[string]bool) error {
	for _, k := range slices.Sorted(maps.Keys(r.props)) {
		if !allowed[k] {
			return fmt.Errorf("%s.Properties.%s: unsupported %s property", r.path(), k, r.typ)
		}
	}
	return nil
}

func getString(m map[string]any, key, path string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", fmt.Errorf("%s.%s: expected a string, got %s", path, key, describe(v))
	}
	return s, nil
}

func getInt(m map[string]any, key, path string, def int) (int, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		var n int
		if _, err := fmt.Sscanf(x, "%d", &n); err == nil && fmt.Sprint(n) == x {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s.%s: expected an integer, got %v", path, key, v)
}

func getMap(m map[string]any, key, path string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.%s: expected a mapping, got %s", path, key, describe(v))
	}
	return mm, nil
}

func toJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func (l *loader) outputs(root map[string]any) error {
	outs, err := section(root, "Outputs")
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(outs)) {
		p := "Outputs." + name
		o, ok := outs[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not a mapping", p)
		}
		if c, ok := o["Condition"]; ok {
			cn, ok := c.(string)
			if !ok {
				return fmt.Errorf("%s.Condition: expected a condition name", p)
			}
			v, err := l.condition(cn, p+".Condition")
			if err != nil {
				return err
			}
			if !v {
				continue
			}
		}
		val, ok := o["Value"]
		if !ok {
			return fmt.Errorf("%s.Value: required", p)
		}
		s, err := l.resolveString(val, p+".Value")
		if err != nil {
			return err
		}
		if _, err := l.resolve(o["Export"], p+".Export"); err != nil {
			return err
		}
		l.out.Outputs[name] = s
		if d, ok := o["Description"].(string); ok {
			l.out.OutputDescriptions[name] = d
		}
	}
	return nil
}
