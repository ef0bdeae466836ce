// Package contract is the event contract of the registrar: the detail of the
// "Register Cluster" and "Deregister Cluster" EventBridge events, validated
// before any side effect. It is pure: no AWS calls, no clock.
//
// Decisions (the README documents them for users):
//   - Unknown detail fields are rejected. A misspelt optional field
//     ("activationTimeout") would otherwise be ignored silently and the
//     registration would run with the 3-day default; a rejection names the
//     field instead.
//   - provider is case-insensitive and '-' is accepted for '_', so "gke",
//     "Eks-Anywhere" and "eks_anywhere" all mean the canonical EKS value.
//   - activationTimeoutMinutes must be a JSON integer literal: 7.5, 10.0,
//     1e3 and "10" are rejected. null counts as absent.
//   - consoleAccessArns are IAM role or user ARNs; duplicates are dropped,
//     keeping the first. An STS assumed-role session ARN is rejected with the
//     role ARN to use instead.
//   - No field is trimmed or otherwise rewritten except provider.
package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// EventBridge detail-types the registrar consumes and emits.
const (
	DetailTypeRegister   = "Register Cluster"
	DetailTypeDeregister = "Deregister Cluster"
	DetailTypeRejected   = "Registration Rejected"
)

// Limits of the contract.
const (
	MinActivationTimeoutMinutes = 5
	MaxActivationTimeoutMinutes = 4320 // 3 days: the activation expiry EKS sets
	MaxClusterNameLength        = 100  // eks:RegisterCluster name limit
	MaxConsoleAccessArns        = 20
	MaxTags                     = 50 // EKS per-resource tag limit
	MaxTagKeyLength             = 128
	MaxTagValueLength           = 256
	MaxReasonLength             = 256
	MaxExecutionNameLength      = 80 // Step Functions execution name limit
)

// Providers are the connectorConfig.provider values of eks:RegisterCluster
// (the EKS service model's ConnectorConfigProvider enum, in its order).
// They are written here rather than read from the SDK's enum
// (github.com/aws/aws-sdk-go-v2/service/eks/types) so that the trigger, which
// builds no EKS client, does not link and initialise the EKS types and
// schemas at start-up (BENCHMARKS.md, "Start-up"). TestProvidersAreTheSDKEnum
// fails when this list and the SDK's enum differ, so a new SDK that adds or
// drops a provider is noticed; the local EKS validates with the SDK's enum.
var Providers = []string{"EKS_ANYWHERE", "ANTHOS", "GKE", "AKS", "OPENSHIFT", "TANZU", "RANCHER", "EC2", "OTHER"}

// RegisterRequest is a validated "Register Cluster" detail.
type RegisterRequest struct {
	ClusterName              string            `json:"clusterName"`
	Provider                 string            `json:"provider"` // canonical
	ActivationTimeoutMinutes int               `json:"activationTimeoutMinutes"`
	ConsoleAccessArns        []string          `json:"consoleAccessArns"`
	Tags                     map[string]string `json:"tags,omitempty"`
}

// DeregisterRequest is a validated "Deregister Cluster" detail.
type DeregisterRequest struct {
	ClusterName string `json:"clusterName"`
	Reason      string `json:"reason,omitempty"`
}

// Rejection names the field, the value and the rule an event broke. It is the
// body of the "Registration Rejected" event.
type Rejection struct {
	Field string `json:"field"`
	Value string `json:"value"`
	Rule  string `json:"rule"`
}

// Message is the sentence a human reads, e.g.
// clusterName "prod.eu" is invalid: only letters, digits, '-' and '_' are allowed (...).
func (r *Rejection) Message() string {
	if r.Value == "" {
		return fmt.Sprintf("%s is invalid: %s", r.Field, r.Rule)
	}
	return fmt.Sprintf("%s %q is invalid: %s", r.Field, r.Value, r.Rule)
}

// Error lets a Rejection travel as an error inside the trigger; it is never
// returned to Lambda (a bad event is answered, not retried).
func (r *Rejection) Error() string { return r.Message() }

// reject builds a Rejection. The field, the value and every string argument
// of the rule are clipped: they quote the event, which may be up to
// PutEvents' 256 KB, and the rejection itself must fit in an event (its
// value and message) and a log line.
func reject(field, value, rule string, args ...any) *Rejection {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = clip(s)
		}
	}
	if len(args) > 0 {
		rule = fmt.Sprintf(rule, args...)
	}
	return &Rejection{Field: clip(field), Value: clip(value), Rule: rule}
}

