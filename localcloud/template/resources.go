package template

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

type resource struct {
	id, typ   string
	props     map[string]any // raw (Globals merged), intrinsics unresolved
	metadata  map[string]any
	condition string
	exists    bool
	generated bool   // created by the SAM transform, not written in the template
	owner     string // for generated resources: the SAM resource that implies it
}

func (r *resource) path() string { return "Resources." + r.id }

// Resource types the loader knows. Ref and GetAtt work on all of them; the
// ones the local cloud runs (functions, state machines, queues, rules) are
// also reported in Template.
const (
	typeFunction      = "AWS::Serverless::Function"
	typeStateMachine  = "AWS::Serverless::StateMachine"
	typeQueue         = "AWS::SQS::Queue"
	typeQueuePolicy   = "AWS::SQS::QueuePolicy"
	typeLogGroup      = "AWS::Logs::LogGroup"
	typeAlarm         = "AWS::CloudWatch::Alarm"
	typeRule          = "AWS::Events::Rule"
	typeEventBus      = "AWS::Events::EventBus"
	typeRole          = "AWS::IAM::Role"
	typeManagedPolicy = "AWS::IAM::ManagedPolicy"
	typeTopic         = "AWS::SNS::Topic"
	typeSSMParameter  = "AWS::SSM::Parameter"
	typePermission    = "AWS::Lambda::Permission"
)

type nameStyle struct {
	prop  string // property holding a physical name
	style int    // how CloudFormation generates one when the property is absent
	max   int
}

const (
	styleStack    = iota // <stack>-<LogicalID>-<SUFFIX>
	styleLogical         // <LogicalID>-<SUFFIX> (Step Functions)
	styleCFN             // CFN-<LogicalID>-<SUFFIX> (SSM)
	styleRequired        // no generated name: the property is required
	styleNone            // the resource has no name
)

var knownTypes = map[string]nameStyle{
	typeFunction:      {"FunctionName", styleStack, 64},
	typeStateMachine:  {"Name", styleLogical, 80},
	typeQueue:         {"QueueName", styleStack, 80},
	typeQueuePolicy:   {"", styleNone, 0},
	typeLogGroup:      {"LogGroupName", styleStack, 512},
	typeAlarm:         {"AlarmName", styleStack, 255},
	typeRule:          {"Name", styleStack, 64},
	typeEventBus:      {"Name", styleRequired, 256},
	typeRole:          {"RoleName", styleStack, 64},
	typeManagedPolicy: {"ManagedPolicyName", styleStack, 128},
	typeTopic:         {"TopicName", styleStack, 256},
	typeSSMParameter:  {"Name", styleCFN, 2048},
	typePermission:    {"", styleNone, 0},
}

// suffix is the deterministic stand-in for CloudFormation's random
// physical-name suffix: 12 characters from a hash of stack and logical ID.
func (l *loader) suffix(id string) string {
	h := sha256.Sum256([]byte(l.o.StackName + "/" + id))
	return base32.StdEncoding.EncodeToString(h[:])[:12]
}

func truncate(prefix string, max int, suffix string) string {
	if room := max - len(suffix) - 1; len(prefix) > room {
		prefix = strings.TrimRight(prefix[:room], "-")
	}
	return prefix + "-" + suffix
}

// physicalName is the resource's name: the name property if written, else a
// generated one like CloudFormation's (deterministic suffix).
func (l *loader) physicalName(r *resource) (string, error) {
	if n, ok := l.names[r.id]; ok {
		return n, nil
	}
	ns := knownTypes[r.typ]
	if l.nameBusy[r.id] {
		return "", fmt.Errorf("%s: circular reference while resolving its name", r.path())
	}
	l.nameBusy[r.id] = true
	defer delete(l.nameBusy, r.id)
	var name string
	if raw, ok := r.props[ns.prop]; ok && ns.prop != "" {
		v, err := l.resolve(raw, r.path()+".Properties."+ns.prop)
		if err != nil {
			return "", err
		}
		if v != noValue {
			s, ok := scalarString(v)
			if !ok || s == "" {
				return "", fmt.Errorf("%s.Properties.%s: expected a non-empty string, got %s", r.path(), ns.prop, describe(v))
			}
			name = s
		}
	}
	if name == "" {
		suf := l.suffix(r.id)
		switch ns.style {
		case styleStack:
			max := ns.max
			fifo := false
			if r.typ == typeQueue {
				if f, err := l.resolve(r.props["FifoQueue"], r.path()+".Properties.FifoQueue"); err != nil {
					return "", err
				} else if s, _ := scalarString(f); s == "true" {
					fifo, max = true, max-len(".fifo")
				}
			}
			name = truncate(l.o.StackName+"-"+r.id, max, suf)
			if fifo {
				name += ".fifo"
			}
		case styleLogical:
			name = truncate(r.id, ns.max, suf)
		case styleCFN:
			name = truncate("CFN-"+r.id, ns.max, suf)
		case styleRequired:
			return "", fmt.Errorf("%s.Properties.%s: required", r.path(), ns.prop)
		default:
			return "", fmt.Errorf("%s: a %s has no name", r.path(), r.typ)
		}
	}
	l.names[r.id] = name
	return name, nil
}

