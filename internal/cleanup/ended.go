package cleanup

import (
	"context"
	"encoding/json"

	"github.com/platform/eks-connector-registrar/internal/registration"
)

// StatusChange is the part of a "Step Functions Execution Status Change"
// event this project reads.
type StatusChange struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		ExecutionArn string  `json:"executionArn"`
		Status       string  `json:"status"`
		Input        string  `json:"input"`
		Error        *string `json:"error"`
		Cause        *string `json:"cause"`
	} `json:"detail"`
}

// deregistrationRequested is the error the trigger stops a registration with
// when a deregistration takes over; that flow cleans up itself.
const deregistrationRequested = "DeregistrationRequested"

// Ended handles a registration execution that ended without running its own
// cleanup: stopped by hand, timed out, or failed with an error no Catch can
// handle. EventBridge delivers the status change (template.yaml's rule on the
// Cleanup function), and this compensates for that execution exactly as the
// state machine would have: only its own registration is removed (the one
// ownership rule), an ACTIVE cluster is kept, and its lock is released. A
// repeated or late delivery finds nothing of that execution left: idempotent.
func (c *Cleaner) Ended(ctx context.Context, ev StatusChange) (Summary, error) {
	d := ev.Detail
	var in struct {
		ClusterName string `json:"clusterName"`
	}
	if err := json.Unmarshal([]byte(d.Input), &in); err != nil || in.ClusterName == "" || d.ExecutionArn == "" {
		return Summary{}, registration.StepInputInvalid{Step: "Cleanup", Problems: []string{
			"a Step Functions status change without an executionArn or an execution input naming clusterName"}}
	}
	log := c.Log.With("cluster", in.ClusterName, "execution", d.ExecutionArn, "status", d.Status)
	if d.Error != nil && *d.Error == deregistrationRequested {
		log.Info("registration stopped by a deregistration, which cleans up itself")
		return Summary{Mode: "none", ClusterName: in.ClusterName}, nil
	}
	stepErr := &StepError{Error: "Execution" + d.Status}
	if d.Error != nil {
		stepErr.Error = *d.Error
	}
	if d.Cause != nil {
		stepErr.Cause = *d.Cause
	}
	log.Info("registration ended without its own cleanup: compensating")
	return c.Cleanup(ctx, Input{Mode: ModeCompensate, ClusterName: in.ClusterName, ExecutionArn: d.ExecutionArn, Error: stepErr})
}

// handle routes the Cleanup function's two inputs: a state machine step
// (Input) or an EventBridge status change (StatusChange).
func (c *Cleaner) handle(ctx context.Context, raw json.RawMessage) (Summary, error) {
	var probe struct {
		DetailType string `json:"detail-type"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.DetailType == "Step Functions Execution Status Change" {
		var ev StatusChange
		if err := json.Unmarshal(raw, &ev); err != nil {
			return Summary{}, registration.StepInputInvalid{Step: "Cleanup", Problems: []string{err.Error()}}
		}
		return c.Ended(ctx, ev)
	}
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return Summary{}, registration.StepInputInvalid{Step: "Cleanup", Problems: []string{err.Error()}}
	}
	return c.Cleanup(ctx, in)
}
