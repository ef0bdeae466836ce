package events

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

type wireTarget struct {
	Id               string `json:"Id"`
	Arn              string `json:"Arn"`
	RoleArn          string `json:"RoleArn,omitempty"`
	Input            string `json:"Input,omitempty"`
	InputPath        string `json:"InputPath,omitempty"`
	InputTransformer *struct {
		InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
		InputTemplate string            `json:"InputTemplate"`
	} `json:"InputTransformer,omitempty"`
	RetryPolicy *struct {
		MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
		MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
	} `json:"RetryPolicy,omitempty"`
	DeadLetterConfig *struct {
		Arn string `json:"Arn"`
	} `json:"DeadLetterConfig,omitempty"`
}

func (w wireTarget) target() Target {
	t := Target{ID: w.Id, Arn: w.Arn, RoleArn: w.RoleArn, Input: w.Input, InputPath: w.InputPath}
	if w.InputTransformer != nil {
		t.InputTransformer = &InputTransformer{InputPathsMap: w.InputTransformer.InputPathsMap, InputTemplate: w.InputTransformer.InputTemplate}
	}
	if w.RetryPolicy != nil {
		t.RetryPolicy = &RetryPolicy{MaximumRetryAttempts: defaultRetryAttempts, MaximumEventAgeInSeconds: defaultMaxEventAge}
		if w.RetryPolicy.MaximumRetryAttempts != nil {
			t.RetryPolicy.MaximumRetryAttempts = *w.RetryPolicy.MaximumRetryAttempts
		}
		if w.RetryPolicy.MaximumEventAgeInSeconds != nil {
			t.RetryPolicy.MaximumEventAgeInSeconds = *w.RetryPolicy.MaximumEventAgeInSeconds
		}
	}
	if w.DeadLetterConfig != nil {
		t.DeadLetterArn = w.DeadLetterConfig.Arn
	}
	return t
}

func toWire(t Target) wireTarget {
	w := wireTarget{Id: t.ID, Arn: t.Arn, RoleArn: t.RoleArn, Input: t.Input, InputPath: t.InputPath}
	if t.InputTransformer != nil {
		w.InputTransformer = &struct {
			InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
			InputTemplate string            `json:"InputTemplate"`
		}{t.InputTransformer.InputPathsMap, t.InputTransformer.InputTemplate}
	}
	if t.RetryPolicy != nil {
		a, s := t.RetryPolicy.MaximumRetryAttempts, t.RetryPolicy.MaximumEventAgeInSeconds
		if s == 0 {
			s = defaultMaxEventAge
		}
		w.RetryPolicy = &struct {
			MaximumRetryAttempts     *int `json:"MaximumRetryAttempts,omitempty"`
			MaximumEventAgeInSeconds *int `json:"MaximumEventAgeInSeconds,omitempty"`
		}{&a, &s}
	}
	if t.DeadLetterArn != "" {
		w.DeadLetterConfig = &struct {
			Arn string `json:"Arn"`
		}{t.DeadLetterArn}
	}
	return w
}

// findRule resolves a bus and rule. Callers hold s.mu.
func (s *Store) findRuleLocked(busArg, name string) (*bus, *rule, *awsproto.Error) {
	bn := s.busName(busArg)
	b, ok := s.buses[bn]
	if !ok {
		return nil, nil, notFound("Event bus %s does not exist.", bn)
	}
	r, ok := b.rules[name]
	if !ok {
		return b, nil, notFound("Rule %s does not exist on EventBus %s.", name, bn)
	}
	return b, r, nil
}

