package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/platform/eks-connector-registrar/internal/cli"
	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/events"
)

// syncBuffer is a writer two goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type world struct {
	t *testing.T
	c *localcloud.Cloud
}

func startCloud(t *testing.T, o localcloud.Options) *world {
	t.Helper()
	c, err := app.Start(o, nil)
	if err != nil {
		t.Fatalf("starting the local cloud: %v", err)
	}
	c.CheckWire(t)
	t.Cleanup(c.Close)
	return &world{t: t, c: c}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the command against the local cloud, signed as the operator,
// on the cloud's clock, polling every few milliseconds of real time.
func (w *world) run(args ...string) result {
	var out syncBuffer
	return w.runTo(&out, args...)
}

func (w *world) runTo(out *syncBuffer, args ...string) result {
	var errb syncBuffer
	env := cli.Env{Stdout: out, Stderr: &errb, Now: w.c.Clock.Now, PollInterval: 3 * time.Millisecond, StartTimeout: 10 * time.Second}
	if args[0] == "tty" { // as on a terminal: the progress display is redrawn
		args = args[1:]
		env.IsTerminal = func(io.Writer) bool { return true }
	}
	if d, err := time.ParseDuration(args[0]); err == nil { // the operator runs it this much later
		args = args[1:]
		env.Now = func() time.Time { return w.c.Clock.Now().Add(d) }
	}
	full := append([]string{"--local", "--endpoint-url", w.c.URL}, args...)
	code := cli.Run(context.Background(), full, env)
	return result{code, out.String(), errb.String()}
}

// runAsync starts the command and returns a function that waits for it,
// and its output so far.
func (w *world) runAsync(args ...string) (func() result, *syncBuffer) {
	ch := make(chan result, 1)
	out := &syncBuffer{}
	go func() { ch <- w.runTo(out, args...) }()
	return func() result {
		select {
		case r := <-ch:
			return r
		case <-time.After(60 * time.Second):
			w.t.Fatalf("eks-connector-registrar %v did not end within 60 s of real time", args)
			return result{}
		}
	}, out
}

func (w *world) eventsOf(detailType string) []events.Event {
	var out []events.Event
	for _, ev := range w.c.Events.Log() {
		if ev.DetailType == detailType {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits (in real time) for an event of detailType on the bus.
func (w *world) waitEvent(detailType string) events.Event {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if evs := w.eventsOf(detailType); len(evs) > 0 {
			return evs[0]
		}
		time.Sleep(2 * time.Millisecond)
	}
	w.t.Fatalf("no %q event within 30 s of real time", detailType)
	return events.Event{}
}

const consoleArn = "arn:aws:iam::123456789012:role/PlatformAdmins"

// The operator's whole path: register --wait, install --format manifests,
// the cluster applies what install wrote (the simulated agent registers with
// the id and code read back from the manifests' Secret), ACTIVE, exit 0;
// then status and deregister --wait.
func TestRegisterWaitInstallManifestsThenActive(t *testing.T) {
	w := startCloud(t, localcloud.Options{Agent: agent.Config{Mode: agent.Manual}})
	// Hold the virtual clock while the operator installs: nothing moves
	// until the manifests are applied.
	release := w.c.Virtual.Busy()
	defer release()
	wait, _ := w.runAsync("register", "--cluster", "onprem-1", "--provider", "eks-anywhere", "--timeout", "24h",
		"--console-access", consoleArn, "--tag", "team=platform", "--wait")
	ready := w.waitEvent("Activation Ready")
	var rd map[string]any
	_ = json.Unmarshal(ready.Detail, &rd)

	// While pending: status shows it, with its time left and the running execution.
	st := w.run("status", "--cluster", "onprem-1", "--output", "json")
	if st.code != 0 {
		t.Fatalf("status: exit %d: %s", st.code, st.stderr)
	}
	var rows []cli.ClusterStatus
	if err := json.Unmarshal([]byte(st.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("status --output json: %v: %s", err, st.stdout)
	}
	if r := rows[0]; r.Status != "PENDING" || r.Provider != "EKS_ANYWHERE" || r.ActivationExpiry == nil || r.TimeLeft != "3d0h" ||
		r.RunningKind != "registration" || r.Running != rd["executionArn"] {
		t.Errorf("status while pending: %+v (Activation Ready: %v)", r, rd)
	}

	dir := t.TempDir()
	helmDir := filepath.Join(dir, "helm")
	helm := w.run("install", "--cluster", "onprem-1", "--format", "helm", "--out", helmDir, "--console-access", consoleArn)
	if helm.code != 0 {
		t.Fatalf("install --format helm: exit %d: %s", helm.code, helm.stderr)
	}
	checkHelm(t, helm, filepath.Join(helmDir, "eks-connector-values.yaml"), rd)

	in := w.run("install", "--cluster", "onprem-1", "--format", "manifests", "--out", dir, "--console-access", consoleArn)
	if in.code != 0 {
		t.Fatalf("install: exit %d: %s", in.code, in.stderr)
	}
	if !strings.Contains(in.stderr, "expires at") || !strings.Contains(in.stderr, "in 3d0h") {
		t.Errorf("install does not warn with the time left: %q", in.stderr)
	}
	agentFile := filepath.Join(dir, "eks-connector.yaml")
	consoleFile := filepath.Join(dir, "eks-connector-console-access.yaml")
	for _, f := range []string{agentFile, consoleFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
		if !strings.Contains(in.stdout, "-f "+f) {
			t.Errorf("install does not say to apply %s: %s", f, in.stdout)
		}
	}
	id, code := checkManifests(t, agentFile, consoleFile, rd)
	if strings.Contains(in.stdout+in.stderr+helm.stdout+helm.stderr, code) {
		t.Error("install printed the activation code")
	}

	// The cluster applies the manifests: the agent registers with what
	// they hold, nothing else.
	if _, err := w.c.Agent.Apply("onprem-1", id, code); err != nil {
		t.Fatalf("the agent could not register with the manifests' activation: %v", err)
	}
	release()
	r := wait()
	t.Logf("register --wait:\n%s", r.stdout)
	if r.code != cli.ExitOK {
		t.Fatalf("register --wait: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"state RegisterCluster", "event Activation Ready", "state CheckActivation", "EKS status ACTIVE",
		"event Cluster Registered", "Cluster onprem-1 is registered and its agent connected (ACTIVE)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("register --wait output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, code) {
		t.Error("register --wait printed the activation code")
	}

	st = w.run("status", "--output", "json")
	rows = nil
	_ = json.Unmarshal([]byte(st.stdout), &rows)
	if len(rows) != 1 || rows[0].Status != "ACTIVE" || rows[0].Running != "" || !strings.HasPrefix(rows[0].LastOutcome, "registered") {
		t.Errorf("status after activation: %s", st.stdout)
	}

	d := w.run("deregister", "--cluster", "onprem-1", "--reason", "test done", "--wait")
	if d.code != cli.ExitOK {
		t.Fatalf("deregister --wait: exit %d\n%s\n%s", d.code, d.stdout, d.stderr)
	}
	for _, want := range []string{"helm uninstall eks-connector --namespace eks-connector", "kubectl delete -f <dir>/eks-connector.yaml",
		"event Cluster Deregistered", "Cluster onprem-1 is deregistered"} {
		if !strings.Contains(d.stdout, want) {
			t.Errorf("deregister output lacks %q:\n%s", want, d.stdout)
		}
	}
	st = w.run("status")
	// EKS shows a deregistered cluster DELETING for a while, then not at all.
	if !regexp.MustCompile(`onprem-1 +(DELETING +EKS_ANYWHERE|NOT_REGISTERED +-) +- +- +- +deregistered, `).MatchString(st.stdout) {
		t.Errorf("status after deregistration:\n%s", st.stdout)
	}
}

// checkManifests parses what install wrote back as Kubernetes objects and
// returns the activation id and code the agent would use.
func checkManifests(t *testing.T, agentFile, consoleFile string, ready map[string]any) (string, string) {
	t.Helper()
	objs := decodeAll(t, agentFile)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind+"/"+o.namespace+"/"+o.name)
	}
	sort.Strings(kinds)
	want := []string{
		"ClusterRole//eks-connector-cluster-meta-access", "ClusterRoleBinding//eks-connector-cluster-meta-access",
		"ConfigMap/eks-connector/eks-connector-agent", "Namespace//eks-connector",
		"Role/eks-connector/eks-connector-secret-access", "RoleBinding/eks-connector/eks-connector-secret-access",
		"Secret/eks-connector/eks-connector-activation-config", "Secret/eks-connector/eks-connector-token",
		"ServiceAccount/eks-connector/eks-connector", "StatefulSet/eks-connector/eks-connector",
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("objects:\n got %v\nwant %v", kinds, want)
	}
	var id, code string
	for _, o := range objs {
		switch o.kind {
		case "Secret":
			var s corev1.Secret
			o.into(t, &s)
			if s.Name != "eks-connector-activation-config" {
				continue
			}
			// The YAML holds base64 (data:); the typed Secret decodes it.
			if !strings.Contains(string(o.raw), "code: ") || strings.Contains(string(o.raw), "stringData") {
				t.Errorf("the activation Secret is not written as base64 data:\n%s", o.raw)
			}
			code = string(s.Data["code"])
		case "StatefulSet":
			var ss appsv1.StatefulSet
			o.into(t, &ss)
			spec := ss.Spec.Template.Spec
			if ns := spec.NodeSelector; len(ns) != 2 || ns["kubernetes.io/arch"] != "amd64" || ns["kubernetes.io/os"] != "linux" {
				t.Errorf("nodeSelector %v", ns)
			}
			if ss.Spec.Selector == nil || ss.Spec.Selector.MatchLabels["app"] != "eks-connector" || ss.Spec.Template.Labels["app"] != "eks-connector" {
				t.Errorf("selector %v does not match the pod labels %v", ss.Spec.Selector, ss.Spec.Template.Labels)
			}
			if *ss.Spec.Replicas != 2 || spec.ServiceAccountName != "eks-connector" {
				t.Errorf("replicas %d, service account %q", *ss.Spec.Replicas, spec.ServiceAccountName)
			}
			init := spec.InitContainers[0]
			for _, e := range init.Env {
				if e.Name == "EKS_ACTIVATION_ID" {
					id = e.Value
				}
				if e.Name == "EKS_ACTIVATION_CODE" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "eks-connector-activation-config" || e.ValueFrom.SecretKeyRef.Key != "code") {
					t.Errorf("the init container does not read the code from the Secret: %+v", e)
				}
			}
			if !contains(init.Args, "--agent.region="+ready["region"].(string)) || init.Image != cli.ConnectorImageRepo+":"+cli.DefaultConnectorTag {
				t.Errorf("init container %s %v", init.Image, init.Args)
			}
			images := map[string]string{}
			for _, c := range spec.Containers {
				images[c.Name] = c.Image
			}
			if images["connector-agent"] != cli.SSMAgentImageRepo+":"+cli.DefaultSSMAgentTag || images["connector-proxy"] != cli.ConnectorImageRepo+":"+cli.DefaultConnectorTag {
				t.Errorf("images %v", images)
			}
		case "Role":
			var r rbacv1.Role
			o.into(t, &r)
			if len(r.Rules) != 2 || strings.Join(r.Rules[0].ResourceNames, ",") != "eks-connector-state-0,eks-connector-state-1" ||
				strings.Join(r.Rules[0].Verbs, ",") != "get,update" || strings.Join(r.Rules[1].Verbs, ",") != "create" {
				t.Errorf("Role rules %+v", r.Rules)
			}
		case "ClusterRole":
			var r rbacv1.ClusterRole
			o.into(t, &r)
			if len(r.Rules) != 1 || strings.Join(r.Rules[0].NonResourceURLs, ",") != "/version" || strings.Join(r.Rules[0].Verbs, ",") != "get" {
				t.Errorf("ClusterRole %s rules %+v", r.Name, r.Rules)
			}
		case "RoleBinding", "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding // the same fields
			o.into(t, &b)
			if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != "eks-connector" || b.Subjects[0].Namespace != "eks-connector" ||
				b.RoleRef.Name != b.Name {
				t.Errorf("%s %s: subjects %+v roleRef %+v", o.kind, b.Name, b.Subjects, b.RoleRef)
			}
		}
	}
	if id != ready["activationId"] || code == "" {
		t.Fatalf("activation id %q (Activation Ready: %v), code present %v", id, ready["activationId"], code != "")
	}

	// Console access: the agent may impersonate exactly the given ARN; the
	// ARN may read what the console shows.
	cons := decodeAll(t, consoleFile)
	if len(cons) != 4 {
		t.Fatalf("console-access objects: %d", len(cons))
	}
	for _, o := range cons {
		switch {
		case o.kind == "ClusterRole" && o.name == "eks-connector-service":
			var r rbacv1.ClusterRole
			o.into(t, &r)
			if len(r.Rules) != 1 || strings.Join(r.Rules[0].Verbs, ",") != "impersonate" || strings.Join(r.Rules[0].Resources, ",") != "users" ||
				strings.Join(r.Rules[0].ResourceNames, ",") != consoleArn {
				t.Errorf("impersonation rules %+v", r.Rules)
			}
		case o.kind == "ClusterRoleBinding" && o.name == "eks-connector-service":
			var b rbacv1.ClusterRoleBinding
			o.into(t, &b)
			if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Namespace != "eks-connector" || b.RoleRef.Name != "eks-connector-service" {
				t.Errorf("impersonation binding %+v", b)
			}
		case o.kind == "ClusterRole":
			var r rbacv1.ClusterRole
			o.into(t, &r)
			got := map[string]string{}
			for _, rule := range r.Rules {
				got[strings.Join(rule.APIGroups, ",")] = strings.Join(rule.Resources, ",") + " " + strings.Join(rule.Verbs, ",")
			}
			if got[""] != "nodes,namespaces,pods,events get,list" || got["apps"] != "deployments,daemonsets,statefulsets,replicasets get,list" || got["batch"] != "jobs get,list" {
				t.Errorf("console ClusterRole rules %v", got)
			}
		case o.kind == "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			o.into(t, &b)
			if len(b.Subjects) != 1 || b.Subjects[0].Kind != "User" || b.Subjects[0].Name != consoleArn || b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != o.name {
				t.Errorf("console binding %+v", b)
			}
		default:
			t.Errorf("unexpected console-access object %s %s", o.kind, o.name)
		}
	}
	return id, code
}

type k8sObject struct {
	kind, name, namespace string
	raw                   []byte
}

func (o k8sObject) into(t *testing.T, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.raw, v); err != nil {
		t.Fatalf("%s %s does not decode as %T: %v", o.kind, o.name, v, err)
	}
}

func decodeAll(t *testing.T, file string) []k8sObject {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []k8sObject
	for _, doc := range strings.Split(string(b), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name, Namespace string
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" || meta.APIVersion == "" || meta.Metadata.Name == "" {
			t.Fatalf("%s: a document without apiVersion/kind/name (%v):\n%s", file, err, doc)
		}
		out = append(out, k8sObject{meta.Kind, meta.Metadata.Name, meta.Metadata.Namespace, []byte(doc)})
	}
	return out
}

