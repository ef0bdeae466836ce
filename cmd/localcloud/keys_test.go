package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/app"
)

var (
	samLineRE = regexp.MustCompile(`(?m)^AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) sam local invoke (\S+) --event (\S+) --env-vars events/env\.json --add-host host\.docker\.internal:host-gateway --region (\S+)$`)
	keyRowRE  = regexp.MustCompile(`(?m)^(\S+) +(admin|operator|function|state machine) +(\S+) +(arn:\S+)$`)
	roleRE    = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)$`)
)

// startServed starts the cloud `serve` would start with these flags, on a
// free port, on the virtual clock, without the agent.
func startServed(t *testing.T, flags ...string) *localcloud.Cloud {
	t.Helper()
	cfg, err := parseServe(append(flags, "-addr", "127.0.0.1:0", "-virtual"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Options.NoAgent = true
	c, err := app.Start(cfg.Options, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.CheckWire(t)
	t.Cleanup(c.Close)
	return c
}

func signedWith(c *localcloud.Cloud, region, key, secret string) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(c.URL),
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")}
}

// callerARN is who sts:GetCallerIdentity says signed with cfg.
func callerARN(t *testing.T, cfg aws.Config) string {
	t.Helper()
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(id.Arn)
}

// sessionOf is the assumed-role ARN prefix of a role's sessions.
func sessionOf(t *testing.T, roleArn string) string {
	t.Helper()
	m := roleRE.FindStringSubmatch(roleArn)
	if m == nil {
		t.Fatalf("%q is not a role ARN", roleArn)
	}
	return "arn:aws:sts::" + m[1] + ":assumed-role/" + m[2] + "/"
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// A developer pastes a line `keys` prints: sam passes its key into the
// container, and every call the function makes is signed with it. That key
// must be the function's role in the cloud serve starts, and be held to the
// role's policies: no function may read the activation code, so each is
// refused where the administrator is only told it does not exist.
func TestKeysSignAsEachFunctionsRole(t *testing.T) {
	var out, stderr bytes.Buffer
	if err := keys(nil, &out, &stderr); err != nil {
		t.Fatalf("keys: %v\n%s", err, stderr.String())
	}
	lines := map[string][]string{}
	for _, m := range samLineRE.FindAllStringSubmatch(out.String(), -1) {
		lines[m[3]] = m
	}
	c := startServed(t) // serve's default: unknown keys are an administrator
	if len(lines) != len(c.Template.Functions) {
		t.Errorf("keys prints %d sam local invoke lines for the %d functions of template.yaml:\n%s", len(lines), len(c.Template.Functions), out.String())
	}
	ctx := context.Background()
	trigger, _ := c.Template.Function("TriggerFunction")
	code := aws.String(workflow.Parameters{Prefix: trigger.Environment["PARAMETER_PREFIX"]}.ActivationCode("prod-eu-1"))
	if _, err := ssm.NewFromConfig(c.ConfigFor("admin")).GetParameter(ctx, &ssm.GetParameterInput{Name: code}); errorCode(err) != "ParameterNotFound" {
		t.Fatalf("the administrator reading %s: %v, want ParameterNotFound", *code, err)
	}
	for _, f := range c.Template.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			m, ok := lines[f.LogicalID]
			if !ok {
				t.Fatalf("keys prints no sam local invoke line for %s:\n%s", f.LogicalID, out.String())
			}
			key, secret, event, region := m[1], m[2], m[4], m[5]
			if region != c.Region {
				t.Errorf("the line says --region %s, the cloud serves %s", region, c.Region)
			}
			if !exists(filepath.Join(app.RepoRoot(), event)) {
				t.Errorf("the line's --event %s does not exist", event)
			}
			cfg := signedWith(c, region, key, secret)
			if got, want := callerARN(t, cfg), sessionOf(t, f.RoleArn)+f.LogicalID; got != want {
				t.Errorf("signed with %s, the caller is %s, want %s's role session %s", key, got, f.LogicalID, want)
			}
			_, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: code})
			if errorCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "ssm:GetParameter") {
				t.Errorf("%s reading the activation code: %v, want AccessDeniedException for ssm:GetParameter", f.LogicalID, err)
			}
		})
	}

	// Every principal of the table is who its key signs as.
	rows := keyRowRE.FindAllStringSubmatch(out.String(), -1)
	roles := map[string]string{}
	for _, f := range c.Template.Functions {
		roles[f.LogicalID] = f.RoleArn
	}
	for _, sm := range c.Template.StateMachines {
		roles[sm.LogicalID] = sm.RoleArn
	}
	seen := map[string]bool{}
	for _, r := range rows {
		name, kind, key, arn := r[1], r[2], r[3], r[4]
		seen[name] = true
		got := callerARN(t, signedWith(c, c.Region, key, localSecret))
		switch {
		case kind == "admin":
			if got != arn || !strings.HasSuffix(arn, ":root") {
				t.Errorf("admin's key %s signs as %s, the table says %s", key, got, arn)
			}
		default:
			if want, ok := roles[name]; (kind == "function" || kind == "state machine") && (!ok || arn != want) {
				t.Errorf("the table gives %s %s the ARN %s, template.yaml its role %s", kind, name, arn, want)
			}
			if want := sessionOf(t, arn) + name; got != want {
				t.Errorf("%s's key %s signs as %s, want %s", name, key, got, want)
			}
		}
	}
	for _, n := range append([]string{"admin", "operator"}, keysOf(roles)...) {
		if !seen[n] {
			t.Errorf("the table does not list %s:\n%s", n, out.String())
		}
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// keys -profile gives, per principal, the key the sam lines give.
func TestKeysProfileFile(t *testing.T) {
	var lines, profile bytes.Buffer
	if err := keys(nil, &lines, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := keys([]string{"-profile"}, &profile, io.Discard); err != nil {
		t.Fatal(err)
	}
	sections := regexp.MustCompile(`(?m)^\[(\S+)\]\naws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\nregion = (\S+)$`).FindAllStringSubmatch(profile.String(), -1)
	byName := map[string]string{}
	for _, s := range sections {
		byName[s[1]] = s[2]
	}
	rows := keyRowRE.FindAllStringSubmatch(lines.String(), -1)
	if len(rows) == 0 || len(sections) != len(rows) {
		t.Fatalf("%d profiles for %d principals:\n%s", len(sections), len(rows), profile.String())
	}
	for _, r := range rows {
		if byName[r[1]] != r[3] {
			t.Errorf("profile [%s] has key %q, the table %s", r[1], byName[r[1]], r[3])
		}
	}
}

// With -unknown-credentials deny, a key the cloud does not know is refused
// by every service as AWS refuses an unknown key, in that service's shape;
// the keys it knows still sign as their principals. By default such a key is
// the administrator.
func TestUnknownCredentialsDeny(t *testing.T) {
	ctx := context.Background()
	deny := startServed(t, "-unknown-credentials", "deny")
	unknown := signedWith(deny, deny.Region, "AKIDNOBODYKNOWS", "local")
	calls := []struct {
		service string
		call    func(aws.Config) error
		code    string
		status  int
	}{
		{"sts", func(cfg aws.Config) error {
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			return err
		}, "InvalidClientTokenId", 403},
		{"iam", func(cfg aws.Config) error {
			_, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
			return err
		}, "InvalidClientTokenId", 403},
		{"eks", func(cfg aws.Config) error {
			_, err := eks.NewFromConfig(cfg).ListClusters(ctx, &eks.ListClustersInput{})
			return err
		}, "UnrecognizedClientException", 403},
		{"lambda", func(cfg aws.Config) error {
			_, err := lambda.NewFromConfig(cfg).GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(fnName(deny, "TriggerFunction"))})
			return err
		}, "UnrecognizedClientException", 403},
		{"ssm", func(cfg aws.Config) error {
			_, err := ssm.NewFromConfig(cfg).DescribeParameters(ctx, &ssm.DescribeParametersInput{})
			return err
		}, "UnrecognizedClientException", 400},
		{"sqs", func(cfg aws.Config) error {
			_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
			return err
		}, "InvalidClientTokenId", 403},
		{"events", func(cfg aws.Config) error {
			_, err := eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{})
			return err
		}, "UnrecognizedClientException", 400},
		{"states", func(cfg aws.Config) error {
			_, err := sfn.NewFromConfig(cfg).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
			return err
		}, "UnrecognizedClientException", 400},
	}
	for _, tc := range calls {
		t.Run(tc.service, func(t *testing.T) {
			err := tc.call(unknown)
			var re *awshttp.ResponseError
			if errorCode(err) != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status || re.ServiceRequestID() == "" {
				t.Errorf("an unknown key: %v, want %s with HTTP %d and a request id", err, tc.code, tc.status)
			}
			if err := tc.call(deny.ConfigFor("admin")); err != nil {
				t.Errorf("the administrator's key: %v", err)
			}
		})
	}
	for _, p := range deny.Credentials() {
		if p.Kind == "function" {
			if got, want := callerARN(t, signedWith(deny, deny.Region, p.AccessKeyID, localSecret)), sessionOf(t, p.ARN)+p.Name; got != want {
				t.Errorf("%s's key signs as %s, want %s", p.Name, got, want)
			}
		}
	}
	admin := startServed(t)
	if got := callerARN(t, signedWith(admin, admin.Region, "AKIDNOBODYKNOWS", "local")); got != credentialOf(admin, "admin").ARN {
		t.Errorf("by default an unknown key signs as %s, want the administrator %s", got, credentialOf(admin, "admin").ARN)
	}
	if _, err := parseServe([]string{"-unknown-credentials", "allow"}, io.Discard); err == nil {
		t.Error("-unknown-credentials allow was accepted")
	}
}

func fnName(c *localcloud.Cloud, logicalID string) string {
	f, _ := c.Template.Function(logicalID)
	return f.FunctionName
}

// serve -sfn-read-lag makes Step Functions' reads lag by that much: right
// after StartExecution, DescribeExecution does not see the execution yet.
func TestServeReadLag(t *testing.T) {
	if _, err := parseServe([]string{"-sfn-read-lag", "-1s"}, io.Discard); err == nil {
		t.Error("a negative -sfn-read-lag was accepted")
	}
	c := startServed(t, "-sfn-read-lag", "1m")
	cli := sfn.NewFromConfig(c.ConfigFor("admin"))
	var smArn string
	for _, sm := range c.Template.StateMachines {
		if sm.LogicalID == "DeregistrationStateMachine" {
			smArn = sm.Arn
		}
	}
	release := c.Virtual.Busy() // hold virtual time: the execution stays within the lag
	defer release()
	out, err := cli.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(smArn),
		Input: aws.String(`{"clusterName":"lag-01"}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	var missing *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("DescribeExecution right after the start: %v, want ExecutionDoesNotExist within the lag", err)
	}
}
