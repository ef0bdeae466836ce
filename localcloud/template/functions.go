package template

import (
	"fmt"
)

var permissionProps = map[string]bool{"Action": true, "FunctionName": true, "Principal": true, "SourceArn": true,
	"SourceAccount": true, "PrincipalOrgID": true, "EventSourceToken": true, "FunctionUrlAuthType": true}

func (l *loader) permission(r *resource) error {
	p, props, _, err := l.properties(r, permissionProps)
	if err != nil {
		return err
	}
	perm := Permission{LogicalID: r.id, StatementID: l.statementID(r.id)}
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"Action", &perm.Action, true}, {"Principal", &perm.Principal, true}, {"SourceArn", &perm.SourceArn, false},
		{"SourceAccount", &perm.SourceAccount, false}, {"PrincipalOrgID", &perm.PrincipalOrgID, false},
		{"EventSourceToken", &perm.EventSourceToken, false}, {"FunctionUrlAuthType", &perm.FunctionURLAuthType, false},
	} {
		v, err := getString(props, f.key, p)
		if err != nil {
			return err
		}
		if f.required && v == "" {
			return fmt.Errorf("%s.%s: required", p, f.key)
		}
		*f.dst = v
	}
	name, err := getString(props, "FunctionName", p)
	if err != nil {
		return err
	}
	for _, f := range l.out.Functions {
		if name == f.FunctionName || name == f.Arn {
			perm.FunctionArn = f.Arn
		}
	}
	if perm.FunctionArn == "" {
		return fmt.Errorf("%s.FunctionName: %q is not a function of this template (write !Ref <Function> or !GetAtt <Function>.Arn; versions and aliases are not supported)", p, name)
	}
	l.out.Permissions = append(l.out.Permissions, perm)
	return nil
}

// --- extraction ---

var functionProps = map[string]bool{
	// read
	"FunctionName": true, "CodeUri": true, "InlineCode": true, "Handler": true, "Runtime": true,
	"Architectures": true, "Timeout": true, "MemorySize": true, "Environment": true, "Role": true,
	"Policies": true, "EventInvokeConfig": true, "Events": true, "DeadLetterQueue": true, "RolePath": true,
	// accepted: no effect on what the local cloud runs
	"Description": true, "Tags": true, "PropagateTags": true, "Tracing": true, "LoggingConfig": true,
	"KmsKeyArn": true, "Layers": true, "RecursiveLoop": true, "RuntimeManagementConfig": true,
	"SnapStart": true, "EphemeralStorage": true, "PermissionsBoundary": true, "AssumeRolePolicyDocument": true,
	"CodeSigningConfigArn": true, "ReservedConcurrentExecutions": true, "VpcConfig": true,
	"AutoPublishAlias": true, "VersionDescription": true, "PackageType": true,
}

func (l *loader) function(r *resource) error {
	p, props, name, err := l.properties(r, functionProps)
	if err != nil {
		return err
	}
	f := Function{LogicalID: r.id, FunctionName: name, Arn: l.arn("lambda", l.o.Region, "function:"+name)}
	if v, ok := props["CodeUri"]; ok {
		if f.CodeURI, ok = v.(string); !ok {
			return fmt.Errorf("%s.CodeUri: only a local path is supported, got %s", p, describe(v))
		}
	} else if _, ok := props["InlineCode"]; !ok {
		return fmt.Errorf("%s.CodeUri: required", p)
	}
	if pt, _ := getString(props, "PackageType", p); pt != "" && pt != "Zip" {
		return fmt.Errorf("%s.PackageType: unsupported %s", p, pt)
	}
	if f.Handler, err = getString(props, "Handler", p); err != nil {
		return err
	}
	if f.Runtime, err = getString(props, "Runtime", p); err != nil {
		return err
	}
	f.Architectures = []string{"x86_64"}
	if v, ok := props["Architectures"]; ok {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s.Architectures: expected a list, got %s", p, describe(v))
		}
		f.Architectures = nil
		for i, a := range list {
			s, ok := a.(string)
			if !ok {
				return fmt.Errorf("%s.Architectures[%d]: expected a string", p, i)
			}
			f.Architectures = append(f.Architectures, s)
		}
		if len(f.Architectures) != 1 || (f.Architectures[0] != "x86_64" && f.Architectures[0] != "arm64") {
			return fmt.Errorf("%s.Architectures: %v: Lambda takes exactly one of x86_64, arm64 (SAM concatenates Globals lists with the function's)", p, f.Architectures)
		}
	}
	if f.Timeout, err = getInt(props, "Timeout", p, 3); err != nil {
		return err
	}
	if f.MemorySize, err = getInt(props, "MemorySize", p, 128); err != nil {
		return err
	}
	if bm, ok := r.metadata["BuildMethod"].(string); ok {
		f.BuildMethod = bm
	}
	env, err := getMap(props, "Environment", p)
	if err != nil {
		return err
	}
	vars, err := getMap(env, "Variables", p+".Environment")
	if err != nil {
		return err
	}
	f.Environment = map[string]string{}
	for k, v := range vars {
		s, ok := scalarString(v)
		if !ok {
			return fmt.Errorf("%s.Environment.Variables.%s: expected a string, got %s", p, k, describe(v))
		}
		f.Environment[k] = s
	}
	implicit := []string{"arn:" + l.o.Partition + ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
	if tracing, _ := scalarString(props["Tracing"]); tracing == "Active" {
		// SAM attaches the X-Ray write policy to the role it creates for a
		// traced function.
		implicit = append(implicit, "arn:"+l.o.Partition+":iam::aws:policy/AWSXrayWriteOnlyAccess")
	}
	if f.RoleArn, f.PolicyDocuments, f.ManagedPolicyArns, err = l.role(r, props, implicit); err != nil {
		return err
	}
	dlq, err := getMap(props, "DeadLetterQueue", p)
	if err != nil {
		return err
	}
	if err := l.eventInvokeConfig(r, props, &f); err != nil {
		return err
	}
	if dlq != nil {
		if f.DeadLetterArn, err = getString(dlq, "TargetArn", p+".DeadLetterQueue"); err != nil {
			return err
		}
		typ, err := getString(dlq, "Type", p+".DeadLetterQueue")
		if err != nil {
			return err
		}
		action := map[string]string{"SQS": "sqs:SendMessage", "SNS": "sns:Publish"}[typ]
		if action == "" || f.DeadLetterArn == "" {
			return fmt.Errorf("%s.DeadLetterQueue: needs Type (SQS or SNS) and TargetArn", p)
		}
		if _, ownRole := props["Role"]; !ownRole {
			// SAM's DeadLetterQueuePolicy: Lambda sends with the role.
			doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": action, "Resource": f.DeadLetterArn}}})
			if err != nil {
				return err
			}
			f.ImplicitPolicyDocuments = append(f.ImplicitPolicyDocuments, doc)
		}
	}
	l.out.Functions = append(l.out.Functions, f)
	return l.samRules(r, f.Arn, "LambdaTarget")
}

