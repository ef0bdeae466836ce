// Package functions maps each functions/<dir> (the CodeUri directory named in
// docs/functions.md) to its handler factory, so the local cloud can run every
// function in-process from template.yaml.
//
// Each step's dir is added here as it lands: one entry per line, sorted by
// dir, so concurrent additions merge trivially.
package functions

import (
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/trigger"
)

// Factories is keyed by the directory under functions/.
var Factories = map[string]lambdamain.Factory{
	"trigger": trigger.NewHandler,
}
