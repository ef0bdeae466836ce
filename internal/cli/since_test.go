package cli

import (
	"testing"
	"time"
)

func TestSince(t *testing.T) {
	now := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-2*time.Hour - 5*time.Minute), "2h05m ago"},
		{now, "0s ago"},
		// The service's clock ahead of the operator's: no negative "ago".
		{now.Add(6*time.Minute + 49*time.Second), "at 2026-12-06T04:06:49Z"},
	} {
		if got := since(now, tc.t); got != tc.want {
			t.Errorf("since(%s) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
