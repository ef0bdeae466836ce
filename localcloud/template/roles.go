package template

import (
	"fmt"
	"slices"
	"strings"
)

func (l *loader) generatedRoleArn(r *resource, path string) (string, error) {
	role, ok := l.res[r.id+"Role"]
	if !ok || !role.generated {
		return "", fmt.Errorf("%s: no Role and no generated role", path)
	}
	v, err := l.attribute(role, "Arn", path)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// role returns the execution role ARN and, for a role SAM creates, the
// policies written in Policies.
func (l *loader) role(r *resource, props map[string]any, implicitManaged []string) (string, [][]byte, []string, error) {
	p := r.path() + ".Properties"
	if v, ok := props["Role"]; ok {
		if _, has := props["Policies"]; has {
			return "", nil, nil, fmt.Errorf("%s.Policies: has no effect when Role is set", p)
		}
		s, ok := scalarString(v)
		if !ok || s == "" {
			return "", nil, nil, fmt.Errorf("%s.Role: expected a role ARN, got %s", p, describe(v))
		}
		return s, nil, nil, nil
	}
	arn, err := l.generatedRoleArn(r, p+".Role")
	if err != nil {
		return "", nil, nil, err
	}
	docs, managed, err := l.policies(props["Policies"], p+".Policies")
	if err != nil {
		return "", nil, nil, err
	}
	return arn, docs, append(slices.Clone(implicitManaged), managed...), nil
}

// policies converts a resolved SAM Policies value: inline documents
// ({Statement: ...}) and managed policy names/ARNs. SAM policy templates are
// not supported.
func (l *loader) policies(v any, path string) ([][]byte, []string, error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil, nil
	case []any:
		items = x
	default:
		items = []any{x}
	}
	var docs [][]byte
	var managed []string
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		switch x := it.(type) {
		case string:
			if strings.HasPrefix(x, "arn:") {
				managed = append(managed, x)
			} else {
				managed = append(managed, "arn:"+l.o.Partition+":iam::aws:policy/"+x)
			}
		case map[string]any:
			if _, ok := x["Statement"]; !ok {
				if len(x) == 1 {
					for k := range x {
						return nil, nil, fmt.Errorf("%s: unsupported policy template %s", ip, k)
					}
				}
				return nil, nil, fmt.Errorf("%s: a policy document needs Statement", ip)
			}
			for k := range x {
				if k != "Statement" && k != "Version" && k != "Id" {
					return nil, nil, fmt.Errorf("%s.%s: unsupported policy document key", ip, k)
				}
			}
			switch st := x["Statement"].(type) {
			case []any:
				for j, s := range st {
					if _, ok := s.(map[string]any); !ok {
						return nil, nil, fmt.Errorf("%s.Statement[%d]: expected a mapping, got %s", ip, j, describe(s))
					}
				}
			case map[string]any:
			default:
				return nil, nil, fmt.Errorf("%s.Statement: expected a list or mapping, got %s", ip, describe(st))
			}
			doc, err := toJSON(x)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", ip, err)
			}
			docs = append(docs, doc)
		default:
			return nil, nil, fmt.Errorf("%s: expected a policy document or managed policy, got %s", ip, describe(it))
		}
	}
	return docs, managed, nil
}

// iamRole reads an AWS::IAM::Role's trust policy and inline policies (the
// other properties are not modelled and not checked).
func (l *loader) iamRole(r *resource) error {
	p := r.path() + ".Properties"
	props := l.resolved[r.id]
	name, err := l.physicalName(r)
	if err != nil {
		return err
	}
	v, err := l.attribute(r, "Arn", p)
	if err != nil {
		return err
	}
	role := Role{LogicalID: r.id, Name: name, Arn: v.(string)}
	if tp, err := getMap(props, "AssumeRolePolicyDocument", p); err != nil {
		return err
	} else if tp != nil {
		if role.TrustPolicy, err = toJSON(tp); err != nil {
			return fmt.Errorf("%s.AssumeRolePolicyDocument: %v", p, err)
		}
	}
	list, _ := props["Policies"].([]any)
	if v, ok := props["Policies"]; ok && list == nil {
		return fmt.Errorf("%s.Policies: expected a list, got %s", p, describe(v))
	}
	for i, it := range list {
		ip := fmt.Sprintf("%s.Policies[%d]", p, i)
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping, got %s", ip, describe(it))
		}
		pn, err := getString(m, "PolicyName", ip)
		if err != nil {
			return err
		}
		doc, err := getMap(m, "PolicyDocument", ip)
		if err != nil {
			return err
		}
		if pn == "" || doc == nil {
			return fmt.Errorf("%s: PolicyName and PolicyDocument are required", ip)
		}
		b, err := toJSON(doc)
		if err != nil {
			return fmt.Errorf("%s.PolicyDocument: %v", ip, err)
		}
		role.Policies = append(role.Policies, InlinePolicy{Name: pn, Document: b})
	}
	l.out.Roles = append(l.out.Roles, role)
	return nil
}
