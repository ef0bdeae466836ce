package registration

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/platform/eks-connector-registrar/internal/workflow"
)

func TestCheckCluster(t *testing.T) {
	p := workflow.Parameters{Prefix: "/eks-connector-registrar"}
	created := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	connected := func(status ekstypes.ClusterStatus) *ekstypes.Cluster {
		return &ekstypes.Cluster{Name: aws.String("edge-1"), Arn: aws.String("arn:aws:eks:eu-west-1:123456789012:cluster/edge-1"),
			CreatedAt: aws.Time(created), Status: status,
			ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String("act-1"), ActivationExpiry: aws.Time(created.Add(72 * time.Hour)), Provider: aws.String("OTHER")}}
	}
	record := func(s *fakeSSM, id string) {
		writeJSON(context.Background(), s, p.Activation("edge-1"), Activation{ActivationID: id, ActivationExpiry: created.Add(72 * time.Hour), Region: "eu-west-1", Provider: "OTHER", ExecutionArn: "arn:old", ClusterArn: "arn:c", RegisteredAt: created})
	}
	code := func(s *fakeSSM) { s.params[p.ActivationCode("edge-1")] = param{value: "x", typ: "SecureString"} }
	// intent: SSM's LastModifiedDate is at; the Lambda's writtenAt says
	// otherwise and must not count.
	intent := func(arn string, at time.Time) func(s *fakeSSM) {
		return func(s *fakeSSM) {
			s.now = at
			writeJSON(context.Background(), s, p.Intent("edge-1"), Intent{Cluster: "edge-1", ExecutionArn: arn, Attempt: 1, WrittenAt: at.Add(-24 * time.Hour)})
			s.now = time.Time{}
		}
	}
	tests := []struct {
		name    string
		cluster *ekstypes.Cluster
		stored  []func(*fakeSSM)
		mode    string
		now     string
		lock    *string // the lock's value; nil: this execution holds it
		want    string  // state or error type
		gone    bool
	}{
		{name: "nothing of that name", want: StateAbsent, gone: true},
		{name: "managed cluster", cluster: &ekstypes.Cluster{Name: aws.String("edge-1"), Arn: aws.String("arn:m"), Status: ekstypes.ClusterStatusActive}, want: "ManagedClusterExists"},
		{name: "active, registered by anyone", cluster: connected(ekstypes.ClusterStatusActive), want: StateActive},
		{name: "pending, ours with the code stored: resume", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }, code}, want: StatePendingOurs},
		{name: "older CREATING status counts as pending", cluster: connected(ekstypes.ClusterStatusCreating), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }, code}, want: StatePendingOurs},
		// The record is written only after the code was stored: it alone says "code stored".
		{name: "pending, our record, code never read", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }}, want: StatePendingOurs},
		{name: "pending, our intent before its creation, no record", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){intent(execArn, created.Add(-time.Minute))}, want: StateLostOurs},
		{name: "pending, our intent within the skew after its creation", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){intent(execArn, created.Add(4*time.Minute))}, want: StateLostOurs},
		{name: "pending, our intent long after its creation: not ours", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){intent(execArn, created.Add(time.Hour))}, want: "ClusterOwnedElsewhere"},
		{name: "pending, another execution's intent before its creation: not ours", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){intent("arn:old", created.Add(-time.Minute))}, want: "ClusterOwnedElsewhere"},
		{name: "pending, our record names another activation", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-0") }, code}, want: "ClusterOwnedElsewhere"},
		{name: "pending, nothing of ours", cluster: connected(ekstypes.ClusterStatusPending), want: "ClusterOwnedElsewhere"},
		{name: "failed (expired), ours", cluster: connected(ekstypes.ClusterStatusFailed), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }, code}, want: StateExpiredOurs},
		{name: "pending past its expiry, ours", cluster: connected(ekstypes.ClusterStatusPending), now: "2025-03-04T10:00:00.5Z", stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }, code}, want: StateExpiredOurs},
		{name: "failed (expired), foreign", cluster: connected(ekstypes.ClusterStatusFailed), want: "ClusterOwnedElsewhere"},
		{name: "deleting", cluster: connected(ekstypes.ClusterStatusDeleting), want: StateDeleting},
		{name: "gone mode: still there", mode: ModeGone, cluster: connected(ekstypes.ClusterStatusDeleting), gone: false},
		{name: "gone mode: gone", mode: ModeGone, gone: true, want: StateAbsent},
		// The lock decides before anything else: a superseded execution
		// must not resume, replace or register anything.
		{name: "lock held by a deregistration", cluster: connected(ekstypes.ClusterStatusPending), stored: []func(*fakeSSM){func(s *fakeSSM) { record(s, "act-1") }, code},
			lock: aws.String("arn:aws:states:eu-west-1:123456789012:execution:Dereg:deregister-edge-1-x"), want: StateSuperseded},
		{name: "no lock at all (started by hand, or already released)", lock: aws.String(""), want: StateSuperseded},
		{name: "gone mode does not look at the lock", mode: ModeGone, lock: aws.String(""), gone: true, want: StateAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			s := newSSM(&calls)
			for _, f := range tt.stored {
				f(s)
			}
			switch {
			case tt.lock == nil:
				s.params[p.Lock("edge-1")] = param{value: execArn, typ: "String"}
			case *tt.lock != "":
				s.params[p.Lock("edge-1")] = param{value: *tt.lock, typ: "String"}
			}
			calls = calls[:0] // only the step's own calls count
			c := &Checker{EKS: &fakeEKS{cluster: tt.cluster, calls: &calls}, SSM: s, Params: p, Region: "eu-west-1", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			res, err := c.Handle(context.Background(), CheckInput{Mode: tt.mode, ClusterName: "edge-1", ExecutionArn: execArn, Now: tt.now, ConsoleAccessArns: []string{"arn:aws:iam::123456789012:role/V"}})
			if res.Gone != tt.gone {
				t.Errorf("gone = %v, want %v", res.Gone, tt.gone)
			}
			got := res.State
			if err != nil {
				got = errName(err)
			}
			if got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
			if slices.Contains(s.gets, p.ActivationCode("edge-1")) {
				t.Errorf("CheckCluster read the activation code parameter (reads %v)", s.gets)
			}
			if got == StateSuperseded {
				if want := aws.ToString(tt.lock); res.LockHolder != want {
					t.Errorf("lockHolder = %q, want %q", res.LockHolder, want)
				}
				if len(calls) != 0 {
					t.Errorf("a superseded execution made calls %v after reading the lock", calls)
				}
			}
			if got == "ClusterOwnedElsewhere" && !strings.Contains(err.Error(), "did not deregister") {
				t.Errorf("message %q", err)
			}
			if got == StatePendingOurs {
				r := res.Registration
				if r == nil || r.ActivationID != "act-1" || r.CodeParameter != p.ActivationCode("edge-1") || r.RegisteredAt != "2025-03-01T10:00:00Z" ||
					!strings.Contains(r.InstallCommand, "--name "+p.ActivationCode("edge-1")) || !strings.Contains(r.InstallCommand, "allowedUserARNs") {
					t.Errorf("registration = %+v", r)
				}
			} else if res.Registration != nil {
				t.Errorf("registration given for %s", got)
			}
		})
	}
}
