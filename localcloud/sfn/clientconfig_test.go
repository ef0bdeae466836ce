package sfn_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// A store built without Config.ClientConfig (engine-only tests) cannot call
// another service: a Task state fails the execution cleanly with
// States.Runtime saying so, instead of panicking.
func TestTaskWithoutClientConfigFailsCleanly(t *testing.T) {
	e := newEnv(t)
	arn := e.create(t, "task", `{"StartAt":"Invoke","States":{"Invoke":{"Type":"Task",
		"Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}`)
	d := e.finish(t, arn, "run", `{}`)
	if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" ||
		!strings.Contains(aws.ToString(d.Cause), "without Config.ClientConfig") || !strings.Contains(aws.ToString(d.Cause), `Task state "Invoke"`) {
		t.Fatalf("execution %s %s: %s; want FAILED States.Runtime naming the missing ClientConfig", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}
