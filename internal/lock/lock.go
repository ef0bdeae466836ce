// Package lock is the per-cluster lock: one registration or deregistration
// execution owns a cluster at a time.
//
// The lock is the SSM parameter workflow.Parameters.Lock(cluster), whose value
// is the owning execution's ARN. It is taken by an atomic conditional write:
// PutParameter without Overwrite fails with ParameterAlreadyExists when the
// parameter exists, so exactly one of any number of concurrent callers creates it.
//
// The lock and its markers live under workflow.Parameters.LockPath(cluster),
// apart from the cluster's records: the trigger is granted only that folder,
// never the one holding the activation code.
//
// Why SSM and not a DynamoDB conditional write: SSM is already a dependency
// (the activation code and records live under the same prefix), and the load is a handful of writes per registration, far below SSM's limits. A
// table would add a resource, a client, IAM statements and a second store to
// clean up for no gain. What SSM lacks is a conditional overwrite or delete;
// the takeover markers below stand in for the former, and Release's
// read-then-delete leaves a small, documented window (see Release).
package lock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/awserr"
	"github.com/platform/eks-connector-registrar/internal/workflow"
)

// SSMAPI lists the SSM operations the lock uses.
type SSMAPI interface {
	PutParameter(ctx context.Context, params *ssm.PutParameterInput, optFns ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	GetParameter(ctx context.Context, params *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	DeleteParameter(ctx context.Context, params *ssm.DeleteParameterInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
	GetParametersByPath(ctx context.Context, params *ssm.GetParametersByPathInput, optFns ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	DeleteParameters(ctx context.Context, params *ssm.DeleteParametersInput, optFns ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error)
}

// SFNAPI lists the Step Functions operations the lock uses.
type SFNAPI interface {
	DescribeExecution(ctx context.Context, params *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// DefaultGrace is how long a lock naming an execution that does not exist is
// still respected: the holder's trigger may be between PutParameter and
// StartExecution (or retrying a throttled StartExecution).
const DefaultGrace = 5 * time.Minute

// HolderStatus values besides the Step Functions execution statuses.
const (
	// StatusRunning is Step Functions' RUNNING.
	StatusRunning = string(sfntypes.ExecutionStatusRunning)
	// StatusStarting: the holder does not exist yet and the lock is younger
	// than the grace period.
	StatusStarting = "STARTING"
)

// Result is the answer of Acquire and TakeOver.
type Result struct {
	Acquired bool
	// Holder is the execution ARN that owns the lock when not Acquired.
	Holder string
	// HolderStatus is StatusRunning or StatusStarting when not Acquired.
	HolderStatus string
	// TookOver names the stale holder this call replaced, if any.
	TookOver string
	// AlreadyHeld: the lock named the caller already (a redelivered event,
	// or a retried trigger); Acquire wrote nothing.
	AlreadyHeld bool
}

// ContentionError: the lock changed hands more often than Acquire retries.
// It is transient; the caller retries later.
type ContentionError struct{ Cluster string }

func (e *ContentionError) Error() string {
	return fmt.Sprintf("lock of cluster %q changed hands repeatedly; retry later", e.Cluster)
}

// Locker takes and takes over the per-cluster lock.
type Locker struct {
	SSM    SSMAPI
	SFN    SFNAPI
	Params workflow.Parameters
	Grace  time.Duration // DefaultGrace when zero
	// Now is the time at which a lock's age is judged. The trigger sets it
	// to the event's time (EventBridge's clock, a service timestamp like the
	// lock's LastModifiedDate); only an event without a time falls back to
	// the function's clock (see trigger.Handler.locker for why that is safe).
	Now func() time.Time
}

const maxRounds = 5

// Acquire takes the lock of cluster for executionArn. It is idempotent: a
// caller that already holds the lock (a redelivered event) acquires it again.
// A stale lock (its execution has ended, or never started within the grace
// period) is taken over; a live one is reported in Result.Holder.
func (l *Locker) Acquire(ctx context.Context, cluster, executionArn string) (Result, error) {
	name := l.Params.Lock(cluster)
	for range maxRounds {
		created, err := l.create(ctx, name, executionArn)
		if err != nil {
			return Result{}, err
		}
		if created {
			return Result{Acquired: true}, nil
		}
		holder, modified, found, err := l.get(ctx, name)
		if err != nil {
			return Result{}, err
		}
		if !found {
			continue // released between our write and our read
		}
		if holder == executionArn {
			return Result{Acquired: true, AlreadyHeld: true}, nil
		}
		status, err := l.status(ctx, holder, modified)
		if err != nil {
			return Result{}, err
		}
		if status == StatusRunning || status == StatusStarting {
			return Result{Holder: holder, HolderStatus: status}, nil
		}
		res, retry, err := l.takeOver(ctx, cluster, holder, executionArn, false)
		if err != nil || !retry {
			return res, err
		}
	}
	return Result{}, &ContentionError{Cluster: cluster}
}

// TakeOver replaces holder, which the caller has just stopped (a
// deregistration stopping a registration), by executionArn. It goes through
// the same takeover marker as a stale lock, so it cannot race another
// takeover. If the lock no longer names holder, it falls back to Acquire.
func (l *Locker) TakeOver(ctx context.Context, cluster, holder, executionArn string) (Result, error) {
	res, retry, err := l.takeOver(ctx, cluster, holder, executionArn, true)
	if err != nil || !retry {
		return res, err
	}
	return l.Acquire(ctx, cluster, executionArn)
}

// takeOver replaces the lock value stale by executionArn. Only the caller that
// creates the takeover marker for stale (without Overwrite: atomic) may
// overwrite the lock. If the marker's winner itself died before overwriting
// the lock, its claim is taken over in turn through the marker for the
// winner, so exactly one caller owns the deepest marker of the chain.
// retry reports that the lock moved on and the caller should start again.
func (l *Locker) takeOver(ctx context.Context, cluster, stale, executionArn string, forced bool) (res Result, retry bool, err error) {
	claim := stale
	for range maxRounds {
		marker := l.Params.Takeover(cluster, HolderID(claim))
		created, err := l.create(ctx, marker, executionArn)
		if err != nil {
			return Result{}, false, err
		}
		winner, modified := executionArn, time.Time{}
		if !created {
			var found bool
			winner, modified, found, err = l.get(ctx, marker)
			if err != nil {
				return Result{}, false, err
			}
			if !found {
				continue // the marker was released meanwhile: try to create it again
			}
		}
		if winner == executionArn {
			return l.finishTakeover(ctx, cluster, stale, executionArn, marker)
		}
		// Another caller won the claim. Unless it died before overwriting
		// the lock, it owns (or is about to own) the cluster.
		status, err := l.status(ctx, winner, modified)
		if err != nil {
			return Result{}, false, err
		}
		current, _, found, err := l.get(ctx, l.Params.Lock(cluster))
		if err != nil {
			return Result{}, false, err
		}
		if !found || current != stale {
			// Released, or the winner finished its takeover: judge the
			// lock afresh.
			return Result{}, true, nil
		}
		if status == StatusRunning || status == StatusStarting {
			return Result{Holder: winner, HolderStatus: orRunning(status)}, false, nil
		}
		claim = winner
	}
	if forced {
		return Result{}, false, &ContentionError{Cluster: cluster}
	}
	return Result{}, true, nil
}

func orRunning(status string) string {
	if status == StatusStarting {
		return status
	}
	return StatusRunning
}

// finishTakeover overwrites the lock once we own a takeover marker, after
// checking that the lock still names the stale holder: a slow caller whose
// view is out of date (the lock was taken over, released and taken afresh
// meanwhile) must not overwrite the new owner.
func (l *Locker) finishTakeover(ctx context.Context, cluster, stale, executionArn, marker string) (Result, bool, error) {
	name := l.Params.Lock(cluster)
	current, _, found, err := l.get(ctx, name)
	if err != nil {
		return Result{}, false, err
	}
	switch {
	case found && current == executionArn:
		return Result{Acquired: true, TookOver: stale}, false, nil
	case !found || current != stale:
		// Our claim is void; drop the marker so it misleads no one.
		if _, err := l.SSM.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(marker)}); err != nil && !awserr.IsNotFound(err) {
			return Result{}, false, fmt.Errorf("deleting void takeover marker %s: %w", marker, err)
		}
		return Result{}, true, nil
	}
	_, err = l.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:      aws.String(name),
		Value:     aws.String(executionArn),
		Type:      ssmtypes.ParameterTypeString,
		Overwrite: aws.Bool(true),
	})
	if err != nil {
		return Result{}, false, fmt.Errorf("overwriting lock %s: %w", name, err)
	}
	return Result{Acquired: true, TookOver: stale}, false, nil
}

// status is the holder's liveness: StatusRunning, StatusStarting, or the
// ended status ("" when it does not exist past the grace period).
// since is when the parameter naming the holder was last written.
func (l *Locker) status(ctx context.Context, holder string, since time.Time) (string, error) {
	out, err := l.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(holder)})
	if err != nil {
		// Step Functions answers InvalidArn for a value that is not an
		// execution ARN; treat a garbage lock like a missing execution.
		if !awserr.IsNotFound(err) && !awserr.IsInvalidArn(err) {
			return "", fmt.Errorf("describing lock holder %s: %w", holder, err)
		}
		if l.Now().Sub(since) < l.grace() {
			return StatusStarting, nil
		}
		return "", nil
	}
	return string(out.Status), nil
}

