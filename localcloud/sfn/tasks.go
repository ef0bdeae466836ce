package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/asl"
)

// invoker runs Task states' resources for one execution. Integrations call
// the other services through the real SDK, signed as the state machine's
// role, so a missing permission fails here as it would on AWS.
type invoker struct {
	store *Store
	sm    *StateMachine
	exec  *Execution
}

var lambdaArnRE = regexp.MustCompile(`^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$`)

var integrationRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:states:::([a-z]+:[A-Za-z.]+)$`)

// integration names a service integration resource in any partition
// ("arn:aws-cn:states:::events:putEvents" → "events:putEvents").
func integration(resource string) string {
	if m := integrationRE.FindStringSubmatch(resource); m != nil {
		return m[2]
	}
	return ""
}

func (iv *invoker) cfg() aws.Config { return iv.store.cfg.ClientConfig(iv.sm.Arn) }

func (iv *invoker) Invoke(ctx context.Context, req asl.TaskRequest) (json.RawMessage, error) {
	if iv.store.cfg.ClientConfig == nil {
		// A store built for engine-only use: no way to call another service.
		return nil, &asl.TaskFailure{ErrorName: "States.Runtime", Cause: fmt.Sprintf(
			"the local Step Functions was built without Config.ClientConfig, so Task state %q cannot call %s: "+
				"give sfn.New a ClientConfig (the local cloud does) to run Task states", req.StateName, req.Resource)}
	}
	switch {
	case lambdaArnRE.MatchString(req.Resource):
		return iv.invokeLambda(ctx, req.Resource, req.Parameters, false)
	case integration(req.Resource) == "lambda:invoke":
		var p struct {
			FunctionName string          `json:"FunctionName"`
			Payload      json.RawMessage `json:"Payload"`
		}
		if err := json.Unmarshal(req.Parameters, &p); err != nil || p.FunctionName == "" {
			return nil, &asl.TaskFailure{ErrorName: "States.Runtime", Cause: "lambda:invoke needs Parameters.FunctionName"}
		}
		if len(p.Payload) == 0 {
			p.Payload = json.RawMessage("{}")
		}
		return iv.invokeLambda(ctx, p.FunctionName, p.Payload, true)
	case integration(req.Resource) == "events:putEvents":
		return iv.putEvents(ctx, req.Parameters)
	}
	return nil, &asl.TaskFailure{ErrorName: "States.Runtime",
		Cause: fmt.Sprintf("the local cloud does not implement the Task resource %q", req.Resource)}
}

func (iv *invoker) invokeLambda(ctx context.Context, fn string, payload json.RawMessage, envelope bool) (json.RawMessage, error) {
	client := lambda.NewFromConfig(iv.cfg())
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload,
		InvocationType: lambdatypes.InvocationTypeRequestResponse})
	if err != nil {
		// Errors of the Lambda service itself are named Lambda.<Code>.
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return nil, &asl.TaskFailure{ErrorName: "Lambda." + ae.ErrorCode(), Cause: ae.ErrorMessage()}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &asl.TaskFailure{ErrorName: "Lambda.SdkClientException", Cause: err.Error()}
	}
	if out.FunctionError != nil {
		var body struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &body)
		name := body.ErrorType
		switch {
		case name == "" && strings.Contains(body.ErrorMessage, "Task timed out after"):
			// A function timeout: the name Step Functions really reports.
			name = "Sandbox.Timedout"
		case name == "":
			// A failure with no error payload.
			name = "Lambda.Unknown"
		}
		cause, _ := json.Marshal(map[string]any{"errorMessage": body.ErrorMessage, "errorType": body.ErrorType, "stackTrace": []string{}})
		if body.ErrorType == "" {
			cause = []byte(body.ErrorMessage)
		}
		return nil, &asl.TaskFailure{ErrorName: name, Cause: string(cause)}
	}
	if !envelope {
		if len(out.Payload) == 0 {
			return json.RawMessage("null"), nil
		}
		return out.Payload, nil
	}
	var p any
	if len(out.Payload) > 0 {
		_ = json.Unmarshal(out.Payload, &p)
	}
	return json.Marshal(map[string]any{
		"ExecutedVersion": aws.ToString(out.ExecutedVersion),
		"Payload":         p,
		"SdkHttpMetadata": map[string]any{"HttpStatusCode": 200},
		"StatusCode":      out.StatusCode,
	})
}

func (iv *invoker) putEvents(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	var p struct {
		Entries []struct {
			Detail       json.RawMessage `json:"Detail"`
			DetailType   string          `json:"DetailType"`
			EventBusName string          `json:"EventBusName"`
			Source       string          `json:"Source"`
			Resources    []string        `json:"Resources"`
		} `json:"Entries"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, &asl.TaskFailure{ErrorName: "States.Runtime", Cause: "events:putEvents needs Parameters.Entries: " + err.Error()}
	}
	var entries []ebtypes.PutEventsRequestEntry
	for _, e := range p.Entries {
		detail := string(e.Detail)
		// Detail may be given as an object or as a JSON string.
		var s string
		if json.Unmarshal(e.Detail, &s) == nil {
			detail = s
		}
		res := append(append([]string{}, e.Resources...), iv.sm.Arn, iv.exec.Arn)
		entry := ebtypes.PutEventsRequestEntry{Detail: aws.String(detail), DetailType: aws.String(e.DetailType),
			Source: aws.String(e.Source), Resources: res}
		if e.EventBusName != "" {
			entry.EventBusName = aws.String(e.EventBusName)
		}
		entries = append(entries, entry)
	}
	client := eventbridge.NewFromConfig(iv.cfg())
	out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return nil, &asl.TaskFailure{ErrorName: "EventBridge." + ae.ErrorCode(), Cause: ae.ErrorMessage()}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &asl.TaskFailure{ErrorName: "EventBridge.SdkClientException", Cause: err.Error()}
	}
	var res []map[string]any
	for _, e := range out.Entries {
		m := map[string]any{}
		if e.EventId != nil {
			m["EventId"] = *e.EventId
		}
		if e.ErrorCode != nil {
			m["ErrorCode"] = *e.ErrorCode
			m["ErrorMessage"] = aws.ToString(e.ErrorMessage)
		}
		res = append(res, m)
	}
	result, _ := json.Marshal(map[string]any{"Entries": res, "FailedEntryCount": out.FailedEntryCount})
	if out.FailedEntryCount > 0 {
		return nil, &asl.TaskFailure{ErrorName: "EventBridge.FailedEntry", Cause: string(result)}
	}
	return result, nil
}
