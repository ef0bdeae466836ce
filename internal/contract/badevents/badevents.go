// Package badevents generates malformed "Register Cluster" and "Deregister
// Cluster" details, seeded and repeatable, each breaking one documented rule
// of the event contract (README "The event contract") on top of an
// otherwise valid request, and says which field a rejection must name. The
// contract's fuzz corpus and the e2e bad-input test are built from it. Only
// tests import it.
package badevents

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Case is one malformed detail.
type Case struct {
	Kind       string // what rule it breaks, e.g. "name-dot"
	DetailType string // "Register Cluster" or "Deregister Cluster"
	Detail     string
	// Field is the field the rejection must name.
	Field string
	// BusRefuses is the PutEvents entry error EventBridge answers instead
	// of delivering (a detail that is not a JSON object: MalformedDetail);
	// "" when the event reaches the trigger.
	BusRefuses string
}

const (
	register   = "Register Cluster"
	deregister = "Deregister Cluster"
)

var providers = []string{"EKS_ANYWHERE", "ANTHOS", "GKE", "AKS", "OPENSHIFT", "TANZU", "RANCHER", "EC2", "OTHER", "eks-anywhere", "gke"}

type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g gen) name() string {
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const rest = first + "-_"
	n := 1 + g.r.IntN(30)
	b := []byte{first[g.r.IntN(len(first))]}
	for len(b) < n {
		b = append(b, rest[g.r.IntN(len(rest))])
	}
	return string(b)
}

func (g gen) validRegister() map[string]any {
	d := map[string]any{"clusterName": g.name(), "provider": g.pick(providers...)}
	if g.r.IntN(2) == 0 {
		d["activationTimeoutMinutes"] = 5 + g.r.IntN(4316)
	}
	if g.r.IntN(3) == 0 {
		d["consoleAccessArns"] = []string{fmt.Sprintf("arn:aws:iam::%012d:role/Admins", g.r.Int64N(1e12))}
	}
	if g.r.IntN(3) == 0 {
		d["tags"] = map[string]string{"team": "platform"}
	}
	return d
}

func (g gen) validDeregister() map[string]any {
	d := map[string]any{"clusterName": g.name()}
	if g.r.IntN(2) == 0 {
		d["reason"] = "decommissioned"
	}
	return d
}

func encode(d map[string]any) string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// mutation breaks one rule of a valid detail and names the field.
type mutation struct {
	kind   string
	types  []string // the detail-types it applies to
	mutate func(g gen, d map[string]any) (field string)
}

var both = []string{register, deregister}
var reg = []string{register}

func set(key string, v any) func(gen, map[string]any) string {
	return func(_ gen, d map[string]any) string { d[key] = v; return key }
}

