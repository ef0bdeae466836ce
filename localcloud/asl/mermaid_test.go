package asl

import (
	"strings"
	"testing"
)

func TestMermaid(t *testing.T) {
	def := `{
	  "StartAt": "Check",
	  "States": {
	    "Check": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:check", "TimeoutSeconds": 30,
	      "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 4, "IntervalSeconds": 2, "BackoffRate": 1.5, "MaxDelaySeconds": 20, "JitterStrategy": "FULL"},
	                {"ErrorEquals": ["States.Timeout"]}],
	      "Catch": [{"ErrorEquals": ["Gone", "Lost"], "Next": "Failed"}, {"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
	      "Next": "Route"},
	    "Route": {"Type": "Choice",
	      "Choices": [
	        {"Variable": "$.status", "StringEquals": "ACTIVE", "Next": "Done"},
	        {"And": [{"Variable": "$.n", "IsPresent": true}, {"Variable": "$.n", "NumericGreaterThanEquals": 5}], "Next": "Failed"},
	        {"Not": {"Variable": "$.ok", "BooleanEquals": true}, "Next": "Wait 1"}],
	      "Default": "Fan"},
	    "Wait 1": {"Type": "Wait", "TimestampPath": "$.next", "Next": "Check"},
	    "Fan": {"Type": "Parallel", "Branches": [{"StartAt": "end", "States": {"end": {"Type": "Pass", "End": true}}}], "Next": "Done"},
	    "Done": {"Type": "Succeed"},
	    "Failed": {"Type": "Fail", "Error": "Broken", "Cause": "it \"broke\""},
	    "Orphan": {"Type": "Pass", "End": true}
	  }
	}`
	got, err := Mermaid([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	want := `flowchart TD
  start((start)) --> Check
  Check["Check<br/>arn:aws:lambda:us-east-1:123456789012:function:check<br/>timeout 30 s<br/>retry Transient ×4 (2 s, ×1.5, ≤ 20 s, jitter FULL)<br/>retry States.Timeout ×3 (1 s, ×2)"]
  Check --> Route
  Check -.->|"catch Gone, Lost"| Failed
  Check -.->|"catch States.ALL"| Failed
  Route{"Route"}
  Route -->|"$.status = 'ACTIVE'"| Done
  Route -->|"$.n present and $.n ≥ 5"| Failed
  Route -->|"not ($.ok)"| s_576169742031
  Route -->|otherwise| Fan
  Failed(["Failed<br/>fail Broken"])
  Done(["Done"])
  s_576169742031[/"Wait 1<br/>wait timestamp $.next"/]
  s_576169742031 --> Check
  Fan[["Fan"]]
  subgraph Fan_1_graph ["Fan branch 1"]
    Fan_1_start((start)) --> Fan_1_end
    Fan_1_end("end")
  end
  Fan -.- Fan_1_graph
  Fan --> Done
  Orphan("Orphan")
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// A node named "end" (Mermaid's keyword) at the top level gets a safe id.
	if id := nodeID("", "end"); id == "end" || strings.ContainsAny(id, " .") {
		t.Errorf("nodeID(end) = %q", id)
	}
	if _, err := Mermaid([]byte(`{"StartAt": "X", "States": {}}`)); err == nil {
		t.Error("a StartAt naming no state was rendered")
	}
	if _, err := Mermaid([]byte(`{"StartAt": "X", "States": {"X": {"Type": "Dance"}}}`)); err == nil {
		t.Error("an unknown state type was rendered")
	}
}