// create writes name=value without Overwrite; false means it exists.
func (l *Locker) create(ctx context.Context, name, value string) (bool, error) {
	_, err := l.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Value:       aws.String(value),
		Type:        ssmtypes.ParameterTypeString,
		Overwrite:   aws.Bool(false),
		Description: aws.String("eks-connector-registrar per-cluster lock; value = owning execution ARN"),
	})
	switch {
	case err == nil:
		return true, nil
	case awserr.IsAlreadyExists(err):
		return false, nil
	default:
		return false, fmt.Errorf("creating %s: %w", name, err)
	}
}

func (l *Locker) get(ctx context.Context, name string) (value string, modified time.Time, found bool, err error) {
	return get(ctx, l.SSM, name)
}

func get(ctx context.Context, client SSMAPI, name string) (value string, modified time.Time, found bool, err error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if awserr.IsNotFound(err) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, fmt.Errorf("reading %s: %w", name, err)
	}
	if out.Parameter == nil {
		return "", time.Time{}, false, nil
	}
	return aws.ToString(out.Parameter.Value), aws.ToTime(out.Parameter.LastModifiedDate), true, nil
}

func (l *Locker) grace() time.Duration {
	if l.Grace > 0 {
		return l.Grace
	}
	return DefaultGrace
}

// HolderID is the short, parameter-name-safe id of an execution ARN used in
// takeover marker names.
func HolderID(executionArn string) string {
	sum := sha256.Sum256([]byte(executionArn))
	return hex.EncodeToString(sum[:8])
}

