// Package app deploys this project's functions onto the local cloud: it binds
// each function of template.yaml to its in-process Go handler. Tests and
// cmd/localcloud start the cloud through it.
package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/platform/eks-connector-registrar/internal/functions"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// Factories adapts every production factory to the local cloud, logging to
// logOut (JSON, as in Lambda).
func Factories(logOut io.Writer) map[string]localcloud.FunctionFactory {
	out := map[string]localcloud.FunctionFactory{}
	for dir, f := range functions.Factories {
		f := f
		dir := dir
		out[dir] = func(cfg aws.Config, getenv func(string) string, now func() time.Time) (lambda.Handler, error) {
			return f(cfg, getenv, FunctionLogger(logOut, dir), now)
		}
	}
	return out
}

// FunctionLogger is a function's logger in the local cloud: JSON lines, and,
// like Lambda's own handler (lambdacontext.NewLogHandler), the requestId of
// the invocation whose context a line is logged with (the in-process runner
// puts a lambdacontext in it, lambda.InProcess).
func FunctionLogger(out io.Writer, function string) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(out, nil)}).With("function", function)
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// RepoRoot finds the repository root (the directory holding template.yaml).
func RepoRoot() string {
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "template.yaml")); err == nil {
				return d
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts a local cloud with this project's template and functions.
// Unset Options fields get the project's defaults.
func Start(o localcloud.Options, logOut io.Writer) (*localcloud.Cloud, error) {
	if o.Template == "" {
		o.Template = filepath.Join(RepoRoot(), "template.yaml")
	}
	if o.Functions == nil {
		if logOut == nil {
			logOut = io.Discard
		}
		o.Functions = Factories(logOut)
	}
	return localcloud.Start(o)
}
