package clock

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// StartEnv names the environment variable that sets where a virtual clock
// starts when the caller does not pin it: `make test` runs the date-sensitive
// packages with it set to the real now, ten years ahead and a year back, so a
// test that passes on one date and fails on another shows up.
//
// Its value is empty or "now" (the real current time), an RFC 3339 time, or
// an offset from the real now: a sign, a number and a unit, one of y (365
// days), d (24 hours), h, m, s, for example "+10y" or "-1y".
//
// Read it inside a test (clock.MustStart in a test function, or through
// sync.OnceValue), never at package init: go test's cache records only the
// environment a running test reads, so a value read at init would let a run
// at another date pass from the cache without running.
const StartEnv = "LOCALCLOUD_START"

// Start is where a virtual clock starts: the time StartEnv gives, or the real
// current time. It is truncated to the second, as AWS's timestamps often are,
// so a world started twice from the same value starts at the same instant.
func Start() (time.Time, error) {
	return ParseStart(os.Getenv(StartEnv), time.Now())
}

// MustStart is Start for tests and tools: a malformed StartEnv is a
// programming error there, reported by a panic naming the variable.
func MustStart() time.Time {
	t, err := Start()
	if err != nil {
		panic(err)
	}
	return t
}

// ParseStart reads a StartEnv value relative to now.
func ParseStart(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "now" {
		return now.UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	bad := fmt.Errorf("%s=%q: want \"now\", an RFC 3339 time (2030-01-02T15:04:05Z) or an offset from now such as +10y, -1y, +36h, -30d", StartEnv, v)
	if len(v) < 3 || (v[0] != '+' && v[0] != '-') {
		return time.Time{}, bad
	}
	n, err := strconv.Atoi(v[1 : len(v)-1])
	if err != nil || n < 0 {
		return time.Time{}, bad
	}
	units := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	unit, ok := units[v[len(v)-1]]
	if !ok {
		return time.Time{}, bad
	}
	d := time.Duration(n) * unit
	if v[0] == '-' {
		d = -d
	}
	return now.UTC().Truncate(time.Second).Add(d), nil
}
