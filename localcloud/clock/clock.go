// Package clock is the local cloud's time source.
//
// The virtual clock lets a 72-hour registration run in seconds. Time only moves
// forward when the whole local cloud is idle: every goroutine that does work for
// the cloud holds a "busy" token (Busy), and gives it up while it sleeps
// (SleepUntil). When no token is held and somebody sleeps, the clock jumps to the
// earliest wake-up time and wakes that sleeper. Work that is handed to another
// goroutine must take its token before the hand-off returns (Go), so there is no
// gap in which the cloud looks idle but is not.
package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Clock is what the local cloud's services, the ASL engine and the agent
// simulator use instead of the time package.
type Clock interface {
	// Now is the current (virtual or real) time.
	Now() time.Time
	// SleepUntil blocks until Now() >= t or ctx is done. A busy caller gives up
	// its token while it sleeps and takes it back before it returns.
	SleepUntil(ctx context.Context, t time.Time) error
	// Busy marks the calling goroutine as doing work; call the returned func
	// when the work ends. While any work is in progress a virtual clock does
	// not advance.
	Busy() (done func())
	// Go runs f on a new goroutine that holds a busy token from before Go
	// returns until f returns.
	Go(f func())
}

// Sleep is SleepUntil(Now()+d).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	return c.SleepUntil(ctx, c.Now().Add(d))
}

// Real is wall-clock time, for `serve` in real-time mode.
type Real struct{}

func (Real) Now() time.Time { return time.Now().UTC() }
func (Real) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (Real) Busy() func() { return func() {} }
func (Real) Go(f func())  { go f() }

// Virtual is a discrete-event clock. The zero value is not usable; use NewVirtual.
type Virtual struct {
	mu       sync.Mutex
	now      time.Time
	busy     int
	sleepers sleeperHeap
	seq      uint64
	skipped  time.Duration
	onJump   func(from, to time.Time)
}

// NewVirtual starts virtual time at start.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{now: start.UTC()}
}

// OnJump registers a callback run (without the lock) each time the clock skips
// ahead; `make run` uses it to print "waits skipped".
func (v *Virtual) OnJump(f func(from, to time.Time)) {
	v.mu.Lock()
	v.onJump = f
	v.mu.Unlock()
}

func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Skipped is the total virtual time the clock jumped over.
func (v *Virtual) Skipped() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.skipped
}

// Advance moves time forward by d at once (a test's "and then a day passes").
// Sleepers whose time has come are woken.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	v.now = v.now.Add(d)
	v.wakeDueLocked()
	v.mu.Unlock()
}

func (v *Virtual) Busy() func() {
	v.mu.Lock()
	v.busy++
	v.mu.Unlock()
	var once sync.Once
	return func() { once.Do(v.release) }
}

func (v *Virtual) release() {
	v.mu.Lock()
	v.busy--
	if v.busy < 0 {
		panic("clock: busy count below zero")
	}
	f, from, to := v.maybeJumpLocked()
	v.mu.Unlock()
	if f != nil {
		f(from, to)
	}
}

func (v *Virtual) Go(f func()) {
	done := v.Busy()
	go func() {
		defer done()
		f()
	}()
}

func (v *Virtual) SleepUntil(ctx context.Context, t time.Time) error {
	v.mu.Lock()
	if !t.After(v.now) {
		v.mu.Unlock()
		return ctx.Err()
	}
	s := &sleeper{at: t, wake: make(chan struct{}), seq: v.seq}
	v.seq++
	heap.Push(&v.sleepers, s)
	// The sleeper holds a token only if it was busy; a goroutine that was not
	// counted (a test's own goroutine) must not push the count below zero, so
	// callers outside the cloud use Sleep on an idle clock with care.
	held := v.busy > 0
	if held {
		v.busy--
	}
	s.held = held
	f, from, to := v.maybeJumpLocked()
	v.mu.Unlock()
	if f != nil {
		f(from, to)
	}
	select {
	case <-s.wake:
		// wakeDueLocked re-took our token before closing the channel.
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		if s.index >= 0 {
			heap.Remove(&v.sleepers, s.index)
			if s.held {
				v.busy++
			}
		}
		v.mu.Unlock()
		select {
		case <-s.wake: // woken concurrently: token already re-taken
		default:
		}
		return ctx.Err()
	}
}

// maybeJumpLocked advances to the earliest sleeper when nothing is busy.
func (v *Virtual) maybeJumpLocked() (func(from, to time.Time), time.Time, time.Time) {
	if v.busy > 0 || len(v.sleepers) == 0 {
		return nil, time.Time{}, time.Time{}
	}
	from := v.now
	next := v.sleepers[0].at
	if next.After(v.now) {
		v.skipped += next.Sub(v.now)
		v.now = next
	}
	v.wakeDueLocked()
	if v.onJump != nil && v.now.After(from) {
		return v.onJump, from, v.now
	}
	return nil, from, v.now
}

func (v *Virtual) wakeDueLocked() {
	for len(v.sleepers) > 0 && !v.sleepers[0].at.After(v.now) {
		s := heap.Pop(&v.sleepers).(*sleeper)
		// Re-take the token for the sleeper before it runs, so the cloud
		// never looks idle between the wake-up and the sleeper's next step.
		if s.held {
			v.busy++
		}
		close(s.wake)
	}
}

type sleeper struct {
	at    time.Time
	seq   uint64
	wake  chan struct{}
	index int
	held  bool
}

type sleeperHeap []*sleeper

func (h sleeperHeap) Len() int { return len(h) }
func (h sleeperHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h sleeperHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *sleeperHeap) Push(x any) {
	s := x.(*sleeper)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *sleeperHeap) Pop() any {
	old := *h
	n := len(old)
	s := old[n-1]
	old[n-1] = nil
	s.index = -1
	*h = old[:n-1]
	return s
}
