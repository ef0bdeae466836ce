package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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

// lambdaUnknownCause starts Step Functions' cause for a function error whose
// payload names no errorType (the older timeout shape, {"errorMessage":
// "<timestamp> <id> Task timed out after 3.07 seconds"}, is one); the
// payload follows as Lambda returned it. The error is Lambda.Unknown.
const lambdaUnknownCause = "The cause could not be determined because Lambda did not return an error type. Returned payload: "

// lambdaModeledErrors are the error codes the Lambda API model defines (the
// exception types of the pinned aws-sdk-go-v2/service/lambda, v1.114.4,
// types/errors.go; Step Functions' own SDK may lag behind the newest of
// them, which it would then call Lambda.AWSLambdaException). Step Functions
// names a Lambda API error Lambda.<Code> when the model has a type for it
// and Lambda.AWSLambdaException, the generic one, when it does not: a state
// machine whose role may not invoke the function gets Lambda's
// AccessDeniedException, which the model does not define, as
// Lambda.AWSLambdaException (observed: awslabs/aws-deployment-framework#460,
// aws-samples/lambda-refarch-imagerecognition#19).
var lambdaModeledErrors = map[string]bool{}

func init() {
	for _, code := range strings.Fields(`AliasLimitExceededException CallbackTimeoutException CapacityProviderLimitExceededException
		CodeArtifactUserDeletedException CodeArtifactUserFailedException CodeArtifactUserPendingException
		CodeSigningConfigNotFoundException CodeStorageExceededException CodeVerificationFailedException
		DurableExecutionAlreadyStartedException EC2AccessDeniedException EC2ThrottledException
		EC2UnexpectedException EFSIOException EFSMountConnectivityException EFSMountFailureException
		EFSMountTimeoutException ENILimitReachedException ENINotReadyException
		FunctionVersionsPerCapacityProviderLimitExceededException InvalidCodeSignatureException
		InvalidParameterValueException InvalidRequestContentException InvalidRuntimeException
		InvalidSecurityGroupIDException InvalidSubnetIDException InvalidZipFileException
		KMSAccessDeniedException KMSDisabledException KMSInvalidStateException KMSNotFoundException
		ModeNotSupportedException NoPublishedVersionException PolicyLengthExceededException
		PreconditionFailedException ProvisionedConcurrencyConfigNotFoundException PublicPolicyException
		RecursiveInvocationException RequestTooLargeException ResourceConflictException
		ResourceInUseException ResourceNotFoundException ResourceNotReadyException
		S3FilesMountConnectivityException S3FilesMountFailureException S3FilesMountTimeoutException
		SerializedRequestEntityTooLargeException ServiceException ServiceQuotaExceededException
		SnapStartException SnapStartNotReadyException SnapStartRegenerationFailureException
		SnapStartTimeoutException SubnetIPAddressLimitReachedException TooManyRequestsException
		UnsupportedMediaTypeException`) {
		lambdaModeledErrors[code] = true
	}
}

// lambdaAPIFailure is how Step Functions reports an error of the Lambda API
// itself (the function did not run): the name above, and as cause the
// message the AWS SDK for Java gives the exception, "<message> (Service:
// AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request
// ID: <id>; Proxy: null)".
func lambdaAPIFailure(err error, ae smithy.APIError) *asl.TaskFailure {
	name := "Lambda.AWSLambdaException"
	if lambdaModeledErrors[ae.ErrorCode()] {
		name = "Lambda." + ae.ErrorCode()
	}
	status, requestID := 0, ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status, requestID = re.HTTPStatusCode(), re.ServiceRequestID()
	}
	return &asl.TaskFailure{ErrorName: name, Cause: fmt.Sprintf(
		"%s (Service: AWSLambda; Status Code: %d; Error Code: %s; Request ID: %s; Proxy: null)",
		ae.ErrorMessage(), status, ae.ErrorCode(), requestID)}
}

func (iv *invoker) invokeLambda(ctx context.Context, fn string, payload json.RawMessage, envelope bool) (json.RawMessage, error) {
	client := lambda.NewFromConfig(iv.cfg())
	out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(fn), Payload: payload,
		InvocationType: lambdatypes.InvocationTypeRequestResponse})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return nil, lambdaAPIFailure(err, ae)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &asl.TaskFailure{ErrorName: "Lambda.SdkClientException", Cause: err.Error()}
	}
	if out.FunctionError != nil {
		// The error is the payload's errorType (a Go error's type name,
		// Sandbox.Timedout, Runtime.ExitError) and the cause the payload
		// as Lambda returned it.
		var body struct {
			ErrorType string `json:"errorType"`
		}
		if json.Unmarshal(out.Payload, &body) != nil || body.ErrorType == "" {
			return nil, &asl.TaskFailure{ErrorName: "Lambda.Unknown", Cause: lambdaUnknownCause + string(out.Payload)}
		}
		return nil, &asl.TaskFailure{ErrorName: body.ErrorType, Cause: string(out.Payload)}
	}
	if !envelope {
		if len(out.Payload) == 0 {
			return json.RawMessage("null"), nil
		}
		return out.Payload, nil
	}
	// The payload goes into the envelope as the function returned it, its
	// keys in their order (the envelope's own keys are sorted, as in the
	// documented lambda:invoke output).
	p := json.RawMessage("null")
	if len(out.Payload) > 0 && json.Valid(out.Payload) {
		p = out.Payload
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
		// EventBridge.<Code>, e.g. EventBridge.AccessDeniedException for a
		// role that may not put events, with the error's message as cause:
		// Step Functions' ServiceName.ErrorName naming, which its docs give
		// for the AWS SDK integrations ("Learning to use AWS service SDK
		// integrations"); that this optimized integration names a failed
		// call the same way is an assumption (FIDELITY.md). The one name
		// documented for it, EventBridge.FailedEntry, is below.
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
