package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// initTimes runs a bootstrap n times with GODEBUG=inittrace=1 (the runtime
// prints each package's init: "init <pkg> @<t> ms, <d> ms clock, ...") and
// returns each package's median init time. The process is stopped once it
// has initialised (no Runtime API answers it).
func initTimes(b *binary, n int) (map[string]time.Duration, error) {
	samples := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		cmd := exec.Command(b.path)
		cmd.Env = append(append([]string(nil), b.env...), "GODEBUG=inittrace=1", "AWS_LAMBDA_RUNTIME_API=127.0.0.1:1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		sc := bufio.NewScanner(&stderr)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			// init <pkg> @<t> ms, <d> ms clock, <n> bytes, <m> allocs
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			ms, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				continue
			}
			samples[f[1]] = append(samples[f[1]], time.Duration(ms*float64(time.Millisecond)))
		}
	}
	out := map[string]time.Duration{}
	for p, xs := range samples {
		out[p] = statsOf(xs).median
	}
	return out, nil
}

// beyondFloor lists the packages the function initialises and its floor does
// not, largest init first, and their total init time. (Packages both have
// differ only by noise.)
func beyondFloor(fn, floor map[string]time.Duration, top int) (string, time.Duration) {
	type d struct {
		pkg string
		t   time.Duration
	}
	var ds []d
	var total time.Duration
	for p, t := range fn {
		if _, ok := floor[p]; !ok {
			total += t
			if t >= 50*time.Microsecond {
				ds = append(ds, d{p, t})
			}
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].t > ds[j].t })
	var parts []string
	for _, x := range ds[:min(top, len(ds))] {
		parts = append(parts, fmt.Sprintf("%s %s", strings.TrimPrefix(x.pkg, "github.com/"), ms(x.t)))
	}
	if len(parts) == 0 {
		return "none of 0.05 ms or more", total
	}
	return strings.Join(parts, "; "), total
}
