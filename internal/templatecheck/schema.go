package templatecheck

// Schema validation of template.yaml against the SAM/CloudFormation JSON
// schema goformation ships (schema.SamSchema), resource by resource, with
// errors a developer can act on.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaProblem is one way a resource breaks the schema.
type SchemaProblem struct {
	Resource string // logical id, or "Globals.Function"
	Type     string // resource type
	Path     string // property path inside the resource, e.g. Properties.Events.X.Properties.RetryPolicy
	Message  string // what is wrong, in a sentence
}

func (p SchemaProblem) String() string {
	return fmt.Sprintf("resource %s (%s): %s", p.Resource, p.Type, p.Message)
}

const samSchemaURL = "https://goformation.invalid/sam.schema.json"

// SchemaValidator validates resources against goformation's SAM schema.
// Build one per test binary and share it: each resource type's schema is
// compiled on first use and kept.
type SchemaValidator struct {
	mu     sync.Mutex
	doc    map[string]any // the schema document, overlay applied
	byType map[string]*jsonschema.Schema
}

// NewSchemaValidator parses schema.SamSchema and applies SchemaOverlay.
func NewSchemaValidator() (*SchemaValidator, error) {
	raw, err := jsonschema.UnmarshalJSON(strings.NewReader(schema.SamSchema))
	if err != nil {
		return nil, fmt.Errorf("goformation SAM schema: %w", err)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("goformation SAM schema: not an object")
	}
	defs, _ := doc["definitions"].(map[string]any)
	if defs == nil {
		return nil, fmt.Errorf("goformation SAM schema: no definitions")
	}
	if err := applyOverlay(defs); err != nil {
		return nil, err
	}
	return &SchemaValidator{doc: doc, byType: map[string]*jsonschema.Schema{}}, nil
}

// HasType reports whether the schema defines the resource type.
func (v *SchemaValidator) HasType(typ string) bool {
	defs, _ := v.doc["definitions"].(map[string]any)
	_, ok := defs[typ]
	return ok
}

func (v *SchemaValidator) schemaFor(typ string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.byType[typ]; ok {
		return s, nil
	}
	// The compiler checks a whole document against the draft-04
	// meta-schema first: 11 s for the 7.7 MB SAM schema. Each type gets a
	// document holding only the definitions it reaches through $ref.
	defs, _ := v.doc["definitions"].(map[string]any)
	closure := map[string]any{}
	var reach func(name string)
	reach = func(name string) {
		if _, done := closure[name]; done {
			return
		}
		d, ok := defs[name]
		if !ok {
			return
		}
		closure[name] = d
		for _, r := range refsIn(d) {
			reach(strings.TrimPrefix(r, "#/definitions/"))
		}
	}
	reach(typ)
	c := jsonschema.NewCompiler()
	// The SAM schema is draft 4 (its "$id" is draft-04's own meta-schema
	// URL, which draft 4 ignores: its keyword is "id").
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource(samSchemaURL, map[string]any{"definitions": closure}); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", typ, err)
	}
	s, err := c.Compile(samSchemaURL + "#/definitions/" + url.PathEscape(typ))
	if err != nil {
		return nil, fmt.Errorf("compile schema of %s: %w", typ, err)
	}
	v.byType[typ] = s
	return s, nil
}

