// Package cfnyaml decodes a CloudFormation or SAM template written in YAML
// (or JSON) into a plain tree: map[string]any, []any, string, int, float64,
// bool and nil. Short-form intrinsics (!Ref, !Sub, ...) become their long
// JSON forms ({"Ref": ...}, {"Fn::Sub": ...}), so a reader sees one shape
// only. It is strict where CloudFormation is: an unknown tag, a duplicate
// key or a !GetAtt that is not Resource.Attribute is an error naming the
// path and line. The local cloud's template loader and the template checks
// (internal/templatecheck) both read template.yaml with it.
package cfnyaml

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// shortTags maps a YAML tag to the long-form key. Every short form
// CloudFormation accepts is listed, so an unsupported one is reported by the
// resolver by name rather than as an unknown tag.
var shortTags = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!Sub":          "Fn::Sub",
	"!GetAtt":       "Fn::GetAtt",
	"!If":           "Fn::If",
	"!Equals":       "Fn::Equals",
	"!Not":          "Fn::Not",
	"!And":          "Fn::And",
	"!Or":           "Fn::Or",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!FindInMap":    "Fn::FindInMap",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!GetAZs":       "Fn::GetAZs",
	"!ImportValue":  "Fn::ImportValue",
	"!Transform":    "Fn::Transform",
	"!ToJsonString": "Fn::ToJsonString",
	"!Length":       "Fn::Length",
}

// Decode decodes a template. resourceOrder is the order of the Resources
// keys, which the map loses.
func Decode(data []byte) (root map[string]any, resourceOrder []string, err error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, nil, err
	}
	if n.Kind == 0 {
		return nil, nil, fmt.Errorf("empty template")
	}
	v, err := decodeNode(&n, "")
	if err != nil {
		return nil, nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("template is not a mapping")
	}
	top := &n
	if top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "Resources" {
			res := top.Content[i+1]
			for res.Kind == yaml.AliasNode {
				res = res.Alias
			}
			for j := 0; j+1 < len(res.Content); j += 2 {
				resourceOrder = append(resourceOrder, res.Content[j].Value)
			}
		}
	}
	return root, resourceOrder, nil
}

// JoinPath is path.key, or key at the top.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func decodeNode(n *yaml.Node, path string) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return decodeNode(n.Content[0], path)
	case yaml.AliasNode:
		return decodeNode(n.Alias, path)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		long, ok := shortTags[n.Tag]
		if !ok {
			return nil, fmt.Errorf("%s (line %d): unknown YAML tag %s", pathOr(path), n.Line, n.Tag)
		}
		var arg any
		if n.Kind == yaml.ScalarNode {
			arg = n.Value
			if long == "Fn::GetAtt" {
				res, attr, ok := strings.Cut(n.Value, ".")
				if !ok {
					return nil, fmt.Errorf("%s (line %d): !GetAtt %q is not Resource.Attribute", pathOr(path), n.Line, n.Value)
				}
				arg = []any{res, attr}
			}
		} else {
			c := *n
			c.Tag = ""
			v, err := decodeNode(&c, JoinPath(path, long))
			if err != nil {
				return nil, err
			}
			arg = v
		}
		return map[string]any{long: arg}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s (line %d): mapping key is not a scalar", pathOr(path), k.Line)
			}
			if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0) {
				merges = append(merges, vn)
				continue
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%s (line %d): duplicate key %q", pathOr(path), k.Line, k.Value)
			}
			v, err := decodeNode(vn, JoinPath(path, k.Value))
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		for _, mn := range merges {
			v, err := decodeNode(mn, path)
			if err != nil {
				return nil, err
			}
			var srcs []any
			if l, ok := v.([]any); ok {
				srcs = l
			} else {
				srcs = []any{v}
			}
			for _, s := range srcs {
				sm, ok := s.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s (line %d): merge key value is not a mapping", pathOr(path), mn.Line)
				}
				for k, v := range sm {
					if _, set := m[k]; !set {
						m[k] = v
					}
				}
			}
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := decodeNode(c, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			// CloudFormation keeps dates (AWSTemplateFormatVersion) as text.
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s (line %d): %v", pathOr(path), n.Line, err)
		}
		if i, ok := v.(int64); ok {
			v = int(i)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s (line %d): unsupported YAML node", pathOr(path), n.Line)
}

func pathOr(p string) string {
	if p == "" {
		return "template"
	}
	return p
}
