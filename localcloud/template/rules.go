package template

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// targetCommon reads Input, InputPath, InputTransformer and RetryPolicy.
func (l *loader) targetCommon(m map[string]any, path string, t *Target) error {
	var err error
	if t.Input, err = getString(m, "Input", path); err != nil {
		return err
	}
	if t.Input != "" && !json.Valid([]byte(t.Input)) {
		return fmt.Errorf("%s.Input: not valid JSON", path)
	}
	if t.InputPath, err = getString(m, "InputPath", path); err != nil {
		return err
	}
	it, err := getMap(m, "InputTransformer", path)
	if err != nil {
		return err
	}
	if it != nil {
		tp := path + ".InputTransformer"
		t.InputTransformer = &InputTransformer{InputPathsMap: map[string]string{}}
		if t.InputTransformer.InputTemplate, err = getString(it, "InputTemplate", tp); err != nil {
			return err
		}
		ipm, err := getMap(it, "InputPathsMap", tp)
		if err != nil {
			return err
		}
		for k, v := range ipm {
			s, ok := scalarString(v)
			if !ok {
				return fmt.Errorf("%s.InputPathsMap.%s: expected a string", tp, k)
			}
			t.InputTransformer.InputPathsMap[k] = s
		}
	}
	rp, err := getMap(m, "RetryPolicy", path)
	if err != nil || rp == nil {
		return err
	}
	for k := range rp {
		if k != "MaximumRetryAttempts" && k != "MaximumEventAgeInSeconds" {
			return fmt.Errorf("%s.RetryPolicy.%s: unsupported property", path, k)
		}
	}
	if _, ok := rp["MaximumRetryAttempts"]; ok {
		n, err := getInt(rp, "MaximumRetryAttempts", path+".RetryPolicy", 0)
		if err != nil {
			return err
		}
		t.MaxRetryAttempts = &n
	}
	if _, ok := rp["MaximumEventAgeInSeconds"]; ok {
		n, err := getInt(rp, "MaximumEventAgeInSeconds", path+".RetryPolicy", 0)
		if err != nil {
			return err
		}
		t.MaxEventAgeSeconds = &n
	}
	return nil
}

// patternJSON renders an event pattern (a mapping, or a JSON string) as JSON.
func patternJSON(v any, path string) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		return toJSON(x)
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %v", path, err)
		}
		return toJSON(m)
	case nil:
		return nil, fmt.Errorf("%s: required", path)
	}
	return nil, fmt.Errorf("%s: expected a mapping, got %s", path, describe(v))
}

var ruleProps = map[string]bool{"Name": true, "EventBusName": true, "EventPattern": true, "State": true,
	"Targets": true, "Description": true, "RoleArn": true}
var targetProps = map[string]bool{"Id": true, "Arn": true, "RoleArn": true, "Input": true, "InputPath": true,
	"InputTransformer": true, "RetryPolicy": true, "DeadLetterConfig": true}

func (l *loader) eventsRule(r *resource) error {
	p, props, name, err := l.properties(r, ruleProps)
	if err != nil {
		return err
	}
	bus, err := getString(props, "EventBusName", p)
	if err != nil {
		return err
	}
	rule := Rule{LogicalID: r.id, Name: name, BusName: busName(bus), State: "ENABLED"}
	if rule.Pattern, err = patternJSON(props["EventPattern"], p+".EventPattern"); err != nil {
		return err
	}
	if s, err := getString(props, "State", p); err != nil {
		return err
	} else if s != "" {
		rule.State = s
	}
	targets, _ := props["Targets"].([]any)
	if v, ok := props["Targets"]; ok && targets == nil {
		return fmt.Errorf("%s.Targets: expected a list, got %s", p, describe(v))
	}
	for i, tv := range targets {
		tp := fmt.Sprintf("%s.Targets[%d]", p, i)
		tm, ok := tv.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a mapping", tp)
		}
		for _, k := range slices.Sorted(maps.Keys(tm)) {
			if !targetProps[k] {
				return fmt.Errorf("%s.%s: unsupported target property", tp, k)
			}
		}
		var t Target
		if t.ID, err = getString(tm, "Id", tp); err != nil {
			return err
		}
		if t.Arn, err = getString(tm, "Arn", tp); err != nil {
			return err
		}
		if t.ID == "" || t.Arn == "" {
			return fmt.Errorf("%s: Id and Arn are required", tp)
		}
		if t.RoleArn, err = getString(tm, "RoleArn", tp); err != nil {
			return err
		}
		if err := l.targetCommon(tm, tp, &t); err != nil {
			return err
		}
		dlc, err := getMap(tm, "DeadLetterConfig", tp)
		if err != nil {
			return err
		}
		if t.DeadLetterArn, err = getString(dlc, "Arn", tp+".DeadLetterConfig"); err != nil {
			return err
		}
		rule.Targets = append(rule.Targets, t)
	}
	l.out.Rules = append(l.out.Rules, rule)
	return nil
}
