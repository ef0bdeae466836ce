package cleanup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Reason is the sentence a human reads in the "Cluster Registration Failed"
// event and the execution's failure cause: what happened, what was cleaned
// up, what to do. It is built from error names and messages only, which
// never carry the activation code.
func Reason(cluster string, e StepError, cleanupErr *StepError, s Summary) string {
	var b strings.Builder
	msg := causeMessage(e.Cause)
	switch e.Error {
	case "ActivationTimedOut":
		fmt.Fprintf(&b, "the EKS Connector agent of cluster %s did not connect before the activation timeout. "+
			"Install the agent with the command from the Activation Ready event, check that its pods reach the ssm and ssmmessages endpoints, "+
			"and send Register Cluster again", cluster)
	case "ActivationExpired":
		fmt.Fprintf(&b, "the activation of cluster %s expired (EKS status FAILED) before its agent connected. "+
			"Send Register Cluster again and install the agent with the new command within the timeout", cluster)
	case "RegistrationAttemptsExhausted":
		fmt.Fprintf(&b, "cluster %s could not be registered: each registration's activation code was lost before it could be stored. "+
			"Check the function's ssm:PutParameter and KMS permissions on the parameter prefix", cluster)
	case "Sandbox.Timedout", "States.Timeout", lambdaUnknown:
		if e.Error == lambdaUnknown && !strings.Contains(e.Cause, "Task timed out") {
			fmt.Fprintf(&b, "%s: %s", e.Error, orNoDetails(msg))
			break
		}
		fmt.Fprintf(&b, "a step of the registration of cluster %s timed out (%s)", cluster, e.Error)
		if msg != "" {
			fmt.Fprintf(&b, ": %s", msg)
		}
	case "Runtime.ExitError":
		// Retried on every Lambda task: reaching here, the step crashed on
		// each of its attempts.
		fmt.Fprintf(&b, "a step of the registration of cluster %s crashed on each of its attempts (%s: %s): "+
			"its Lambda function's process ended before answering (an exit status is the process ending itself, as a failed start "+
			"or a panic outside the handler does; \"signal: killed\" is a process killed, by older Lambda runtimes for running out of memory). "+
			"The function's log group /aws/lambda/<function name> in CloudWatch Logs says why; every step is safe to run again, "+
			"so send Register Cluster again once that is fixed", cluster, e.Error, orNoDetails(msg))
	case "Runtime.OutOfMemory":
		// Current Lambda's name for a process killed for its memory.
		fmt.Fprintf(&b, "a step of the registration of cluster %s ran out of memory (%s: %s): raise the function's MemorySize "+
			"(Max Memory Used in the REPORT lines of its log group /aws/lambda/<function name> shows what it needs) and send Register Cluster again",
			cluster, e.Error, orNoDetails(msg))
	default:
		fmt.Fprintf(&b, "%s: %s", e.Error, orNoDetails(msg))
	}
	b.WriteString(". ")
	b.WriteString(removed(s))
	if cleanupErr != nil {
		fmt.Fprintf(&b, ". The cleanup did not finish (%s: %s): check with `aws eks describe-cluster --name %s` and remove leftovers with "+
			"`aws eks deregister-cluster --name %s`", cleanupErr.Error, causeMessage(cleanupErr.Cause), cluster, cluster)
	}
	return b.String()
}

// removed says what the compensation did, as a sentence.
func removed(s Summary) string {
	switch {
	case s.Mode == ModeRelease:
		return "Nothing registered by this execution was left; the lock was released"
	case s.Deregistered:
		return "The registration was removed (deregistered, SSM activation and stored parameters deleted)"
	case s.LeftAlone != "":
		return strings.ToUpper(s.LeftAlone[:1]) + s.LeftAlone[1:] + "; this execution's stored parameters were deleted"
	default:
		return "No registration was left; this execution's stored parameters were deleted"
	}
}

// maxEndedCause bounds the status change's cause quoted in a reason: a
// StopExecution cause may be 32 KiB, and a States.Runtime cause quotes the
// state's input, which says nothing a human needs beyond its start.
const maxEndedCause = 1000

// EndedReason is the reason of the "Cluster Registration Failed" event Ended
// publishes for a registration execution that ended without its own cleanup:
// how it ended (status, and the error and cause Step Functions reports), what
// the compensation removed, and what to do. Like Reason it is built from
// names and messages only; the execution's state never holds the activation
// code, so neither do they.
func EndedReason(cluster, executionArn, status, errName, cause string, s Summary) string {
	var b strings.Builder
	name := executionArn[strings.LastIndex(executionArn, ":")+1:]
	how := status
	if errName != "" {
		how += ", error " + errName
	}
	if msg := causeMessage(cause); msg != "" {
		if r := []rune(msg); len(r) > maxEndedCause {
			msg = string(r[:maxEndedCause]) + "…"
		}
		how += ": " + msg
	}
	switch status {
	case "ABORTED":
		fmt.Fprintf(&b, "registration execution %s of cluster %s was stopped by hand (%s) before it finished, so it ran no cleanup of its own", name, cluster, how)
	case "TIMED_OUT":
		fmt.Fprintf(&b, "registration execution %s of cluster %s exceeded its execution timeout (%s), so it ran no cleanup of its own", name, cluster, how)
	case "FAILED":
		fmt.Fprintf(&b, "registration execution %s of cluster %s failed with an error its state machine cannot catch (%s), so it ran no cleanup of its own; "+
			"the execution's history in the Step Functions console shows the state that failed", name, cluster, how)
	default:
		fmt.Fprintf(&b, "registration execution %s of cluster %s ended (%s) without its own cleanup", name, cluster, how)
	}
	fmt.Fprintf(&b, ". The Cleanup function compensated for it from Step Functions' status-change event. %s. "+
		"To register the cluster, send Register Cluster again", removed(s))
	return b.String()
}

// lambdaUnknown is Step Functions' error for a function error whose payload
// names no errorType, and lambdaUnknownCause the start of its cause, which
// goes on with the payload: "The cause could not be determined because
// Lambda did not return an error type. Returned payload:
// {"errorMessage":"2024-11-26T00:36:39.604Z 5b1c… Task timed out after
// 600.15 seconds"}" is a function timeout in Lambda's older shape (the
// current one is Sandbox.Timedout).
const (
	lambdaUnknown      = "Lambda.Unknown"
	lambdaUnknownCause = "The cause could not be determined because Lambda did not return an error type. Returned payload: "
)

func orNoDetails(msg string) string {
	if msg == "" {
		return "no details"
	}
	return msg
}

// causeMessage extracts errorMessage from a Lambda error cause
// ({"errorMessage":…,"errorType":…}, or Lambda.Unknown's cause quoting such
// a payload); other causes are returned as they are.
func causeMessage(cause string) string {
	var le struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(strings.TrimPrefix(cause, lambdaUnknownCause)), &le) == nil && le.ErrorMessage != "" {
		return le.ErrorMessage
	}
	return strings.TrimSpace(cause)
}
