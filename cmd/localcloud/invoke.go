package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

// invokeMain is `make invoke`: `sam local invoke` without Docker. It starts
// the local cloud (virtual clock, template.yaml deployed), runs FN's built
// bootstrap behind aws-lambda-rie with FN's environment from template.yaml
// and the --env-vars overrides, invokes it once with the event, and prints
// the response on stdout ({"errorType","errorMessage"} on a function error).
// The other functions (what a started execution calls) run in-process.
// Exit status: 0 success, 1 function error, 2 anything else.
func invokeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := app.RepoRoot()
	fn := fs.String("fn", "", "the function's logical id in template.yaml (e.g. TriggerFunction)")
	eventFile := fs.String("event", "", "the event: a JSON file (e.g. events/register-cluster.json)")
	envFile := fs.String("env-vars", filepath.Join(root, "events", "env.json"), "sam's --env-vars file ({\"<LogicalId>\": {\"VAR\": \"value\"}}); \"\" for none")
	bootDir := fs.String("bootstrap-dir", "", "directory of FN's host-arch bootstrap (default .aws-sam-local/host/<FN>)")
	riePath := fs.String("rie", filepath.Join(root, "bin", "aws-lambda-rie"), "the aws-lambda-rie binary (`make tools`)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "localcloud invoke:", err)
		return 2
	}
	if *fn == "" || *eventFile == "" {
		return fail(errors.New("-fn and -event are required"))
	}
	if *bootDir == "" {
		*bootDir = filepath.Join(root, ".aws-sam-local", "host", *fn)
	}
	event, err := os.ReadFile(*eventFile)
	if err != nil {
		return fail(err)
	}
	if !json.Valid(event) {
		return fail(fmt.Errorf("%s is not JSON", *eventFile))
	}
	overrides, err := ReadEnvVars(*envFile)
	if err != nil {
		return fail(err)
	}
	res, err := invokeOnce(invocation{
		Function: *fn, Event: event, Overrides: overrides, RIEPath: *riePath,
		BootstrapDir: func(id string) string {
			if id == *fn {
				return *bootDir
			}
			return "" // what a started execution calls runs in-process
		},
		Logs: stderr,
	})
	if err != nil {
		return fail(err)
	}
	if res.Error != nil {
		body, _ := json.Marshal(struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}{res.Error.Type, res.Error.Message})
		fmt.Fprintln(stdout, string(body))
		return 1
	}
	fmt.Fprintln(stdout, string(res.Output))
	return 0
}

// invocation is one `invoke`.
type invocation struct {
	Function     string // logical id
	Event        []byte
	Overrides    EnvVars
	RIEPath      string
	BootstrapDir func(logicalID string) string // "" runs that function in-process
	Logs         io.Writer
	// Setup prepares the cloud's state before the invocation (tests).
	Setup func(*localcloud.Cloud) error
}

type invokeResult struct {
	Output   []byte
	Error    *lambda.FunctionError
	Duration time.Duration // the invocation, cold start included
}

// invokeOnce starts a local cloud (virtual clock, template deployed), runs
// the invocation and closes the cloud (killing the emulators).
func invokeOnce(in invocation) (invokeResult, error) {
	logs := in.Logs
	if logs == nil {
		logs = io.Discard
	}
	c, err := app.Start(localcloud.Options{
		Agent: agent.Config{Mode: agent.Connects},
		RIE: &localcloud.RIEOptions{
			RIEPath:      in.RIEPath,
			BootstrapDir: in.BootstrapDir,
			Env:          in.Overrides.For,
			Logs:         logs,
		},
	}, io.Discard)
	if err != nil {
		return invokeResult{}, err
	}
	defer c.Close()
	tf, ok := c.Template.Function(in.Function)
	if !ok {
		var names []string
		for _, f := range c.Template.Functions {
			names = append(names, f.LogicalID)
		}
		return invokeResult{}, fmt.Errorf("template.yaml has no function %q (it has %s)", in.Function, strings.Join(names, ", "))
	}
	if in.Setup != nil {
		if err := in.Setup(c); err != nil {
			return invokeResult{}, fmt.Errorf("setting up the local cloud: %w", err)
		}
	}
	f, _ := c.Lambda.Lookup(tf.Arn)
	dir := in.BootstrapDir(in.Function)
	if dir == "" {
		return invokeResult{}, fmt.Errorf("no bootstrap directory for %s", in.Function)
	}
	fmt.Fprintf(logs, "Invoking %s (%s): host-arch bootstrap %s behind %s, local cloud at %s\n",
		in.Function, tf.FunctionName, filepath.Join(dir, "bootstrap"), in.RIEPath, c.URL)
	start := time.Now()
	out, ferr := c.Lambda.InvokeSync(context.Background(), f, in.Event, "RequestResponse", 1)
	res := invokeResult{Output: out, Error: ferr, Duration: time.Since(start)}
	fmt.Fprintf(logs, "Invocation took %s (cold start included)\n", res.Duration.Round(time.Millisecond))
	if ferr != nil && ferr.Type == "Runtime.ExitError" && (strings.Contains(ferr.Message, "make tools") || strings.Contains(ferr.Message, "no bootstrap at")) {
		// The emulator or the bootstrap is missing: not a function error.
		return res, errors.New(ferr.Message)
	}
	return res, nil
}

// EnvVars is sam's --env-vars file: overrides by logical id, plus
// "Parameters" for every function.
type EnvVars map[string]map[string]string

// ReadEnvVars reads an --env-vars file; "" gives no overrides.
func ReadEnvVars(path string) (EnvVars, error) {
	if path == "" {
		return EnvVars{}, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev EnvVars
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ev, nil
}

// For gives a function's overrides: the "Parameters" entry, then the
// function's own. The local cloud applies only variables the template
// declares for the function (as sam does) and always points the endpoint
// variables at itself.
func (ev EnvVars) For(logicalID string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"Parameters", logicalID} {
		for name, v := range ev[k] {
			out[name] = v
		}
	}
	return out
}
