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
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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
	h, err := Configured(f)(cfg, os.Getenv, log, time.Now)
	if err != nil {
		log.Error("building handler", "error", fmt.Sprint(err))
		os.Exit(1)
	}
	lambda.Start(h)
}

// AttemptTimeoutVar is the function environment variable (template.yaml,
// Globals) that bounds one attempt of an AWS call: a Go duration, default
// DefaultAttemptTimeout.
//
// Without it an attempt has no bound but the invocation's: the SDK's HTTP
// client sets none on waiting for an answer, so one call that hangs (a
// half-open connection, a stalled service) holds the function until its
// Lambda timeout, which ends the whole invocation as Sandbox.Timedout, its
// other work with it, and spends one of the state machine's retries and the
// function's full timeout of billed time. Bounded, the attempt fails as a
// timeout, which the SDK's standard retryer retries like a 5xx (a retry
// costs 14 tokens of its budget), so a hung attempt costs one attempt. When
// every attempt hangs the call fails as a transient error
// (awserr.IsTransient) and the step says which call, before the function's
// timeout: 3 attempts of 10 s fit the 30 s functions (the cleanup function
// has 120 s). 10 s is far above what these control-plane calls take, so a
// slow answer is not cut short; a cut-short attempt may have been served,
// and every write the functions make is idempotent under retry.
const AttemptTimeoutVar = "SDK_ATTEMPT_TIMEOUT"

// DefaultAttemptTimeout bounds one AWS call attempt when AttemptTimeoutVar
// is not set.
const DefaultAttemptTimeout = 10 * time.Second

// Configure applies the project's AWS SDK settings to cfg: the attempt
// timeout (AttemptTimeoutVar) on its HTTP client.
func Configure(cfg aws.Config, getenv func(string) string) (aws.Config, error) {
	d := DefaultAttemptTimeout
	if v := getenv(AttemptTimeoutVar); v != "" {
		p, err := time.ParseDuration(v)
		if err != nil || p <= 0 {
			return cfg, fmt.Errorf("environment variable %s is %q, not a positive Go duration such as 10s: set it in template.yaml (Globals.Function.Environment)", AttemptTimeoutVar, v)
		}
		d = p
	}
	switch hc := cfg.HTTPClient.(type) {
	case nil:
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(d)
	case *awshttp.BuildableClient:
		cfg.HTTPClient = hc.WithTimeout(d)
	default:
		return cfg, fmt.Errorf("the AWS configuration's HTTP client is a %T, on which the attempt timeout (%s) cannot be set: leave it unset or use an aws/transport/http BuildableClient", hc, AttemptTimeoutVar)
	}
	return cfg, nil
}

// Configured is f with cfg passed through Configure first: how every
// function is built, in Lambda (Main) and in the local cloud.
func Configured(f Factory) Factory {
	return func(cfg aws.Config, getenv func(string) string, log *slog.Logger, now func() time.Time) (lambda.Handler, error) {
		cfg, err := Configure(cfg, getenv)
		if err != nil {
			return nil, err
		}
		return f(cfg, getenv, log, now)
	}
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
