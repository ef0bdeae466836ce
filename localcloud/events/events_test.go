package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	"github.com/platform/eks-connector-registrar/localcloud/events"
)

var (
	ctx = context.Background()
	t0  = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
)

type fakeDispatcher struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	times     []time.Time
	inputs    []string
	clk       clock.Clock
	err       error
}

func (d *fakeDispatcher) Deliver(_ context.Context, t events.Target, input []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	d.times = append(d.times, d.clk.Now())
	if d.calls <= d.failFirst {
		if d.err != nil {
			return d.err
		}
		return fmt.Errorf("boom %d", d.calls)
	}
	d.inputs = append(d.inputs, string(input))
	return nil
}

type fakeDLQ struct {
	mu   sync.Mutex
	msgs []dlqMsg
}

type dlqMsg struct {
	sender     *awsproto.Principal
	conditions map[string]string
	arn, body  string
	attrs      map[string]string
}

func (q *fakeDLQ) SendAs(p *awsproto.Principal, conditions map[string]string, arn, body string, attrs map[string]string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, dlqMsg{p, conditions, arn, body, attrs})
	return nil
}

type env struct {
	store *events.Store
	clk   *clock.Virtual
	cli   *eventbridge.Client
	disp  *fakeDispatcher
	dlq   *fakeDLQ
	te    *awsproto.TestEndpoint
}

func newEnv(t *testing.T) *env {
	clk := clock.NewVirtual(t0)
	d := &fakeDispatcher{clk: clk}
	q := &fakeDLQ{}
	st, svc := events.New(events.Config{Region: "us-east-1", Account: "123456789012", Clock: clk, Dispatcher: d, DeadLetters: q})
	t.Cleanup(st.Close)
	te := awsproto.NewTestEndpoint(t, clk, svc)
	cli := eventbridge.NewFromConfig(te.Config, func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
	return &env{st, clk, cli, d, q, te}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestPutEventsPartialFailure(t *testing.T) {
	e := newEnv(t)
	var seen []events.Event
	e.store.Subscribe(func(ev events.Event) { seen = append(seen, ev) })
	out, err := e.cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("app.registrar"), DetailType: aws.String("ClusterRegistered"), Detail: aws.String(`{"cluster":"c1"}`), Resources: []string{"arn:aws:eks:us-east-1:123456789012:cluster/c1"}},
		{Source: aws.String("app.registrar"), DetailType: aws.String("X"), Detail: aws.String(`not json`)},
		{Source: aws.String("app.registrar"), Detail: aws.String(`{}`)},
		{Source: aws.String("app.registrar"), DetailType: aws.String("X"), Detail: aws.String(`{}`), EventBusName: aws.String("nope")},
		{Source: aws.String("app.registrar"), DetailType: aws.String("Y"), Detail: aws.String(`{"a":1}`), Time: aws.Time(t0.Add(-time.Hour))},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 3 || len(out.Entries) != 5 {
		t.Fatalf("%+v", out)
	}
	if aws.ToString(out.Entries[0].EventId) == "" || aws.ToString(out.Entries[1].ErrorCode) != "MalformedDetail" ||
		aws.ToString(out.Entries[2].ErrorCode) != "InvalidArgument" || aws.ToString(out.Entries[3].ErrorCode) != "ResourceNotFoundException" ||
		aws.ToString(out.Entries[4].EventId) == "" {
		t.Fatalf("%+v", out.Entries)
	}
	log := e.store.Log()
	if len(log) != 2 || len(seen) != 2 || log[0].Bus != "default" {
		t.Fatal(log, seen)
	}
	var env map[string]any
	if err := json.Unmarshal(log[0].JSON, &env); err != nil {
		t.Fatal(err)
	}
	if env["version"] != "0" || env["detail-type"] != "ClusterRegistered" || env["source"] != "app.registrar" || env["account"] != "123456789012" ||
		env["time"] != "2026-11-27T10:00:00Z" || env["region"] != "us-east-1" || env["id"] != aws.ToString(out.Entries[0].EventId) ||
		env["detail"].(map[string]any)["cluster"] != "c1" || len(env["resources"].([]any)) != 1 {
		t.Fatalf("%s", log[0].JSON)
	}
	if !strings.HasPrefix(string(log[0].JSON), `{"version":"0","id":`) {
		t.Fatalf("envelope order: %s", log[0].JSON)
	}
	if !log[1].Time.Equal(t0.Add(-time.Hour)) {
		t.Fatal(log[1].Time)
	}
	// More than 10 entries: ValidationException.
	var many []ebtypes.PutEventsRequestEntry
	for range 11 {
		many = append(many, ebtypes.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String("{}")})
	}
	_, err = e.cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: many})
	if code(err) != "ValidationException" {
		t.Fatal(err)
	}
}

