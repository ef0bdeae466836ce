// Command check-activation is the CheckActivation Lambda function.
package main

import (
	"github.com/platform/eks-connector-registrar/internal/activation"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
)

func main() { lambdamain.Main(activation.NewHandler) }