var mutations = []mutation{
	// wrong types, missing or empty fields
	{"name-missing", both, func(_ gen, d map[string]any) string { delete(d, "clusterName"); return "clusterName" }},
	{"name-empty", both, set("clusterName", "")},
	{"name-null", both, set("clusterName", nil)},
	{"name-number", both, set("clusterName", 42)},
	{"name-list", both, set("clusterName", []string{"a"})},
	{"name-object", both, set("clusterName", map[string]string{"a": "b"})},
	{"provider-missing", reg, func(_ gen, d map[string]any) string { delete(d, "provider"); return "provider" }},
	{"provider-empty", reg, set("provider", "")},
	{"provider-number", reg, set("provider", 7)},
	{"reason-number", []string{deregister}, set("reason", 12)},
	{"reason-object", []string{deregister}, set("reason", map[string]int{"a": 1})},
	{"reason-257", []string{deregister}, set("reason", strings.Repeat("r", 257))},
	// names
	{"name-dot", both, func(g gen, d map[string]any) string {
		d["clusterName"] = g.name() + "." + g.name()
		return "clusterName"
	}},
	{"name-space", both, func(g gen, d map[string]any) string {
		d["clusterName"] = g.name() + " " + g.name()
		return "clusterName"
	}},
	{"name-unicode", both, func(g gen, d map[string]any) string {
		d["clusterName"] = g.name() + g.pick("é", "ß", "名前", "🙂", "\u00a0", "\u200b")
		return "clusterName"
	}},
	{"name-101", both, func(g gen, d map[string]any) string {
		d["clusterName"] = "a" + strings.Repeat("b", 100)
		return "clusterName"
	}},
	{"name-leading-dash", both, func(g gen, d map[string]any) string { d["clusterName"] = "-" + g.name(); return "clusterName" }},
	{"name-leading-underscore", both, func(g gen, d map[string]any) string { d["clusterName"] = "_" + g.name(); return "clusterName" }},
	{"name-slash", both, func(g gen, d map[string]any) string { d["clusterName"] = g.name() + "/x"; return "clusterName" }},
	// providers
	{"provider-unknown", reg, func(g gen, d map[string]any) string {
		d["provider"] = g.pick("EKS", "aws", "K3S", "openshift4", "GKE ", " AKS", "eks anywhere", "OTHERS", "none")
		return "provider"
	}},
	// timeouts
	{"timeout-range", reg, func(g gen, d map[string]any) string {
		d["activationTimeoutMinutes"] = []int{-1, 0, 4, 4321, 10000, -4320}[g.r.IntN(6)]
		return "activationTimeoutMinutes"
	}},
	{"timeout-not-integer", reg, func(g gen, d map[string]any) string {
		d["activationTimeoutMinutes"] = []any{7.5, "10", true, []int{10}, json.RawMessage("1e3"), json.RawMessage("10.0"), json.RawMessage("-0")}[g.r.IntN(7)]
		return "activationTimeoutMinutes"
	}},
	// ARNs
	{"arn-not-iam", reg, func(g gen, d map[string]any) string {
		d["consoleAccessArns"] = []string{g.pick("arn:aws:s3:::bucket", "arn:aws:iam::123456789012:group/Admins",
			"role/Admins", "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:policy/p", "", "Admins",
			"arn:aws:eks:us-east-1:123456789012:cluster/c")}
		return "consoleAccessArns[0]"
	}},
	{"arn-sts-session", reg, func(g gen, d map[string]any) string {
		d["consoleAccessArns"] = []string{"arn:aws:iam::123456789012:user/ok", "arn:aws:sts::123456789012:assumed-role/Admins/" + g.name()}
		return "consoleAccessArns[1]"
	}},
	{"arn-not-string", reg, func(_ gen, d map[string]any) string {
		d["consoleAccessArns"] = []any{12}
		return "consoleAccessArns[0]"
	}},
	{"arns-not-list", reg, set("consoleAccessArns", "arn:aws:iam::123456789012:role/Admins")},
	{"arns-21", reg, func(_ gen, d map[string]any) string {
		var arns []string
		for i := range 21 {
			arns = append(arns, fmt.Sprintf("arn:aws:iam::123456789012:role/r%d", i))
		}
		d["consoleAccessArns"] = arns
		return "consoleAccessArns"
	}},
	// tags
	{"tags-51", reg, func(_ gen, d map[string]any) string {
		tags := map[string]string{}
		for i := range 51 {
			tags[fmt.Sprintf("k%d", i)] = "v"
		}
		d["tags"] = tags
		return "tags"
	}},
	{"tag-key-129", reg, set("tags", map[string]string{strings.Repeat("k", 129): "v"})},
	{"tag-key-empty", reg, set("tags", map[string]string{"": "v"})},
	{"tag-value-257", reg, func(_ gen, d map[string]any) string {
		d["tags"] = map[string]string{"team": strings.Repeat("v", 257)}
		return "tags.team"
	}},
	{"tag-aws-prefix", reg, func(g gen, d map[string]any) string {
		d["tags"] = map[string]string{g.pick("aws:team", "AWS:x", "Aws:created"): "v"}
		return "tags"
	}},
	{"tag-key-chars", reg, set("tags", map[string]string{"team#1": "v"})},
	{"tag-value-not-string", reg, func(_ gen, d map[string]any) string { d["tags"] = map[string]any{"team": 3}; return "tags.team" }},
	{"tags-not-object", reg, set("tags", []string{"team=platform"})},
	// unknown fields
	{"unknown-field", both, func(g gen, d map[string]any) string {
		k := g.pick("activationTimeout", "ClusterName", "cluster_name", "region", "roleArn", "extra")
		d[k] = "x"
		return k
	}},
	{"unknown-empty-key", both, func(_ gen, d map[string]any) string { d[""] = 1; return "detail" }},
	// oversized details: within PutEvents' 256 KB, far beyond any field's limit
	{"oversized-name", both, func(g gen, d map[string]any) string {
		d["clusterName"] = strings.Repeat("n", 100_000+g.r.IntN(80_000))
		return "clusterName"
	}},
	{"oversized-dotted-name", both, func(g gen, d map[string]any) string {
		d["clusterName"] = strings.Repeat("a.", 50_000+g.r.IntN(30_000))
		return "clusterName"
	}},
	{"oversized-unknown", both, func(g gen, d map[string]any) string {
		d["blob"] = strings.Repeat("x", 150_000+g.r.IntN(90_000))
		return "blob"
	}},
	{"oversized-unknown-key", both, func(g gen, d map[string]any) string {
		k := strings.Repeat("K", 120_000+g.r.IntN(5_000))
		d[k] = 1
		return k
	}},
	{"oversized-tag-key", reg, func(g gen, d map[string]any) string {
		d["tags"] = map[string]string{strings.Repeat("k", 120_000+g.r.IntN(5_000)): "v"}
		return "tags"
	}},
	{"oversized-provider", reg, func(g gen, d map[string]any) string {
		d["provider"] = strings.Repeat("P", 120_000+g.r.IntN(5_000))
		return "provider"
	}},
	{"oversized-reason", []string{deregister}, func(g gen, d map[string]any) string {
		d["reason"] = strings.Repeat("r", 120_000+g.r.IntN(5_000))
		return "reason"
	}},
	{"oversized-arn", reg, func(g gen, d map[string]any) string {
		d["consoleAccessArns"] = []string{"arn:aws:iam::123456789012:role/" + strings.Repeat("a", 120_000)}
		return "consoleAccessArns[0]"
	}},
}

