// Command eks-connector-registrar is the operator's tool for the registrar:
// register a cluster and follow the workflow, install the agent, see the
// connected clusters, retire one. See README.md ("The command line") and
// internal/cli.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/term"

	"github.com/platform/eks-connector-registrar/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(cli.Run(ctx, os.Args[1:], cli.Env{
		Now: time.Now,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
	}))
}
