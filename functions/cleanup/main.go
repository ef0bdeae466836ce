// Command cleanup is the Cleanup Lambda function.
package main

import (
	"github.com/platform/eks-connector-registrar/internal/cleanup"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
)

func main() { lambdamain.Main(cleanup.NewCleanupHandler) }
