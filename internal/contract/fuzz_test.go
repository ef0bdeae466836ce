package contract

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/platform/eks-connector-registrar/internal/contract/badevents"
)

// The fuzz targets hold both parsers to the README's event contract, as an
// independent restatement of its rules (documented below): a parser accepts
// exactly the details that pass every rule, and rejects the others naming a
// field and a rule. Their corpus (testdata/fuzz) is built by
// badevents.Generate (go test ./internal/contract -run TestFuzzCorpus
// -update-corpus) and checked current.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the generated fuzz corpus under testdata/fuzz")

const (
	corpusSeed  = 7
	corpusCases = 160
	corpusMax   = 4096 // bytes: the oversized cases stay out of the repository
)

var (
	docName     = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]*$`)
	docIAMArn   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/([!-.0-~]+/)*[\w+=,.@-]{1,64}$`)
	docSTSArn   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sts::`)
	docTagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	// (A path segment is not empty: IAM's path pattern would allow "//",
	// which no real path uses; the parser refuses it.)
	docProvider = []string{"EKS_ANYWHERE", "ANTHOS", "GKE", "AKS", "OPENSHIFT", "TANZU", "RANCHER", "EC2", "OTHER"}
)

// documented says why detail breaks the README's rules for its
// detail-type, or "" when it keeps every one.
func documented(register bool, detail string) string {
	if !json.Valid([]byte(detail)) {
		return "not JSON"
	}
	dec := json.NewDecoder(strings.NewReader(detail))
	dec.UseNumber()
	var d map[string]any
	if err := dec.Decode(&d); err != nil || d == nil {
		return "not a JSON object"
	}
	allowed := []string{"clusterName", "reason"}
	if register {
		allowed = []string{"clusterName", "provider", "activationTimeoutMinutes", "consoleAccessArns", "tags"}
	}
	for k := range d {
		if !slices.Contains(allowed, k) {
			return "unknown field " + k
		}
	}
	name, ok := d["clusterName"].(string)
	if !ok || len(name) < 1 || len(name) > 100 || !docName.MatchString(name) {
		return "clusterName"
	}
	if !register {
		if r, present := d["reason"]; present && r != nil {
			s, ok := r.(string)
			if !ok || utf8.RuneCountInString(s) > 256 {
				return "reason"
			}
		}
		return ""
	}
	p, ok := d["provider"].(string)
	if !ok || !slices.Contains(docProvider, strings.ToUpper(strings.ReplaceAll(p, "-", "_"))) {
		return "provider"
	}
	if v, present := d["activationTimeoutMinutes"]; present && v != nil {
		n, ok := v.(json.Number)
		i, err := strconv.Atoi(string(n))
		if !ok || err != nil || i < 5 || i > 4320 {
			return "activationTimeoutMinutes"
		}
	}
	if v, present := d["consoleAccessArns"]; present && v != nil {
		arns, ok := v.([]any)
		if !ok || len(arns) > 20 {
			return "consoleAccessArns"
		}
		for _, a := range arns {
			s, ok := a.(string)
			if !ok || !docIAMArn.MatchString(s) || docSTSArn.MatchString(s) {
				return "consoleAccessArns[]"
			}
		}
	}
	if v, present := d["tags"]; present && v != nil {
		tags, ok := v.(map[string]any)
		if !ok || len(tags) > 50 {
			return "tags"
		}
		for k, tv := range tags {
			s, ok := tv.(string)
			if n := utf8.RuneCountInString(k); n < 1 || n > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") ||
				!docTagChars.MatchString(k) || !ok || utf8.RuneCountInString(s) > 256 || !docTagChars.MatchString(s) {
				return "tags"
			}
		}
	}
	return ""
}

// checkParse is the fuzz property for one detail.
func checkParse(t *testing.T, register bool, detail string) {
	var rej *Rejection
	if register {
		_, rej = ParseRegister(json.RawMessage(detail), 60)
	} else {
		_, rej = ParseDeregister(json.RawMessage(detail))
	}
	broken := documented(register, detail)
	switch {
	case rej != nil && (rej.Field == "" || rej.Rule == ""):
		t.Fatalf("rejection without a field or a rule: %+v", rej)
	case rej != nil && len(rej.Value) > 204: // clip: 200 bytes and "…"
		t.Fatalf("rejection quotes %d bytes of the event", len(rej.Value))
	case rej == nil && broken != "":
		t.Fatalf("accepted %q, which breaks the documented rule on %s", detail, broken)
	case rej != nil && broken == "" && utf8.ValidString(detail):
		t.Fatalf("rejected %q (%s), which keeps every documented rule", detail, rej.Message())
	}
}

func FuzzParseRegister(f *testing.F) {
	f.Add(`{"clusterName":"c1","provider":"GKE","activationTimeoutMinutes":30}`)
	f.Fuzz(func(t *testing.T, detail string) { checkParse(t, true, detail) })
}

func FuzzParseDeregister(f *testing.F) {
	f.Add(`{"clusterName":"c1","reason":"decommissioned"}`)
	f.Fuzz(func(t *testing.T, detail string) { checkParse(t, false, detail) })
}

// generatedCorpus is the corpus badevents.Generate gives each target, by
// file name.
func generatedCorpus() map[string]map[string][]byte {
	out := map[string]map[string][]byte{"FuzzParseRegister": {}, "FuzzParseDeregister": {}}
	for i, c := range badevents.Generate(corpusSeed, corpusCases) {
		if len(c.Detail) > corpusMax {
			continue
		}
		target := "FuzzParseRegister"
		if c.DetailType == DetailTypeDeregister {
			target = "FuzzParseDeregister"
		}
		out[target][fmt.Sprintf("gen-%03d-%s", i, c.Kind)] = []byte("go test fuzz v1\nstring(" + strconv.Quote(c.Detail) + ")\n")
	}
	return out
}

// The committed corpus is what the generator makes: at least 50 seeds per
// target, every file current (-update-corpus rewrites them).
func TestFuzzCorpusIsTheGenerators(t *testing.T) {
	for target, files := range generatedCorpus() {
		dir := filepath.Join("testdata", "fuzz", target)
		if len(files) < 50 {
			t.Errorf("%s: %d generated seeds, want at least 50", target, len(files))
		}
		if *updateCorpus {
			old, _ := filepath.Glob(filepath.Join(dir, "gen-*"))
			for _, f := range old {
				os.Remove(f)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, body := range files {
			path := filepath.Join(dir, name)
			if *updateCorpus {
				if err := os.WriteFile(path, body, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("%s is not the generator's (run go test ./internal/contract -run TestFuzzCorpus -update-corpus): %v", path, err)
			}
		}
		have, _ := filepath.Glob(filepath.Join(dir, "gen-*"))
		if len(have) != len(files) {
			t.Errorf("%s holds %d generated seeds, the generator makes %d", dir, len(have), len(files))
		}
	}
}

// Every generated case is rejected by its parser naming the field the
// generator broke, within the size an event can carry.
func TestGeneratedCasesAreRejectedNamingTheField(t *testing.T) {
	for _, c := range badevents.Generate(corpusSeed, 600) {
		var rej *Rejection
		if c.DetailType == DetailTypeRegister {
			_, rej = ParseRegister(json.RawMessage(c.Detail), 60)
		} else {
			_, rej = ParseDeregister(json.RawMessage(c.Detail))
		}
		if rej == nil {
			t.Errorf("%s %s accepted: %.100s", c.DetailType, c.Kind, c.Detail)
			continue
		}
		want := c.Field
		if len(want) > 200 {
			want = clip(want)
		}
		if rej.Field != want || rej.Rule == "" {
			t.Errorf("%s %s: field %.60q rule %q, want field %.60q", c.DetailType, c.Kind, rej.Field, rej.Rule, want)
		}
		if n := len(rej.Value) + len(rej.Message()) + len(rej.Rule); n > 2000 {
			t.Errorf("%s %s: the rejection carries %d bytes of the event", c.DetailType, c.Kind, n)
		}
	}
}
