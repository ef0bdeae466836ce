package cleanup

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/internal/registration"
)

// StatusChange is the part of a "Step Functions Execution Status Change"
// event this project reads.
type StatusChange struct {
	DetailType string          `json:"detail-type"`
	Detail     ExecutionStatus `json:"detail"`
}

// ExecutionStatus is the detail of a status change.
type ExecutionStatus struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Status          string  `json:"status"`
	Input           string  `json:"input"` // the execution's input, as JSON text
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
}

// deregistrationRequested is the error the trigger stops a registration with
// when a deregistration takes over; that flow cleans up itself.
const deregistrationRequested = "DeregistrationRequested"

// The outcome events Ended publishes: the registration state machine's own
// (statemachine/registration.asl.json, PublishRegistrationFailed and
// PublishClusterRegistered), with the same detail shapes.
const (
	DetailTypeRegistrationFailed = "Cluster Registration Failed"
	DetailTypeRegistered         = "Cluster Registered"
)

// FailedDetail is the detail of "Cluster Registration Failed" (the shape of
// the registration state machine's PublishRegistrationFailed).
type FailedDetail struct {
	ClusterName  string `json:"clusterName"`
	Error        string `json:"error"`
	Reason       string `json:"reason"`
	ExecutionArn string `json:"executionArn"`
}

// Ended handles a registration execution that ended without running its own
// cleanup: stopped by hand, timed out, or failed with an error no Catch can
// handle. EventBridge delivers the status change (template.yaml's rule on the
// Cleanup function), and this compensates for that execution exactly as the
// state machine would have: only its own registration is removed (the one
// ownership rule), an ACTIVE cluster is kept, and its lock is released.
//
// It acts only while the cluster's lock still names the execution, as every
// step does. Every execution holds its lock while it runs, and every ending
// the definition handles compensates, releases the lock and then publishes
// its own outcome; so a lock still naming the execution means it ended
// without its own cleanup and nobody has handled or announced it. A free
// lock means that has happened (its own cleanup, or an earlier delivery of
// this status change); a lock naming another execution means the cluster
// was taken over since, and that execution owns what this one left. In both
// cases a late compensation could remove a registration a newer execution
// is using (our activation record makes any of our registrations look like
// this one's), so Ended changes nothing.
//
// While the lock names it, Ended compensates, then publishes what the state
// machine would have: "Cluster Registration Failed" (error ExecutionAborted,
// ExecutionTimedOut, or the failed execution's own error; a reason from
// EndedReason), or, when the cluster turned ACTIVE and was kept, finishes
// the registration as CompleteRegistration would (the stored code and the
// intent are deleted) and publishes "Cluster Registered".
//
// The lock is released only after the event is on the bus. A failed
// PutEvents (an error, or FailedEntryCount > 0) is returned as a typed
// error: Lambda retries the whole invocation, which finds the lock still
// naming the execution, compensates again (idempotent: nothing is left) and
// publishes again; after the retries the status change lands in the
// on-failure queue, with the lock still held by the ended execution (the
// trigger takes over such a lock, whose holder has ended). One event per
// ending: only a release that fails after the event went out makes the
// retry publish it a second time (at-least-once, as EventBridge itself
// delivers).
func (c *Cleaner) Ended(ctx context.Context, ev StatusChange) (Summary, error) {
	d := ev.Detail
	var in struct {
		ClusterName string `json:"clusterName"`
		Provider    string `json:"provider"`
	}
	if err := json.Unmarshal([]byte(d.Input), &in); err != nil || in.ClusterName == "" || d.ExecutionArn == "" {
		return Summary{}, awserr.StepInputInvalid{Step: "Cleanup", Problems: []string{
			"a Step Functions status change without an executionArn or an execution input naming clusterName"}}
	}
	cluster := in.ClusterName
	errName, cause := aws.ToString(d.Error), aws.ToString(d.Cause)
	log := lambdamain.Logger(ctx, c.Log).With("cluster", cluster, "execution", d.ExecutionArn, "status", d.Status)
	if errName == deregistrationRequested {
		log.Info("registration stopped by a deregistration, which cleans up and announces itself")
		return Summary{Mode: "none", ClusterName: cluster}, nil
	}
	holder, err := registration.LockHolder(ctx, c.SSM, c.Params, cluster)
	if err != nil {
		return Summary{}, err
	}
	if holder != d.ExecutionArn {
		// Free: the execution's own cleanup (or an earlier delivery of this
		// status change) has handled its ending and announced it. Another
		// execution: it took the cluster over since (the trigger judged this
		// one ended) and owns whatever this one left: it resumes, replaces
		// or deregisters it. Either way, compensating now, late, could
		// remove a registration a newer execution is using (our activation
		// record makes any of our registrations look like this one's).
		log.Info("the cluster's lock does not name this execution: its ending is handled; changing nothing", "lockHolder", holder)
		return Summary{Mode: "none", ClusterName: cluster}, nil
	}
	log.Info("registration ended without its own cleanup: compensating", "lockHolder", holder)
	keepLock := false
	s, err := c.Cleanup(ctx, Input{Mode: ModeCompensate, ClusterName: cluster, ExecutionArn: d.ExecutionArn, ReleaseLock: &keepLock})
	if err != nil {
		return Summary{}, err
	}
	switch {
	case s.KeptActive:
		done, err := c.finish(ctx, CompleteInput{ClusterName: cluster, ExecutionArn: d.ExecutionArn, Provider: in.Provider, InstanceIDs: s.InstanceIDs})
		if err != nil {
			return Summary{}, err
		}
		if err := c.publish(ctx, d, DetailTypeRegistered, done); err != nil {
			return Summary{}, err
		}
		s.Published = DetailTypeRegistered
	default:
		s.Error = endedError(d.Status, errName)
		s.Reason = EndedReason(cluster, d.ExecutionArn, d.Status, errName, cause, s)
		detail := FailedDetail{ClusterName: cluster, Error: s.Error, Reason: s.Reason, ExecutionArn: d.ExecutionArn}
		if err := c.publish(ctx, d, DetailTypeRegistrationFailed, detail); err != nil {
			return Summary{}, err
		}
		s.Published = DetailTypeRegistrationFailed
	}
	if err := c.Release(ctx, cluster, d.ExecutionArn); err != nil {
		return Summary{}, awserr.Step("ssm:DeleteParameter (lock release)", err)
	}
	s.LockReleased = true
	log.Info("ended registration handled", "published", s.Published, "keptActive", s.KeptActive, "deregistered", s.Deregistered)
	return s, nil
}