func (l *loader) eventInvokeConfig(r *resource, props map[string]any, f *Function) error {
	p := r.path() + ".Properties.EventInvokeConfig"
	f.AsyncRetries, f.AsyncMaxEventAgeSeconds = 2, 21600
	eic, err := getMap(props, "EventInvokeConfig", r.path()+".Properties")
	if err != nil || eic == nil {
		return err
	}
	for k := range eic {
		if k != "MaximumRetryAttempts" && k != "MaximumEventAgeInSeconds" && k != "DestinationConfig" {
			return fmt.Errorf("%s.%s: unsupported property", p, k)
		}
	}
	if f.AsyncRetries, err = getInt(eic, "MaximumRetryAttempts", p, 2); err != nil {
		return err
	}
	if f.AsyncRetries < 0 || f.AsyncRetries > 2 {
		return fmt.Errorf("%s.MaximumRetryAttempts: %d is not 0..2", p, f.AsyncRetries)
	}
	if f.AsyncMaxEventAgeSeconds, err = getInt(eic, "MaximumEventAgeInSeconds", p, 21600); err != nil {
		return err
	}
	dc, err := getMap(eic, "DestinationConfig", p)
	if err != nil {
		return err
	}
	for k := range dc {
		if k != "OnSuccess" && k != "OnFailure" {
			return fmt.Errorf("%s.DestinationConfig.%s: unsupported property", p, k)
		}
	}
	for _, which := range []string{"OnSuccess", "OnFailure"} {
		dp := p + ".DestinationConfig." + which
		d, err := getMap(dc, which, p+".DestinationConfig")
		if err != nil {
			return err
		}
		if d == nil {
			continue
		}
		typ, err := getString(d, "Type", dp)
		if err != nil {
			return err
		}
		arn, err := getString(d, "Destination", dp)
		if err != nil {
			return err
		}
		if arn == "" {
			suffix := map[string]string{"SQS": "Queue", "SNS": "Topic"}[typ]
			g, ok := l.res[r.id+"EventInvokeConfig"+which+suffix]
			if !ok {
				return fmt.Errorf("%s.Destination: required for Type %q", dp, typ)
			}
			v, err := l.attribute(g, "Arn", dp)
			if typ == "SNS" {
				v, err = l.attribute(g, "", dp)
			}
			if err != nil {
				return err
			}
			arn = v.(string)
		}
		action := map[string]string{"SQS": "sqs:SendMessage", "SNS": "sns:Publish",
			"Lambda": "lambda:InvokeFunction", "EventBridge": "events:PutEvents"}[typ]
		if action == "" {
			return fmt.Errorf("%s.Type: %q must be one of SQS, SNS, Lambda, EventBridge", dp, typ)
		}
		if which == "OnFailure" {
			f.OnFailureArn = arn
		} else {
			f.OnSuccessArn = arn
		}
		if _, ownRole := props["Role"]; !ownRole {
			doc, err := toJSON(map[string]any{"Version": "2012-10-17", "Statement": []any{
				map[string]any{"Effect": "Allow", "Action": action, "Resource": arn}}})
			if err != nil {
				return err
			}
			f.ImplicitPolicyDocuments = append(f.ImplicitPolicyDocuments, doc)
		}
	}
	return nil
}
