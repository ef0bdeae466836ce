package lock_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/platform/eks-connector-registrar/internal/lock"
	"github.com/platform/eks-connector-registrar/internal/lock/locktest"
	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

var (
	params = workflow.Parameters{Prefix: "/eks-connector-registrar"}
	// t0 is where the test world's clock starts: the real now, or the date
	// LOCALCLOUD_START gives (`make test` runs this package at three dates).
	// Read in the first test that needs it, not at package init: go test's
	// cache records only the environment a running test reads.
	t0 = sync.OnceValue(clock.MustStart)
)

func execArn(name string) string {
	return "arn:aws:states:eu-west-1:123456789012:execution:Registration:" + name
}

type world struct {
	ssm    *locktest.SSM
	sfn    *locktest.SFN
	now    time.Time
	locker *lock.Locker
}

func newWorld() *world {
	w := &world{sfn: locktest.NewSFN(), now: t0()}
	w.ssm = locktest.NewSSM(func() time.Time { return w.now })
	w.locker = &lock.Locker{SSM: w.ssm, SFN: w.sfn, Params: params, Now: func() time.Time { return w.now }}
	return w
}

func (w *world) holder(t *testing.T) string {
	t.Helper()
	v, _ := w.ssm.Value(params.Lock("c1"))
	return v
}

func TestAcquireFreeLock(t *testing.T) {
	w := newWorld()
	res, err := w.locker.Acquire(context.Background(), "c1", execArn("a"))
	if err != nil || !res.Acquired {
		t.Fatalf("Acquire = %+v, %v", res, err)
	}
	if got := w.holder(t); got != execArn("a") {
		t.Fatalf("lock holds %q", got)
	}
}

func TestRedeliveredEventAcquiresAgain(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.locker.Acquire(ctx, "c1", execArn("a"))
	w.sfn.SetStatus(execArn("a"), sfntypes.ExecutionStatusRunning)
	res, err := w.locker.Acquire(ctx, "c1", execArn("a"))
	if err != nil || !res.Acquired {
		t.Fatalf("second Acquire by the same execution = %+v, %v", res, err)
	}
}

