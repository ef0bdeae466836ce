// Package functions maps each functions/<dir> (docs/functions.md) to its
// handler factory, so the local cloud can run every function in-process from
// template.yaml. functions/<dir>/main.go uses the same factory in Lambda.
package functions

import (
	"github.com/platform/eks-connector-registrar/internal/activation"
	"github.com/platform/eks-connector-registrar/internal/cleanup"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/registration"
	"github.com/platform/eks-connector-registrar/internal/roles"
	"github.com/platform/eks-connector-registrar/internal/trigger"
)

// Factories is keyed by the directory under functions/.
var Factories = map[string]lambdamain.Factory{
	"check-activation":      activation.NewHandler,
	"check-cluster":         registration.NewCheckHandler,
	"cleanup":               cleanup.NewCleanupHandler,
	"complete-registration": cleanup.NewCompleteHandler,
	"ensure-roles":          roles.NewHandler,
	"register-cluster":      registration.NewRegisterHandler,
	"trigger":               trigger.NewHandler,
}
