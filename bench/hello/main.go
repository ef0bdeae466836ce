// Command hello is the first start-up reference of the benchmark (make
// bench): the smallest Go Lambda, built with the functions' flags. Nothing is
// deployed from here.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
