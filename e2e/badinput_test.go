package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/internal/contract/badevents"
	"github.com/platform/eks-connector-registrar/localcloud"
)

// badInputSeed and badInputCount make the bad-input run repeatable (README
// "Reliability" quotes them).
const (
	badInputSeed  = 11
	badInputCount = 520
)

// badInputResult is what one bad-input run measured.
type badInputResult struct {
	cases, held, leaks int
	busRefused         int
	wall               time.Duration
}

// Malformed events at volume, through the real bus: every one that reaches
// the trigger gets exactly one "Registration Rejected" naming the field and
// the rule it broke; every trigger invocation succeeds; nothing lands in a
// queue; the project makes no write to IAM, EKS or SSM and starts no
// execution. A detail that is not a JSON object never reaches the trigger:
// PutEvents refuses the entry (MalformedDetail), as EventBridge does.
func TestBadInputAtVolume(t *testing.T) {
	t.Parallel()
	r := runBadInput(t, badInputSeed, badInputCount)
	t.Logf("%d malformed events (+%d refused by the bus), %d held, in %s", r.cases-r.busRefused, r.busRefused, r.held, r.wall.Round(time.Millisecond))
}

func runBadInput(t *testing.T, seed uint64, n int) badInputResult {
	began := time.Now()
	e := start(t, localcloud.Options{NoAgent: true})
	cases := badevents.Generate(seed, n)
	eb := eventbridge.NewFromConfig(e.c.ConfigFor("operator"))
	byID := map[string]badevents.Case{}
	res := badInputResult{cases: len(cases)}
	e.onEnd(func(leaks int) { recordReliability("badinput", res.cases, res.held, res.leaks+leaks) })

	// Batches of up to 10 entries within PutEvents' 256 KB; an oversized
	// detail goes alone.
	var batch []badevents.Case
	size := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		var entries []ebtypes.PutEventsRequestEntry
		for _, c := range batch {
			entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String("eks-connector-registrar"),
				DetailType: aws.String(c.DetailType), Detail: aws.String(c.Detail)})
		}
		out, err := eb.PutEvents(e.ctx(), &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
		for i, r := range out.Entries {
			c := batch[i]
			switch {
			case c.BusRefuses != "":
				if aws.ToString(r.ErrorCode) != c.BusRefuses {
					t.Errorf("%s detail %q: PutEvents answered %q, want the entry refused with %s", c.Kind, c.Detail, aws.ToString(r.ErrorCode), c.BusRefuses)
				} else {
					res.busRefused++
					res.held++
				}
			case r.ErrorCode != nil:
				t.Errorf("%s: PutEvents refused the entry: %s %s", c.Kind, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			default:
				byID[aws.ToString(r.EventId)] = c
			}
		}
		batch, size = nil, 0
	}
	for _, c := range cases {
		sz := len(c.Detail) + len(c.DetailType) + 32
		if len(batch) == 10 || size+sz > 200_000 {
			flush()
		}
		batch = append(batch, c)
		size += sz
	}
	flush()
	e.settle()

	rejections := map[string][]map[string]any{}
	for _, ev := range e.eventsOf("Registration Rejected") {
		d := detailOf(t, ev)
		id, _ := d["eventId"].(string)
		rejections[id] = append(rejections[id], d)
	}
	for id, c := range byID {
		rs := rejections[id]
		if len(rs) != 1 {
			t.Errorf("%s %s (%.80s): %d Registration Rejected events, want exactly 1", c.DetailType, c.Kind, c.Detail, len(rs))
			continue
		}
		field, _ := rs[0]["field"].(string)
		rule, _ := rs[0]["rule"].(string)
		if !fieldMatches(field, c.Field) || rule == "" {
			t.Errorf("%s %s (%.80s): rejection names field %.80q with rule %.120q; want field %.80q and a rule", c.DetailType, c.Kind, c.Detail, field, rule, c.Field)
			continue
		}
		res.held++
	}
	if n := len(e.eventsOf("Registration Rejected")); n != len(byID) {
		t.Errorf("%d Registration Rejected events for %d malformed events", n, len(byID))
	}
	// Every trigger invocation succeeded, once per event.
	triggers := 0
	for _, inv := range e.c.Lambda.Log() {
		if strings.HasSuffix(inv.Function, "TriggerFunction") || strings.Contains(inv.Function, "Trigger") {
			triggers++
			if inv.ErrorType != "" {
				t.Errorf("a trigger invocation failed: %s: %.300s", inv.ErrorType, inv.Message)
			}
		}
	}
	if triggers != len(byID) {
		t.Errorf("%d trigger invocations for %d events, want one each", triggers, len(byID))
	}
	for _, q := range e.c.SQS.QueueArns() {
		if msgs := e.c.SQS.Messages(q); len(msgs) != 0 {
			t.Errorf("queue %s holds %d messages, want none", q, len(msgs))
		}
	}
	if f := e.c.Events.Failures(); len(f) != 0 {
		t.Errorf("%d failed deliveries, e.g. %+v", len(f), f[0])
	}
	for _, svc := range []string{"iam", "eks", "ssm", "states"} {
		if w := e.productCalls.writes(svc); len(w) != 0 {
			t.Errorf("malformed events caused writes: %v", w)
			res.leaks += len(w)
		}
	}
	if n := len(e.c.SFN.Executions()); n != 0 {
		t.Errorf("%d executions started for malformed events", n)
	}
	res.wall = time.Since(began)
	return res
}

// fieldMatches: the rejection names want, or, for a field name too long to
// quote, its clipped beginning.
func fieldMatches(got, want string) bool {
	if got == want {
		return true
	}
	prefix, clipped := strings.CutSuffix(got, "…")
	return clipped && len(prefix) > 0 && strings.HasPrefix(want, prefix)
}