func TestRuleDeliveryRetryAndDLQ(t *testing.T) {
	e := newEnv(t)
	e.disp.failFirst = 2
	_, err := e.store.PutRule(events.Rule{Name: "on-registered", Pattern: json.RawMessage(`{"source":["app.registrar"],"detail-type":["ClusterRegistered"]}`),
		Targets: []events.Target{{ID: "sfn", Arn: "arn:aws:states:us-east-1:123456789012:stateMachine:Watch", InputPath: "$.detail",
			RoleArn:     "arn:aws:iam::123456789012:role/watch-starter",
			RetryPolicy: &events.RetryPolicy{MaximumRetryAttempts: 3}, DeadLetterArn: "arn:aws:sqs:us-east-1:123456789012:dlq"}}})
	if err != nil {
		t.Fatal(err)
	}
	put := func(detailType string) {
		out, err := e.cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{Source: aws.String("app.registrar"), DetailType: aws.String(detailType), Detail: aws.String(`{"cluster": "c1"}`)}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatal(err, out)
		}
	}
	put("Other") // does not match
	put("ClusterRegistered")
	e.store.Wait()
	if e.disp.calls != 3 || len(e.disp.inputs) != 1 || e.disp.inputs[0] != `{"cluster":"c1"}` {
		t.Fatalf("calls=%d inputs=%q", e.disp.calls, e.disp.inputs)
	}
	if !e.disp.times[1].After(e.disp.times[0]) || !e.disp.times[2].After(e.disp.times[1]) {
		t.Fatalf("no backoff: %v", e.disp.times)
	}
	if len(e.dlq.msgs) != 0 {
		t.Fatal(e.dlq.msgs)
	}
	// Now every attempt fails: 1 + 3 retries, then the DLQ.
	e.disp.calls, e.disp.failFirst = 0, 100
	put("ClusterRegistered")
	e.store.Wait()
	if e.disp.calls != 4 || len(e.dlq.msgs) != 1 {
		t.Fatalf("calls=%d dlq=%d", e.disp.calls, len(e.dlq.msgs))
	}
	m := e.dlq.msgs[0]
	if m.arn != "arn:aws:sqs:us-east-1:123456789012:dlq" || m.attrs["RULE_ARN"] != "arn:aws:events:us-east-1:123456789012:rule/on-registered" ||
		m.attrs["TARGET_ARN"] != "arn:aws:states:us-east-1:123456789012:stateMachine:Watch" || m.attrs["ERROR_CODE"] == "" ||
		!strings.Contains(m.attrs["ERROR_MESSAGE"], "boom") || m.attrs["EXHAUSTED_RETRY_CONDITION"] != "MaximumRetryAttempts" {
		t.Fatalf("%+v", m)
	}
	var body map[string]any
	if json.Unmarshal([]byte(m.body), &body) != nil || body["detail-type"] != "ClusterRegistered" {
		t.Fatalf("dlq body %s", m.body)
	}
	// EventBridge sends it as its service principal, on the rule's behalf.
	if m.sender == nil || m.sender.Service != "events.amazonaws.com" ||
		m.conditions["aws:SourceArn"] != "arn:aws:events:us-east-1:123456789012:rule/on-registered" ||
		m.conditions["aws:SourceAccount"] != "123456789012" {
		t.Fatalf("dead letter sent by %+v with %v", m.sender, m.conditions)
	}
	// A non-retryable error goes to the DLQ at once.
	e.disp.calls, e.disp.err = 0, &events.DeliveryError{Code: "NO_RESOURCE", Message: "no such function", NoRetry: true}
	put("ClusterRegistered")
	e.store.Wait()
	if e.disp.calls != 1 || len(e.dlq.msgs) != 2 || e.dlq.msgs[1].attrs["ERROR_CODE"] != "NO_RESOURCE" {
		t.Fatalf("calls=%d %+v", e.disp.calls, e.dlq.msgs)
	}
	if len(e.store.Failures()) != 2 {
		t.Fatal(e.store.Failures())
	}
}

