package template

import (
	"fmt"
	"maps"
	"slices"
)

// mergeGlobals applies SAM's Globals rules: mappings merge key by key, lists
// are concatenated (Globals first), anything else (including intrinsic
// functions) is overridden by the resource's own value.
func mergeGlobals(g, own any) any {
	gm, gok := g.(map[string]any)
	om, ook := own.(map[string]any)
	if gok && ook {
		_, _, gi := isIntrinsic(gm)
		_, _, oi := isIntrinsic(om)
		if !gi && !oi {
			out := make(map[string]any, len(gm)+len(om))
			for k, v := range gm {
				out[k] = v
			}
			for k, v := range om {
				if gv, ok := out[k]; ok {
					out[k] = mergeGlobals(gv, v)
				} else {
					out[k] = v
				}
			}
			return out
		}
	}
	gl, gok := g.([]any)
	ol, ook := own.([]any)
	if gok && ook {
		return append(slices.Clone(gl), ol...)
	}
	return own
}

// addGenerated inserts a resource the SAM transform creates, right after its owner.
func (l *loader) addGenerated(owner *resource, id, typ string, props map[string]any) (*resource, error) {
	if _, dup := l.res[id]; dup {
		return nil, fmt.Errorf("%s: SAM would generate resource %s, which the template already declares", owner.path(), id)
	}
	r := &resource{id: id, typ: typ, props: props, exists: owner.exists, generated: true,
		owner: owner.id, condition: owner.condition}
	l.res[id] = r
	i := slices.Index(l.order, owner.id) + 1
	for i < len(l.order) && l.res[l.order[i]].owner == owner.id {
		i++
	}
	l.order = slices.Insert(l.order, i, id)
	return r, nil
}

