package e2e

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// manyResult is what one many-clusters run measured.
type manyResult struct {
	clusters, registered, quotaFailed, contended int
	calls                                        int64
	wall                                         time.Duration
}

// runMany registers n different clusters at the same virtual instant, with
// the registered-clusters quota at quota, their agents installing at
// spread virtual times (1 to about 25 minutes after Activation Ready), and
// waits for every execution to end.
func runMany(t *testing.T, n, quota int) (*env, manyResult) {
	began := time.Now()
	e := start(t, localcloud.Options{ClusterQuota: quota, Agent: agent.Config{Mode: agent.Connects,
		DelayFor: func(cluster string) time.Duration {
			var i int
			fmt.Sscanf(cluster[strings.LastIndex(cluster, "-")+1:], "%d", &i)
			return time.Minute + time.Duration(i*37%1440)*time.Second
		}}})
	var calls atomic.Int64
	e.onCall(func(*awsproto.Call, int) { calls.Add(1) })
	eb := eventbridge.NewFromConfig(e.c.ConfigFor("operator"))
	release := e.freeze() // every event at the same virtual instant
	for i := 0; i < n; i += 10 {
		var entries []ebtypes.PutEventsRequestEntry
		for j := i; j < min(i+10, n); j++ {
			entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String("eks-connector-registrar"),
				DetailType: aws.String("Register Cluster"),
				Detail:     aws.String(fmt.Sprintf(`{"clusterName":"many-%03d","provider":"OTHER","activationTimeoutMinutes":60}`, j))})
		}
		out, err := eb.PutEvents(e.ctx(), &eventbridge.PutEventsInput{Entries: entries})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("PutEvents: %v (%d failed)", err, out.FailedEntryCount)
		}
	}
	release()
	for i := 1; i <= n; i++ {
		e.waitExecution("Registration", i)
	}
	e.settle()
	r := manyResult{clusters: n, calls: calls.Load(), wall: time.Since(began)}
	for _, ex := range e.executions("Registration") {
		if ex.Status() == "SUCCEEDED" {
			r.registered++
		} else if name, _ := ex.Engine().Error(); name == "RegisteredClustersQuotaExceeded" {
			r.quotaFailed++
		}
	}
	// No lock contention between clusters: every trigger started its
	// execution at once; none was told another held the lock, none retried.
	r.contended = len(e.logLines("trigger", "already in progress")) + len(e.logLines("trigger", "took the lock first"))
	for _, inv := range e.c.Lambda.Log() {
		if strings.Contains(inv.Function, "Trigger") && (inv.ErrorType != "" || inv.Attempt > 1) {
			r.contended++
		}
	}
	return e, r
}

// 100 different clusters at once (`make reliability`; 30 in `make test`),
// quota raised: all registered, no lock contention, nothing left but the
// connected clusters (the end checks).
func TestHundredClustersRegisterConcurrently(t *testing.T) {
	t.Parallel()
	n := 30
	if fullSweep() {
		n = 100
	}
	e, r := runMany(t, n, 200)
	if got := len(e.logLines("trigger", "started execution")); got != n {
		t.Errorf("%d triggers started their execution, want %d", got, n)
	}
	if r.registered != n || r.contended != 0 {
		t.Errorf("%d of %d registered, %d contended triggers; want %d and 0", r.registered, n, r.contended, n)
	}
	if got := len(e.executions("Registration")); got != n {
		t.Errorf("%d registration executions, want %d", got, n)
	}
	if got := len(e.eventsOf("Cluster Registered")); got != n {
		t.Errorf("%d Cluster Registered events, want %d", got, n)
	}
	e.onEnd(func(leaks int) { recordReliability("manyclusters", n, r.registered, leaks) })
	t.Logf("%d clusters: %s real time, %d AWS calls, %.0f calls/s served", n, r.wall.Round(time.Millisecond), r.calls,
		float64(r.calls)/r.wall.Seconds())
}

// 12 clusters at once with the quota at 10: 10 registered, 2 failed naming
// the quota, nothing left of the 2.
func TestTwelveClustersAgainstAQuotaOfTen(t *testing.T) {
	t.Parallel()
	e, r := runMany(t, 12, 10)
	if r.registered != 10 || r.quotaFailed != 2 {
		t.Errorf("%d registered, %d failed on the quota; want 10 and 2", r.registered, r.quotaFailed)
	}
	quota := 0
	for _, ev := range e.eventsOf("Cluster Registration Failed") {
		d := detailOf(t, ev)
		if reason, _ := d["reason"].(string); d["error"] == "RegisteredClustersQuotaExceeded" && strings.Contains(reason, `"Registered clusters"`) {
			quota++
		}
	}
	if quota != 2 {
		t.Errorf("%d failure events name the \"Registered clusters\" quota, want 2", quota)
	}
	e.onEnd(func(leaks int) { recordReliability("quota", r.clusters, r.registered+quota, leaks) })
}
