// Package lambdamain is the composition root every functions/<name>/main.go
// calls: it loads the AWS configuration once, builds the function's handler
// with its dependencies, and hands it to the Lambda runtime.
package lambdamain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Factory builds one function's handler. cfg is the AWS configuration
// (config.LoadDefaultConfig in Lambda, which honours AWS_ENDPOINT_URL_*);
// getenv reads the function's environment (os.Getenv in Lambda, the template's
// variables in the local cloud's in-process runner); log is the function's
// logger (JSON in Lambda; it adds the request id to a line logged with the
// invocation's context, so handlers log through Logger(ctx, log)); now is the
// clock of the function's world (time.Now in Lambda, the local cloud's clock
// when it runs the handler in-process). A handler reads the time only through
// now, and compares it with a service's timestamp only where no second
// service timestamp is at hand (docs/functions.md, "Clocks").
//
// The returned handler is built with lambda.NewHandler, so that an error a
// step returns keeps its Go type name: that name is the state machine's
// ErrorEquals name.
type Factory func(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error)

// Main runs f in the Lambda runtime. A configuration error stops the cold
// start with a clear message rather than failing every invocation.
func Main(f Factory) {
	log := slog.New(lambdacontext.NewLogHandler())
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("loading AWS configuration", "error", err)
		os.Exit(1)
	}
	h, err := f(cfg, os.Getenv, log, time.Now)
	if err != nil {
		log.Error("building handler", "error", fmt.Sprint(err))
		os.Exit(1)
	}
	lambda.Start(h)
}

// Logger is the logger of one invocation: every line it writes reaches
// base's handler with the invocation's ctx, so a context-reading handler
// (lambdacontext.NewLogHandler adds the Lambda requestId that way, and only
// to calls given the ctx) tags every line, whether or not the call passes a
// context. A call that passes its own context (InfoContext) keeps it.
// Handlers derive their logger from it at the start of each invocation and
// never log through base directly.
func Logger(ctx context.Context, base *slog.Logger) *slog.Logger {
	return slog.New(invocationHandler{Handler: base.Handler(), ctx: ctx})
}

type invocationHandler struct {
	slog.Handler
	ctx context.Context
}

func (h invocationHandler) pick(ctx context.Context) context.Context {
	if ctx == nil || ctx == context.Background() || ctx == context.TODO() {
		return h.ctx
	}
	return ctx
}

func (h invocationHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(h.pick(ctx), l)
}

func (h invocationHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.Handler.Handle(h.pick(ctx), r)
}

func (h invocationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return invocationHandler{Handler: h.Handler.WithAttrs(attrs), ctx: h.ctx}
}

func (h invocationHandler) WithGroup(name string) slog.Handler {
	return invocationHandler{Handler: h.Handler.WithGroup(name), ctx: h.ctx}
}
