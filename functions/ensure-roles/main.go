// Command ensure-roles is the EnsureRoles Lambda function.
package main

import (
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/roles"
)

func main() { lambdamain.Main(roles.NewHandler) }
