package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

const (
	secretCode = "Xq9SECRETcodeVALUE/abc+def=="
	execArn    = "arn:aws:states:eu-west-1:123456789012:execution:register:evt-1"
	roleArn    = "arn:aws:iam::123456789012:role/AmazonEKSConnectorAgentRole"
)

type rig struct {
	eks   *fakeEKS
	ssm   *fakeSSM
	calls []string
	logs  bytes.Buffer
	reg   *Registrar
}

func newRig(t *testing.T, env map[string]string) *rig {
	t.Helper()
	r := &rig{}
	r.eks = &fakeEKS{calls: &r.calls, code: secretCode}
	r.ssm = newSSM(&r.calls)
	r.ssm.now = time.Date(2025, 3, 1, 9, 59, 30, 0, time.UTC) // the fake EKS creates clusters at 10:00
	s, err := workflow.LoadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	// The trigger took the cluster's lock for this execution.
	r.ssm.params[s.Params().Lock("edge-1")] = param{value: execArn, typ: "String"}
	r.reg = &Registrar{EKS: r.eks, SSM: r.ssm, Settings: s, Region: "eu-west-1",
		Log: slog.New(slog.NewJSONHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: func() time.Time { return time.Date(2025, 3, 1, 9, 59, 0, 0, time.UTC) }}
	return r
}

func input(attempt int) RegisterInput {
	return RegisterInput{
		Execution:    workflow.RegistrationInput{ClusterName: "edge-1", Provider: "OTHER", ConsoleAccessArns: []string{"arn:aws:iam::123456789012:role/Viewer"}, Attempt: 1},
		ExecutionArn: execArn, Attempt: attempt, AgentRoleArn: roleArn,
	}
}

func errName(err error) string {
	if err == nil {
		return ""
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func TestRegisterStoresTheCodeAndReturnsOnlyItsParameterName(t *testing.T) {
	r := newRig(t, map[string]string{"KMS_KEY_ID": "alias/registrar"})
	out, err := r.reg.Handle(context.Background(), input(1))
	if err != nil {
		t.Fatal(err)
	}
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	want := []string{"PutParameter " + p.Intent("edge-1"), "RegisterCluster", "PutParameter " + p.ActivationCode("edge-1"), "PutParameter " + p.Activation("edge-1")}
	if !reflect.DeepEqual(r.calls, want) {
		t.Errorf("calls = %v, want %v (intent first)", r.calls, want)
	}
	code := r.ssm.params[p.ActivationCode("edge-1")]
	if code.value != secretCode || code.typ != "SecureString" || code.keyID != "alias/registrar" {
		t.Errorf("stored code = %+v", code)
	}
	if tok := *r.eks.lastInput.ClientRequestToken; tok != RequestToken(execArn, 1) || len(tok) != 32 {
		t.Errorf("token %q", tok)
	}
	if r.eks.lastInput.Tags != nil {
		t.Errorf("tags sent although none were given: %v", r.eks.lastInput.Tags)
	}
	if out.CodeParameter != p.ActivationCode("edge-1") || out.ActivationID == "" || out.ActivationExpiry != "2025-03-04T10:00:00Z" ||
		out.RegisteredAt != "2025-03-01T10:00:00Z" || out.Region != "eu-west-1" || out.ClusterArn == "" {
		t.Errorf("out = %+v", out)
	}
	for _, w := range []string{"helm upgrade --install eks-connector oci://public.ecr.aws/eks-connector/eks-connector-chart",
		"--namespace eks-connector --create-namespace", "eks.activationId=" + out.ActivationID, "eks.agentRegion=eu-west-1",
		"aws ssm get-parameter --name " + out.CodeParameter + " --with-decryption --query Parameter.Value --output text --region eu-west-1",
		"authentication.allowedUserARNs={arn:aws:iam::123456789012:role/Viewer}"} {
		if !strings.Contains(out.InstallCommand, w) {
			t.Errorf("install command %q lacks %q", out.InstallCommand, w)
		}
	}
	b, _ := json.Marshal(out)
	var rec Activation
	json.Unmarshal([]byte(r.ssm.params[p.Activation("edge-1")].value), &rec)
	for what, s := range map[string]string{"output": string(b), "logs": r.logs.String(), "activation record": r.ssm.params[p.Activation("edge-1")].value, "intent": r.ssm.params[p.Intent("edge-1")].value} {
		if strings.Contains(s, secretCode) {
			t.Errorf("the activation code leaked into the %s: %s", what, s)
		}
	}
	if rec.ActivationID != out.ActivationID || rec.ExecutionArn != execArn || rec.Provider != "OTHER" || rec.Attempt != 1 {
		t.Errorf("activation record = %+v", rec)
	}
}

func TestRegisterRerunAfterSuccessReportsTheSameRegistration(t *testing.T) {
	r := newRig(t, nil)
	first, err := r.reg.Handle(context.Background(), input(1))
	if err != nil {
		t.Fatal(err)
	}
	r.calls = nil
	again, err := r.reg.Handle(context.Background(), input(1))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("rerun = %+v, want %+v", again, first)
	}
	if len(r.calls) != 0 {
		t.Errorf("rerun made calls %v", r.calls)
	}
}

func TestRegisterErrors(t *testing.T) {
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	tests := []struct {
		name        string
		setup       func(r *rig)
		want        string
		wantMessage string
	}{
		{name: "agent role not propagated (current text)", want: "RolePropagationDelay",
			setup: func(r *rig) {
				r.eks.registerErr = apiErr("InvalidRequestException", "Nonexistent role or missing ssm service principal in trust policy")
			}},
		{name: "agent role not propagated (older text)", want: "RolePropagationDelay",
			setup: func(r *rig) { r.eks.registerErr = apiErr("InvalidRequestException", "Not existing role: arn:...") }},
		{name: "service-linked role still propagating (428)", want: "RolePropagationDelay",
			setup: func(r *rig) { r.eks.registerErr = apiErr("ResourcePropagationDelayException", "retry") }},
		{name: "service-linked role missing", want: "ServiceLinkedRoleMissing", wantMessage: "create-service-linked-role",
			setup: func(r *rig) {
				r.eks.registerErr = apiErr("InvalidRequestException", "AWSServiceRoleForAmazonEKSConnector is not available")
			}},
		{name: "quota reached", want: "RegisteredClustersQuotaExceeded", wantMessage: `"Registered clusters"`,
			setup: func(r *rig) { r.eks.registerErr = apiErr("ResourceLimitExceededException", "limit") }},
		{name: "throttled", want: "TransientAWSError",
			setup: func(r *rig) { r.eks.registerErr = apiErr("ThrottlingException", "slow down") }},
		{name: "bad parameter", want: "AWSCallFailed",
			setup: func(r *rig) { r.eks.registerErr = apiErr("InvalidParameterException", "bad provider") }},
		{name: "name taken, no intent of ours before this run", want: "ClusterOwnedElsewhere",
			setup: func(r *rig) { r.eks.cluster = taken(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) }},
		{name: "name taken by an earlier run of this execution", want: "ActivationCodeLost",
			setup: func(r *rig) {
				writeJSON(context.Background(), r.ssm, p.Intent("edge-1"), Intent{Cluster: "edge-1", ExecutionArn: execArn, Attempt: 1})
				r.eks.cluster = taken(r.ssm.now.Add(time.Second))
			}},
		{name: "name taken before this execution's intent (someone else's)", want: "ClusterOwnedElsewhere",
			setup: func(r *rig) {
				writeJSON(context.Background(), r.ssm, p.Intent("edge-1"), Intent{Cluster: "edge-1", ExecutionArn: execArn, Attempt: 1})
				r.eks.cluster = taken(r.ssm.now.Add(-time.Hour))
			}},
		{name: "name taken, intent of another execution", want: "ClusterOwnedElsewhere",
			setup: func(r *rig) {
				writeJSON(context.Background(), r.ssm, p.Intent("edge-1"), Intent{Cluster: "edge-1", ExecutionArn: execArn + "-other", Attempt: 1})
				r.eks.cluster = taken(r.ssm.now.Add(time.Second))
			}},
		{name: "name taken by a registration our activation record names", want: "ActivationCodeLost",
			setup: func(r *rig) {
				writeJSON(context.Background(), r.ssm, p.Activation("edge-1"), Activation{ActivationID: "act-taken", ExecutionArn: execArn + "-other", Attempt: 1})
				r.eks.cluster = taken(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
			}},
		{name: "storing the code fails transiently: registered again", want: "ActivationCodeLost", wantMessage: "InternalServerError",
			setup: func(r *rig) {
				r.ssm.failPut[p.ActivationCode("edge-1")] = serverErr("InternalServerError", "try again")
			}},
		{name: "storing the code is refused for good: fail fast", want: "ActivationCodeStoreRefused", wantMessage: "ssm:PutParameter permission",
			setup: func(r *rig) {
				r.ssm.failPut[p.ActivationCode("edge-1")] = apiErr("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: ssm:PutParameter")
			}},
		{name: "storing the record fails", want: "ActivationCodeLost",
			setup: func(r *rig) { r.ssm.failPut[p.Activation("edge-1")] = apiErr("ThrottlingException", "slow") }},
		{name: "writing the intent is throttled: nothing registered", want: "TransientAWSError",
			setup: func(r *rig) { r.ssm.failPut[p.Intent("edge-1")] = apiErr("ThrottlingException", "slow") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, nil)
			tt.setup(r)
			_, err := r.reg.Handle(context.Background(), input(1))
			if errName(err) != tt.want {
				t.Fatalf("err = %s %v, want %s", errName(err), err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("message %q lacks %q", err, tt.wantMessage)
			}
			if strings.Contains(err.Error(), secretCode) || strings.Contains(r.logs.String(), secretCode) {
				t.Errorf("code leaked: %v", err)
			}
		})
	}
}

// A KMS key the function may not use refuses every code: the step fails at
// once with a reason naming the key and the KmsKeyArn parameter, instead of
// registering, losing the code and deregistering up to five times.
func TestRegisterFailsFastWhenTheKeyRefusesTheCode(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	for _, refusal := range []error{
		apiErr("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: kms:Encrypt on resource: "+key+" with an explicit deny in a resource-based policy"),
		apiErr("InvalidKeyId", "Invalid keyId "+key),
	} {
		r := newRig(t, map[string]string{"KMS_KEY_ID": key})
		r.ssm.failPut[p.ActivationCode("edge-1")] = refusal
		_, err := r.reg.Handle(context.Background(), input(1))
		var e ActivationCodeStoreRefused
		if !errors.As(err, &e) || !e.KeyProblem {
			t.Fatalf("%v: err = %s %v, want ActivationCodeStoreRefused about the key", refusal, errName(err), err)
		}
		for _, want := range []string{key, "KmsKeyArn", "kms:Encrypt", "send Register Cluster again"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("reason %q does not name %q", err, want)
			}
		}
		if strings.Contains(err.Error(), secretCode) || strings.Contains(r.logs.String(), secretCode) {
			t.Errorf("code leaked: %v", err)
		}
	}
}

func TestRegisterCrashBeforeStoringTheCodeIsDetectedOnRetry(t *testing.T) {
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	for _, replay := range []struct {
		name string
		err  error
	}{{"replay answers without the code", nil}, {"replay answers ResourceInUse", apiErr("ResourceInUseException", "exists")}} {
		t.Run(replay.name, func(t *testing.T) {
			r := newRig(t, nil)
			r.eks.replayErr = replay.err
			r.ssm.failPut[p.ActivationCode("edge-1")] = serverErr("InternalServerError", "crash stand-in")
			if _, err := r.reg.Handle(context.Background(), input(1)); errName(err) != "ActivationCodeLost" {
				t.Fatalf("first run: %s %v", errName(err), err)
			}
			delete(r.ssm.failPut, p.ActivationCode("edge-1"))
			if _, err := r.reg.Handle(context.Background(), input(1)); errName(err) != "ActivationCodeLost" {
				t.Fatalf("retry: %s %v, want ActivationCodeLost", errName(err), err)
			}
		})
	}
}

func TestRequestTokenIsStablePerAttempt(t *testing.T) {
	if RequestToken(execArn, 1) != RequestToken(execArn, 1) || RequestToken(execArn, 1) == RequestToken(execArn, 2) || RequestToken(execArn, 1) == RequestToken(execArn+"x", 1) {
		t.Error("token must depend on execution and attempt only")
	}
}

func TestActivationCodeRedactsEverywhere(t *testing.T) {
	c := NewActivationCode(secretCode)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "code", c, "wrapped", struct{ C ActivationCode }{c})
	b, _ := json.Marshal(map[string]any{"c": c})
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c), string(b), buf.String()} {
		if strings.Contains(s, secretCode) {
			t.Errorf("leak: %s", s)
		}
	}
	if c.Reveal() != secretCode {
		t.Error("Reveal lost the value")
	}
}