// Release gives up the lock of cluster if executionArn holds it (a lock that
// is absent or held by another execution is left alone), and deletes the
// cluster's takeover markers and its expired superseded markers (see
// supersededExpired). It is idempotent, so every ending of a state machine
// may call it, more than once.
//
// SSM has no conditional delete, so between the read and the delete another
// execution could take over the lock; that needs our execution to have been
// judged ended while it is still releasing, which only a stopped execution's
// in-flight Lambda can be. The deregistration flow re-checks at its end for
// exactly that case.
func Release(ctx context.Context, client SSMAPI, params workflow.Parameters, cluster, executionArn string) error {
	name := params.Lock(cluster)
	holder, taken, found, err := get(ctx, client, name)
	if err != nil {
		return err
	}
	if found && holder != executionArn {
		return nil
	}
	if found {
		if _, err := client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil && !awserr.IsNotFound(err) {
			return fmt.Errorf("deleting lock %s: %w", name, err)
		}
	}
	return deleteMarkers(ctx, client, params, cluster, taken)
}

// deleteMarkers deletes the cluster's takeover markers and its expired
// superseded markers. latest is the newest write known in the cluster's lock
// folder besides those listed (the lock Release just deleted; zero if none).
func deleteMarkers(ctx context.Context, client SSMAPI, params workflow.Parameters, cluster string, latest time.Time) error {
	prefix := params.Takeover(cluster, "")
	superseded := params.Superseded(cluster, "")
	var markers []string
	written := map[string]time.Time{} // superseded markers by name
	p := ssm.NewGetParametersByPathPaginator(client, &ssm.GetParametersByPathInput{
		Path:      aws.String(params.LockPath(cluster)),
		Recursive: aws.Bool(false),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing takeover markers of %s: %w", cluster, err)
		}
		for _, prm := range page.Parameters {
			n, modified := aws.ToString(prm.Name), aws.ToTime(prm.LastModifiedDate)
			if modified.After(latest) {
				latest = modified
			}
			switch {
			case strings.HasPrefix(n, prefix):
				markers = append(markers, n)
			case strings.HasPrefix(n, superseded):
				written[n] = modified
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(written)) {
		if supersededExpired(written[n], latest) {
			markers = append(markers, n)
		}
	}
	for len(markers) > 0 {
		batch := markers[:min(10, len(markers))] // DeleteParameters takes at most 10 names
		markers = markers[len(batch):]
		if _, err := client.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: batch}); err != nil {
			return fmt.Errorf("deleting takeover markers of %s: %w", cluster, err)
		}
	}
	return nil
}

