// Command check-cluster is the CheckCluster Lambda function.
package main

import (
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/registration"
)

func main() { lambdamain.Main(registration.NewCheckHandler) }
