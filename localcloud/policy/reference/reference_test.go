package reference

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSourceIsRecorded(t *testing.T) {
	r := Default()
	if r.Source.Tool != "cfn-lint" || r.Source.Version == "" || !strings.HasSuffix(r.Source.Path, "Policies.json") {
		t.Fatalf("sar-subset.json does not say where it came from: %+v", r.Source)
	}
	if r.ActionCount() < 100 {
		t.Fatalf("only %d actions", r.ActionCount())
	}
	t.Logf("%d actions of %v, from %s %s %s", r.ActionCount(), r.Services(), r.Source.Tool, r.Source.Version, r.Source.Path)
}

func TestCheckRequest(t *testing.T) {
	r := Default()
	for _, tc := range []struct {
		action, resource string
		ok               bool
	}{
		// No resource types: "*" only.
		{"eks:RegisterCluster", "*", true},
		{"eks:RegisterCluster", "arn:aws:eks:us-east-1:123456789012:cluster/c", false},
		{"ssm:CreateActivation", "*", true},
		{"ssm:DeleteActivation", "arn:aws:ssm:us-east-1:123456789012:activation/x", false},
		// Resource types: an ARN of one of them.
		{"eks:DescribeCluster", "arn:aws:eks:us-east-1:123456789012:cluster/c", true},
		{"eks:DescribeCluster", "*", false},
		{"eks:DescribeCluster", "arn:aws:ssm:us-east-1:123456789012:parameter/c", false},
		{"ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/a/b", true},
		{"iam:GetRole", "arn:aws:iam::123456789012:role/aws-service-role/eks-connector.amazonaws.com/R", true},
		{"iam:GetPolicy", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", true},
		{"states:StartExecution", "arn:aws:states:us-east-1:123456789012:stateMachine:M", true},
		{"lambda:InvokeFunction", "arn:aws-cn:lambda:cn-north-1:123456789012:function:f", true},
		{"ssm:DeregisterManagedInstance", "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123", true},
		// supplement.json: the connector's instances, on their cluster.
		{"ssm:DeregisterManagedInstance", "arn:aws:eks:us-east-1:123456789012:cluster/c", true},
		// Unknown actions and services.
		{"eks:RegisterClusters", "*", false},
		{"s3:GetObject", "*", false},
	} {
		err := r.CheckRequest(tc.action, tc.resource)
		if (err == nil) != tc.ok {
			t.Errorf("CheckRequest(%s, %s) = %v, want ok=%v", tc.action, tc.resource, err, tc.ok)
		}
	}
}

func TestConditionKeys(t *testing.T) {
	r := Default()
	for _, tc := range []struct {
		action, key string
		ok          bool
	}{
		{"iam:CreateServiceLinkedRole", "iam:AWSServiceName", true},
		{"iam:CreateRole", "iam:PermissionsBoundary", true},
		{"kms:Encrypt", "kms:ViaService", true},
		{"ssm:GetParameter", "ssm:resourceTag/tag-key", true},
		{"eks:DescribeCluster", "aws:ResourceTag/team", true},
		{"sqs:SendMessage", "aws:SourceArn", true},
		{"iam:GetRole", "iam:PassedToService", false},
		{"kms:Encrypt", "kms:GrantOperations", false},
	} {
		a, ok := r.Lookup(tc.action)
		if !ok {
			t.Fatalf("no %s", tc.action)
		}
		if a.HasConditionKey(tc.key) != tc.ok {
			t.Errorf("%s with %s: want %v (keys %v)", tc.action, tc.key, tc.ok, a.ConditionKeys)
		}
	}
}

func TestMalformedSupplementIsRefused(t *testing.T) {
	bad, _ := json.Marshal(map[string]any{"conditionKeys": map[string]any{"eks:NoSuchAction": map[string]any{"keys": []string{"x"}}}})
	if _, err := parse(sarJSON, bad); err == nil || !strings.Contains(err.Error(), "eks:NoSuchAction") {
		t.Fatalf("got %v", err)
	}
}