// brokenJSON are details that are not a JSON object. EventBridge refuses
// them (PutEvents: MalformedDetail); the parsers reject them as "detail".
var brokenJSON = []string{`{"clusterName":`, `{"clusterName":"a",}`, `[1,2]`, `"Register Cluster"`, `42`, `{clusterName:"a"}`,
	`{"clusterName":"a"`, `null`, `{"a":1}{"b":2}`, `{"clusterName":"\x"}`}

// Generate returns n malformed details (n/2 of each detail-type, the rest
// register), seeded: the same seed gives the same cases. Every kind of
// mutation is used before any repeats; the broken-JSON cases come on top.
func Generate(seed uint64, n int) []Case {
	g := gen{rand.New(rand.NewPCG(seed, seed^0x5deece66d))}
	var out []Case
	for i := 0; len(out) < n; i++ {
		dt := register
		if i%2 == 1 {
			dt = deregister
		}
		var ms []mutation
		for _, m := range mutations {
			for _, t := range m.types {
				if t == dt {
					ms = append(ms, m)
				}
			}
		}
		m := ms[(i/2)%len(ms)]
		if i/2 >= len(ms) {
			m = ms[g.r.IntN(len(ms))]
		}
		d := g.validRegister()
		if dt == deregister {
			d = g.validDeregister()
		}
		field := m.mutate(g, d)
		out = append(out, Case{Kind: m.kind, DetailType: dt, Detail: encode(d), Field: field})
	}
	for i, b := range brokenJSON {
		dt := register
		if i%2 == 1 {
			dt = deregister
		}
		out = append(out, Case{Kind: "broken-json", DetailType: dt, Detail: b, Field: "detail", BusRefuses: "MalformedDetail"})
	}
	return out
}

// Kinds lists every mutation kind, for a report.
func Kinds() []string {
	var out []string
	for _, m := range mutations {
		out = append(out, m.kind)
	}
	return append(out, "broken-json")
}