// SupersededTTL is how long a superseded marker is kept: far longer than the
// superseded trigger can still be retried (the template bounds the event's
// age at one hour for EventBridge's delivery retries and one hour for
// Lambda's).
const SupersededTTL = 24 * time.Hour

// supersededExpired is the rule that collects superseded markers. It compares
// two SSM timestamps, never the function's clock: a marker written at
// `written` has expired once some later write in the same lock folder (the
// lock of a later execution, or another marker), at `latest`, came more than
// SupersededTTL after it. The superseding execution's own lock was written
// just before its marker, so its Release keeps the marker; a lock taken a day
// or more later collects it. A marker of a cluster that is never locked again
// stays (one small parameter), rather than trusting a clock of our own.
func supersededExpired(written, latest time.Time) bool {
	return latest.Sub(written) > SupersededTTL
}

// MarkSuperseded records that executionArn (a registration whose trigger
// holds the lock but has not started it) was superseded by by. It is called
// after taking the lock over and before by starts, so a later Acquire by the
// superseded execution's trigger finds it.
func MarkSuperseded(ctx context.Context, client SSMAPI, params workflow.Parameters, cluster, executionArn, by string) error {
	name := params.Superseded(cluster, HolderID(executionArn))
	_, err := client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Value:       aws.String(by),
		Type:        ssmtypes.ParameterTypeString,
		Overwrite:   aws.Bool(true),
		Description: aws.String("eks-connector-registrar: this registration was superseded before it started; value = the superseding execution ARN"),
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// SupersededBy is the execution that superseded executionArn before it
// started ("" if none did).
func SupersededBy(ctx context.Context, client SSMAPI, params workflow.Parameters, cluster, executionArn string) (string, error) {
	by, _, _, err := get(ctx, client, params.Superseded(cluster, HolderID(executionArn)))
	return by, err
}