func TestStepErrorsAreTheTypesTheStateMachineNames(t *testing.T) {
	for _, e := range []error{awserr.Step("x:Y", apiErr("ThrottlingException", "")), awserr.Step("x:Y", apiErr("AccessDeniedException", ""))} {
		if n := errName(e); n != "TransientAWSError" && n != "AWSCallFailed" {
			t.Errorf("%s", n)
		}
	}
}

// taken is a pending connected cluster of that name (activation act-taken)
// created at created; the fake EKS answers ResourceInUse to registering it.
func taken(created time.Time) *ekstypes.Cluster {
	return &ekstypes.Cluster{Name: aws.String("edge-1"), Arn: aws.String("arn:aws:eks:eu-west-1:123456789012:cluster/edge-1"),
		CreatedAt: aws.Time(created), Status: ekstypes.ClusterStatusPending,
		ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String("act-taken"), Provider: aws.String("OTHER")}}
}

// No step reads the activation code parameter: not the first run, not a
// rerun that finds its own record, not the ResourceInUse path.
func TestRegisterNeverReadsTheCode(t *testing.T) {
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	r := newRig(t, nil)
	r.eks.replayErr = apiErr("ResourceInUseException", "exists")
	for range 2 {
		if _, err := r.reg.Handle(context.Background(), input(1)); err != nil {
			t.Fatal(err)
		}
	}
	r.ssm.failPut[p.ActivationCode("edge-1")] = serverErr("InternalServerError", "crash stand-in")
	r.reg.Handle(context.Background(), input(2))
	r.reg.Handle(context.Background(), input(2))
	for _, n := range r.ssm.gets {
		if n == p.ActivationCode("edge-1") {
			t.Fatalf("RegisterCluster read the activation code parameter (reads %v)", r.ssm.gets)
		}
	}
}

func TestRegisterChangesNothingOnceSuperseded(t *testing.T) {
	r := newRig(t, nil)
	deregistration := "arn:aws:states:eu-west-1:123456789012:execution:Deregistration:deregister-edge-1-x"
	r.ssm.params[r.reg.Settings.Params().Lock("edge-1")] = param{value: deregistration, typ: "String"}
	_, err := r.reg.Handle(context.Background(), input(1))
	var sup RegistrationSuperseded
	if !errors.As(err, &sup) || sup.Holder != deregistration {
		t.Fatalf("err = %v, want RegistrationSuperseded naming the deregistration", err)
	}
	for _, c := range r.calls {
		if !strings.HasPrefix(c, "Get") {
			t.Errorf("a superseded registration called %s", c)
		}
	}
}