// The chart's documented value names, read from aws/amazon-eks-connector at
// commit 0cfd7c9a891c5e7ef33d15fba15a5338cca445df,
// charts/eks-connector/values.yaml (chart version 0.0.11). install's values
// file may use only these (a leaf, or a map-valued leaf such as
// deploy.podLabelSelector whose keys are the user's).
var chartValueNames = map[string]bool{
	"eks.activationCode": true, "eks.activationId": true, "eks.agentRegion": true,
	"replicaCount":                   true,
	"authentication.allowedUserARNs": true,
	"images.eksConnector.pullPolicy": true, "images.eksConnector.repository": true, "images.eksConnector.tag": true,
	"images.ssmAgent.pullPolicy": true, "images.ssmAgent.repository": true, "images.ssmAgent.tag": true,
	"secretOverrides.prefix": true, "secretOverrides.namespace": true,
	"deploy.podLabelSelector": true,
}

func checkHelm(t *testing.T, r result, valuesFile string, ready map[string]any) {
	t.Helper()
	fi, err := os.Stat(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v", valuesFile, fi.Mode().Perm())
	}
	if !strings.Contains(r.stdout, "helm upgrade --install eks-connector oci://public.ecr.aws/eks-connector/eks-connector-chart --version 0.0.11 --namespace eks-connector --create-namespace -f "+valuesFile) {
		t.Errorf("helm command:\n%s", r.stdout)
	}
	b, _ := os.ReadFile(valuesFile)
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, m map[string]any)
	leaves := map[string]any{}
	walk = func(prefix string, m map[string]any) {
		for k, x := range m {
			name := strings.TrimPrefix(prefix+"."+k, ".")
			if sub, ok := x.(map[string]any); ok && !chartValueNames[name] {
				walk(name, sub)
				continue
			}
			if !chartValueNames[name] {
				t.Errorf("values file sets %s, which the chart does not document", name)
			}
			leaves[name] = x
		}
	}
	walk("", v)
	if leaves["eks.activationId"] != ready["activationId"] || leaves["eks.agentRegion"] != ready["region"] || leaves["eks.activationCode"] == "" {
		t.Errorf("values: %v", leaves)
	}
	if sel, _ := leaves["deploy.podLabelSelector"].(map[string]any); sel["kubernetes.io/arch"] != "amd64" || sel["kubernetes.io/os"] != "linux" {
		t.Errorf("podLabelSelector %v", leaves["deploy.podLabelSelector"])
	}
	if arns, _ := leaves["authentication.allowedUserARNs"].([]any); len(arns) != 1 || arns[0] != consoleArn {
		t.Errorf("allowedUserARNs %v", leaves["authentication.allowedUserARNs"])
	}
}

