package cleanup

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/internal/registration"
	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	me      = "arn:aws:states:eu-west-1:123456789012:execution:register:mine"
	cluster = "edge-1"
)

var p = workflow.Parameters{Prefix: "/r"}

type world struct {
	cluster      *ekstypes.Cluster
	deregistered int
	params       map[string]string
	activations  map[string]bool
	instances    map[string]ssmtypes.InstanceInformation
	released     []string
	modified     map[string]time.Time // LastModifiedDate SSM reports
	goneCode     string               // what DeleteActivation answers for a gone activation
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func (w *world) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	if w.cluster == nil {
		return nil, apiErr("ResourceNotFoundException")
	}
	c := *w.cluster
	return &eks.DescribeClusterOutput{Cluster: &c}, nil
}

func (w *world) DeregisterCluster(_ context.Context, in *eks.DeregisterClusterInput, _ ...func(*eks.Options)) (*eks.DeregisterClusterOutput, error) {
	if w.cluster == nil {
		return nil, apiErr("ResourceNotFoundException")
	}
	w.deregistered++
	w.cluster = nil // gone at once: enough for these tests
	return &eks.DeregisterClusterOutput{}, nil
}

func (w *world) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := w.params[*in.Name]
	if !ok {
		return nil, apiErr("ParameterNotFound")
	}
	prm := &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}
	if m, ok := w.modified[*in.Name]; ok {
		prm.LastModifiedDate = aws.Time(m)
	}
	return &ssm.GetParameterOutput{Parameter: prm}, nil
}