// onRule is the frame of an operation on one existing rule: the action
// authorized on the rule's ARN, then, with the store lock held,
// ResourceNotFoundException for a bus or rule that does not exist, and do,
// still under the lock.
func (s *Store) onRule(c *awsproto.Call, action, busArg, name string, do func(r *rule) (any, *awsproto.Error)) (any, *awsproto.Error) {
	if e := c.Authorize(accessDenied, action, s.ruleARN(s.busName(busArg), name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, r, e := s.findRuleLocked(busArg, name)
	if e != nil {
		return nil, e
	}
	return do(r)
}

func (s *Store) opPutRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Name               string `json:"Name"`
		EventPattern       string `json:"EventPattern"`
		ScheduleExpression string `json:"ScheduleExpression"`
		State              string `json:"State"`
		Description        string `json:"Description"`
		RoleArn            string `json:"RoleArn"`
		EventBusName       string `json:"EventBusName"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if !nameRE.MatchString(in.Name) {
		return nil, validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	}
	if len(in.EventPattern) > 4096 {
		return nil, validation("1 validation error detected: Value at 'eventPattern' failed to satisfy constraint: Member must have length less than or equal to 4096")
	}
	switch in.State {
	case "", "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", in.State)
	}
	bn := s.busName(in.EventBusName)
	if in.ScheduleExpression != "" && bn != DefaultBus {
		return nil, validation("ScheduleExpression is supported only on the default event bus.")
	}
	if e := c.Authorize(accessDenied, "events:PutRule", s.ruleARN(bn, in.Name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	var targets []Target
	if b, ok := s.buses[bn]; ok {
		if old, ok := b.rules[in.Name]; ok {
			targets = old.Targets
		}
	}
	s.mu.Unlock()
	r := Rule{Name: in.Name, BusName: bn, State: in.State, Description: in.Description, RoleArn: in.RoleArn,
		ScheduleExpression: in.ScheduleExpression, Targets: targets}
	if in.EventPattern != "" {
		r.Pattern = json.RawMessage(in.EventPattern)
	}
	arn, err := s.PutRule(r)
	if err != nil {
		return nil, err.(*awsproto.Error)
	}
	return map[string]string{"RuleArn": arn}, nil
}

func (s *Store) opPutTargets(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Rule         string       `json:"Rule"`
		EventBusName string       `json:"EventBusName"`
		Targets      []wireTarget `json:"Targets"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Targets) < 1 || len(in.Targets) > 10 {
		return nil, validation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	targets := make([]Target, len(in.Targets))
	for i, w := range in.Targets {
		targets[i] = w.target()
		if e := validateTarget(&targets[i]); e != nil {
			return nil, e
		}
	}
	bn := s.busName(in.EventBusName)
	if e := c.Authorize(accessDenied, "events:PutTargets", s.ruleARN(bn, in.Rule), nil); e != nil {
		return nil, e
	}
	for _, t := range targets {
		if t.RoleArn != "" {
			if e := c.Authorize(accessDenied, "iam:PassRole", t.RoleArn, map[string]string{"iam:PassedToService": "events.amazonaws.com"}); e != nil {
				return nil, e
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, r, e := s.findRuleLocked(in.EventBusName, in.Rule)
	if e != nil {
		return nil, e
	}
	merged := append([]Target(nil), r.Targets...)
	for _, t := range targets {
		replaced := false
		for i := range merged {
			if merged[i].ID == t.ID {
				merged[i], replaced = t, true
			}
		}
		if !replaced {
			merged = append(merged, t)
		}
	}
	if len(merged) > 5 {
		return nil, awsproto.Errorf(400, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
	}
	r.Targets = merged
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
}

func (s *Store) opRemoveTargets(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Rule         string   `json:"Rule"`
		EventBusName string   `json:"EventBusName"`
		Ids          []string `json:"Ids"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.onRule(c, "events:RemoveTargets", in.EventBusName, in.Rule, func(r *rule) (any, *awsproto.Error) {
		var keep []Target
		for _, t := range r.Targets {
			if !slices.Contains(in.Ids, t.ID) {
				keep = append(keep, t)
			}
		}
		r.Targets = keep
		return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
	})
}

type ruleIn struct {
	Name         string `json:"Name"`
	EventBusName string `json:"EventBusName"`
}

func (s *Store) opDeleteRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in ruleIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := c.Authorize(accessDenied, "events:DeleteRule", s.ruleARN(s.busName(in.EventBusName), in.Name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, r, e := s.findRuleLocked(in.EventBusName, in.Name)
	if e != nil {
		if b != nil {
			return struct{}{}, nil // deleting a missing rule succeeds
		}
		return nil, e
	}
	if len(r.Targets) > 0 {
		return nil, validation("Rule can't be deleted since it has targets.")
	}
	delete(b.rules, in.Name)
	for i, n := range b.order {
		if n == in.Name {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
	return struct{}{}, nil
}

func (s *Store) ruleOut(r *rule) map[string]any {
	m := map[string]any{"Name": r.Name, "Arn": r.arn, "State": r.State, "EventBusName": r.BusName}
	if len(r.Pattern) > 0 {
		m["EventPattern"] = string(r.Pattern)
	}
	if r.Description != "" {
		m["Description"] = r.Description
	}
	if r.ScheduleExpression != "" {
		m["ScheduleExpression"] = r.ScheduleExpression
	}
	if r.RoleArn != "" {
		m["RoleArn"] = r.RoleArn
	}
	return m
}

func (s *Store) opDescribeRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in ruleIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.onRule(c, "events:DescribeRule", in.EventBusName, in.Name, func(r *rule) (any, *awsproto.Error) {
		out := s.ruleOut(r)
		out["CreatedBy"] = s.cfg.Account
		return out, nil
	})
}

func (s *Store) setState(c *awsproto.Call, body []byte, action, state string) (any, *awsproto.Error) {
	var in ruleIn
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.onRule(c, action, in.EventBusName, in.Name, func(r *rule) (any, *awsproto.Error) {
		r.State = state
		return struct{}{}, nil
	})
}

func (s *Store) opEnableRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	return s.setState(c, body, "events:EnableRule", "ENABLED")
}

func (s *Store) opDisableRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	return s.setState(c, body, "events:DisableRule", "DISABLED")
}

func pageArgs(limit *int, token string) (int, int, *awsproto.Error) {
	n := 100
	if limit != nil {
		if *limit < 1 || *limit > 100 {
			return 0, 0, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100 and greater than or equal to 1", *limit)
		}
		n = *limit
	}
	start := 0
	if token != "" {
		i, err := strconv.Atoi(strings.TrimPrefix(token, "lc1-"))
		if err != nil || !strings.HasPrefix(token, "lc1-") || i < 0 {
			return 0, 0, validation("The NextToken is not valid.")
		}
		start = i
	}
	return n, start, nil
}

// pageOut is a page of a list answer: items from start, n at most, each as
// conv renders it, under key, with the NextToken that resumes after them
// when some are left.
func pageOut[T, X any](key string, items []T, start, n int, conv func(T) X) map[string]any {
	out := map[string]any{}
	list := []X{}
	for i := start; i < len(items); i++ {
		if len(list) == n {
			out["NextToken"] = "lc1-" + strconv.Itoa(i)
			break
		}
		list = append(list, conv(items[i]))
	}
	out[key] = list
	return out
}

func (s *Store) opListRules(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		NamePrefix   string `json:"NamePrefix"`
		EventBusName string `json:"EventBusName"`
		Limit        *int   `json:"Limit"`
		NextToken    string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	n, start, e := pageArgs(in.Limit, in.NextToken)
	if e != nil {
		return nil, e
	}
	bn := s.busName(in.EventBusName)
	if e := c.Authorize(accessDenied, "events:ListRules", s.ruleARN(bn, "*"), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buses[bn]
	if !ok {
		return nil, notFound("Event bus %s does not exist.", bn)
	}
	names := make([]string, 0, len(b.rules))
	for n := range b.rules {
		if strings.HasPrefix(n, in.NamePrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return pageOut("Rules", names, start, n, func(name string) map[string]any { return s.ruleOut(b.rules[name]) }), nil
}

func (s *Store) opListTargetsByRule(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Rule         string `json:"Rule"`
		EventBusName string `json:"EventBusName"`
		Limit        *int   `json:"Limit"`
		NextToken    string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	n, start, e := pageArgs(in.Limit, in.NextToken)
	if e != nil {
		return nil, e
	}
	return s.onRule(c, "events:ListTargetsByRule", in.EventBusName, in.Rule, func(r *rule) (any, *awsproto.Error) {
		return pageOut("Targets", r.Targets, start, n, toWire), nil
	})
}

var requiredEventFields = []string{"id", "account", "source", "time", "region", "resources", "detail-type"}

func (s *Store) opTestEventPattern(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		EventPattern string `json:"EventPattern"`
		Event        string `json:"Event"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := c.Authorize(accessDenied, "events:TestEventPattern", "*", nil); e != nil {
		return nil, e
	}
	p, err := CompilePattern([]byte(in.EventPattern))
	if err != nil {
		return nil, awsproto.Errorf(400, "InvalidEventPatternException", "%s", err.Error())
	}
	v, err := decodeJSON([]byte(in.Event))
	obj, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, validation("Parameter Event is not valid.")
	}
	for _, f := range requiredEventFields {
		if _, ok := obj[f]; !ok {
			return nil, validation("Parameter Event is not valid.")
		}
	}
	return map[string]bool{"Result": p.Match(obj)}, nil
}

func (s *Store) opCreateEventBus(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Name string `json:"Name"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == DefaultBus || strings.HasPrefix(in.Name, "aws.") || !regexpBusName(in.Name) {
		return nil, validation("Event bus name %s is not valid.", in.Name)
	}
	if e := c.Authorize(accessDenied, "events:CreateEventBus", s.busARN(in.Name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	_, exists := s.buses[in.Name]
	s.mu.Unlock()
	if exists {
		return nil, awsproto.Errorf(400, "ResourceAlreadyExistsException", "Event bus %s already exists.", in.Name)
	}
	return map[string]string{"EventBusArn": s.CreateBus(in.Name)}, nil
}

func regexpBusName(n string) bool {
	if len(n) < 1 || len(n) > 256 {
		return false
	}
	for _, r := range n {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func (s *Store) opDescribeEventBus(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Name string `json:"Name"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	bn := s.busName(in.Name)
	if e := c.Authorize(accessDenied, "events:DescribeEventBus", s.busARN(bn), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	b, ok := s.buses[bn]
	s.mu.Unlock()
	if !ok {
		return nil, notFound("Event bus %s does not exist.", bn)
	}
	return map[string]string{"Name": b.name, "Arn": b.arn}, nil
}
