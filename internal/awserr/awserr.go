// Package awserr is the one place that names every AWS error code this project
// reacts to. Handlers ask questions ("is this not-found?"), never compare codes.
package awserr

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Error codes, by service. Only codes the project reacts to are listed.
const (
	// EKS
	EKSResourceNotFound         = "ResourceNotFoundException"
	EKSResourceInUse            = "ResourceInUseException"
	EKSResourceLimitExceeded    = "ResourceLimitExceededException"
	EKSInvalidRequest           = "InvalidRequestException"
	EKSInvalidParameter         = "InvalidParameterException"
	EKSResourcePropagationDelay = "ResourcePropagationDelayException"

	// IAM
	IAMNoSuchEntity        = "NoSuchEntity"
	IAMEntityAlreadyExists = "EntityAlreadyExists"
	IAMInvalidInput        = "InvalidInput"
	IAMConcurrentModify    = "ConcurrentModification"

	// SSM
	SSMParameterNotFound      = "ParameterNotFound"
	SSMParameterAlreadyExists = "ParameterAlreadyExists"
	SSMInvalidActivationID    = "InvalidActivationId"
	SSMInvalidActivation      = "InvalidActivation"
	SSMInvalidInstanceID      = "InvalidInstanceId"
	SSMInvalidKeyID           = "InvalidKeyId"
	// SSMTooManyUpdates: "concurrent updates for a resource that supports one
	// update at a time" (PutParameter, DeleteActivation): transient.
	SSMTooManyUpdates = "TooManyUpdates"

	// Step Functions
	SFNExecutionDoesNotExist = "ExecutionDoesNotExist"
	SFNExecutionAlreadyExist = "ExecutionAlreadyExists"
	SFNInvalidArn            = "InvalidArn"

	// Shared throttling and access codes. A 5xx is recognised by its fault
	// (IsTransient), never by a code.
	Throttling         = "ThrottlingException"
	Throttled          = "Throttling"
	TooManyRequests    = "TooManyRequestsException"
	AccessDenied       = "AccessDenied"
	AccessDeniedExcept = "AccessDeniedException"
)

// Code returns the AWS error code of err, or "".
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Message returns the AWS error message of err, or err.Error().
func Message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func is(err error, codes ...string) bool {
	c := Code(err)
	if c == "" {
		return false
	}
	for _, x := range codes {
		if c == x {
			return true
		}
	}
	return false
}

// IsNotFound: the thing asked about does not exist.
func IsNotFound(err error) bool {
	return is(err, EKSResourceNotFound, IAMNoSuchEntity, SSMParameterNotFound, SFNExecutionDoesNotExist)
}

// IsAlreadyExists: a create found the thing already there.
func IsAlreadyExists(err error) bool {
	return is(err, IAMEntityAlreadyExists, SSMParameterAlreadyExists, EKSResourceInUse, SFNExecutionAlreadyExist)
}

// IsServiceLinkedRoleTaken: CreateServiceLinkedRole found the role already
// there. IAM says so with InvalidInput "...has been taken in this account";
// any other InvalidInput is a real error.
func IsServiceLinkedRoleTaken(err error) bool {
	return is(err, IAMInvalidInput) && strings.Contains(Message(err), "has been taken")
}

// IsBoundaryNotFound: CreateRole or PutRolePermissionsBoundary named a
// permissions boundary policy that does not exist (or cannot be attached).
// IAM says so with NoSuchEntity "Scope ARN: <arn> does not exist or is not
// attachable."; any other NoSuchEntity (the role) is not this.
func IsBoundaryNotFound(err error) bool {
	return is(err, IAMNoSuchEntity) && strings.Contains(Message(err), "Scope ARN")
}

// IsRolePropagation: RegisterCluster cannot see the agent role yet. AWS has
// used two texts for this; match both, and the documented 428.
func IsRolePropagation(err error) bool {
	if is(err, EKSResourcePropagationDelay) {
		return true
	}
	if !is(err, EKSInvalidRequest) {
		return false
	}
	m := Message(err)
	return strings.Contains(m, "Nonexistent role") || strings.Contains(m, "Not existing role") ||
		strings.Contains(m, "missing ssm service principal")
}

// IsQuotaExceeded: the "Registered clusters" quota is reached.
func IsQuotaExceeded(err error) bool { return is(err, EKSResourceLimitExceeded) }

// IsActivationGone: DeleteActivation found the activation gone already. The
// SSM model declares both codes for DeleteActivation; the API reference
// says InvalidActivation when the activation "might have been deleted", and
// InvalidActivationId for an id it does not know. Either means gone.
func IsActivationGone(err error) bool { return is(err, SSMInvalidActivationID, SSMInvalidActivation) }

// IsKeyUnusable: PutParameter could not encrypt a SecureString under the
// KMS key it named: the key id is not valid (InvalidKeyId, declared by
// PutParameter in the SSM model), or KMS denied the caller, which SSM
// passes on as an access denial naming KMS (e.g. "... not authorized to
// perform: kms:Encrypt ..."; assumption from reported messages).
func IsKeyUnusable(err error) bool {
	if is(err, SSMInvalidKeyID) {
		return true
	}
	return is(err, AccessDenied, AccessDeniedExcept) && strings.Contains(strings.ToLower(Message(err)), "kms")
}

// IsInstanceGone: DeregisterManagedInstance found no such instance.
func IsInstanceGone(err error) bool { return is(err, SSMInvalidInstanceID) }

// IsInvalidArn: Step Functions was given a string that is not an ARN of the
// right kind (e.g. a corrupted lock value).
func IsInvalidArn(err error) bool { return is(err, SFNInvalidArn) }

// IsExecutionAlreadyExists: StartExecution found an execution of that name
// with a different input, or one that has ended.
func IsExecutionAlreadyExists(err error) bool { return is(err, SFNExecutionAlreadyExist) }

// IsTransient is the project's one classifier of failures worth retrying
// later; the state machine (and, for the trigger, Lambda) retries them with
// backoff. Transient are:
//   - a server fault: an AWS answer whose fault is smithy.FaultServer (every
//     modeled 5xx error), or any failure that carries an HTTP response with a
//     5xx status (an unmodeled error code, a body that did not parse);
//   - throttling: the throttling codes above, or an HTTP 429;
//   - IAM's ConcurrentModification (another writer; the next try succeeds);
//   - the SDK's own client-side retry budget running out
//     (ratelimit.QuotaExceededError), and its attempts running out on a
//     failure that is itself transient (retry.MaxAttemptsError);
//   - a failure that is no AWS answer at all: a network error (as the SDK's
//     own retry.RetryableConnectionError judges it) or a timeout (the
//     invocation's deadline, or a net.Error that timed out).
//
// Any other AWS answer (access denied, bad input, not found) is permanent.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var qe ratelimit.QuotaExceededError
	if errors.As(err, &qe) {
		return true
	}
	var me *retry.MaxAttemptsError
	if errors.As(err, &me) && me.Err != nil && me.Err != err {
		return IsTransient(me.Err)
	}
	var ae smithy.APIError
	isAPI := errors.As(err, &ae)
	if isAPI && ae.ErrorFault() == smithy.FaultServer {
		return true
	}
	if s := httpStatus(err); s >= 500 || s == http.StatusTooManyRequests {
		return true
	}
	if isAPI {
		return is(err, Throttling, Throttled, TooManyRequests, IAMConcurrentModify, SSMTooManyUpdates)
	}
	if (retry.RetryableConnectionError{}).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// httpStatus is the HTTP status of the response err carries, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
