package localcloud

import (
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/lambda"
	"github.com/platform/eks-connector-registrar/localcloud/template"
)

// RIEOptions runs functions as Lambda runs them: each function's built
// bootstrap behind the Lambda Runtime Interface Emulator (aws-lambda-rie),
// one process per warm execution environment, on 127.0.0.1. The default
// (Options.RIE nil) stays the in-process runner.
type RIEOptions struct {
	// RIEPath is the aws-lambda-rie binary (`make tools` installs ./bin/aws-lambda-rie).
	RIEPath string
	// BootstrapDir gives the directory holding a function's host-arch
	// bootstrap, by logical id. "" keeps that function in-process (its
	// factory in Options.Functions is then required).
	BootstrapDir func(logicalID string) string
	// Env overrides variables of a function's template environment, by
	// logical id (`sam local invoke --env-vars`). As with sam, a variable the
	// template does not declare for the function is ignored. Endpoint,
	// credential and region variables are always the local cloud's.
	Env func(logicalID string) map[string]string
	// Logs receives the emulators' and the functions' output; nil discards it.
	Logs io.Writer
}

// endpointServices are the AWS_ENDPOINT_URL_<SERVICE> variables pointed at
// the local cloud (besides AWS_ENDPOINT_URL itself).
var endpointServices = []string{"EKS", "IAM", "SSM", "SFN", "EVENTBRIDGE", "LAMBDA", "STS", "SQS"}

// rieRunner returns the RIE runner of f, or nil when f runs in-process. The
// runner is closed with the cloud.
func (c *Cloud) rieRunner(o *RIEOptions, f *template.Function, key string) *lambda.RIE {
	if o == nil || o.BootstrapDir == nil {
		return nil
	}
	dir := o.BootstrapDir(f.LogicalID)
	if dir == "" {
		return nil
	}
	r := lambda.NewRIE(lambda.RIEConfig{
		RIEPath:   o.RIEPath,
		Bootstrap: dir + "/bootstrap",
		Env:       c.functionEnv(o, f, key),
		Timeout:   time.Duration(f.Timeout) * time.Second,
		Logs:      o.Logs,
	})
	c.closers = append(c.closers, func() { _ = r.Close() })
	return r
}

// functionEnv is what Lambda would give f: the template's variables, the
// overrides, then what the service sets itself, with the SDK pointed at the
// local cloud and signed as f's role.
func (c *Cloud) functionEnv(o *RIEOptions, f *template.Function, key string) map[string]string {
	env := map[string]string{}
	for k, v := range overrideEnv(f.Environment, c.functionEnvOverrides) {
		env[k] = v
	}
	if o.Env != nil {
		for k, v := range o.Env(f.LogicalID) {
			if _, declared := f.Environment[k]; declared { // as sam: undeclared ones are ignored
				env[k] = v
			}
		}
	}
	memory := f.MemorySize
	if memory == 0 {
		memory = 128
	}
	set := map[string]string{
		"AWS_REGION":                      c.Region,
		"AWS_DEFAULT_REGION":              c.Region,
		"AWS_ACCESS_KEY_ID":               key,
		"AWS_SECRET_ACCESS_KEY":           "local-secret",
		"AWS_SESSION_TOKEN":               "",
		"AWS_LAMBDA_FUNCTION_NAME":        f.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(memory),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(max(1, f.Timeout)),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.FunctionName,
		"AWS_ENDPOINT_URL":                c.URL,
	}
	for _, s := range endpointServices {
		set["AWS_ENDPOINT_URL_"+s] = c.URL
	}
	for k := range env {
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL_") {
			set[k] = c.URL
		}
	}
	for k, v := range set {
		env[k] = v
	}
	if env["AWS_SESSION_TOKEN"] == "" {
		delete(env, "AWS_SESSION_TOKEN")
	}
	return env
}

// FunctionEnv is the environment the function logicalID runs with behind
// aws-lambda-rie (`make invoke`): its variables from template.yaml, Lambda's
// own, its role's credentials and every endpoint pointing at this cloud.
// make bench starts built bootstraps with it.
func (c *Cloud) FunctionEnv(logicalID string) (map[string]string, bool) {
	if c.Template == nil {
		return nil, false
	}
	f, ok := c.Template.Function(logicalID)
	if !ok {
		return nil, false
	}
	return c.functionEnv(&RIEOptions{}, f, functionKey(logicalID)), true
}
