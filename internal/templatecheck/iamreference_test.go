package templatecheck_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/templatecheck"
	"github.com/platform/eks-connector-registrar/localcloud/policy/reference"
)

// Every Allow statement of template.yaml, in every Fn::If branch, is held to
// the IAM service authorization reference (localcloud/policy/reference):
//   - each action exists;
//   - an action without resource types is authorized against "*", so its
//     statement's Resource must be "*" (a scoped statement never grants it);
//   - otherwise each Resource is an ARN of one of the action's resource
//     types (the template's Fn::Sub strings and references are instantiated
//     with sample values, then matched against the reference's ARN formats);
//   - each condition key is a global aws:* key or one the reference lists
//     for the action.
func TestPoliciesFollowTheIAMReference(t *testing.T) {
	tpl, err := templatecheck.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ref := reference.Default()
	c := &refChecker{t: t, ref: ref, tpl: tpl, actions: map[string]bool{}}
	resources, _ := tpl["Resources"].(map[string]any)
	for _, id := range slices.Sorted(maps.Keys(resources)) {
		r, _ := resources[id].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::Serverless::Function", "AWS::Serverless::StateMachine":
			pols, _ := props["Policies"].([]any)
			for i, p := range pols {
				if doc, ok := p.(map[string]any); ok {
					c.document(fmt.Sprintf("%s.Policies[%d]", id, i), doc)
				}
			}
		case "AWS::SQS::QueuePolicy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy":
			doc, _ := props["PolicyDocument"].(map[string]any)
			c.document(id+".PolicyDocument", doc)
		case "AWS::IAM::Role":
			t.Errorf("%s: an AWS::IAM::Role; extend this check to its Policies", id)
		}
	}
	if c.statements < 20 {
		t.Fatalf("only %d statements checked: the walk missed the template's policies", c.statements)
	}
	t.Logf("checked %d Allow statements (every Fn::If branch), %d distinct actions, %d resource patterns, %d condition keys against the IAM reference (%s %s)",
		c.statements, len(c.actions), c.resources, c.keys, ref.Source.Tool, ref.Source.Version)
}

type refChecker struct {
	t                           *testing.T
	ref                         *reference.Reference
	tpl                         map[string]any
	actions                     map[string]bool
	statements, resources, keys int
}

func (c *refChecker) document(where string, doc map[string]any) {
	for i, st := range branches(doc["Statement"]) {
		for j, s := range branches(st) {
			m, ok := s.(map[string]any)
			if !ok {
				continue
			}
			c.statement(fmt.Sprintf("%s statement %v (#%d.%d)", where, m["Sid"], i, j), m)
		}
	}
}

func (c *refChecker) statement(where string, st map[string]any) {
	if st["Effect"] != "Allow" {
		return
	}
	if st["NotAction"] != nil || st["NotResource"] != nil {
		c.t.Errorf("%s: NotAction/NotResource is not checked; grant actions and resources by name", where)
		return
	}
	c.statements++
	var acts []*reference.Action
	for _, a := range strs(st["Action"]) {
		act, ok := c.ref.Lookup(a)
		if !ok {
			c.t.Errorf("%s: the IAM reference lists no action %s", where, a)
			continue
		}
		c.actions[strings.ToLower(a)] = true
		acts = append(acts, act)
	}
	var resources []any
	for _, r := range branches(st["Resource"]) {
		resources = append(resources, branches(r)...)
	}
	for _, r := range resources {
		sample, pattern, ok := c.arn(r)
		if !ok {
			c.t.Errorf("%s: cannot read Resource %v", where, r)
			continue
		}
		c.resources++
		for _, a := range acts {
			switch {
			case len(a.ResourceTypes) == 0 && pattern != "*":
				c.t.Errorf("%s: %s has no resource types in the IAM reference, so AWS authorizes it against \"*\" and this statement's Resource %s never grants it: use Resource \"*\"",
					where, a.Name, pattern)
			case len(a.ResourceTypes) > 0 && pattern == "*":
				c.t.Errorf("%s: %s has resource types %v; Resource \"*\" grants it on all of them: name the ARNs", where, a.Name, a.ResourceTypes)
			case len(a.ResourceTypes) > 0 && !matchesAny(a, sample):
				var raw []string
				for _, f := range a.Formats {
					raw = append(raw, f.Raw)
				}
				c.t.Errorf("%s: %s is authorized against ARNs of %v (%s); Resource %s is none of them", where, a.Name, a.ResourceTypes, strings.Join(raw, ", "), pattern)
			}
		}
	}
	for _, cond := range branches(st["Condition"]) {
		ops, _ := cond.(map[string]any)
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			keys, _ := ops[op].(map[string]any)
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				c.keys++
				for _, a := range acts {
					if !a.HasConditionKey(k) {
						c.t.Errorf("%s: condition key %s is not one the IAM reference lists for %s (%v) nor a global aws: key", where, k, a.Name, a.ConditionKeys)
					}
				}
			}
		}
	}
}

func matchesAny(a *reference.Action, sample string) bool {
	for _, f := range a.Formats {
		if f.Matches(sample) {
			return true
		}
	}
	return false
}

// branches expands Fn::If into both of its branches (AWS::NoValue is
// dropped) and a list into its elements; anything else is itself.
func branches(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, branches(e)...)
		}
		return out
	case map[string]any:
		if args, ok := x["Fn::If"].([]any); ok && len(x) == 1 && len(args) == 3 {
			return append(branches(args[1]), branches(args[2])...)
		}
		if x["Ref"] == "AWS::NoValue" {
			return nil
		}
	}
	return []any{v}
}

