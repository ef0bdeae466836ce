package contract

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestParseRegister(t *testing.T) {
	long := strings.Repeat("a", 101)
	cases := []struct {
		name    string
		detail  string
		want    RegisterRequest
		field   string // expected Rejection.Field, "" when valid
		ruleHas string
	}{
		{name: "minimal, default timeout", detail: `{"clusterName":"prod-eu_1","provider":"GKE"}`,
			want: RegisterRequest{ClusterName: "prod-eu_1", Provider: "GKE", ActivationTimeoutMinutes: 4320, ConsoleAccessArns: []string{}}},
		{name: "provider is case-insensitive, canonical out", detail: `{"clusterName":"c1","provider":"openShift"}`,
			want: RegisterRequest{ClusterName: "c1", Provider: "OPENSHIFT", ActivationTimeoutMinutes: 4320, ConsoleAccessArns: []string{}}},
		{name: "eks-anywhere spelled with a dash", detail: `{"clusterName":"c1","provider":"eks-anywhere"}`,
			want: RegisterRequest{ClusterName: "c1", Provider: "EKS_ANYWHERE", ActivationTimeoutMinutes: 4320, ConsoleAccessArns: []string{}}},
		{name: "everything", detail: `{"clusterName":"c1","provider":"AKS","activationTimeoutMinutes":30,
			"consoleAccessArns":["arn:aws:iam::123456789012:role/Admin","arn:aws-cn:iam::123456789012:user/team/alice","arn:aws:iam::123456789012:role/Admin"],
			"tags":{"team":"platform","cost-center":"42"}}`,
			want: RegisterRequest{ClusterName: "c1", Provider: "AKS", ActivationTimeoutMinutes: 30,
				ConsoleAccessArns: []string{"arn:aws:iam::123456789012:role/Admin", "arn:aws-cn:iam::123456789012:user/team/alice"},
				Tags:              map[string]string{"team": "platform", "cost-center": "42"}}},
		{name: "timeout null means default", detail: `{"clusterName":"c1","provider":"EC2","activationTimeoutMinutes":null}`,
			want: RegisterRequest{ClusterName: "c1", Provider: "EC2", ActivationTimeoutMinutes: 4320, ConsoleAccessArns: []string{}}},
		{name: "timeout bounds inclusive", detail: `{"clusterName":"c1","provider":"EC2","activationTimeoutMinutes":5}`,
			want: RegisterRequest{ClusterName: "c1", Provider: "EC2", ActivationTimeoutMinutes: 5, ConsoleAccessArns: []string{}}},
		{name: "100-character name", detail: `{"clusterName":"` + long[:100] + `","provider":"OTHER"}`,
			want: RegisterRequest{ClusterName: long[:100], Provider: "OTHER", ActivationTimeoutMinutes: 4320, ConsoleAccessArns: []string{}}},

		{name: "missing name", detail: `{"provider":"GKE"}`, field: "clusterName", ruleHas: "required"},
		{name: "name with a dot", detail: `{"clusterName":"prod.eu","provider":"GKE"}`, field: "clusterName", ruleHas: "a dot is not allowed"},
		{name: "name starting with dash", detail: `{"clusterName":"-prod","provider":"GKE"}`, field: "clusterName", ruleHas: "^[0-9A-Za-z]"},
		{name: "name with a space", detail: `{"clusterName":"prod eu","provider":"GKE"}`, field: "clusterName", ruleHas: "only letters"},
		{name: "name too long", detail: `{"clusterName":"` + long + `","provider":"GKE"}`, field: "clusterName", ruleHas: "at most 100"},
		{name: "name not a string", detail: `{"clusterName":42,"provider":"GKE"}`, field: "clusterName", ruleHas: "string"},
		{name: "missing provider", detail: `{"clusterName":"c1"}`, field: "provider", ruleHas: "required"},
		{name: "bad provider", detail: `{"clusterName":"c1","provider":"k3s"}`, field: "provider", ruleHas: "EKS_ANYWHERE"},
		{name: "timeout fraction", detail: `{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":7.5}`, field: "activationTimeoutMinutes", ruleHas: "whole number"},
		{name: "timeout as string", detail: `{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":"10"}`, field: "activationTimeoutMinutes"},
		{name: "timeout 10.0", detail: `{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":10.0}`, field: "activationTimeoutMinutes"},
		{name: "timeout too small", detail: `{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":4}`, field: "activationTimeoutMinutes"},
		{name: "timeout too large", detail: `{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":4321}`, field: "activationTimeoutMinutes"},
		{name: "sts session arn", detail: `{"clusterName":"c1","provider":"GKE","consoleAccessArns":["arn:aws:sts::123456789012:assumed-role/Admin/alice"]}`,
			field: "consoleAccessArns[0]", ruleHas: "use the role ARN (arn:aws:iam::123456789012:role/Admin"},
		{name: "not an arn", detail: `{"clusterName":"c1","provider":"GKE","consoleAccessArns":["arn:aws:iam::123456789012:role/ok","alice"]}`,
			field: "consoleAccessArns[1]", ruleHas: "IAM role or user ARN"},
		{name: "group arn", detail: `{"clusterName":"c1","provider":"GKE","consoleAccessArns":["arn:aws:iam::123456789012:group/admins"]}`, field: "consoleAccessArns[0]"},
		{name: "short account", detail: `{"clusterName":"c1","provider":"GKE","consoleAccessArns":["arn:aws:iam::1234:role/a"]}`, field: "consoleAccessArns[0]"},
		{name: "arns not a list", detail: `{"clusterName":"c1","provider":"GKE","consoleAccessArns":"arn:aws:iam::123456789012:role/a"}`, field: "consoleAccessArns"},
		{name: "aws: tag", detail: `{"clusterName":"c1","provider":"GKE","tags":{"aws:owner":"x"}}`, field: "tags", ruleHas: "reserved"},
		{name: "tag value not string", detail: `{"clusterName":"c1","provider":"GKE","tags":{"n":1}}`, field: "tags.n"},
		{name: "tag value too long", detail: `{"clusterName":"c1","provider":"GKE","tags":{"n":"` + strings.Repeat("v", 257) + `"}}`, field: "tags.n"},
		{name: "tag key bad chars", detail: `{"clusterName":"c1","provider":"GKE","tags":{"a*b":"x"}}`, field: "tags"},
		{name: "unknown field", detail: `{"clusterName":"c1","provider":"GKE","activationTimeout":30}`, field: "activationTimeout", ruleHas: "unknown field"},
		{name: "detail not an object", detail: `["c1"]`, field: "detail"},
		{name: "detail empty", detail: ``, field: "detail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rej := ParseRegister(json.RawMessage(tc.detail), 4320)
			if tc.field == "" {
				if rej != nil {
					t.Fatalf("rejected: %s", rej.Message())
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if rej == nil {
				t.Fatalf("accepted %+v, want rejection of %s", got, tc.field)
			}
			if rej.Field != tc.field {
				t.Fatalf("rejected field %q (%s), want %q", rej.Field, rej.Message(), tc.field)
			}
			if !strings.Contains(rej.Rule, tc.ruleHas) {
				t.Fatalf("rule %q does not mention %q", rej.Rule, tc.ruleHas)
			}
		})
	}
}

func TestRejectionMessage(t *testing.T) {
	_, rej := ParseRegister(json.RawMessage(`{"clusterName":"prod.eu","provider":"GKE"}`), 4320)
	want := `clusterName "prod.eu" is invalid: a dot is not allowed in an EKS connected-cluster name; use '-' instead (e.g. "prod-eu"); ` +
		`only letters, digits, '-' and '_' are allowed, starting with a letter or digit (EKS pattern ^[0-9A-Za-z][A-Za-z0-9\-_]*)`
	if got := rej.Message(); got != want {
		t.Fatalf("message:\n got %s\nwant %s", got, want)
	}
	_, rej = ParseRegister(json.RawMessage(`{"provider":"GKE"}`), 4320)
	if got := rej.Message(); !strings.HasPrefix(got, "clusterName is invalid: required") {
		t.Fatalf("message %q", got)
	}
}

func TestParseDeregister(t *testing.T) {
	cases := []struct {
		name, detail string
		want         DeregisterRequest
		field        string
	}{
		{name: "name only", detail: `{"clusterName":"c1"}`, want: DeregisterRequest{ClusterName: "c1"}},
		{name: "with reason", detail: `{"clusterName":"c1","reason":"decommissioned"}`, want: DeregisterRequest{ClusterName: "c1", Reason: "decommissioned"}},
		{name: "missing name", detail: `{"reason":"x"}`, field: "clusterName"},
		{name: "dot", detail: `{"clusterName":"a.b"}`, field: "clusterName"},
		{name: "reason too long", detail: `{"clusterName":"c1","reason":"` + strings.Repeat("r", 257) + `"}`, field: "reason"},
		{name: "reason not a string", detail: `{"clusterName":"c1","reason":7}`, field: "reason"},
		{name: "unknown field", detail: `{"clusterName":"c1","provider":"GKE"}`, field: "provider"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rej := ParseDeregister(json.RawMessage(tc.detail))
			if tc.field == "" {
				if rej != nil {
					t.Fatalf("rejected: %s", rej.Message())
				}
				if got != tc.want {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if rej == nil || rej.Field != tc.field {
				t.Fatalf("rejection %+v, want field %q", rej, tc.field)
			}
		})
	}
}

func TestExecutionName(t *testing.T) {
	valid := regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)
	long := strings.Repeat("x", 100)
	a := ExecutionName("register", "prod-eu", "3f0c1c1e-0d4a-4a5e-9a66-6d0a1b2c3d4e")
	if a != ExecutionName("register", "prod-eu", "3f0c1c1e-0d4a-4a5e-9a66-6d0a1b2c3d4e") {
		t.Fatal("not deterministic")
	}
	if !strings.HasPrefix(a, "register-prod-eu-") {
		t.Fatalf("not readable: %s", a)
	}
	for _, n := range []string{
		a,
		ExecutionName("register", long, "e1"),
		ExecutionName("de.reg", "c", "e:1/2"),
		ExecutionName("", "c", ""),
	} {
		if !valid.MatchString(n) {
			t.Errorf("invalid execution name %q (%d chars)", n, len(n))
		}
	}
	if ExecutionName("register", long, "e1") == ExecutionName("register", long, "e2") {
		t.Fatal("truncated names of different events collide")
	}
	if ExecutionName("register", "c", "e1") == ExecutionName("deregister", "c", "e1") {
		t.Fatal("prefix ignored")
	}
}

// The providers the trigger accepts are the SDK's enum, which the local EKS
// validates with too: one list (issue 9), written in contract.go so the
// trigger does not link the EKS types (issue 12). The SDK documents its
// Values() order as unstable, so the lists are compared as sets. The list
// the EKS API reference and the project's reference notes give is checked
// here as well, so a provider the SDK drops or adds is noticed.
func TestProvidersAreTheSDKEnum(t *testing.T) {
	var sdk []string
	for _, p := range ekstypes.ConnectorConfigProvider("").Values() {
		sdk = append(sdk, string(p))
	}
	ours := slices.Sorted(slices.Values(Providers))
	slices.Sort(sdk)
	if !slices.Equal(ours, sdk) {
		t.Errorf("contract.Providers %v, SDK enum %v: make contract.Providers the SDK's ConnectorConfigProvider values", Providers, sdk)
	}
	if len(slices.Compact(ours)) != len(Providers) {
		t.Errorf("contract.Providers %v lists a provider twice", Providers)
	}
	for _, p := range []string{"EKS_ANYWHERE", "ANTHOS", "GKE", "AKS", "OPENSHIFT", "TANZU", "RANCHER", "EC2", "OTHER"} {
		if !slices.Contains(Providers, p) {
			t.Errorf("provider %s is missing", p)
		}
	}
}

func TestExecutionNameMatching(t *testing.T) {
	long := strings.Repeat("c", 70)
	for _, cluster := range []string{"prod-eu-1", "a", long} {
		name := ExecutionName(RegisterPrefix, cluster, "event-1")
		if !IsExecutionFor(RegisterPrefix, cluster, name) {
			t.Errorf("%s is not recognised as an execution for %s", name, cluster)
		}
		if IsExecutionFor(DeregisterPrefix, cluster, name) || IsExecutionFor(RegisterPrefix, cluster+"x", name) && cluster != long {
			t.Errorf("%s matched another prefix or cluster", name)
		}
		got, ok := ExecutionCluster(RegisterPrefix, name)
		if !ok || !strings.HasPrefix(cluster, got) || (cluster != long && got != cluster) {
			t.Errorf("ExecutionCluster(%s) = %q, %v", name, got, ok)
		}
	}
	if IsExecutionFor(RegisterPrefix, "prod", ExecutionName(RegisterPrefix, "prod-eu-1", "e")) {
		t.Error("prod matched prod-eu-1's execution")
	}
	if _, ok := ExecutionCluster(RegisterPrefix, "register-x"); ok {
		t.Error("a name without a hash matched")
	}
	if got := ExecutionArn("arn:aws:states:us-east-1:123456789012:stateMachine:Reg", "n"); got != "arn:aws:states:us-east-1:123456789012:execution:Reg:n" {
		t.Errorf("ExecutionArn = %s", got)
	}
}

func TestParseConsoleAccessArnsIsTheEventRule(t *testing.T) {
	arns := []string{"arn:aws:sts::123456789012:assumed-role/Admin/me"}
	_, rej := ParseConsoleAccessArns(arns)
	_, evRej := ParseRegister([]byte(`{"clusterName":"a","provider":"gke","consoleAccessArns":["arn:aws:sts::123456789012:assumed-role/Admin/me"]}`), 60)
	if rej == nil || evRej == nil || rej.Message() != evRej.Message() {
		t.Errorf("list %v, event %v", rej, evRej)
	}
	got, rej := ParseConsoleAccessArns([]string{"arn:aws:iam::123456789012:role/A", "arn:aws:iam::123456789012:role/A"})
	if rej != nil || len(got) != 1 {
		t.Errorf("%v %v", got, rej)
	}
}

func TestStateMachineAndExecutionArns(t *testing.T) {
	const sm = "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:Reg"
	if got := ExecutionArn(sm, "n"); got != "arn:aws-cn:states:cn-north-1:123456789012:execution:Reg:n" {
		t.Fatalf("ExecutionArn = %q", got)
	}
	for _, bad := range []string{"", "Reg", "arn:aws:states:us-east-1:123456789012:execution:Reg:n",
		"arn:aws:lambda:us-east-1:123456789012:stateMachine:Reg", "arn:aws:states:us-east-1:123456789012:stateMachine:"} {
		if _, _, err := ParseStateMachineArn(bad); err == nil {
			t.Errorf("ParseStateMachineArn(%q) accepted it", bad)
		}
		if got := ExecutionArn(bad, "n"); got != "" {
			t.Errorf("ExecutionArn(%q) = %q, want \"\"", bad, got)
		}
	}
	for _, tc := range []struct {
		execution string
		want      bool
	}{
		{"arn:aws-cn:states:cn-north-1:123456789012:execution:Reg:n", true},
		{"arn:aws-cn:states:cn-north-1:123456789012:execution:RegOther:n", false},
		{"arn:aws-cn:states:cn-north-1:123456789012:execution:Reg:", false},
		{"arn:aws-cn:states:cn-north-1:210987654321:execution:Reg:n", false},
		{"arn:aws-cn:states:cn-northwest-1:123456789012:execution:Reg:n", false},
		{"arn:aws:states:cn-north-1:123456789012:execution:Reg:n", false},
		{"not an arn", false},
	} {
		if got := IsExecutionOf(sm, tc.execution); got != tc.want {
			t.Errorf("IsExecutionOf(%s) = %v, want %v", tc.execution, got, tc.want)
		}
	}
}

// validClusterName and validTagChars are loops so the trigger compiles no
// pattern at start-up; they must accept exactly what the README's patterns
// (docName, docTagChars in fuzz_test.go) accept: every code point alone and
// after a valid one, every byte where invalid UTF-8 can start, and mixes.
func TestHandWrittenMatchersEqualTheirPatterns(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := validClusterName(s), docName.MatchString(s); got != want {
			t.Errorf("validClusterName(%q) = %v, the pattern says %v", s, got, want)
		}
		if got, want := validTagChars(s), docTagChars.MatchString(s); got != want {
			t.Errorf("validTagChars(%q) = %v, the pattern says %v", s, got, want)
		}
	}
	check("")
	for r := rune(0); r <= unicode.MaxRune; r++ {
		s := string(r)
		check(s)
		if r < 0x800 || r%97 == 0 {
			check("a" + s)
			check("a" + s + "b")
		}
	}
	for b := 0; b < 256; b++ {
		check(string([]byte{byte(b)}))
		check("a" + string([]byte{byte(b)}))
		check("a-" + string([]byte{byte(b), 0x80}))
	}
	for _, s := range []string{"prod-eu_1", "-x", "_x", "x\n", "x y", "日本-1", "a\u00a0b", "a\u2028b", "key:a/b=c+d-e@f.g_h", "Ⅻ", "٣", "a\xffb", "\xed\xa0\x80"} {
		check(s)
	}
}
