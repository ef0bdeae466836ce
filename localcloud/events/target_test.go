package events

import "testing"

// A target's dead-letter queue is an SQS queue ARN in any partition.
func TestDeadLetterArnIsAnSQSQueueInAnyPartition(t *testing.T) {
	for arn, ok := range map[string]bool{
		"arn:aws:sqs:us-east-1:123456789012:dlq":            true,
		"arn:aws-cn:sqs:cn-north-1:123456789012:dlq":        true,
		"arn:aws-us-gov:sqs:us-gov-west-1:123456789012:dlq": true,
		"arn:aws:sns:us-east-1:123456789012:topic":          false,
		"arn:aws:sqs:us-east-1:123456789012:":               false,
		"sqs:dlq":                                           false,
	} {
		err := validateTarget(&Target{ID: "t", Arn: "arn:aws:lambda:us-east-1:123456789012:function:f", DeadLetterArn: arn})
		if (err == nil) != ok {
			t.Errorf("DeadLetterArn %s: error %v, want accepted = %v", arn, err, ok)
		}
	}
}