// The patterns of the contract. The two ARN patterns are compiled when an
// event first carries consoleAccessArns, not at the trigger's start-up;
// the cluster name and tag characters, checked on most events, are plain
// loops (validClusterName, validTagChars), equal to their patterns
// (TestHandWrittenMatchersEqualTheirPatterns, and the fuzz targets against
// the README's patterns). Compiling all four at init took 0.4 ms of every
// cold start (BENCHMARKS.md, "Start-up").
var (
	// IAM role/user ARN: any partition, 12-digit account, optional path.
	iamPrincipalPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/([\x21-\x2E\x30-\x7E]+/)*[\w+=,.@-]{1,64}$`)
	})
	stsSessionPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws(?:-[a-z]+)*):sts::([0-9]{12}):assumed-role/([\w+=,.@-]{1,64})/`)
	})
)

// validClusterName is ^[0-9A-Za-z][A-Za-z0-9\-_]*$ (the EKS name pattern).
func validClusterName(s string) bool {
	if s == "" || !isASCIIAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isASCIIAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// validTagChars is ^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$: the characters AWS allows
// in tag keys and values. Invalid UTF-8 decodes to U+FFFD, a symbol, and
// fails as it does in the pattern.
func validTagChars(s string) bool {
	for _, r := range s {
		switch {
		case strings.ContainsRune("_.:/=+-@", r):
		case unicode.In(r, unicode.L, unicode.Z, unicode.N):
		default:
			return false
		}
	}
	return true
}

const clusterNameRule = `only letters, digits, '-' and '_' are allowed, starting with a letter or digit (EKS pattern ^[0-9A-Za-z][A-Za-z0-9\-_]*)`

// ValidateClusterName checks an EKS connected-cluster name.
func ValidateClusterName(name string) *Rejection {
	switch {
	case name == "":
		return reject("clusterName", "", "required: 1 to %d characters, %s", MaxClusterNameLength, clusterNameRule)
	case len(name) > MaxClusterNameLength:
		return reject("clusterName", name, "at most %d characters are allowed, got %d", MaxClusterNameLength, len(name))
	case strings.Contains(name, "."):
		// EKS answers a dotted name with an opaque error; say what to do.
		return reject("clusterName", name, "a dot is not allowed in an EKS connected-cluster name; use '-' instead (e.g. %q); %s",
			strings.ReplaceAll(name, ".", "-"), clusterNameRule)
	case !validClusterName(name):
		return reject("clusterName", name, clusterNameRule)
	}
	return nil
}

// ParseRegister validates a "Register Cluster" detail. defaultTimeout is
// used when activationTimeoutMinutes is absent.
func ParseRegister(detail json.RawMessage, defaultTimeout int) (RegisterRequest, *Rejection) {
	var req RegisterRequest
	fields, rej := object(detail, "clusterName", "provider", "activationTimeoutMinutes", "consoleAccessArns", "tags")
	if rej != nil {
		return req, rej
	}
	if req.ClusterName, rej = requiredString(fields, "clusterName"); rej != nil {
		return req, rej
	}
	if rej = ValidateClusterName(req.ClusterName); rej != nil {
		return req, rej
	}
	if req.Provider, rej = parseProvider(fields["provider"]); rej != nil {
		return req, rej
	}
	if req.ActivationTimeoutMinutes, rej = parseTimeout(fields["activationTimeoutMinutes"], defaultTimeout); rej != nil {
		return req, rej
	}
	if req.ConsoleAccessArns, rej = parseConsoleArns(fields["consoleAccessArns"]); rej != nil {
		return req, rej
	}
	if req.Tags, rej = parseTags(fields["tags"]); rej != nil {
		return req, rej
	}
	return req, nil
}

// ParseDeregister validates a "Deregister Cluster" detail.
func ParseDeregister(detail json.RawMessage) (DeregisterRequest, *Rejection) {
	var req DeregisterRequest
	fields, rej := object(detail, "clusterName", "reason")
	if rej != nil {
		return req, rej
	}
	if req.ClusterName, rej = requiredString(fields, "clusterName"); rej != nil {
		return req, rej
	}
	if rej = ValidateClusterName(req.ClusterName); rej != nil {
		return req, rej
	}
	if raw, ok := fields["reason"]; ok && !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return req, reject("reason", string(raw), "must be a string")
		}
		if n := utf8.RuneCountInString(s); n > MaxReasonLength {
			return req, reject("reason", s, "at most %d characters are allowed, got %d", MaxReasonLength, n)
		}
		req.Reason = s
	}
	return req, nil
}