// endedError is the error name of the failure event for an ended execution:
// a stable name for a stop or an execution timeout (a StopExecution's error
// is whatever its caller typed, often nothing), and the execution's own error
// (States.Runtime, …) when it failed.
func endedError(status, errName string) string {
	switch {
	case status == "ABORTED":
		return "ExecutionAborted"
	case status == "TIMED_OUT":
		return "ExecutionTimedOut"
	case errName != "":
		return errName
	default:
		return "ExecutionFailed"
	}
}

// publish puts one outcome event on the stack's bus. Like the state
// machine's putEvents tasks it names the state machine and the execution
// as the event's resources.
func (c *Cleaner) publish(ctx context.Context, d ExecutionStatus, detailType string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encoding the %q detail: %w", detailType, err)
	}
	var resources []string
	for _, r := range []string{d.StateMachineArn, d.ExecutionArn} {
		if r != "" {
			resources = append(resources, r)
		}
	}
	out, err := c.Events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String(c.Bus),
		Source:       aws.String(c.Source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(b)),
		Resources:    resources,
	}}})
	if err != nil {
		return awserr.Step("events:PutEvents", err)
	}
	if out.FailedEntryCount > 0 {
		e := awserr.EventNotPublished{DetailType: detailType}
		if len(out.Entries) > 0 {
			e.Code, e.Message = aws.ToString(out.Entries[0].ErrorCode), aws.ToString(out.Entries[0].ErrorMessage)
		}
		return e
	}
	return nil
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
			return Summary{}, awserr.StepInputInvalid{Step: "Cleanup", Problems: []string{err.Error()}}
		}
		return c.Ended(ctx, ev)
	}
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return Summary{}, awserr.StepInputInvalid{Step: "Cleanup", Problems: []string{err.Error()}}
	}
	return c.Cleanup(ctx, in)
}
