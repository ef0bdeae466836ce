package clock

import (
	"strings"
	"testing"
	"time"
)

func TestParseStart(t *testing.T) {
	now := time.Date(2031, 7, 4, 12, 30, 15, 999, time.FixedZone("x", 3600))
	base := time.Date(2031, 7, 4, 11, 30, 15, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", base},
		{"now", base},
		{"+10y", base.Add(10 * 365 * 24 * time.Hour)},
		{"-1y", base.Add(-365 * 24 * time.Hour)},
		{"+36h", base.Add(36 * time.Hour)},
		{"-30d", base.Add(-30 * 24 * time.Hour)},
		{"+90m", base.Add(90 * time.Minute)},
		{"-5s", base.Add(-5 * time.Second)},
		{"2020-02-29T23:59:59Z", time.Date(2020, 2, 29, 23, 59, 59, 0, time.UTC)},
	} {
		got, err := ParseStart(tc.in, now)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseStart(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"tomorrow", "10y", "+y", "+-1y", "+1w", "+1.5y", "2020-02-30T00:00:00Z"} {
		if _, err := ParseStart(in, now); err == nil || !strings.Contains(err.Error(), StartEnv) {
			t.Errorf("ParseStart(%q) = %v; want an error naming %s", in, err, StartEnv)
		}
	}
}