// object decodes detail into its fields and rejects unknown ones.
func object(detail json.RawMessage, known ...string) (map[string]json.RawMessage, *Rejection) {
	trimmed := bytes.TrimSpace(detail)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, reject("detail", clip(string(trimmed)), "must be a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, reject("detail", "", "must be a JSON object: %v", err)
	}
	var unknown []string
	for k := range fields {
		if !contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		field := unknown[0]
		if field == "" {
			field = "detail"
		}
		return nil, reject(field, clip(string(fields[unknown[0]])), "unknown field %q; the allowed fields are %s", unknown[0], strings.Join(known, ", "))
	}
	return fields, nil
}

func requiredString(fields map[string]json.RawMessage, name string) (string, *Rejection) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return "", nil // the caller's validator reports "required"
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", reject(name, clip(string(raw)), "must be a string")
	}
	return s, nil
}

func parseProvider(raw json.RawMessage) (string, *Rejection) {
	allowed := "one of " + strings.Join(Providers, ", ") + " (case-insensitive)"
	if raw == nil || isNull(raw) {
		return "", reject("provider", "", "required: "+allowed)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", reject("provider", clip(string(raw)), "must be a string, "+allowed)
	}
	canon := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	if !contains(Providers, canon) {
		return "", reject("provider", s, "must be "+allowed)
	}
	return canon, nil
}

func parseTimeout(raw json.RawMessage, def int) (int, *Rejection) {
	if raw == nil || isNull(raw) {
		return def, nil
	}
	rule := fmt.Sprintf("must be a whole number of minutes from %d to %d", MinActivationTimeoutMinutes, MaxActivationTimeoutMinutes)
	lit := string(raw)
	n, err := strconv.Atoi(lit) // rejects 7.5, 10.0, 1e3 and "10"
	if err != nil {
		return 0, reject("activationTimeoutMinutes", clip(lit), rule)
	}
	if n < MinActivationTimeoutMinutes || n > MaxActivationTimeoutMinutes {
		return 0, reject("activationTimeoutMinutes", lit, rule)
	}
	return n, nil
}