// ValidateTemplate validates every resource of tpl (as returned by Load)
// against #/definitions/<its Type>, and Globals.Function against the
// properties of AWS::Serverless::Function. Problems are sorted.
func (v *SchemaValidator) ValidateTemplate(tpl map[string]any) ([]SchemaProblem, error) {
	var out []SchemaProblem
	resources, _ := tpl["Resources"].(map[string]any)
	if len(resources) == 0 {
		return []SchemaProblem{{Resource: "-", Type: "-", Message: "the template has no Resources"}}, nil
	}
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ps, err := v.ValidateResource(id, resources[id])
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	if g, ok := tpl["Globals"].(map[string]any); ok {
		if fn, ok := g["Function"]; ok {
			ps, err := v.ValidateResource("Globals.Function", map[string]any{"Type": "AWS::Serverless::Function", "Properties": fn})
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				p.Path = strings.TrimPrefix(p.Path, "Properties.")
				p.Message = strings.ReplaceAll(p.Message, "Properties.", "Globals.Function.")
				p.Message = strings.ReplaceAll(p.Message, ": Properties has no", ": Globals.Function has no")
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// ValidateResource validates one resource (its whole mapping: Type,
// Properties, Metadata, …). Intrinsic functions are replaced first: Fn::If
// by its first branch that is not AWS::NoValue, !Ref AWS::NoValue by
// nothing, and every other intrinsic by a placeholder string; a schema
// complaint about a placeholder itself (e.g. a number property given !Ref)
// is not reported, since CloudFormation resolves it before validating.
func (v *SchemaValidator) ValidateResource(id string, resource any) ([]SchemaProblem, error) {
	r, ok := resource.(map[string]any)
	if !ok {
		return []SchemaProblem{{Resource: id, Type: "?", Message: "is not a mapping"}}, nil
	}
	typ, _ := r["Type"].(string)
	if typ == "" {
		return []SchemaProblem{{Resource: id, Type: "?", Path: "Type", Message: "has no Type"}}, nil
	}
	if strings.HasPrefix(typ, "Custom::") {
		typ = "AWS::CloudFormation::CustomResource"
	}
	if !v.HasType(typ) {
		return []SchemaProblem{{Resource: id, Type: typ, Path: "Type", Message: fmt.Sprintf("Type %s is not a resource type of the SAM/CloudFormation schema (misspelled?)", typ)}}, nil
	}
	sch, err := v.schemaFor(typ)
	if err != nil {
		return nil, err
	}
	placeholders := map[string]bool{}
	stripped, _ := stripIntrinsics(r, nil, placeholders)
	inst, err := toJSONValue(stripped)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	verr := sch.Validate(inst)
	if verr == nil {
		return nil, nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return nil, fmt.Errorf("%s: %w", id, verr)
	}
	seen := map[string]bool{}
	var out []SchemaProblem
	for _, leaf := range leaves(ve) {
		for _, p := range v.describe(leaf, inst, placeholders) {
			p.Resource, p.Type = id, typ
			if key := p.Path + "\x00" + p.Message; !seen[key] {
				seen[key] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return out, nil
}

// refsIn lists the "$ref" values under v.
func refsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if r, ok := c.(string); ok && k == "$ref" {
				out = append(out, r)
				continue
			}
			out = append(out, refsIn(c)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, refsIn(c)...)
		}
	}
	return out
}

// isIntrinsic reports whether m is {"Ref": …} or {"Fn::…": …}.
func isIntrinsic(m map[string]any) (string, bool) {
	if len(m) != 1 {
		return "", false
	}
	for k := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, true
		}
	}
	return "", false
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
}

// stripIntrinsics returns v with intrinsics replaced (see ValidateResource);
// keep is false when v vanishes (AWS::NoValue). placeholders collects the
// instance locations (pathKey) that hold a placeholder string.
func stripIntrinsics(v any, path []string, placeholders map[string]bool) (out any, keep bool) {
	switch x := v.(type) {
	case map[string]any:
		if fn, ok := isIntrinsic(x); ok {
			if isNoValue(x) {
				return nil, false
			}
			if fn == "Fn::If" {
				if args, ok := x[fn].([]any); ok && len(args) == 3 {
					for _, branch := range args[1:] {
						if !isNoValue(branch) {
							return stripIntrinsics(branch, path, placeholders)
						}
					}
					return nil, false
				}
			}
			placeholders[pathKey(path)] = true
			return "<" + fn + ">", true
		}
		m := make(map[string]any, len(x))
		for k, c := range x {
			if s, keep := stripIntrinsics(c, append(path[:len(path):len(path)], k), placeholders); keep {
				m[k] = s
			}
		}
		return m, true
	case []any:
		l := make([]any, 0, len(x))
		for _, c := range x {
			// Indices are those of the stripped list: that is what the
			// validator reports.
			if s, keep := stripIntrinsics(c, append(path[:len(path):len(path)], strconv.Itoa(len(l))), placeholders); keep {
				l = append(l, s)
			}
		}
		return l, true
	}
	return v, true
}

func pathKey(p []string) string { return strings.Join(p, "\x00") }

// toJSONValue turns YAML-decoded values into what the validator expects.
func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
}

// leaves flattens an error tree to the errors worth reading. For anyOf and
// oneOf it follows only the branch that fits best (fewest complaints; a
// branch that rejects the value's type only counts as a very bad fit).
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if len(e.Causes) == 0 {
			return []*jsonschema.ValidationError{e}
		}
		var best []*jsonschema.ValidationError
		bestScore := -1
		for _, c := range e.Causes {
			ls := leaves(c)
			s := 0
			for _, l := range ls {
				s += score(l, len(e.InstanceLocation))
			}
			if bestScore < 0 || s < bestScore {
				best, bestScore = ls, s
			}
		}
		if bestScore >= typeMismatch {
			// Every branch rejects the value's type: say which types fit.
			return []*jsonschema.ValidationError{e}
		}
		return best
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

const typeMismatch = 1000

