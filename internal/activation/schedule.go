package activation

import "time"

// The poll schedule: the one place that decides how long the state machine
// waits between activation checks. The targets (measured by the benchmark):
//   - an agent that connects in the first 10 minutes is seen within 30 s,
//     including the check's own run time;
//   - later, within 10 % of the elapsed time, and never later than 30 min;
//   - at most 600 state transitions for an agent that never connects in 72 h
//     (a Wait→Task→Choice round is 3 transitions);
//   - the last check happens at the deadline.
const (
	// FastPhase is how long the schedule polls at FastInterval.
	FastPhase = 10 * time.Minute
	// FastInterval leaves 2 s of the 30 s target for the check to run.
	FastInterval = 28 * time.Second
	// SlowFraction of the elapsed time is the interval after FastPhase.
	SlowFraction = 10
	// MaxInterval caps the interval.
	MaxInterval = 30 * time.Minute
)

// Deadline is the effective deadline: the earlier of the requested timeout
// (counted from the execution's start) and the activation's expiry, both
// service timestamps. It is truncated to the second, the Wait state's
// resolution, so that the check the Wait releases at the deadline sees it
// reached.
func Deadline(executionStart time.Time, timeout time.Duration, activationExpiry time.Time) time.Time {
	d := executionStart.Add(timeout)
	if !activationExpiry.IsZero() && activationExpiry.Before(d) {
		d = activationExpiry
	}
	return d.UTC().Truncate(time.Second)
}

// Interval is the wait after a check made elapsed after the execution started.
func Interval(elapsed time.Duration) time.Duration {
	if elapsed < FastPhase {
		return FastInterval
	}
	i := elapsed / SlowFraction
	if i < FastInterval {
		return FastInterval
	}
	return min(i, MaxInterval)
}

// Next is when to check again after a check at now; reached reports that now
// is at or past the deadline (no further check: compensate). Next is never
// after the deadline, so the last check happens at it.
func Next(executionStart, now, deadline time.Time) (next time.Time, reached bool) {
	if !now.Before(deadline) {
		return deadline, true
	}
	next = now.Add(Interval(now.Sub(executionStart))).UTC().Truncate(time.Second)
	if next.After(deadline) {
		next = deadline
	}
	return next, false
}
