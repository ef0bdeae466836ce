// Command register-cluster is the RegisterCluster Lambda function.
package main

import (
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/registration"
)

func main() { lambdamain.Main(registration.NewRegisterHandler) }