// expandSAM creates the resources SAM implies, so Ref/GetAtt on them work
// (e.g. !GetAtt TriggerFunctionRole.Arn) and their names are stable.
func (l *loader) expandSAM() error {
	for _, id := range slices.Clone(l.order) {
		r := l.res[id]
		if r.typ != typeFunction && r.typ != typeStateMachine {
			continue
		}
		if _, hasRole := r.props["Role"]; !hasRole {
			props := map[string]any{}
			if rp, ok := r.props["RolePath"]; ok {
				props["Path"] = rp
			}
			if _, err := l.addGenerated(r, id+"Role", typeRole, props); err != nil {
				return err
			}
		}
		events, err := l.events(r)
		if err != nil {
			return err
		}
		for _, ev := range events {
			props := map[string]any{}
			if v, ok := ev.props["RuleName"]; ok {
				props["Name"] = v
			}
			if v, ok := ev.props["EventBusName"]; ok {
				props["EventBusName"] = v
			}
			if _, err := l.addGenerated(r, ev.ruleID, typeRule, props); err != nil {
				return err
			}
			if r.typ == typeFunction {
				if _, err := l.addGenerated(r, ev.ruleID+"Permission", typePermission, map[string]any{}); err != nil {
					return err
				}
			}
			if r.typ == typeStateMachine {
				if _, err := l.addGenerated(r, ev.ruleID+"Role", typeRole, map[string]any{}); err != nil {
					return err
				}
			}
			if dlc, ok := ev.props["DeadLetterConfig"].(map[string]any); ok {
				if t, has := dlc["Type"]; has {
					if t != "SQS" {
						return fmt.Errorf("%s.DeadLetterConfig.Type: %v is not SQS", ev.path, t)
					}
					if _, both := dlc["Arn"]; both {
						return fmt.Errorf("%s.DeadLetterConfig: specify Type or Arn, not both", ev.path)
					}
					qid := ev.ruleID + "Queue"
					if v, ok := dlc["QueueLogicalId"]; ok {
						if qid, ok = v.(string); !ok {
							return fmt.Errorf("%s.DeadLetterConfig.QueueLogicalId: expected a literal string", ev.path)
						}
					}
					if _, err := l.addGenerated(r, qid, typeQueue, map[string]any{}); err != nil {
						return err
					}
					if _, err := l.addGenerated(r, ev.ruleID+"QueuePolicy", typeQueuePolicy, map[string]any{}); err != nil {
						return err
					}
				}
			}
		}
		if r.typ != typeFunction || !r.exists {
			continue
		}
		// EventInvokeConfig destinations of Type SQS/SNS without a
		// Destination: SAM creates the queue/topic.
		eic, _ := r.props["EventInvokeConfig"].(map[string]any)
		dc, _ := eic["DestinationConfig"].(map[string]any)
		for _, which := range []string{"OnSuccess", "OnFailure"} {
			d, ok := dc[which].(map[string]any)
			if !ok {
				continue
			}
			p := r.path() + ".Properties.EventInvokeConfig.DestinationConfig." + which
			dest, err := l.resolve(d["Destination"], p+".Destination")
			if err != nil {
				return err
			}
			if dest != nil && dest != noValue {
				continue
			}
			base := id + "EventInvokeConfig" + which
			switch d["Type"] {
			case "SQS":
				_, err = l.addGenerated(r, base+"Queue", typeQueue, map[string]any{})
			case "SNS":
				_, err = l.addGenerated(r, base+"Topic", typeTopic, map[string]any{})
			default:
				err = fmt.Errorf("%s.Destination: required unless Type is SQS or SNS", p)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

type samEvent struct {
	name, ruleID, path string
	props              map[string]any // raw
}

var eventProps = map[string]bool{
	"Pattern": true, "EventBusName": true, "Input": true, "InputPath": true, "InputTransformer": true,
	"RetryPolicy": true, "DeadLetterConfig": true, "RuleName": true, "State": true, "Target": true,
}

// events lists r's Events (raw), sorted by name.
func (l *loader) events(r *resource) ([]samEvent, error) {
	raw, ok := r.props["Events"]
	if !ok {
		return nil, nil
	}
	evs, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s.Properties.Events: not a mapping", r.path())
	}
	var out []samEvent
	for _, name := range slices.Sorted(maps.Keys(evs)) {
		p := r.path() + ".Properties.Events." + name
		ev, ok := evs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not a mapping", p)
		}
		if typ := ev["Type"]; typ != "EventBridgeRule" && typ != "CloudWatchEvent" {
			return nil, fmt.Errorf("%s.Type: unsupported event type %v (only EventBridgeRule)", p, typ)
		}
		props, ok := ev["Properties"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.Properties: not a mapping", p)
		}
		for k := range props {
			if !eventProps[k] {
				return nil, fmt.Errorf("%s.Properties.%s: unsupported EventBridgeRule property", p, k)
			}
		}
		out = append(out, samEvent{name: name, ruleID: r.id + name, path: p + ".Properties", props: props})
	}
	return out, nil
}

// samRules builds the rules of r's EventBridgeRule events, targeting arn.
func (l *loader) samRules(r *resource, targetArn, targetSuffix string) error {
	events, err := l.events(r)
	if err != nil {
		return err
	}
	resolvedEvents, _ := l.resolved[r.id]["Events"].(map[string]any)
	for _, ev := range events {
		evr, _ := resolvedEvents[ev.name].(map[string]any)
		props, _ := evr["Properties"].(map[string]any)
		rr := l.res[ev.ruleID]
		name, err := l.physicalName(rr)
		if err != nil {
			return err
		}
		bus, err := getString(props, "EventBusName", ev.path)
		if err != nil {
			return err
		}
		rule := Rule{LogicalID: ev.ruleID, Name: name, BusName: busName(bus), State: "ENABLED"}
		if rule.Pattern, err = patternJSON(props["Pattern"], ev.path+".Pattern"); err != nil {
			return err
		}
		if s, err := getString(props, "State", ev.path); err != nil {
			return err
		} else if s != "" {
			rule.State = s
		}
		id := r.id + ev.name + targetSuffix
		if len(id) > 64 {
			id = (r.id + ev.name)[:64-len(targetSuffix)] + targetSuffix
		}
		tgt, err := getMap(props, "Target", ev.path)
		if err != nil {
			return err
		}
		for k := range tgt {
			if k != "Id" {
				return fmt.Errorf("%s.Target.%s: unsupported property", ev.path, k)
			}
		}
		if s, err := getString(tgt, "Id", ev.path+".Target"); err != nil {
			return err
		} else if s != "" {
			id = s
		}
		ruleArn, err := l.attribute(rr, "Arn", ev.path)
		if err != nil {
			return err
		}
		if r.typ == typeFunction {
			// SAM's AWS::Lambda::Permission for the rule.
			l.out.Permissions = append(l.out.Permissions, Permission{LogicalID: ev.ruleID + "Permission",
				StatementID: l.statementID(ev.ruleID + "Permission"), FunctionArn: targetArn,
				Action: "lambda:InvokeFunction", Principal: "events.amazonaws.com", SourceArn: ruleArn.(string)})
		}
		t := Target{ID: id, Arn: targetArn}
		if r.typ == typeStateMachine {
			if t.RoleArn, err = l.samEventRole(ev.ruleID+"Role", targetArn, ev.path); err != nil {
				return err
			}
		}
		if err := l.targetCommon(props, ev.path, &t); err != nil {
			return err
		}
		if dlc, err := getMap(props, "DeadLetterConfig", ev.path); err != nil {
			return err
		} else if dlc != nil {
			dp := ev.path + ".DeadLetterConfig"
			if _, typed := dlc["Type"]; typed {
				qid := ev.ruleID + "Queue"
				if s, _ := getString(dlc, "QueueLogicalId", dp); s != "" {
					qid = s
				}
				v, err := l.attribute(l.res[qid], "Arn", dp)
				if err != nil {
					return err
				}
				t.DeadLetterArn = v.(string)
				// SAM's AWS::SQS::QueuePolicy lets the rule send its dead letters.
				doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
					"Action": "sqs:SendMessage", "Effect": "Allow", "Principal": map[string]any{"Service": "events.amazonaws.com"},
					"Resource": t.DeadLetterArn, "Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": ruleArn}}}}})
				if err != nil {
					return err
				}
				l.out.QueuePolicies = append(l.out.QueuePolicies, QueuePolicy{LogicalID: ev.ruleID + "QueuePolicy",
					QueueArns: []string{t.DeadLetterArn}, Document: doc})
			} else {
				for k := range dlc {
					if k != "Arn" {
						return fmt.Errorf("%s.%s: unsupported property", dp, k)
					}
				}
				if t.DeadLetterArn, err = getString(dlc, "Arn", dp); err != nil {
					return err
				}
			}
		}
		rule.Targets = []Target{t}
		l.out.Rules = append(l.out.Rules, rule)
	}
	return nil
}

// samEventRole records the role SAM creates for a state machine's
// EventBridgeRule event (trusting events.amazonaws.com, with an inline
// policy allowing states:StartExecution on the state machine) and returns
// its ARN.
func (l *loader) samEventRole(id, smArn, path string) (string, error) {
	rr := l.res[id]
	v, err := l.attribute(rr, "Arn", path)
	if err != nil {
		return "", err
	}
	name, err := l.physicalName(rr)
	if err != nil {
		return "", err
	}
	trust, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": []any{"sts:AssumeRole"}, "Principal": map[string]any{"Service": []any{"events.amazonaws.com"}}}}})
	if err != nil {
		return "", err
	}
	doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "states:StartExecution", "Resource": smArn}}})
	if err != nil {
		return "", err
	}
	l.out.Roles = append(l.out.Roles, Role{LogicalID: id, Name: name, Arn: v.(string), TrustPolicy: trust,
		Policies: []InlinePolicy{{Name: id + "StartExecutionPolicy", Document: doc}}})
	return v.(string), nil
}