// An agent that never connects: register --wait ends non-zero with the
// reason; install refuses once the activation has expired.
func TestRegisterNeverConnectsFailsWithTheReason(t *testing.T) {
	w := startCloud(t, localcloud.Options{Agent: agent.Config{Mode: agent.Manual}})
	release := w.c.Virtual.Busy()
	defer release()
	wait, out := w.runAsync("tty", "register", "--cluster", "lab-2", "--provider", "other", "--timeout", "10m", "--wait")
	w.waitEvent("Activation Ready")
	// The execution waits for its next check (the clock is held) and the
	// terminal shows it: only then may time jump, so no task is in flight.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "next check: ") {
		if time.Now().After(deadline) {
			t.Fatalf("the display never showed the next check:\n%q", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The operator gets to it three days and a minute later (on the
	// command's clock: the held cloud has not moved, so the activation
	// record is still there, as it is until the workflow's next check).
	in := w.run("72h1m", "install", "--cluster", "lab-2", "--format", "manifests", "--out", t.TempDir())
	if in.code != cli.ExitFailed || !strings.Contains(in.stderr, "expired at") || !strings.Contains(in.stderr, "register again") {
		t.Errorf("install after expiry: exit %d: %s", in.code, in.stderr)
	}
	release()
	r := wait()
	if r.code != cli.ExitFailed {
		t.Fatalf("register --wait: exit %d, want %d\n%s\n%s", r.code, cli.ExitFailed, r.stdout, r.stderr)
	}
	failed := w.waitEvent("Cluster Registration Failed")
	var fd map[string]any
	_ = json.Unmarshal(failed.Detail, &fd)
	for _, want := range []string{"ended FAILED", "Reason: " + fd["reason"].(string), "event Cluster Registration Failed: " + fd["error"].(string)} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"\x1b[", "  lab-2: ", "next check: ", "deadline:   "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the terminal display lacks %q:\n%q", want, r.stdout)
		}
	}
	if fd["error"] != "ActivationTimedOut" {
		t.Errorf("error %v", fd["error"])
	}
	st := w.run("status", "--cluster", "lab-2")
	if !strings.Contains(st.stdout, "registration FAILED: "+fd["error"].(string)) {
		t.Errorf("status:\n%s", st.stdout)
	}
}

// A request the trigger would reject is refused before anything is sent,
// with the trigger's own message.
func TestRegisterRejectsBeforeSending(t *testing.T) {
	w := startCloud(t, localcloud.Options{NoAgent: true})
	cases := []struct {
		args   []string
		detail map[string]any // the same request as an event
	}{
		{[]string{"--cluster", "prod.eu", "--provider", "other"}, map[string]any{"clusterName": "prod.eu", "provider": "other"}},
		{[]string{"--cluster", "a", "--provider", "kubernetes"}, map[string]any{"clusterName": "a", "provider": "kubernetes"}},
		{[]string{"--cluster", "a", "--provider", "gke", "--timeout", "7m30s"}, map[string]any{"clusterName": "a", "provider": "gke", "activationTimeoutMinutes": 7.5}},
		{[]string{"--cluster", "a", "--provider", "gke", "--timeout", "73h"}, map[string]any{"clusterName": "a", "provider": "gke", "activationTimeoutMinutes": 4380}},
		{[]string{"--cluster", "a", "--provider", "gke", "--console-access", "arn:aws:sts::123456789012:assumed-role/Admin/me"},
			map[string]any{"clusterName": "a", "provider": "gke", "consoleAccessArns": []string{"arn:aws:sts::123456789012:assumed-role/Admin/me"}}},
		{[]string{"--cluster", "a", "--provider", "gke", "--tag", "aws:x=1"}, map[string]any{"clusterName": "a", "provider": "gke", "tags": map[string]string{"aws:x": "1"}}},
	}
	if r := w.run("status", "--stack", "no-such-stack"); r.code != cli.ExitAWSError || !strings.Contains(r.stderr, "Stack with id no-such-stack does not exist") {
		t.Errorf("an unknown stack: exit %d: %s", r.code, r.stderr)
	}
	for _, tc := range cases {
		before := len(w.c.Events.Log())
		r := w.run(append([]string{"register", "--wait"}, tc.args...)...)
		if r.code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, r.code, cli.ExitUsage, r.stderr)
		}
		if n := len(w.c.Events.Log()); n != before {
			t.Errorf("%v: %d event(s) reached the bus", tc.args, n-before)
		}
		// The trigger's answer to the same request, put on the bus as an event.
		msg := triggerRejection(t, w, tc.detail)
		if !strings.Contains(r.stderr, "the request was not sent: "+msg) {
			t.Errorf("%v:\n CLI: %s\n trigger: %s", tc.args, r.stderr, msg)
		}
	}
}

