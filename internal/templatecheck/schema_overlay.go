package templatecheck

import "fmt"

// goformation v7.14.9's SAM schema lags behind the SAM specification. The
// overlay below corrects it where this template (or a close cousin) would
// otherwise be rejected although SAM accepts it. Each entry names the SAM
// documentation it follows. Corrections add sub-schemas (mostly by $ref to
// the CloudFormation definition SAM passes the value through to), so a typo
// inside the added property is still caught; nothing here disables a check.
//
// To add one: find the property in
// https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-resources-and-properties.html,
// add it here with a comment, and a test in schema_test.go if it matters.

type overlayEdit struct {
	def  string // definition name
	why  string
	edit func(def map[string]any) error
}

var schemaOverlay = []overlayEdit{
	{
		def: "AWS::Serverless::Function",
		why: "sam-resource-function.html: LoggingConfig, RecursiveLoop, SnapStart, RuntimeManagementPolicy are passed to AWS::Lambda::Function",
		edit: func(d map[string]any) error {
			props, err := propsOf(d, "Properties")
			if err != nil {
				return err
			}
			props["LoggingConfig"] = ref("AWS::Lambda::Function.LoggingConfig")
			props["SnapStart"] = ref("AWS::Lambda::Function.SnapStart")
			props["RecursiveLoop"] = map[string]any{"type": "string"}
			props["RuntimeManagementPolicy"] = map[string]any{"type": "object"}
			return nil
		},
	},
	{
		def:  "AWS::Serverless::Function.EventBridgeRuleEvent",
		why:  "sam-property-function-eventbridgerule.html: DeadLetterConfig, RetryPolicy, RuleName, State, Target, InputTransformer",
		edit: eventBridgeRuleEvent,
	},
	{
		def:  "AWS::Serverless::StateMachine.EventBridgeRuleEvent",
		why:  "sam-property-statemachine-statemachineeventbridgerule.html: same additions as for functions",
		edit: eventBridgeRuleEvent,
	},
	{
		def:  "AWS::Serverless::Function.EventInvokeDestinationConfig",
		why:  "sam-property-function-eventinvokedestinationconfiguration.html: OnFailure and OnSuccess are each optional",
		edit: func(d map[string]any) error { delete(d, "required"); return nil },
	},
	{
		def:  "AWS::Serverless::Function.Destination",
		why:  "sam-property-function-onfailure.html: Destination is optional for Type SQS/SNS (SAM then creates the queue/topic)",
		edit: func(d map[string]any) error { delete(d, "required"); return nil },
	},
}

func eventBridgeRuleEvent(d map[string]any) error {
	props, ok := d["properties"].(map[string]any)
	if !ok {
		return fmt.Errorf("no properties")
	}
	props["DeadLetterConfig"] = map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"Arn":            map[string]any{"type": "string"},
			"Type":           map[string]any{"type": "string", "enum": []any{"SQS"}},
			"QueueLogicalId": map[string]any{"type": "string"},
		},
	}
	props["RetryPolicy"] = ref("AWS::Events::Rule.RetryPolicy")
	props["InputTransformer"] = ref("AWS::Events::Rule.InputTransformer")
	props["RuleName"] = map[string]any{"type": "string"}
	props["State"] = map[string]any{"type": "string"}
	props["Target"] = map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"required":             []any{"Id"},
		"properties":           map[string]any{"Id": map[string]any{"type": "string"}},
	}
	return nil
}

func ref(def string) map[string]any { return map[string]any{"$ref": "#/definitions/" + def} }

// propsOf returns def.properties[name].properties.
func propsOf(d map[string]any, name string) (map[string]any, error) {
	p, _ := d["properties"].(map[string]any)
	n, _ := p[name].(map[string]any)
	props, _ := n["properties"].(map[string]any)
	if props == nil {
		return nil, fmt.Errorf("no properties.%s.properties", name)
	}
	return props, nil
}

func applyOverlay(defs map[string]any) error {
	for _, o := range schemaOverlay {
		d, ok := defs[o.def].(map[string]any)
		if !ok {
			return fmt.Errorf("schema overlay: goformation's SAM schema has no definition %s (%s)", o.def, o.why)
		}
		if err := o.edit(d); err != nil {
			return fmt.Errorf("schema overlay of %s: %w", o.def, err)
		}
	}
	return nil
}
