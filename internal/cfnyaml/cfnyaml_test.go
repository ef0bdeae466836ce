package cfnyaml

import (
	"reflect"
	"strings"
	"testing"
)

func TestShortFormsBecomeLongForms(t *testing.T) {
	root, order, err := Decode([]byte(`AWSTemplateFormatVersion: 2010-09-09
Resources:
  B:
    Type: X
    Properties:
      Arn: !GetAtt A.Arn
      Name: !Sub "${AWS::StackName}-b"
      List: !Split [",", !Ref P]
      N: 3
  A:
    Type: X
`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"B", "A"}) {
		t.Errorf("resource order %v, want [B A]", order)
	}
	if v := root["AWSTemplateFormatVersion"]; v != "2010-09-09" {
		t.Errorf("a date is kept as text, got %#v", v)
	}
	props := root["Resources"].(map[string]any)["B"].(map[string]any)["Properties"].(map[string]any)
	want := map[string]any{
		"Arn":  map[string]any{"Fn::GetAtt": []any{"A", "Arn"}},
		"Name": map[string]any{"Fn::Sub": "${AWS::StackName}-b"},
		"List": map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "P"}}},
		"N":    3,
	}
	if !reflect.DeepEqual(props, want) {
		t.Errorf("got %#v\nwant %#v", props, want)
	}
}

// What CloudFormation refuses is refused, with the path and line.
func TestStrict(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"Resources:\n  A: !Nope x\n", "unknown YAML tag !Nope"},
		{"Resources:\n  A: 1\n  A: 2\n", `duplicate key "A"`},
		{"Resources:\n  A: !GetAtt Arn\n", "is not Resource.Attribute"},
		{"- 1\n", "not a mapping"},
		{"", "empty template"},
	} {
		_, _, err := Decode([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
}