func triggerRejection(t *testing.T, w *world, detail map[string]any) string {
	t.Helper()
	n := len(w.eventsOf("Registration Rejected"))
	b, _ := json.Marshal(detail)
	out, err := eventbridge.NewFromConfig(w.c.ConfigFor("operator")).PutEvents(context.Background(), &eventbridge.PutEventsInput{
		Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("eks-connector-registrar"), DetailType: aws.String("Register Cluster"), Detail: aws.String(string(b))}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v", err)
	}
	w.c.Events.Wait()
	w.c.Lambda.WaitAsync()
	evs := w.eventsOf("Registration Rejected")
	if len(evs) != n+1 {
		t.Fatalf("the trigger did not reject %s", b)
	}
	var d map[string]any
	_ = json.Unmarshal(evs[n].Detail, &d)
	return d["message"].(string)
}

// install refuses an STS session ARN with the role ARN to use, before any AWS call.
func TestInstallRefusesSessionArn(t *testing.T) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"install", "--cluster", "c1", "--endpoint-url", "http://127.0.0.1:1",
		"--console-access", "arn:aws:sts::123456789012:assumed-role/Admins/alice"}, cli.Env{Stdout: &out, Stderr: &errb, Now: time.Now})
	if code != cli.ExitUsage || !strings.Contains(errb.String(), "use the role ARN (arn:aws:iam::123456789012:role/Admins") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// Every command has --help with examples.
func TestHelp(t *testing.T) {
	for _, c := range []string{"register", "status", "install", "deregister"} {
		var out bytes.Buffer
		code := cli.Run(context.Background(), []string{c, "--help"}, cli.Env{Stdout: &out, Now: time.Now})
		if code != 0 || !strings.Contains(out.String(), "Examples:\n  ") || !strings.Contains(out.String(), "eks-connector-registrar "+c) {
			t.Errorf("%s --help: exit %d:\n%s", c, code, out.String())
		}
	}
}

// The Lambda functions never link the Kubernetes libraries the command uses.
func TestFunctionsDoNotImportKubernetes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "k8s.io/") || strings.HasPrefix(p, "sigs.k8s.io/") || strings.HasSuffix(p, "/internal/cli") {
			t.Errorf("a Lambda function depends on %s", p)
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