func (w *world) DeleteParameters(_ context.Context, in *ssm.DeleteParametersInput, _ ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	out := &ssm.DeleteParametersOutput{}
	for _, n := range in.Names {
		if _, ok := w.params[n]; ok {
			delete(w.params, n)
			out.DeletedParameters = append(out.DeletedParameters, n)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

func (w *world) DescribeInstanceInformation(_ context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	out := &ssm.DescribeInstanceInformationOutput{}
	for _, i := range w.instances {
		if aws.ToString(i.ActivationId) == in.Filters[0].Values[0] {
			out.InstanceInformationList = append(out.InstanceInformationList, i)
		}
	}
	return out, nil
}

func (w *world) DeleteActivation(_ context.Context, in *ssm.DeleteActivationInput, _ ...func(*ssm.Options)) (*ssm.DeleteActivationOutput, error) {
	if !w.activations[*in.ActivationId] {
		if w.goneCode != "" {
			return nil, apiErr(w.goneCode)
		}
		return nil, apiErr("InvalidActivationId")
	}
	delete(w.activations, *in.ActivationId)
	return &ssm.DeleteActivationOutput{}, nil
}

func (w *world) DeregisterManagedInstance(_ context.Context, in *ssm.DeregisterManagedInstanceInput, _ ...func(*ssm.Options)) (*ssm.DeregisterManagedInstanceOutput, error) {
	if _, ok := w.instances[*in.InstanceId]; !ok {
		return nil, apiErr("InvalidInstanceId")
	}
	delete(w.instances, *in.InstanceId)
	return &ssm.DeregisterManagedInstanceOutput{}, nil
}

func (w *world) cleaner() *Cleaner {
	return &Cleaner{EKS: w, SSM: w, Params: p, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Release: func(_ context.Context, c, arn string) error {
			// As lock.Release: only a lock that names arn is deleted.
			w.released = append(w.released, arn)
			if v, ok := w.params[p.Lock(c)]; ok && v == arn {
				delete(w.params, p.Lock(c))
			}
			return nil
		}}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// intentAt() is when SSM last modified the intent; clusterCreated() is EKS's
// createdAt of the cluster newWorld holds (a minute after the intent). Both
// are the test world's time: the real now, or the date LOCALCLOUD_START gives
// (`make test` runs this package at three dates).
// They are read in the first test that needs them, not at package init: go
// test's cache records only the environment a running test reads.
var worldStart = sync.OnceValue(clock.MustStart)

func intentAt() time.Time       { return worldStart().Add(-time.Minute) }
func clusterCreated() time.Time { return intentAt().Add(time.Minute) }

// newWorld: a connected cluster with activation act-1 (created after the
// intent) and two agent instances, our stored code, record, intent and lock.
func newWorld(status ekstypes.ClusterStatus, recordID, intentArn string) *world {
	w := &world{
		cluster: &ekstypes.Cluster{Name: aws.String(cluster), Arn: aws.String("arn:c"), Status: status, CreatedAt: aws.Time(clusterCreated()),
			ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String("act-1")}},
		modified:    map[string]time.Time{},
		params:      map[string]string{p.Lock(cluster): me, p.ActivationCode(cluster): "secret"},
		activations: map[string]bool{"act-1": true},
		instances: map[string]ssmtypes.InstanceInformation{
			"eks_c:edge-1_aaaaaaaaaaaaaaaaa": {InstanceId: aws.String("eks_c:edge-1_aaaaaaaaaaaaaaaaa"), ActivationId: aws.String("act-1"), PingStatus: "Online"},
			"eks_c:edge-1_bbbbbbbbbbbbbbbbb": {InstanceId: aws.String("eks_c:edge-1_bbbbbbbbbbbbbbbbb"), ActivationId: aws.String("act-1"), PingStatus: "ConnectionLost"},
			"mi-other":                       {InstanceId: aws.String("mi-other"), ActivationId: aws.String("act-9"), PingStatus: "Online"},
		},
	}
	if recordID != "" {
		w.params[p.Activation(cluster)] = js(registration.Activation{ActivationID: recordID, ClusterArn: "arn:c", Provider: "OTHER", RegisteredAt: clusterCreated()})
	}
	if intentArn != "" {
		// writtenAt (the Lambda's clock) says "long before"; only SSM's
		// LastModifiedDate may count.
		w.params[p.Intent(cluster)] = js(registration.Intent{Cluster: cluster, ExecutionArn: intentArn, Attempt: 1, WrittenAt: intentAt().Add(-24 * time.Hour)})
		w.modified[p.Intent(cluster)] = intentAt()
	}
	return w
}

func TestCompensateRemovesEverythingOfOursAndConverges(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", me)
	in := Input{Mode: ModeCompensate, ClusterName: cluster, ExecutionArn: me, Error: &StepError{Error: "ActivationTimedOut", Cause: "deadline"}}
	s, err := w.cleaner().Cleanup(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Deregistered || !s.ActivationDeleted || !s.LockReleased || s.KeptActive || w.deregistered != 1 {
		t.Errorf("summary %+v", s)
	}
	if want := []string{"eks_c:edge-1_aaaaaaaaaaaaaaaaa", "eks_c:edge-1_bbbbbbbbbbbbbbbbb"}; !reflect.DeepEqual(s.InstancesDeregistered, want) {
		t.Errorf("instances %v", s.InstancesDeregistered)
	}
	if _, ok := w.instances["mi-other"]; !ok {
		t.Error("an instance of another activation was deregistered")
	}
	if len(w.params) != 0 || len(s.ParametersDeleted) != 3 {
		t.Errorf("left parameters %v; deleted %v", w.params, s.ParametersDeleted)
	}
	if !strings.Contains(s.Reason, "did not connect") || !strings.Contains(s.Reason, "removed") || s.Error != "ActivationTimedOut" {
		t.Errorf("reason %q", s.Reason)
	}
	// A rerun (the Lambda died after finishing) converges without error.
	s2, err := w.cleaner().Cleanup(context.Background(), in)
	if err != nil || s2.Deregistered || w.deregistered != 1 || !s2.LockReleased {
		t.Errorf("rerun: %+v %v", s2, err)
	}
}

// SSM's DeleteActivation declares two errors for an activation it does not
// have (botocore model ssm: InvalidActivationId and InvalidActivation; the
// API reference says the latter when the activation "might have been
// deleted"). Either means "already gone": the cleanup finishes, and a
// deregistration that removed the cluster is not reported as failed.
func TestAnActivationAlreadyGoneIsNoFailure(t *testing.T) {
	for _, code := range []string{"InvalidActivationId", "InvalidActivation"} {
		t.Run(code, func(t *testing.T) {
			w := newWorld(ekstypes.ClusterStatusActive, "act-1", "")
			w.goneCode = code
			delete(w.activations, "act-1") // EKS's deregistration deleted it
			s, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeDeregister, ClusterName: cluster, ExecutionArn: me})
			if err != nil {
				t.Fatalf("DeleteActivation answering %s failed the cleanup: %v", code, err)
			}
			if !s.Deregistered || s.ActivationDeleted || !s.LockReleased || len(s.InstancesDeregistered) != 2 {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestCleanupModes(t *testing.T) {
	f := false
	tests := []struct {
		name         string
		world        *world
		in           Input
		wantErr      string
		deregistered bool
		keptActive   bool
		released     bool
		leftParams   []string
	}{
		{name: "compensate: a foreign cluster is left alone", world: newWorld(ekstypes.ClusterStatusPending, "", ""),
			in: Input{Mode: ModeCompensate}, released: true},
		{name: "compensate: ACTIVE after the last check is kept", world: newWorld(ekstypes.ClusterStatusActive, "act-1", me),
			in: Input{Mode: ModeCompensate}, keptActive: true,
			leftParams: []string{p.Activation(cluster), p.ActivationCode(cluster), p.Intent(cluster), p.Lock(cluster)}},
		{name: "discard keeps the intent and the lock", world: newWorld(ekstypes.ClusterStatusPending, "", me),
			in: Input{Mode: ModeDiscard}, deregistered: true, leftParams: []string{p.Intent(cluster), p.Lock(cluster)}},
		{name: "deregister: whoever registered it", world: newWorld(ekstypes.ClusterStatusActive, "", ""),
			in: Input{Mode: ModeDeregister}, deregistered: true, released: true},
		{name: "deregister without releasing the lock (takeover re-check follows)", world: newWorld(ekstypes.ClusterStatusPending, "act-1", ""),
			in: Input{Mode: ModeDeregister, ReleaseLock: &f}, deregistered: true, leftParams: []string{p.Lock(cluster)}},
		{name: "deregister refuses a managed cluster", world: func() *world {
			w := newWorld(ekstypes.ClusterStatusActive, "", "")
			w.cluster.ConnectorConfig = nil
			return w
		}(), in: Input{Mode: ModeDeregister}, wantErr: "ManagedClusterExists", leftParams: []string{p.ActivationCode(cluster), p.Lock(cluster)}},
		{name: "release: only our intent and the lock", world: newWorld(ekstypes.ClusterStatusPending, "act-1", me),
			in: Input{Mode: ModeRelease}, released: true, leftParams: []string{p.Activation(cluster), p.ActivationCode(cluster)}},
		{name: "release keeps another execution's intent", world: newWorld(ekstypes.ClusterStatusPending, "", "arn:other"),
			in: Input{Mode: ModeRelease}, released: true, leftParams: []string{p.ActivationCode(cluster), p.Intent(cluster)}},
		{name: "unknown mode", world: newWorld(ekstypes.ClusterStatusPending, "", ""), in: Input{Mode: "nuke"}, wantErr: "StepInputInvalid",
			leftParams: []string{p.ActivationCode(cluster), p.Lock(cluster)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ClusterName, tt.in.ExecutionArn = cluster, me
			s, err := tt.world.cleaner().Cleanup(context.Background(), tt.in)
			if tt.wantErr != "" {
				if err == nil || reflect.TypeOf(err).Name() != tt.wantErr {
					t.Fatalf("err = %T %v, want %s", err, err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if s.Deregistered != tt.deregistered || s.KeptActive != tt.keptActive || s.LockReleased != tt.released || (len(tt.world.released) > 0) != tt.released {
				t.Errorf("summary %+v released %v", s, tt.world.released)
			}
			var left []string
			for n := range tt.world.params {
				left = append(left, n)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.leftParams) {
				t.Errorf("parameters left %v, want %v", left, tt.leftParams)
			}
		})
	}
}

func TestReason(t *testing.T) {
	lambdaCause := `{"errorMessage":"cannot register cluster \"edge-1\": the Amazon EKS quota \"Registered clusters\" of Region eu-west-1 is reached","errorType":"RegisteredClustersQuotaExceeded"}`
	r := Reason(cluster, StepError{Error: "RegisteredClustersQuotaExceeded", Cause: lambdaCause}, nil, Summary{Mode: ModeRelease})
	if !strings.HasPrefix(r, `RegisteredClustersQuotaExceeded: cannot register cluster "edge-1"`) || strings.Contains(r, "errorType") || !strings.Contains(r, "the lock was released") {
		t.Errorf("reason %q", r)
	}
	r = Reason(cluster, StepError{Error: "ActivationExpired"}, &StepError{Error: "AWSCallFailed", Cause: `{"errorMessage":"eks:DeregisterCluster failed (AccessDeniedException)"}`}, Summary{Mode: ModeCompensate})
	if !strings.Contains(r, "expired") || !strings.Contains(r, "did not finish (AWSCallFailed: eks:DeregisterCluster failed") {
		t.Errorf("reason %q", r)
	}
}

// The reasons of the Lambda failures Step Functions reports by their AWS
// names and causes (localcloud/sfn/tasks.go emits the same).
func TestReasonForLambdaFailures(t *testing.T) {
	const unknown = "The cause could not be determined because Lambda did not return an error type. Returned payload: "
	for _, tt := range []struct {
		name string
		e    StepError
		want []string
		not  []string
	}{
		{"timeout", StepError{Error: "Sandbox.Timedout",
			Cause: `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 9ac63323-b549-481c-9dce-d3d014339e9a Error: Task timed out after 60.00 seconds"}`},
			[]string{"a step of the registration of cluster edge-1 timed out (Sandbox.Timedout): RequestId: 9ac63323-b549-481c-9dce-d3d014339e9a Error: Task timed out after 60.00 seconds."},
			[]string{"errorType"}},
		{"timeout, older shape", StepError{Error: "Lambda.Unknown",
			Cause: unknown + `{"errorMessage":"2024-11-26T00:36:39.604Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 60.15 seconds"}`},
			[]string{"a step of the registration of cluster edge-1 timed out (Lambda.Unknown): 2024-11-26T00:36:39.604Z 5b1c368c-fa4f-448d-8d37-595d2633cc9b Task timed out after 60.15 seconds."},
			[]string{"could not be determined", "errorMessage"}},
		{"other untyped failure", StepError{Error: "Lambda.Unknown", Cause: unknown + `{"errorMessage":"something else"}`},
			[]string{"Lambda.Unknown: something else."}, []string{"timed out"}},
		{"crash", StepError{Error: "Runtime.ExitError",
			Cause: `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3 Error: Runtime exited with error: signal: killed"}`},
			[]string{"crashed on each of its attempts (Runtime.ExitError: RequestId: 1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3 Error: Runtime exited with error: signal: killed)",
				"/aws/lambda/", "send Register Cluster again"},
			[]string{"errorType"}},
		{"out of memory", StepError{Error: "Runtime.OutOfMemory",
			Cause: `{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: f9da3291-6576-41fd-b426-87c48499d8d8 Error: Runtime exited with error: signal: killed"}`},
			[]string{"ran out of memory (Runtime.OutOfMemory: RequestId: f9da3291", "MemorySize", "send Register Cluster again"}, nil},
		{"role may not invoke", StepError{Error: "Lambda.AWSLambdaException",
			Cause: "User: arn:aws:sts::123456789012:assumed-role/sm/x is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:eu-west-1:123456789012:function:f " +
				"(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: c0c4199a-20fa-472e-a106-471bfdaa742e; Proxy: null)"},
			[]string{"Lambda.AWSLambdaException: User: arn:aws:sts::123456789012:assumed-role/sm/x is not authorized to perform: lambda:InvokeFunction"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Reason(cluster, tt.e, nil, Summary{Mode: ModeRelease})
			for _, w := range tt.want {
				if !strings.Contains(r, w) {
					t.Errorf("reason %q does not say %q", r, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(r, n) {
					t.Errorf("reason %q says %q", r, n)
				}
			}
		})
	}
}

func TestCompleteDropsTheCodeAndReleasesTheLock(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusActive, "act-1", me)
	c, err := w.cleaner().Complete(context.Background(), CompleteInput{ClusterName: cluster, ExecutionArn: me,
		ActivatedAt: clusterCreated().Add(450*time.Second + 400*time.Millisecond).Format(time.RFC3339Nano), InstanceIDs: []string{"eks_c:edge-1_aaaaaaaaaaaaaaaaa"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.TimeToActivateSeconds == nil || *c.TimeToActivateSeconds != 450 || c.DeletedCodeParameter != p.ActivationCode(cluster) ||
		c.ClusterArn != "arn:c" || c.Provider != "OTHER" || len(c.InstanceIDs) != 1 {
		t.Errorf("completion %+v", c)
	}
	left := []string{}
	for n := range w.params {
		left = append(left, n)
	}
	if !reflect.DeepEqual(left, []string{p.Activation(cluster)}) || !reflect.DeepEqual(w.released, []string{me}) {
		t.Errorf("left %v released %v", left, w.released)
	}
	// Already registered (found ACTIVE): no time to activate.
	c, err = w.cleaner().Complete(context.Background(), CompleteInput{ClusterName: cluster, ExecutionArn: me, AlreadyRegistered: true, Provider: "GKE"})
	if err != nil || c.TimeToActivateSeconds != nil || !c.AlreadyRegistered || c.DeletedCodeParameter != "" {
		t.Errorf("already registered: %+v %v", c, err)
	}
}

// The deregistration's re-check after a takeover reports what both passes
// removed: the first pass did the work, the re-check found nothing left.
func TestRecheckReportsWhatTheFirstPassRemoved(t *testing.T) {
	w := newWorld(ekstypes.ClusterStatusPending, "act-1", "")
	f := false
	first, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeDeregister, ClusterName: cluster, ExecutionArn: me, ReleaseLock: &f})
	if err != nil || !first.Deregistered {
		t.Fatalf("first pass %+v, %v", first, err)
	}
	w.cluster = nil // gone meanwhile
	prev := &Removed{Deregistered: first.Deregistered, ActivationIDs: first.ActivationIDs,
		InstancesDeregistered: first.InstancesDeregistered, ParametersDeleted: first.ParametersDeleted}
	s, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeDeregister, ClusterName: cluster, ExecutionArn: me, Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Deregistered || !slices.Equal(s.ActivationIDs, []string{"act-1"}) || len(s.InstancesDeregistered) != 2 ||
		!slices.Equal(s.ParametersDeleted, first.ParametersDeleted) || !s.LockReleased {
		t.Errorf("re-check summary %+v, want the first pass's removals reported", s)
	}
}

// foreignWorld: the cluster of that name was registered by someone else
// before our intent (createdAt an hour before it, far beyond the skew): our
// intent exists, our activation record names our own (gone) activation
// act-0. Nothing of theirs may be touched.
func foreignWorld(status ekstypes.ClusterStatus) *world {
	w := newWorld(status, "act-0", me)
	w.cluster.CreatedAt = aws.Time(intentAt().Add(-time.Hour))
	return w
}

func TestForeignRegistrationIsNeverDeregistered(t *testing.T) {
	for _, tt := range []struct {
		name     string
		world    *world
		mode     string
		wantLeft []string
	}{
		{"compensate, pending", foreignWorld(ekstypes.ClusterStatusPending), ModeCompensate, nil},
		{"compensate, active: not kept as ours either", foreignWorld(ekstypes.ClusterStatusActive), ModeCompensate, nil},
		{"discard", foreignWorld(ekstypes.ClusterStatusPending), ModeDiscard, []string{p.Intent(cluster), p.Lock(cluster)}},
		{"compensate, created after an intent of another execution", func() *world {
			w := newWorld(ekstypes.ClusterStatusPending, "", "arn:other")
			return w
		}(), ModeCompensate, nil},
		{"discard, no record, no intent", newWorld(ekstypes.ClusterStatusPending, "", ""), ModeDiscard, []string{p.Lock(cluster)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.world
			in := Input{Mode: tt.mode, ClusterName: cluster, ExecutionArn: me, Error: &StepError{Error: "ActivationTimedOut"}}
			s, err := w.cleaner().Cleanup(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if s.Deregistered || w.deregistered != 0 || w.cluster == nil || s.KeptActive {
				t.Errorf("summary %+v, %d deregistrations: the foreign registration must be left alone", s, w.deregistered)
			}
			if !strings.Contains(s.LeftAlone, "act-1") || !strings.Contains(s.LeftAlone, "left alone") || !strings.Contains(s.Reason, "left alone") {
				t.Errorf("leftAlone %q, reason %q: want both to say the registration act-1 was left alone", s.LeftAlone, s.Reason)
			}
			if !w.activations["act-1"] || slices.Contains(s.ActivationIDs, "act-1") {
				t.Errorf("their activation act-1 was deleted (activations %v)", s.ActivationIDs)
			}
			for _, id := range []string{"eks_c:edge-1_aaaaaaaaaaaaaaaaa", "eks_c:edge-1_bbbbbbbbbbbbbbbbb"} {
				if _, ok := w.instances[id]; !ok {
					t.Errorf("their agent instance %s was deregistered", id)
				}
			}
			var left []string
			for n := range w.params {
				left = append(left, n)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.wantLeft) {
				t.Errorf("parameters left %v, want %v (ours are deleted)", left, tt.wantLeft)
			}
		})
	}
	// The user's Deregister Cluster removes whatever holds the name.
	w := foreignWorld(ekstypes.ClusterStatusActive)
	s, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeDeregister, ClusterName: cluster, ExecutionArn: me})
	if err != nil || !s.Deregistered || s.LeftAlone != "" {
		t.Errorf("deregister mode: %+v %v", s, err)
	}
	// Release never looks at the cluster.
	w = foreignWorld(ekstypes.ClusterStatusPending)
	if s, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeRelease, ClusterName: cluster, ExecutionArn: me}); err != nil || s.Deregistered || w.deregistered != 0 {
		t.Errorf("release mode: %+v %v", s, err)
	}
}

// Ours is judged on SSM's LastModifiedDate of the intent, with the skew bound:
// a cluster created a little before it (clock skew) is ours, long before is not.
func TestCompensateJudgesTheIntentOnSSMTime(t *testing.T) {
	for _, tt := range []struct {
		created time.Time
		ours    bool
	}{
		{intentAt().Add(-4 * time.Minute), true},
		{intentAt().Add(-6 * time.Minute), false},
	} {
		w := newWorld(ekstypes.ClusterStatusPending, "", me)
		w.cluster.CreatedAt = aws.Time(tt.created)
		s, err := w.cleaner().Cleanup(context.Background(), Input{Mode: ModeCompensate, ClusterName: cluster, ExecutionArn: me})
		if err != nil || s.Deregistered != tt.ours || (s.LeftAlone == "") != tt.ours {
			t.Errorf("created %s before the intent: %+v %v, want ours=%v", intentAt().Sub(tt.created), s, err, tt.ours)
		}
	}
}
