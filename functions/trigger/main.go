// Command trigger is the TriggerFunction (see internal/trigger).
package main

import (
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/trigger"
)

func main() { lambdamain.Main(trigger.NewHandler) }
