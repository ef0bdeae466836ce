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

// Factories is keyed by the directory under functions/. Each is
// lambdamain.Configured, as lambdamain.Main builds it in Lambda.
var Factories = map[string]lambdamain.Factory{
	"check-activation":      lambdamain.Configured(activation.NewHandler),
	"check-cluster":         lambdamain.Configured(registration.NewCheckHandler),
	"cleanup":               lambdamain.Configured(cleanup.NewCleanupHandler),
	"complete-registration": lambdamain.Configured(cleanup.NewCompleteHandler),
	"ensure-roles":          lambdamain.Configured(roles.NewHandler),
	"register-cluster":      lambdamain.Configured(registration.NewRegisterHandler),
	"trigger":               lambdamain.Configured(trigger.NewHandler),
}