func TestDefaultRetryIsBoundedByEventAge(t *testing.T) {
	e := newEnv(t)
	e.disp.failFirst = 1 << 30
	_, err := e.store.PutRule(events.Rule{Name: "r", Pattern: json.RawMessage(`{"source":["s"]}`),
		Targets: []events.Target{{ID: "t", Arn: "arn:aws:lambda:us-east-1:123456789012:function:f", RetryPolicy: &events.RetryPolicy{MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 600}}}})
	if err != nil {
		t.Fatal(err)
	}
	e.store.PutEvents([]events.Entry{{Source: "s", DetailType: "d", Detail: "{}"}})
	e.store.Wait()
	f := e.store.Failures()
	if len(f) != 1 || f[0].Attempts >= 185 || e.clk.Now().Sub(t0) > 10*time.Minute {
		t.Fatalf("%+v now=%v", f, e.clk.Now())
	}
}

func TestInputTransformer(t *testing.T) {
	e := newEnv(t)
	_, err := e.store.PutRule(events.Rule{Name: "r", Pattern: json.RawMessage(`{"source":["app"]}`),
		Targets: []events.Target{
			{ID: "json", Arn: "arn:aws:lambda:us-east-1:123456789012:function:f", InputTransformer: &events.InputTransformer{
				InputPathsMap: map[string]string{"cluster": "$.detail.cluster", "n": "$.detail.n", "obj": "$.detail.obj", "dt": "$.detail-type"},
				InputTemplate: `{"name": <cluster>, "msg": "cluster <cluster> has <n> nodes", "count": <n>, "o": <obj>, "type": "<dt>", "rule": "<aws.events.rule-name>"}`}},
			{ID: "text", Arn: "arn:aws:lambda:us-east-1:123456789012:function:g", InputTransformer: &events.InputTransformer{
				InputPathsMap: map[string]string{"cluster": "$.detail.cluster"}, InputTemplate: `"cluster <cluster> registered"`}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.store.PutEvents([]events.Entry{{Source: "app", DetailType: "Reg", Detail: `{"cluster":"c\"1","n":3,"obj":{"a":[1]}}`}})
	e.store.Wait()
	if len(e.disp.inputs) != 2 {
		t.Fatal(e.disp.inputs)
	}
	var got map[string]any
	for _, in := range e.disp.inputs {
		if strings.HasPrefix(in, "{") {
			if err := json.Unmarshal([]byte(in), &got); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
		} else if in != `"cluster c\"1 registered"` {
			t.Fatalf("text template: %s", in)
		}
	}
	if got["name"] != `c"1` || got["msg"] != `cluster c"1 has 3 nodes` || got["count"] != float64(3) || got["type"] != "Reg" || got["rule"] != "r" ||
		got["o"].(map[string]any)["a"].([]any)[0] != float64(1) {
		t.Fatalf("%v", got)
	}
}

func TestRulesWireAndTestEventPattern(t *testing.T) {
	e := newEnv(t)
	pr, err := e.cli.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r1"), EventPattern: aws.String(`{"source":["app"]}`)})
	if err != nil || aws.ToString(pr.RuleArn) != "arn:aws:events:us-east-1:123456789012:rule/r1" {
		t.Fatal(err, pr)
	}
	_, err = e.cli.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bad"), EventPattern: aws.String(`{"source":"app"}`)})
	var iep *ebtypes.InvalidEventPatternException
	if !errors.As(err, &iep) {
		t.Fatal(err)
	}
	_, err = e.cli.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r1"), Targets: []ebtypes.Target{{Id: aws.String("t1"),
		Arn:              aws.String("arn:aws:lambda:us-east-1:123456789012:function:f"),
		RetryPolicy:      &ebtypes.RetryPolicy{MaximumRetryAttempts: aws.Int32(2)},
		DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:dlq")}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.cli.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nope"), Targets: []ebtypes.Target{{Id: aws.String("t1"), Arn: aws.String("arn:x")}}})
	var rnf *ebtypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatal(err)
	}
	lr, err := e.cli.ListRules(ctx, &eventbridge.ListRulesInput{})
	if err != nil || len(lr.Rules) != 1 || aws.ToString(lr.Rules[0].EventPattern) != `{"source":["app"]}` || lr.Rules[0].State != ebtypes.RuleStateEnabled {
		t.Fatal(err, lr)
	}
	lt, err := e.cli.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("r1")})
	if err != nil || len(lt.Targets) != 1 || aws.ToInt32(lt.Targets[0].RetryPolicy.MaximumRetryAttempts) != 2 ||
		aws.ToInt32(lt.Targets[0].RetryPolicy.MaximumEventAgeInSeconds) != 86400 || aws.ToString(lt.Targets[0].DeadLetterConfig.Arn) == "" {
		t.Fatal(err, lt)
	}
	// Deleting a rule with targets fails; remove the targets first.
	if _, err := e.cli.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r1")}); code(err) != "ValidationException" {
		t.Fatal(err)
	}
	ev := `{"id":"1","account":"123456789012","source":"app","time":"2026-11-27T10:00:00Z","region":"us-east-1","resources":[],"detail-type":"X","detail":{"n":5}}`
	tp, err := e.cli.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"detail":{"n":[{"numeric":[">",4]}]}}`), Event: aws.String(ev)})
	if err != nil || !tp.Result {
		t.Fatal(err, tp)
	}
	tp, err = e.cli.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["other"]}`), Event: aws.String(ev)})
	if err != nil || tp.Result {
		t.Fatal(err, tp)
	}
	_, err = e.cli.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":[]}`), Event: aws.String(ev)})
	if !errors.As(err, &iep) {
		t.Fatal(err)
	}
	_, err = e.cli.TestEventPattern(ctx, &eventbridge.TestEventPatternInput{EventPattern: aws.String(`{"source":["app"]}`), Event: aws.String(`{"source":"app"}`)})
	if code(err) != "ValidationException" {
		t.Fatal(err)
	}
	// Custom bus.
	cb, err := e.cli.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("ops")})
	if err != nil || aws.ToString(cb.EventBusArn) != "arn:aws:events:us-east-1:123456789012:event-bus/ops" {
		t.Fatal(err, cb)
	}
	_, err = e.cli.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("ops")})
	var rae *ebtypes.ResourceAlreadyExistsException
	if !errors.As(err, &rae) {
		t.Fatal(err)
	}
	pr, err = e.cli.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r2"), EventBusName: cb.EventBusArn, EventPattern: aws.String(`{"source":["app"]}`)})
	if err != nil || aws.ToString(pr.RuleArn) != "arn:aws:events:us-east-1:123456789012:rule/ops/r2" {
		t.Fatal(err, pr)
	}
}