func score(l *jsonschema.ValidationError, depth int) int {
	switch k := l.ErrorKind.(type) {
	case *kind.Type:
		if len(l.InstanceLocation) == depth {
			return typeMismatch
		}
	case *kind.AdditionalProperties:
		return len(k.Properties)
	case *kind.Required:
		return len(k.Missing)
	case *kind.AnyOf, *kind.OneOf:
		if len(l.InstanceLocation) == depth {
			return typeMismatch
		}
	}
	return 1
}

var printer = message.NewPrinter(language.English)

// displayPath renders an instance location: Properties.Policies[0].Statement.
func displayPath(loc []string) string {
	var b strings.Builder
	for _, s := range loc {
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	if b.Len() == 0 {
		return "(the resource itself)"
	}
	return b.String()
}

func valueAt(inst any, loc []string) any {
	cur := inst
	for _, s := range loc {
		switch x := cur.(type) {
		case map[string]any:
			cur = x[s]
		case []any:
			i, _ := strconv.Atoi(s)
			if i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	return cur
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

func show(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return jsonType(v)
	}
	b, _ := json.Marshal(v)
	return jsonType(v) + " (" + string(b) + ")"
}

// describe turns a leaf error into problems with sentences.
func (v *SchemaValidator) describe(e *jsonschema.ValidationError, inst any, placeholders map[string]bool) []SchemaProblem {
	loc := e.InstanceLocation
	if placeholders[pathKey(loc)] {
		return nil // a complaint about a placeholder for an intrinsic
	}
	path := displayPath(loc)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := v.allowedProperties(e.SchemaURL)
		var out []SchemaProblem
		for _, p := range k.Properties {
			full := displayPath(append(loc[:len(loc):len(loc)], p))
			msg := fmt.Sprintf("property %s is not allowed: %s has no property %q", full, path, p)
			if s := suggest(p, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			} else if len(allowed) > 0 {
				msg += fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
			}
			out = append(out, SchemaProblem{Path: full, Message: msg})
		}
		return out
	case *kind.Required:
		var out []SchemaProblem
		for _, p := range k.Missing {
			full := displayPath(append(loc[:len(loc):len(loc)], p))
			out = append(out, SchemaProblem{Path: full, Message: fmt.Sprintf("required property %s is missing", full)})
		}
		return out
	case *kind.Type:
		return []SchemaProblem{{Path: path, Message: fmt.Sprintf("property %s is %s, but the schema wants %s", path, show(valueAt(inst, loc)), strings.Join(k.Want, " or "))}}
	case *kind.AnyOf, *kind.OneOf:
		var wants []string
		seen := map[string]bool{}
		for _, c := range e.Causes {
			for _, l := range leaves(c) {
				if t, ok := l.ErrorKind.(*kind.Type); ok {
					for _, w := range t.Want {
						if !seen[w] {
							seen[w] = true
							wants = append(wants, w)
						}
					}
				}
			}
		}
		if len(wants) > 0 {
			return []SchemaProblem{{Path: path, Message: fmt.Sprintf("property %s is %s, but the schema wants %s", path, show(valueAt(inst, loc)), strings.Join(wants, " or "))}}
		}
	case *kind.Enum:
		return []SchemaProblem{{Path: path, Message: fmt.Sprintf("property %s is %s, not one of the allowed values %v", path, show(valueAt(inst, loc)), k.Want)}}
	}
	return []SchemaProblem{{Path: path, Message: fmt.Sprintf("property %s: %s", path, e.ErrorKind.LocalizedString(printer))}}
}

// allowedProperties lists the property names the schema at schemaURL (an
// absolute, dereferenced location in the SAM schema) declares.
func (v *SchemaValidator) allowedProperties(schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	var cur any = v.doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case map[string]any:
			cur = x[tok]
		case []any:
			i, _ := strconv.Atoi(tok)
			if i < 0 || i >= len(x) {
				return nil
			}
			cur = x[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	if props, ok := m["properties"].(map[string]any); ok {
		return slices.Sorted(maps.Keys(props))
	}
	// The error may point at the additionalProperties keyword itself.
	return nil
}

// suggest returns the allowed name closest to p (case-insensitive edit
// distance at most 2, or one a prefix of the other), or "".
func suggest(p string, allowed []string) string {
	best, bestD := "", 3
	lp := strings.ToLower(p)
	for _, a := range allowed {
		la := strings.ToLower(a)
		d := editDistance(lp, la)
		if d > 2 && (strings.HasPrefix(la, lp) || strings.HasPrefix(lp, la)) && len(lp) >= 4 {
			d = 2
		}
		if d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
