package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// EKS error codes the step handlers react to, beyond those in awserr.go.
const (
	// EKSClientException is what EKS answers for some states of a
	// registration (e.g. deregistering one that is already being deleted).
	EKSClientException = "ClientException"
)

// The step handlers return the two typed errors below for an AWS call they
// could not complete. Their Go type names are state machine error names:
// "TransientAWSError" is retried with backoff by every Lambda task, and
// "AWSCallFailed" is caught like any other failure.

// TransientAWSError: an AWS call failed in a way worth retrying later
// (throttling, a 5xx, the SDK's own retry budget exhausted, a network error).
type TransientAWSError struct {
	Operation string // e.g. "eks:RegisterCluster"
	Code      string // the AWS error code, if any
	Message   string
}

func (e TransientAWSError) Error() string {
	return fmt.Sprintf("%s failed transiently (%s): %s; the state machine retries it with backoff",
		e.Operation, orUnknown(e.Code), e.Message)
}

// AWSCallFailed: an AWS call failed in a way a retry will not fix (access
// denied, bad input, a missing resource the step needed).
type AWSCallFailed struct {
	Operation string
	Code      string
	Message   string
}

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
	if IsRetryable(err) {
		return TransientAWSError{Operation: op, Code: Code(err), Message: Message(err)}
	}
	return AWSCallFailed{Operation: op, Code: Code(err), Message: Message(err)}
}

// IsRetryable widens IsTransient with failures that are not AWS answers at
// all: a network error, or the invocation's own deadline.
func IsRetryable(err error) bool {
	if IsTransient(err) {
		return true
	}
	if Code(err) != "" {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
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
