// Command bootstrap is a Go Lambda function for the RIE runner's tests
// (rie_test.go builds it for the host): what it does depends on the event.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Do string `json:"do"`
}

type stepFailed struct{}

func (stepFailed) Error() string { return "the step failed" }

func main() {
	lambda.Start(func(ctx context.Context, e event) (string, error) {
		switch e.Do {
		case "exit":
			os.Exit(1)
		case "fail":
			return "", stepFailed{}
		case "hang":
			time.Sleep(time.Minute)
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return lc.AwsRequestID, nil
	})
}
