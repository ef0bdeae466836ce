// Package asl is the local cloud's Amazon States Language engine: it parses
// and validates Step Functions state machine definitions (JSONPath query
// language only, no variables) and runs them on a clock.Clock, recording an
// AWS-shaped execution history.
package asl

import (
	"fmt"
	"strings"
)

// Error names defined by the Amazon States Language.
const (
	ErrALL               = "States.ALL"
	ErrTaskFailed        = "States.TaskFailed"
	ErrTimeout           = "States.Timeout"
	ErrRuntime           = "States.Runtime"
	ErrDataLimitExceeded = "States.DataLimitExceeded"
	ErrNoChoiceMatched   = "States.NoChoiceMatched"
	ErrIntrinsicFailure  = "States.IntrinsicFailure"
	ErrParameterPath     = "States.ParameterPathFailure"
	ErrResultPathMatch   = "States.ResultPathMatchFailure"
	ErrBranchFailed      = "States.BranchFailed"
	ErrPermissions       = "States.Permissions"
	ErrHeartbeatTimeout  = "States.HeartbeatTimeout"
	ErrItemReaderFailed  = "States.ItemReaderFailed"
)

// MaxPayloadBytes is the Step Functions payload quota (256 KiB of UTF-8 JSON)
// for state input, state output and task results.
const MaxPayloadBytes = 262144

// DefaultMaxHistoryEvents is the Standard workflow history quota.
const DefaultMaxHistoryEvents = 25000

// TaskFailure is how a TaskInvoker reports a failed task attempt. ErrorName
// is the name matched by Retry/Catch ErrorEquals, Cause the free text.
//
// (The field is ErrorName, not Error: a Go struct cannot have both a field
// and a method called Error, and TaskFailure must implement error.)
type TaskFailure struct {
	ErrorName string
	Cause     string
}

func (f *TaskFailure) Error() string {
	if f.Cause == "" {
		return f.ErrorName
	}
	return f.ErrorName + ": " + f.Cause
}

// ValidationError is what Parse returns for an invalid definition. Each
// problem names the rule broken and, where there is one, the state.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid state machine definition: " + strings.Join(e.Problems, "; ")
}

// stateErr is a failure inside an execution: an ASL error name and cause.
type stateErr struct {
	name    string
	cause   string
	aborted bool // the run was cancelled (Stop, execution timeout, history cap, sibling branch failure)
}

func (s *stateErr) Error() string { return s.name + ": " + s.cause }

var errAborted = &stateErr{aborted: true}

func failf(name, format string, a ...any) *stateErr {
	return &stateErr{name: name, cause: fmt.Sprintf(format, a...)}
}

func runtimeErr(format string, a ...any) *stateErr { return failf(ErrRuntime, format, a...) }

// terminal errors end the execution: no Retry or Catch applies.
func (s *stateErr) terminal() bool { return s.aborted || s.name == ErrRuntime }

// errorMatches reports whether a Retrier/Catcher ErrorEquals list matches
// errName. States.ALL matches every error except States.Runtime and
// States.DataLimitExceeded (which AWS documents as not caught by the
// wildcard; it can still be named explicitly). States.TaskFailed matches
// everything except States.Timeout (and those same terminal errors).
func errorMatches(list []string, errName string) bool {
	if errName == ErrRuntime {
		return false
	}
	for _, n := range list {
		switch {
		case n == errName:
			return true
		case n == ErrALL && errName != ErrDataLimitExceeded:
			return true
		case n == ErrTaskFailed && errName != ErrTimeout && errName != ErrDataLimitExceeded:
			return true
		}
	}
	return false
}
