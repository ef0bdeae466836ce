package awserr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
)

// EKS error codes the step handlers react to, beyond those in awserr.go.
const (
	// EKSClientException is what EKS answers for some states of a
	// registration (e.g. deregistering one that is already being deleted).
	EKSClientException = "ClientException"
)

// Every function (the step handlers and the trigger) returns the two typed
// errors below for an AWS call it could not complete. Their Go type names
// are state machine error names, and each is declared only here:
// "TransientAWSError" is retried with backoff by every Lambda task (and by
// Lambda's own retries of the asynchronously invoked trigger), and
// "AWSCallFailed" is caught like any other failure.

// TransientAWSError: an AWS call failed in a way worth retrying later
// (IsTransient: throttling, a server fault, the SDK's own retry budget
// exhausted, a network error or timeout).
type TransientAWSError struct {
	Operation string // e.g. "eks:RegisterCluster"
	Code      string // the AWS error code, if any
	Message   string
	Err       error `json:"-"` // the failure itself, if any (errors.As/Is see through)
}

func (e TransientAWSError) Error() string {
	return fmt.Sprintf("%s failed transiently (%s): %s; it is retried with backoff",
		e.Operation, orUnknown(e.Code), e.Message)
}

func (e TransientAWSError) Unwrap() error { return e.Err }

// AWSCallFailed: an AWS call failed in a way a retry will not fix (access
// denied, bad input, a missing resource the step needed).
type AWSCallFailed struct {
	Operation string
	Code      string
	Message   string
	Err       error `json:"-"`
}

func (e AWSCallFailed) Unwrap() error { return e.Err }

func (e AWSCallFailed) Error() string {
	hint := "check the input and the function's IAM policy in template.yaml"
	if e.Code == AccessDenied || e.Code == AccessDeniedExcept {
		hint = "the function's role lacks a permission: add it to its policy in template.yaml"
	}
	return fmt.Sprintf("%s failed (%s): %s; %s", e.Operation, orUnknown(e.Code), e.Message, hint)
}

// Step turns the error of an AWS call named op ("service:Operation") into
// the typed error a step handler returns: TransientAWSError or AWSCallFailed.
// It returns nil for nil.
func Step(op string, err error) error {
	if err == nil {
		return nil
	}
	if IsTransient(err) {
		msg := Message(err)
		var qe ratelimit.QuotaExceededError
		if errors.As(err, &qe) {
			// The answer alone would hide why the SDK did not retry it.
			msg += " (not retried in the function: the AWS SDK's client-side retry budget of this execution environment is used up)"
		}
		return TransientAWSError{Operation: op, Code: Code(err), Message: msg, Err: err}
	}
	return AWSCallFailed{Operation: op, Code: Code(err), Message: Message(err), Err: err}
}

// EventNotPublished: PutEvents answered, but failed the entry
// (FailedEntryCount > 0). A function that publishes an event returns it,
// like a failed PutEvents call (TransientAWSError, AWSCallFailed), so Lambda
// retries the invocation and finally sends it to the function's on-failure
// queue.
type EventNotPublished struct {
	DetailType, Code, Message string
}

func (e EventNotPublished) Error() string {
	return fmt.Sprintf("publishing %q failed: %s: %s; a retry of the invocation publishes it again",
		e.DetailType, e.Code, e.Message)
}

// IsResourceInUse: EKS RegisterCluster found a cluster of that name, or
// DeregisterCluster found the cluster busy.
func IsResourceInUse(err error) bool { return is(err, EKSResourceInUse) }

// IsServiceLinkedRoleMissing: RegisterCluster cannot use the service-linked
// role AWSServiceRoleForAmazonEKSConnector because it does not exist.
func IsServiceLinkedRoleMissing(err error) bool {
	return is(err, EKSInvalidRequest, EKSInvalidParameter, EKSClientException) &&
		containsFold(Message(err), "AWSServiceRoleForAmazonEKSConnector is not available")
}

func orUnknown(code string) string {
	if code == "" {
		return "no AWS error code"
	}
	return code
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// StepInputInvalid: the state machine passed an input the step cannot use:
// a bug in the state machine definition, not in the request. Every step
// returns it (its Go type name is the state machine error name).
type StepInputInvalid struct {
	Step     string
	Problems []string
}

func (e StepInputInvalid) Error() string {
	return fmt.Sprintf("%s got an unusable input: %s; this is a state machine definition bug", e.Step, strings.Join(e.Problems, "; "))
}
