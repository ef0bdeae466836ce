package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/asl"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	defaultRetryAttempts = 185
	defaultMaxEventAge   = 86400
	// Backoff between delivery attempts: exponential from one second, capped.
	firstBackoff = time.Second
	maxBackoff   = 5 * time.Minute
)

func retryLimits(t Target) (attempts int, age time.Duration) {
	attempts, secs := defaultRetryAttempts, defaultMaxEventAge
	if rp := t.RetryPolicy; rp != nil {
		attempts = rp.MaximumRetryAttempts
		if rp.MaximumEventAgeInSeconds > 0 {
			secs = rp.MaximumEventAgeInSeconds
		}
	}
	return attempts, time.Duration(secs) * time.Second
}

// backoff is the wait before retry n (1-based).
func backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	if d > maxBackoff {
		d = maxBackoff
	}
	return d
}

// deliver runs on its own goroutine holding a busy token.
func (s *Store) deliver(t Target, ev Event, input []byte, inputErr error) {
	ingested := s.cfg.Clock.Now()
	maxRetries, maxAge := retryLimits(t)
	code, msg, why, exhausted := "", "", "", ""
	retries := 0
	if inputErr != nil {
		code, msg = "INVALID_JSON", inputErr.Error()
	} else if s.cfg.Dispatcher == nil {
		code, msg = "NO_RESOURCE", "no dispatcher for target "+t.Arn
	} else {
		for {
			err := s.cfg.Dispatcher.Deliver(s.ctx, t, input)
			if err == nil {
				return
			}
			code, msg = "SDK_CLIENT_ERROR", err.Error()
			var de *DeliveryError
			if errors.As(err, &de) {
				code, msg, why = de.Code, de.Message, de.Why
				if de.NoRetry {
					break
				}
			}
			if retries >= maxRetries {
				exhausted = "MaximumRetryAttempts"
				break
			}
			wait := backoff(retries + 1)
			if s.cfg.Clock.Now().Add(wait).Sub(ingested) > maxAge {
				exhausted = "MaximumEventAgeInSeconds"
				break
			}
			if clock.Sleep(s.ctx, s.cfg.Clock, wait) != nil {
				return // the store was closed
			}
			retries++
		}
	}
	f := Failure{RuleArn: t.RuleArn, TargetID: t.ID, TargetArn: t.Arn, EventID: ev.ID, Code: code, Message: msg, Why: why, Attempts: retries + 1,
		DeadLetterArn: t.DeadLetterArn}
	if t.DeadLetterArn != "" && s.cfg.DeadLetters != nil {
		attrs := map[string]string{
			"RULE_ARN":       t.RuleArn,
			"TARGET_ARN":     t.Arn,
			"ERROR_CODE":     code,
			"ERROR_MESSAGE":  msg,
			"RETRY_ATTEMPTS": strconv.Itoa(retries),
		}
		if exhausted != "" {
			attrs["EXHAUSTED_RETRY_CONDITION"] = exhausted
		}
		// EventBridge sends as its service principal on the rule's behalf.
		src := map[string]string{"aws:SourceArn": t.RuleArn, "aws:SourceAccount": s.cfg.Account}
		if err := s.cfg.DeadLetters.SendAs(awsproto.ServicePrincipal(Principal), src, t.DeadLetterArn, string(ev.JSON), attrs); err == nil {
			f.DeadLettered = true
		} else {
			f.DeadLetterError = err.Error()
		}
	}
	s.mu.Lock()
	s.failures = append(s.failures, f)
	s.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Input: the whole event, Input, InputPath or InputTransformer.

func transformInput(t Target, ev Event, r *rule) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath != "":
		v, ok, err := lookupPath(ev.JSON, t.InputPath)
		if err != nil {
			return nil, err
		}
		if !ok {
			return []byte("null"), nil
		}
		return v, nil
	case t.InputTransformer != nil:
		return applyTemplate(t.InputTransformer, ev, r)
	}
	return ev.JSON, nil
}

