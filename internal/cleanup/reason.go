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
	case "Sandbox.Timedout", "States.Timeout":
		fmt.Fprintf(&b, "a step of the registration of cluster %s timed out (%s)", cluster, e.Error)
		if msg != "" {
			fmt.Fprintf(&b, ": %s", msg)
		}
	default:
		if msg == "" {
			msg = "no details"
		}
		fmt.Fprintf(&b, "%s: %s", e.Error, msg)
	}
	b.WriteString(". ")
	switch {
	case s.Mode == ModeRelease:
		b.WriteString("Nothing registered by this execution was left; the lock was released")
	case s.Deregistered:
		b.WriteString("The registration was removed (deregistered, SSM activation and stored parameters deleted)")
	case s.LeftAlone != "":
		b.WriteString(strings.ToUpper(s.LeftAlone[:1]) + s.LeftAlone[1:] + "; this execution's stored parameters were deleted")
	default:
		b.WriteString("No registration was left; this execution's stored parameters were deleted")
	}
	if cleanupErr != nil {
		fmt.Fprintf(&b, ". The cleanup did not finish (%s: %s): check with `aws eks describe-cluster --name %s` and remove leftovers with "+
			"`aws eks deregister-cluster --name %s`", cleanupErr.Error, causeMessage(cleanupErr.Cause), cluster, cluster)
	}
	return b.String()
}

// causeMessage extracts errorMessage from a Lambda error cause
// ({"errorMessage":…,"errorType":…}); other causes are returned as they are.
func causeMessage(cause string) string {
	var le struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &le) == nil && le.ErrorMessage != "" {
		return le.ErrorMessage
	}
	return strings.TrimSpace(cause)
}
