// Command floor is the second start-up reference of the benchmark (make
// bench), the "SDK floor": hello world plus config.LoadDefaultConfig plus the
// SDK clients a function builds, chosen with build tags (floor_eks,
// floor_ssm, ...: one file per client), so a function's start-up is compared
// with the least any function building those clients can do. Nothing is
// deployed from here.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// clients are the constructors the build tags selected.
var clients []func(aws.Config) any

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "loading AWS configuration:", err)
		os.Exit(1)
	}
	built := make([]any, 0, len(clients))
	for _, c := range clients {
		built = append(built, c(cfg))
	}
	lambda.Start(func(context.Context, json.RawMessage) (int, error) { return len(built), nil })
}