// parsePath reads the JSONPath subset EventBridge accepts: $, .name,
// ['name'] and [n] (n >= 0), in the ASL engine's syntax (names may contain
// '-', as in $.detail-type).
func parsePath(p string) ([]asl.PathStep, error) {
	steps, err := asl.DefinitePath(p)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if st.IsIndex && st.Index < 0 {
			return nil, fmt.Errorf("path %q has a bad index", p)
		}
	}
	return steps, nil
}

// lookupPath returns the raw JSON at path, keeping the event's own bytes.
func lookupPath(doc []byte, path string) (json.RawMessage, bool, error) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, false, err
	}
	cur := json.RawMessage(doc)
	for _, st := range steps {
		if st.IsIndex {
			var arr []json.RawMessage
			if json.Unmarshal(cur, &arr) != nil || st.Index >= len(arr) {
				return nil, false, nil
			}
			cur = arr[st.Index]
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return nil, false, nil
		}
		v, ok := obj[st.Name]
		if !ok {
			return nil, false, nil
		}
		cur = v
	}
	return cur, true, nil
}

var placeholderRE = regexp.MustCompile(`^<([A-Za-z0-9_.\-]+)>`)

// applyTemplate fills InputTemplate's <var> placeholders. Inside a JSON
// string a string value goes in without its quotes (escaped) and any other
// value as its JSON text; outside a string the value goes in as JSON. In a
// plain-text template (not JSON) strings go in as they are.
func applyTemplate(it *InputTransformer, ev Event, r *rule) ([]byte, error) {
	vals := map[string]json.RawMessage{}
	for k, p := range it.InputPathsMap {
		v, ok, err := lookupPath(ev.JSON, p)
		if err != nil {
			return nil, err
		}
		if ok {
			vals[k] = v
		} else {
			vals[k] = nil
		}
	}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	reserved := map[string]json.RawMessage{
		"aws.events.rule-arn":             str(r.arn),
		"aws.events.rule-name":            str(r.Name),
		"aws.events.event.ingestion-time": str(ev.Time.Format(time.RFC3339)),
		"aws.events.event.json":           ev.JSON,
		"aws.events.event":                eventWithoutDetail(ev.JSON),
	}
	tmpl := it.InputTemplate
	trimmed := strings.TrimSpace(tmpl)
	isJSON := strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") || strings.HasPrefix(trimmed, "\"")
	var b strings.Builder
	inString := false
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch == '<' {
			if m := placeholderRE.FindStringSubmatch(tmpl[i:]); m != nil {
				v, known := vals[m[1]]
				if !known {
					v, known = reserved[m[1]]
				}
				if known {
					b.WriteString(substitute(v, inString, isJSON))
					i += len(m[0]) - 1
					continue
				}
			}
		}
		if isJSON {
			if ch == '\\' && inString && i+1 < len(tmpl) {
				b.WriteByte(ch)
				i++
				b.WriteByte(tmpl[i])
				continue
			}
			if ch == '"' {
				inString = !inString
			}
		}
		b.WriteByte(ch)
	}
	out := []byte(b.String())
	if isJSON && !json.Valid(out) {
		return nil, fmt.Errorf("the input transformer produced invalid JSON: %s", out)
	}
	return out, nil
}

func substitute(v json.RawMessage, inString, isJSON bool) string {
	if v == nil {
		if inString || !isJSON {
			return ""
		}
		return "null"
	}
	var s string
	isStr := json.Unmarshal(v, &s) == nil
	switch {
	case inString:
		if !isStr {
			s = string(v)
		}
		q, _ := json.Marshal(s)
		return string(q[1 : len(q)-1])
	case !isJSON && isStr:
		return s
	}
	return string(v)
}

func eventWithoutDetail(doc []byte) json.RawMessage {
	var env envelope
	if json.Unmarshal(doc, &env) != nil {
		return doc
	}
	m := map[string]any{"version": env.Version, "id": env.ID, "detail-type": env.DetailType, "source": env.Source,
		"account": env.Account, "time": env.Time, "region": env.Region, "resources": env.Resources}
	b, _ := json.Marshal(m)
	return b
}