func parseConsoleArns(raw json.RawMessage) ([]string, *Rejection) {
	out := []string{}
	if raw == nil || isNull(raw) {
		return out, nil
	}
	var arns []json.RawMessage
	if json.Unmarshal(raw, &arns) != nil {
		return nil, reject("consoleAccessArns", clip(string(raw)), "must be a list of IAM role or user ARNs")
	}
	if len(arns) > MaxConsoleAccessArns {
		return nil, reject("consoleAccessArns", "", "at most %d ARNs are allowed, got %d", MaxConsoleAccessArns, len(arns))
	}
	for i, r := range arns {
		field := fmt.Sprintf("consoleAccessArns[%d]", i)
		var a string
		if json.Unmarshal(r, &a) != nil {
			return nil, reject(field, clip(string(r)), "must be a string")
		}
		if m := stsSessionPattern().FindStringSubmatch(a); m != nil {
			return nil, reject(field, a, "is an STS assumed-role session ARN; Kubernetes sees the IAM role, so use the role ARN "+
				"(arn:%s:iam::%s:role/%s, with the role's path if it has one)", m[1], m[2], m[3])
		}
		if !iamPrincipalPattern().MatchString(a) {
			return nil, reject(field, a, "must be an IAM role or user ARN: arn:<partition>:iam::<12-digit account>:role/<name> or :user/<name>")
		}
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func parseTags(raw json.RawMessage) (map[string]string, *Rejection) {
	if raw == nil || isNull(raw) {
		return nil, nil
	}
	var tags map[string]json.RawMessage
	if json.Unmarshal(raw, &tags) != nil {
		return nil, reject("tags", clip(string(raw)), "must be an object of string keys to string values")
	}
	if len(tags) > MaxTags {
		return nil, reject("tags", "", "at most %d tags are allowed, got %d", MaxTags, len(tags))
	}
	keys := slices.Sorted(maps.Keys(tags))
	out := make(map[string]string, len(tags))
	for _, k := range keys {
		field := "tags." + k
		switch n := utf8.RuneCountInString(k); {
		case n == 0 || n > MaxTagKeyLength:
			return nil, reject("tags", k, "a tag key must be 1 to %d characters", MaxTagKeyLength)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, reject("tags", k, "tag keys starting with 'aws:' are reserved by AWS")
		case !validTagChars(k):
			return nil, reject("tags", k, "a tag key may hold only letters, digits, spaces and _ . : / = + - @")
		}
		var v string
		if json.Unmarshal(tags[k], &v) != nil {
			return nil, reject(field, clip(string(tags[k])), "a tag value must be a string")
		}
		if n := utf8.RuneCountInString(v); n > MaxTagValueLength {
			return nil, reject(field, clip(v), "a tag value must be at most %d characters, got %d", MaxTagValueLength, n)
		}
		if !validTagChars(v) {
			return nil, reject(field, v, "a tag value may hold only letters, digits, spaces and _ . : / = + - @")
		}
		out[k] = v
	}
	return out, nil
}

// ExecutionName is the Step Functions execution name for an event: at most
// 80 characters of 0-9A-Za-z-_ (the characters CloudWatch logging accepts),
// readable (prefix and cluster name) and deterministic (a hash of the event id),
// so a redelivered event maps to the same execution.
func ExecutionName(prefix, clusterName, eventID string) string {
	sum := sha256.Sum256([]byte(clusterName + "\x00" + eventID))
	hash := hex.EncodeToString(sum[:])[:20]
	head := sanitize(prefix)
	if head != "" {
		head += "-"
	}
	head += sanitize(clusterName)
	if max := MaxExecutionNameLength - len(hash) - 1; len(head) > max {
		head = head[:max]
	}
	return head + "-" + hash
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '-'
	}, s)
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// clip keeps a rejected value short enough for an event and a log line.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Execution name prefixes: a registration's execution is named
// ExecutionName(RegisterPrefix, …), a deregistration's
// ExecutionName(DeregisterPrefix, …).
const (
	RegisterPrefix   = "register"
	DeregisterPrefix = "deregister"
)

// executionHashLength is the length of ExecutionName's hash, after its '-'.
const executionHashLength = 20

// ParseStateMachineArn reads arn:<partition>:states:<region>:<account>:stateMachine:<name>.
func ParseStateMachineArn(stateMachineArn string) (arn.ARN, string, error) {
	a, err := arn.Parse(stateMachineArn)
	name, ok := strings.CutPrefix(a.Resource, "stateMachine:")
	if err != nil || a.Service != "states" || !ok || name == "" || strings.Contains(name, ":") {
		return arn.ARN{}, "", fmt.Errorf("%q is not a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)", stateMachineArn)
	}
	return a, name, nil
}

// ExecutionArn is the ARN of the execution named name of the state machine
// stateMachineArn: arn:<p>:states:<r>:<a>:stateMachine:<sm> →
// arn:<p>:states:<r>:<a>:execution:<sm>:<name> ("" if stateMachineArn is not
// a state machine ARN).
func ExecutionArn(stateMachineArn, name string) string {
	a, sm, err := ParseStateMachineArn(stateMachineArn)
	if err != nil {
		return ""
	}
	a.Resource = "execution:" + sm + ":" + name
	return a.String()
}

// IsExecutionOf reports whether executionArn is an execution of stateMachineArn.
func IsExecutionOf(stateMachineArn, executionArn string) bool {
	sm, smName, err := ParseStateMachineArn(stateMachineArn)
	ex, exErr := arn.Parse(executionArn)
	rest, ok := strings.CutPrefix(ex.Resource, "execution:"+smName+":")
	return err == nil && exErr == nil && ok && rest != "" && ex.Service == "states" &&
		ex.Partition == sm.Partition && ex.Region == sm.Region && ex.AccountID == sm.AccountID
}

// IsExecutionFor reports whether an execution name was made by ExecutionName
// for prefix and clusterName, whatever its event. Two cluster names that
// share their first 59 characters (less the prefix) share their execution
// names' readable part, so for such names the answer can be a false match.
func IsExecutionFor(prefix, clusterName, executionName string) bool {
	want := ExecutionName(prefix, clusterName, "")
	head := want[:len(want)-executionHashLength-1]
	return len(executionName) == len(head)+1+executionHashLength &&
		strings.HasPrefix(executionName, head+"-")
}

// ExecutionCluster returns the readable cluster part of an execution name
// made by ExecutionName for prefix: the cluster name itself, or its first
// characters when the name was cut to fit. ok is false for other names.
func ExecutionCluster(prefix, executionName string) (cluster string, ok bool) {
	rest, found := strings.CutPrefix(executionName, sanitize(prefix)+"-")
	if !found || len(rest) < executionHashLength+2 || rest[len(rest)-executionHashLength-1] != '-' {
		return "", false
	}
	return rest[:len(rest)-executionHashLength-1], true
}

// ParseConsoleAccessArns validates console-access ARNs as the
// consoleAccessArns field of "Register Cluster" is validated (the same rules
// and messages), for a caller that has them as a list: duplicates are
// dropped, keeping the first.
func ParseConsoleAccessArns(arns []string) ([]string, *Rejection) {
	raw, err := json.Marshal(arns)
	if err != nil {
		return nil, reject("consoleAccessArns", "", "must be a list of IAM role or user ARNs")
	}
	return parseConsoleArns(raw)
}
