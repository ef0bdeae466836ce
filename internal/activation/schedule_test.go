package activation

import (
	"testing"
	"time"
)

var start = time.Date(2025, 3, 1, 10, 0, 0, 123e6, time.UTC)

// runSchedule plays the state machine's loop: a first check at firstAt, then
// Wait(nextCheckAt) → check, each check's Task entered runTime after the Wait
// ends. It returns the times the checks saw (now) until the deadline one.
func runSchedule(firstAt, runTime time.Duration, deadline time.Time) []time.Time {
	var checks []time.Time
	now := start.Add(firstAt)
	for {
		checks = append(checks, now)
		next, reached := Next(start, now, deadline)
		if reached {
			return checks
		}
		if !next.After(now.Truncate(time.Second)) && !next.Equal(deadline) {
			panic("schedule does not advance")
		}
		now = next.Add(runTime)
	}
}

// The registration state machine's transitions besides the poll rounds, for
// an agent that never connects: Init, EnsureRoles, CheckCluster, RouteExisting,
// RegisterCluster, AnnounceActivationReady before; SetTimedOut, Compensate,
// KeptActive?, PublishRegistrationFailed, Fail after.
const overheadNeverConnects = 6 + 5

// ... and for an agent that connects: the same 6 before; CompleteRegistration,
// PublishClusterRegistered, Succeed after.
const overheadConnects = 6 + 3

// transitions: the first check has no Wait before it (Task, Choice); every
// later round is Wait, Task, Choice.
func transitions(checks int, overhead int) int { return overhead + 2 + 3*(checks-1) }

func TestAgentNeverConnectsIn72Hours(t *testing.T) {
	deadline := Deadline(start, 72*time.Hour, start.Add(72*time.Hour+8*time.Second))
	for _, runTime := range []time.Duration{0, 300 * time.Millisecond, 2 * time.Second} {
		checks := runSchedule(10*time.Second, runTime, deadline)
		last := checks[len(checks)-1]
		if last.Before(deadline) || last.Sub(deadline) > runTime+time.Second {
			t.Errorf("last check at %v, deadline %v: the last check must happen at the deadline", last, deadline)
		}
		// 22 checks in the first 10 minutes, ~36 while the interval grows
		// by 10 % a round, 134 at the 30-minute cap, and the one at the
		// deadline: the latency targets alone force about 192 rounds.
		if len(checks) > 193 {
			t.Errorf("run time %v: %d checks in 72 h, want at most 193", runTime, len(checks))
		}
		if n := transitions(len(checks), overheadNeverConnects); n > 600 {
			t.Errorf("run time %v: %d state transitions, want at most 600", runTime, n)
		}
		t.Logf("run time %v: %d checks, %d transitions", runTime, len(checks), transitions(len(checks), overheadNeverConnects))
	}
}

func TestAgentConnectsAtFiveMinutes(t *testing.T) {
	deadline := Deadline(start, 72*time.Hour, start.Add(72*time.Hour))
	checks := runSchedule(10*time.Second, time.Second, deadline)
	n := 0
	for _, c := range checks {
		n++
		if !c.Before(start.Add(5 * time.Minute)) {
			break
		}
	}
	if got := transitions(n, overheadConnects); got > 50 {
		t.Errorf("%d checks, %d transitions to see an agent connecting at 5 min, want at most 50", n, got)
	}
}

// detection is the first check at or after t.
func detection(checks []time.Time, t time.Time) (time.Time, bool) {
	for _, c := range checks {
		if !c.Before(t) {
			return c, true
		}
	}
	return time.Time{}, false
}

func TestLatencyBounds(t *testing.T) {
	const runTime = 1500 * time.Millisecond // the check reads evidence this long after it is entered
	deadline := Deadline(start, 72*time.Hour, start.Add(72*time.Hour))
	checks := runSchedule(10*time.Second, 0, deadline)
	for at := 10 * time.Second; start.Add(at).Before(deadline); at += 7*time.Second + 130*time.Millisecond {
		connect := start.Add(at)
		seen, ok := detection(checks, connect)
		if !ok {
			t.Fatalf("agent connecting at %v is never seen", at)
		}
		latency := seen.Sub(connect) + runTime
		switch {
		case at < FastPhase && latency > 30*time.Second:
			t.Fatalf("agent connecting at %v seen after %v, want ≤ 30 s", at, latency)
		case at >= FastPhase && seen.Sub(connect) > at/10:
			t.Fatalf("agent connecting at %v seen after %v, want ≤ 10 %% of elapsed", at, seen.Sub(connect))
		case latency > 30*time.Minute+runTime:
			t.Fatalf("agent connecting at %v seen after %v, want ≤ 30 min", at, latency)
		}
	}
}

func TestDeadlineIsTheEarlierOfTimeoutAndExpiry(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		expiry  time.Time
		want    time.Time
	}{
		{"timeout first", 30 * time.Minute, start.Add(72 * time.Hour), time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC)},
		{"expiry first", 72 * time.Hour, start.Add(71 * time.Hour).Add(500 * time.Millisecond), time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)},
		{"no expiry known", 5 * time.Minute, time.Time{}, time.Date(2025, 3, 1, 10, 5, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := Deadline(start, tt.timeout, tt.expiry); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNext(t *testing.T) {
	deadline := start.Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name        string
		now         time.Time
		wantNext    time.Time
		wantReached bool
	}{
		{"fast phase", start.Add(time.Minute), start.Add(time.Minute + FastInterval).Truncate(time.Second), false},
		{"10 % after 10 min", start.Add(20 * time.Minute), start.Add(22 * time.Minute).Truncate(time.Second), false},
		{"capped at the deadline", start.Add(59 * time.Minute), deadline, false},
		{"at the deadline", deadline, deadline, true},
		{"past the deadline", deadline.Add(time.Second), deadline, true},
	}
	for _, tt := range tests {
		next, reached := Next(start, tt.now, deadline)
		if !next.Equal(tt.wantNext) || reached != tt.wantReached {
			t.Errorf("%s: Next = %v, %v; want %v, %v", tt.name, next, reached, tt.wantNext, tt.wantReached)
		}
	}
	if Interval(100*time.Hour) != MaxInterval || Interval(0) != FastInterval || Interval(15*time.Minute) != 90*time.Second {
		t.Error("Interval")
	}
}