type denyRecorder struct {
	mu    sync.Mutex
	conds []map[string]string
}

func (d *denyRecorder) Decide(_ *awsproto.Principal, action, _ string, c map[string]string) awsproto.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conds = append(d.conds, c)
	return awsproto.Decision{Allowed: c["events:source"] != "forbidden"}
}

func TestPutEventsAuthorization(t *testing.T) {
	e := newEnv(t)
	rec := &denyRecorder{}
	e.te.Router.Authz = rec
	e.te.Router.Principals = func(string) *awsproto.Principal {
		return &awsproto.Principal{Name: "fn", ARN: "arn:aws:iam::123456789012:role/fn"}
	}
	out, err := e.cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("ok"), DetailType: aws.String("D"), Detail: aws.String("{}")},
		{Source: aws.String("forbidden"), DetailType: aws.String("D"), Detail: aws.String("{}")}}})
	if err != nil || out.FailedEntryCount != 1 || aws.ToString(out.Entries[1].ErrorCode) != "AccessDeniedException" {
		t.Fatal(err, out)
	}
	if rec.conds[0]["events:detail-type"] != "D" {
		t.Fatal(rec.conds)
	}
	_, err = e.cli.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("forbidden"), DetailType: aws.String("D"), Detail: aws.String("{}")}}})
	var ad *ebtypes.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Fatal(err)
	}
}
