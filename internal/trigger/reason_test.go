package trigger_test

import (
	"context"
	"encoding/json"
	"testing"
)

// The deregistration state machine reads $.reason into "Cluster
// Deregistered"; a JSONPath to a missing field would fail the execution after
// the cluster was deregistered. So the execution input always carries reason:
// the request's, or "" when it gave none.
func TestDeregistrationInputAlwaysCarriesTheReason(t *testing.T) {
	for _, tt := range []struct {
		name, detail, want string
	}{
		{"given", `{"clusterName":"c1","reason":"decommissioned"}`, "decommissioned"},
		{"absent", `{"clusterName":"c1"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			res, err := w.h.Handle(context.Background(), event("ev-d", "Deregister Cluster", tt.detail))
			if err != nil {
				t.Fatal(err)
			}
			var in map[string]any
			if err := json.Unmarshal([]byte(w.sfn.executions()[res.ExecutionArn]), &in); err != nil {
				t.Fatalf("execution input: %v", err)
			}
			if got, ok := in["reason"].(string); !ok || got != tt.want {
				t.Errorf("input %v: reason %q (present: %v), want %q", in, got, ok, tt.want)
			}
		})
	}
}