func (l *loader) arn(service, region, resource string) string {
	return "arn:" + l.o.Partition + ":" + service + ":" + region + ":" + l.o.Account + ":" + resource
}

// busName accepts an event bus name or ARN and returns the name.
func busName(s string) string {
	if strings.HasPrefix(s, "arn:") {
		if _, after, ok := strings.Cut(s, ":event-bus/"); ok {
			return after
		}
	}
	if s == "" {
		return "default"
	}
	return s
}

func (l *loader) optionalString(r *resource, prop string) (string, error) {
	raw, ok := r.props[prop]
	if !ok {
		return "", nil
	}
	v, err := l.resolve(raw, r.path()+".Properties."+prop)
	if err != nil || v == noValue {
		return "", err
	}
	s, ok := scalarString(v)
	if !ok {
		return "", fmt.Errorf("%s.Properties.%s: expected a string, got %s", r.path(), prop, describe(v))
	}
	return s, nil
}

func (l *loader) iamPath(r *resource) (string, error) {
	p, err := l.optionalString(r, "Path")
	if err != nil || p == "" {
		return "/", err
	}
	return p, nil
}

// attribute returns Ref (attr == "") or Fn::GetAtt of r.
func (l *loader) attribute(r *resource, attr, path string) (any, error) {
	name, err := "", error(nil)
	if knownTypes[r.typ].style != styleNone {
		if name, err = l.physicalName(r); err != nil {
			return nil, err
		}
	}
	// Each type's Ref ("") and attributes; one that is not listed is not
	// supported. The ones that can fail are computed only when asked for.
	var v string
	switch r.typ {
	case typeFunction:
		v = map[string]string{"": name, "Arn": l.arn("lambda", l.o.Region, "function:"+name)}[attr]
	case typeStateMachine:
		arn := l.arn("states", l.o.Region, "stateMachine:"+name)
		v = map[string]string{"": arn, "Arn": arn, "Name": name}[attr]
	case typeQueue:
		url := l.queueURL(name)
		v = map[string]string{"": url, "QueueUrl": url, "Arn": l.arn("sqs", l.o.Region, name), "QueueName": name}[attr]
	case typeLogGroup:
		v = map[string]string{"": name, "Arn": l.arn("logs", l.o.Region, "log-group:"+name+":*")}[attr]
	case typeAlarm:
		v = map[string]string{"": name, "Arn": l.arn("cloudwatch", l.o.Region, "alarm:"+name)}[attr]
	case typeRule:
		switch attr {
		case "":
			v = name
		case "Arn":
			bus, err := l.optionalString(r, "EventBusName")
			if err != nil {
				return nil, err
			}
			res := "rule/" + name
			if b := busName(bus); b != "default" {
				res = "rule/" + b + "/" + name
			}
			v = l.arn("events", l.o.Region, res)
		}
	case typeEventBus:
		v = map[string]string{"": name, "Name": name, "Arn": l.arn("events", l.o.Region, "event-bus/"+name)}[attr]
	case typeRole:
		switch attr {
		case "":
			v = name
		case "Arn":
			p, err := l.iamPath(r)
			if err != nil {
				return nil, err
			}
			v = l.arn("iam", "", "role"+p+name)
		case "RoleId":
			v = "AROA" + l.suffix(r.id) + "EXAMPLE"
		}
	case typeManagedPolicy:
		switch attr {
		case "", "PolicyArn":
			p, err := l.iamPath(r)
			if err != nil {
				return nil, err
			}
			v = l.arn("iam", "", "policy"+p+name)
		}
	case typeTopic:
		arn := l.arn("sns", l.o.Region, name)
		v = map[string]string{"": arn, "TopicArn": arn, "TopicName": name}[attr]
	case typeSSMParameter:
		if attr == "" {
			v = name
		}
	}
	if v == "" {
		what := "Fn::GetAtt " + attr
		if attr == "" {
			what = "Ref"
		}
		return nil, fmt.Errorf("%s: %s is not supported on %s (%s)", path, what, r.id, r.typ)
	}
	return v, nil
}

func (l *loader) urlSuffix() string {
	if l.o.Partition == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

func (l *loader) queueURL(name string) string {
	return "https://sqs." + l.o.Region + "." + l.urlSuffix() + "/" + l.o.Account + "/" + name
}