func TestRunningHolderKeepsTheLock(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.locker.Acquire(ctx, "c1", execArn("a"))
	w.sfn.SetStatus(execArn("a"), sfntypes.ExecutionStatusRunning)
	res, err := w.locker.Acquire(ctx, "c1", execArn("b"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Acquired || res.Holder != execArn("a") || res.HolderStatus != lock.StatusRunning {
		t.Fatalf("Acquire = %+v, want held by a (RUNNING)", res)
	}
}

func TestEndedHolderIsTakenOver(t *testing.T) {
	for _, st := range []sfntypes.ExecutionStatus{"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"} {
		t.Run(string(st), func(t *testing.T) {
			w := newWorld()
			ctx := context.Background()
			w.locker.Acquire(ctx, "c1", execArn("a"))
			w.sfn.SetStatus(execArn("a"), st)
			res, err := w.locker.Acquire(ctx, "c1", execArn("b"))
			if err != nil || !res.Acquired || res.TookOver != execArn("a") {
				t.Fatalf("Acquire = %+v, %v; want taken over from a", res, err)
			}
			if got := w.holder(t); got != execArn("b") {
				t.Fatalf("lock holds %q", got)
			}
		})
	}
}

func TestHolderThatNeverStarted(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.locker.Acquire(ctx, "c1", execArn("a")) // its trigger is between PutParameter and StartExecution

	w.now = t0().Add(4 * time.Minute)
	res, err := w.locker.Acquire(ctx, "c1", execArn("b"))
	if err != nil || res.Acquired || res.HolderStatus != lock.StatusStarting {
		t.Fatalf("within the grace period: %+v, %v; want held (STARTING)", res, err)
	}

	w.now = t0().Add(6 * time.Minute)
	res, err = w.locker.Acquire(ctx, "c1", execArn("b"))
	if err != nil || !res.Acquired || res.TookOver != execArn("a") {
		t.Fatalf("after the grace period: %+v, %v; want taken over", res, err)
	}
}

func TestFiftyConcurrentAcquiresGiveOneOwner(t *testing.T) {
	w := newWorld()
	var wg sync.WaitGroup
	results := make([]lock.Result, 50)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := w.locker.Acquire(context.Background(), "c1", execArn(fmt.Sprint("e", i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	owners := 0
	for i, r := range results {
		if r.Acquired {
			owners++
			if w.holder(t) != execArn(fmt.Sprint("e", i)) {
				t.Errorf("e%d acquired but the lock holds %s", i, w.holder(t))
			}
		} else if r.Holder != w.holder(t) {
			t.Errorf("e%d was told the holder is %q, lock holds %q", i, r.Holder, w.holder(t))
		}
	}
	if owners != 1 {
		t.Fatalf("%d owners, want 1", owners)
	}
}

func TestFiftyConcurrentTakeoversOfAStaleLockGiveOneOwner(t *testing.T) {
	w := newWorld()
	w.ssm.Set(params.Lock("c1"), execArn("dead"), t0().Add(-time.Hour))
	w.sfn.SetStatus(execArn("dead"), "FAILED")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var owners []string
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			arn := execArn(fmt.Sprint("e", i))
			res, err := w.locker.Acquire(context.Background(), "c1", arn)
			if err != nil {
				t.Error(err)
				return
			}
			if res.Acquired {
				mu.Lock()
				owners = append(owners, arn)
				mu.Unlock()
				// Like the trigger: the owner starts its execution.
				w.sfn.SetStatus(arn, sfntypes.ExecutionStatusRunning)
			}
		}()
	}
	wg.Wait()
	if len(owners) != 1 {
		t.Fatalf("owners %v, want exactly 1", owners)
	}
	if w.holder(t) != owners[0] {
		t.Fatalf("lock holds %s, owner %s", w.holder(t), owners[0])
	}
}

// A caller that read the lock before a takeover must not overwrite the lock
// of an execution that acquired it afresh after the takeover's release.
func TestSlowCallerDoesNotOverwriteANewOwner(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.ssm.Set(params.Lock("c1"), execArn("dead"), t0().Add(-time.Hour))
	w.sfn.SetStatus(execArn("dead"), "FAILED")

	marker := params.Takeover("c1", lock.HolderID(execArn("dead")))
	once := sync.Once{}
	w.ssm.BeforePut = func(in *ssm.PutParameterInput) {
		if aws.ToString(in.Name) != marker || aws.ToString(in.Value) != execArn("slow") {
			return
		}
		once.Do(func() {
			// Meanwhile: A takes over, runs, releases; C acquires afresh.
			other := &lock.Locker{SSM: w.ssm, SFN: w.sfn, Params: params, Now: w.locker.Now}
			if r, err := other.Acquire(ctx, "c1", execArn("A")); err != nil || !r.Acquired {
				t.Errorf("A: %+v %v", r, err)
			}
			if err := lock.Release(ctx, w.ssm, params, "c1", execArn("A")); err != nil {
				t.Error(err)
			}
			if r, err := other.Acquire(ctx, "c1", execArn("C")); err != nil || !r.Acquired {
				t.Errorf("C: %+v %v", r, err)
			}
			w.sfn.SetStatus(execArn("C"), sfntypes.ExecutionStatusRunning)
		})
	}
	res, err := w.locker.Acquire(ctx, "c1", execArn("slow"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Acquired || res.Holder != execArn("C") {
		t.Fatalf("slow caller: %+v; want held by C", res)
	}
	if w.holder(t) != execArn("C") {
		t.Fatalf("lock holds %s, want C", w.holder(t))
	}
	if _, ok := w.ssm.Value(marker); ok {
		t.Fatal("the slow caller's void takeover marker was left behind")
	}
}

// The winner of a takeover died between creating its marker and overwriting
// the lock, and never came back: the next caller takes over its claim.
func TestDeadTakeoverWinnerIsTakenOverInTurn(t *testing.T) {
	w := newWorld()
	w.ssm.Set(params.Lock("c1"), execArn("dead"), t0().Add(-time.Hour))
	w.sfn.SetStatus(execArn("dead"), "FAILED")
	w.ssm.Set(params.Takeover("c1", lock.HolderID(execArn("dead"))), execArn("winner"), t0().Add(-10*time.Minute))

	res, err := w.locker.Acquire(context.Background(), "c1", execArn("next"))
	if err != nil || !res.Acquired {
		t.Fatalf("Acquire = %+v, %v", res, err)
	}
	if w.holder(t) != execArn("next") {
		t.Fatalf("lock holds %s", w.holder(t))
	}

	// While the winner is within its grace period it is respected.
	w2 := newWorld()
	w2.ssm.Set(params.Lock("c1"), execArn("dead"), t0().Add(-time.Hour))
	w2.sfn.SetStatus(execArn("dead"), "FAILED")
	w2.ssm.Set(params.Takeover("c1", lock.HolderID(execArn("dead"))), execArn("winner"), t0().Add(-time.Minute))
	res, err = w2.locker.Acquire(context.Background(), "c1", execArn("next"))
	if err != nil || res.Acquired || res.Holder != execArn("winner") || res.HolderStatus != lock.StatusStarting {
		t.Fatalf("Acquire = %+v, %v; want held by the winner (STARTING)", res, err)
	}
}

func TestTakeOverARunningHolder(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.locker.Acquire(ctx, "c1", execArn("reg"))
	w.sfn.SetStatus(execArn("reg"), sfntypes.ExecutionStatusAborted) // the trigger just stopped it
	dereg := "arn:aws:states:eu-west-1:123456789012:execution:Deregistration:d"
	res, err := w.locker.TakeOver(ctx, "c1", execArn("reg"), dereg)
	if err != nil || !res.Acquired || res.TookOver != execArn("reg") {
		t.Fatalf("TakeOver = %+v, %v", res, err)
	}
	// A redelivered deregistration event acquires again.
	if res, err := w.locker.Acquire(ctx, "c1", dereg); err != nil || !res.Acquired {
		t.Fatalf("Acquire after TakeOver = %+v, %v", res, err)
	}
}

func TestRelease(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	w.ssm.Set(params.Lock("c1"), execArn("dead"), t0().Add(-time.Hour))
	w.sfn.SetStatus(execArn("dead"), "FAILED")
	w.ssm.Set(params.Intent("c1"), "keep me", t0())
	for i := range 13 { // more than one DeleteParameters batch and one page
		w.ssm.Set(params.Takeover("c1", fmt.Sprint("old", i)), "x", t0())
	}
	w.ssm.Set(params.Takeover("c2", "other"), "x", t0())
	if res, err := w.locker.Acquire(ctx, "c1", execArn("a")); err != nil || !res.Acquired {
		t.Fatalf("Acquire = %+v, %v", res, err)
	}

	// Another execution's Release leaves the lock alone.
	if err := lock.Release(ctx, w.ssm, params, "c1", execArn("zombie")); err != nil {
		t.Fatal(err)
	}
	if w.holder(t) != execArn("a") {
		t.Fatal("a foreign Release removed the lock")
	}

	for range 2 { // idempotent
		if err := lock.Release(ctx, w.ssm, params, "c1", execArn("a")); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range w.ssm.Names() {
		if (strings.HasPrefix(n, params.LockPath("c1")+"/") || strings.HasPrefix(n, params.ClusterPath("c1")+"/")) && n != params.Intent("c1") {
			t.Errorf("left behind: %s", n)
		}
	}
	if _, ok := w.ssm.Value(params.Takeover("c2", "other")); !ok {
		t.Error("another cluster's marker was deleted")
	}
	if _, ok := w.ssm.Value(params.Intent("c1")); !ok {
		t.Error("Release deleted a parameter that is not the lock's")
	}
	// Free again.
	if res, err := w.locker.Acquire(ctx, "c1", execArn("b")); err != nil || !res.Acquired || res.TookOver != "" {
		t.Fatalf("Acquire after Release = %+v, %v", res, err)
	}
}

// A superseded marker outlives the deregistration's Release (the superseded
// trigger may be retried after it), and is collected by a later Release once
// a write in the lock folder is more than SupersededTTL newer than it. Every
// time here is the world's (SSM's) clock.
func TestSupersededMarker(t *testing.T) {
	w := newWorld()
	ctx := context.Background()
	reg, dereg := execArn("register-never-started"), execArn("deregister")
	if by, err := lock.SupersededBy(ctx, w.ssm, params, "c1", reg); err != nil || by != "" {
		t.Fatalf("SupersededBy before any marker = %q, %v", by, err)
	}
	// The deregistration takes the lock over, then marks the registration.
	w.ssm.Set(params.Lock("c1"), dereg, w.now)
	w.now = w.now.Add(time.Second)
	if err := lock.MarkSuperseded(ctx, w.ssm, params, "c1", reg, dereg); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(10 * time.Minute)
	if err := lock.Release(ctx, w.ssm, params, "c1", dereg); err != nil {
		t.Fatal(err)
	}
	if by, err := lock.SupersededBy(ctx, w.ssm, params, "c1", reg); err != nil || by != dereg {
		t.Fatalf("SupersededBy after Release = %q, %v; want the deregistration", by, err)
	}
	if by, _ := lock.SupersededBy(ctx, w.ssm, params, "c1", execArn("another")); by != "" {
		t.Fatalf("another execution reads as superseded by %q", by)
	}
}

// The collection rule, on the world's clock in both directions: a later
// execution's lock taken just within SupersededTTL of the marker keeps it; one
// taken just past it collects it. How far the function's own clock is from
// the world's does not matter: the rule reads no clock of its own.
func TestSupersededMarkerCollection(t *testing.T) {
	reg, dereg, later := execArn("register-never-started"), execArn("deregister"), execArn("later")
	for _, tc := range []struct {
		name      string
		lockAfter time.Duration // the later execution's lock, after the marker
		kept      bool
	}{
		{"a lock taken an hour later keeps it", time.Hour, true},
		{"a lock taken just within the TTL keeps it", lock.SupersededTTL, true},
		{"a lock taken just past the TTL collects it", lock.SupersededTTL + time.Second, false},
		{"a lock taken ten days later collects it", 10 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			ctx := context.Background()
			marker := params.Superseded("c1", lock.HolderID(reg))
			if err := lock.MarkSuperseded(ctx, w.ssm, params, "c1", reg, dereg); err != nil {
				t.Fatal(err)
			}
			w.now = w.now.Add(tc.lockAfter)
			if res, err := w.locker.Acquire(ctx, "c1", later); err != nil || !res.Acquired {
				t.Fatalf("Acquire = %+v, %v", res, err)
			}
			w.now = w.now.Add(5 * time.Minute)
			if err := lock.Release(ctx, w.ssm, params, "c1", later); err != nil {
				t.Fatal(err)
			}
			if _, ok := w.ssm.Value(marker); ok != tc.kept {
				t.Fatalf("marker kept = %v, want %v", ok, tc.kept)
			}
			if _, ok := w.ssm.Value(params.Lock("c1")); ok {
				t.Fatal("the lock was not released")
			}
		})
	}
	// A newer marker in the folder is a later write too: releasing a lock
	// that is already gone still collects a marker a day older than it.
	t.Run("a newer marker collects an old one", func(t *testing.T) {
		w := newWorld()
		ctx := context.Background()
		old := params.Superseded("c1", lock.HolderID(reg))
		lock.MarkSuperseded(ctx, w.ssm, params, "c1", reg, dereg)
		w.now = w.now.Add(lock.SupersededTTL + time.Minute)
		lock.MarkSuperseded(ctx, w.ssm, params, "c1", execArn("register-2"), dereg)
		if err := lock.Release(ctx, w.ssm, params, "c1", dereg); err != nil {
			t.Fatal(err)
		}
		if _, ok := w.ssm.Value(old); ok {
			t.Fatal("the old marker was kept")
		}
		if by, _ := lock.SupersededBy(ctx, w.ssm, params, "c1", execArn("register-2")); by != dereg {
			t.Fatal("the new marker was collected")
		}
	})
}
