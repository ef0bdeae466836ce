package sfn

import "testing"

func TestIntegrationResourcesInEveryPartition(t *testing.T) {
	for resource, want := range map[string]string{
		"arn:aws:states:::events:putEvents":                "events:putEvents",
		"arn:aws-cn:states:::events:putEvents":             "events:putEvents",
		"arn:aws-us-gov:states:::lambda:invoke":            "lambda:invoke",
		"arn:aws:states:::lambda:invoke.waitForTaskToken":  "lambda:invoke.waitForTaskToken",
		"arn:aws:lambda:us-east-1:123456789012:function:f": "",
		"arn:aws:states:us-east-1:123456789012:activity:a": "",
	} {
		if got := integration(resource); got != want {
			t.Errorf("integration(%q) = %q, want %q", resource, got, want)
		}
	}
}