func strs(v any) []string {
	var out []string
	for _, e := range branches(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Sample values: the template's own parameters' defaults, and for the ARN
// parameters (empty by default) an ARN of the kind their description names.
var sampleParams = map[string]string{
	"ExistingAgentRoleArn":         "arn:aws:iam::123456789012:role/ExistingAgent",
	"KmsKeyArn":                    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	"AgentRolePermissionsBoundary": "arn:aws:iam::123456789012:policy/Boundary",
	"AWS::Partition":               "aws",
	"AWS::Region":                  "us-east-1",
	"AWS::AccountId":               "123456789012",
	"AWS::URLSuffix":               "amazonaws.com",
	"AWS::StackName":               "stack",
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// arn renders a Resource element as a concrete sample ARN (every wildcard
// * replaced by a resource-name-like "x") and as the pattern it is (with
// the sample values).
func (c *refChecker) arn(v any) (sample, pattern string, ok bool) {
	switch x := v.(type) {
	case string:
		pattern = x
	case map[string]any:
		switch {
		case x["Fn::Sub"] != nil:
			s, isStr := x["Fn::Sub"].(string)
			if !isStr {
				return "", "", false
			}
			pattern = subVar.ReplaceAllStringFunc(s, func(m string) string {
				name := m[2 : len(m)-1]
				if v, ok := c.value(name); ok {
					return v
				}
				return "Name" // ${Resource.Name} and the like: a resource name
			})
		case x["Ref"] != nil:
			name, _ := x["Ref"].(string)
			v, ok := c.value(name)
			if !ok {
				return "", "", false
			}
			pattern = v
		case x["Fn::GetAtt"] != nil:
			args, _ := x["Fn::GetAtt"].([]any)
			if len(args) != 2 || args[1] != "Arn" {
				return "", "", false
			}
			id, _ := args[0].(string)
			v, ok := c.resourceArn(id)
			if !ok {
				return "", "", false
			}
			pattern = v
		default:
			return "", "", false
		}
	default:
		return "", "", false
	}
	return strings.ReplaceAll(pattern, "*", "x"), pattern, true
}

// value is what Ref name (a parameter, pseudo parameter or resource)
// returns, with sample values.
func (c *refChecker) value(name string) (string, bool) {
	if v, ok := sampleParams[name]; ok {
		return v, true
	}
	params, _ := c.tpl["Parameters"].(map[string]any)
	if p, ok := params[name].(map[string]any); ok {
		d, _ := p["Default"].(string)
		return d, d != ""
	}
	resources, _ := c.tpl["Resources"].(map[string]any)
	if r, ok := resources[name].(map[string]any); ok && r["Type"] == "AWS::Serverless::StateMachine" {
		return "arn:aws:states:us-east-1:123456789012:stateMachine:" + name, true
	}
	return "", false
}

func (c *refChecker) resourceArn(id string) (string, bool) {
	resources, _ := c.tpl["Resources"].(map[string]any)
	r, _ := resources[id].(map[string]any)
	switch r["Type"] {
	case "AWS::Serverless::Function":
		return "arn:aws:lambda:us-east-1:123456789012:function:" + id, true
	case "AWS::SQS::Queue":
		return "arn:aws:sqs:us-east-1:123456789012:" + id, true
	case "AWS::Logs::LogGroup":
		return "arn:aws:logs:us-east-1:123456789012:log-group:" + id + ":*", true
	}
	return "", false
}

// ParameterPrefix's AllowedPattern admits only names SSM accepts: SSM's
// PutParameter (Name, naming constraints) refuses a name prefixed with "aws"
// or "ssm", in any case, so the first segment of the path must not begin
// with either.
func TestParameterPrefixPattern(t *testing.T) {
	tpl, err := templatecheck.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	params, _ := tpl["Parameters"].(map[string]any)
	p, _ := params["ParameterPrefix"].(map[string]any)
	ap, _ := p["AllowedPattern"].(string)
	re, err := regexp.Compile(ap)
	if err != nil {
		t.Fatalf("ParameterPrefix AllowedPattern %q: %v", ap, err)
	}
	if d, _ := p["Default"].(string); !re.MatchString(d) {
		t.Errorf("the default %q does not match its own AllowedPattern", d)
	}
	for _, ok := range []string{"/eks-connector-registrar", "/a", "/team/registrar", "/team/aws", "/awx", "/aw", "/as", "/s", "/ss", "/sms", "/Sx", "/x.y_z-1", "/app/ssm-state"} {
		if !re.MatchString(ok) {
			t.Errorf("ParameterPrefix %q is valid for SSM but the pattern refuses it", ok)
		}
	}
	for _, bad := range []string{"/aws", "/AWS", "/Aws/x", "/awsfoo", "/aWs-registrar", "/ssm", "/SSM/x", "/sSm_x", "/", "/x/", "x", "/a b", "eks"} {
		if re.MatchString(bad) {
			t.Errorf("ParameterPrefix %q is admitted, but SSM refuses it (reserved aws/ssm prefix, or not a path)", bad)
		}
	}
}

// kms:ViaService names the SSM endpoint of the stack's partition
// (ssm.<region>.<URL suffix>): a literal amazonaws.com fails in the China
// partition (amazonaws.com.cn).
func TestKmsViaServiceFollowsThePartition(t *testing.T) {
	tpl, err := templatecheck.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if strings.EqualFold(k, "kms:ViaService") {
					found++
					for _, b := range branches(e) {
						sub, _ := b.(map[string]any)
						s, _ := sub["Fn::Sub"].(string)
						if !strings.Contains(s, "${AWS::URLSuffix}") || strings.Contains(s, "amazonaws.com") {
							t.Errorf("kms:ViaService %v: write it !Sub ssm.${AWS::Region}.${AWS::URLSuffix}", b)
						}
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(tpl["Resources"])
	if found == 0 {
		t.Fatal("template.yaml has no kms:ViaService condition (the customer key statement)")
	}
}
