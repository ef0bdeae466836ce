package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/platform/eks-connector-registrar/localcloud"
	"github.com/platform/eks-connector-registrar/localcloud/agent"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/sfn"
)

// run is one registration on the virtual clock: what it cost and when it saw
// the agent.
type run struct {
	Status        string
	Error         string
	Elapsed       time.Duration // execution start to stop, virtual
	Connected     time.Duration // execution start to the agent's first managed instance (0: never)
	Detected      time.Duration // execution start to entering CompleteRegistration (0: never)
	Transitions   int
	History       int
	Invocations   int // LambdaFunctionScheduled
	FailedInvokes int // LambdaFunctionFailed / TimedOut / StartFailed
	Calls         map[string]int
	LastState     string   // the state the execution was in when it ended
	Left          []string // what the registration left behind, once the cloud settled
}

// registerOnce starts a fresh local cloud (template.yaml, or the template at
// templatePath), sends one Register Cluster event and waits for the
// registration's execution to end. Every AWS call the product makes (the
// trigger, the steps, the state machine's own) is counted by operation; the
// operator's event and the simulated agent's calls are not.
func registerOnce(templatePath string, ag agent.Config, timeoutMinutes int) (run, error) {
	c, err := app.Start(localcloud.Options{Template: templatePath, Agent: ag}, io.Discard)
	if err != nil {
		return run{}, err
	}
	defer c.Close()
	var mu sync.Mutex
	calls := map[string]int{}
	c.Router.OnCall = func(call *awsproto.Call, status int) {
		if call.Principal != nil && (call.Principal.Name == "operator" || call.Principal.Name == "admin") {
			return
		}
		mu.Lock()
		calls[call.Service+":"+call.Op]++
		mu.Unlock()
	}
	detail, _ := json.Marshal(map[string]any{"clusterName": "bench-1", "provider": "OTHER", "activationTimeoutMinutes": timeoutMinutes})
	eb := eventbridge.NewFromConfig(c.ConfigFor("operator"))
	if _, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String("eks-connector-registrar"), DetailType: aws.String("Register Cluster"), Detail: aws.String(string(detail)),
	}}}); err != nil {
		return run{}, err
	}
	var ex *sfn.Execution
	for deadline := time.Now().Add(time.Minute); ex == nil; {
		for _, x := range c.SFN.Executions() {
			if strings.Contains(x.StateMachineArn, "Registration") && !strings.Contains(x.StateMachineArn, "Deregistration") {
				ex = x
			}
		}
		if time.Now().After(deadline) {
			return run{}, fmt.Errorf("no registration execution started")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-ex.Engine().Done():
	case <-time.After(10 * time.Minute):
		return run{}, fmt.Errorf("the registration did not end within 10 minutes of real time")
	}
	e := ex.Engine()
	r := run{Status: ex.Status(), Elapsed: e.StopDate().Sub(e.StartDate()), Transitions: e.StateTransitions()}
	r.Error, _ = e.Error()
	h := e.History()
	r.History = len(h)
	for _, ev := range h {
		switch ev.Type {
		case "LambdaFunctionScheduled":
			r.Invocations++
		case "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed":
			r.FailedInvokes++
		}
		if strings.HasSuffix(ev.Type, "StateEntered") {
			name, _ := ev.Details["name"].(string)
			r.LastState = name
			if name == "CompleteRegistration" && r.Detected == 0 {
				r.Detected = ev.Timestamp.Sub(e.StartDate())
			}
		}
	}
	for _, rec := range c.Agent.Log() {
		if rec.Err == nil && strings.HasPrefix(rec.What, "replica") {
			r.Connected = rec.Time.Sub(e.StartDate())
			break
		}
	}
	// What reacts to the end (the execution status-change rule's cleanup)
	// runs, and a deregistered cluster stops showing DELETING.
	for i := 0; i < 3; i++ {
		time.Sleep(100 * time.Millisecond)
		c.Virtual.Advance(5 * time.Minute)
	}
	for _, n := range c.EKS.ClusterNames() {
		if st, _ := c.EKS.ClusterStatus(n); st != "ACTIVE" {
			r.Left = append(r.Left, "cluster "+n+" ("+st+")")
		}
	}
	for _, id := range c.SSM.ActivationIDs() {
		r.Left = append(r.Left, "activation "+id)
	}
	for _, n := range c.SSM.ParameterNames() {
		r.Left = append(r.Left, "parameter "+n)
	}
	mu.Lock()
	r.Calls = calls
	mu.Unlock()
	return r, nil
}

// callsText is "service:Op n, ..." by count, then name.
func callsText(calls map[string]int) string {
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if calls[keys[i]] != calls[keys[j]] {
			return calls[keys[i]] > calls[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, calls[k])
	}
	return strings.Join(parts, ", ")
}

func totalCalls(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// naiveTemplate writes a copy of template.yaml and statemachine/ into dir in
// which the registration polls every 8 s (the interval eksctl's own
// connected-cluster test uses) instead of on the product's schedule: the
// WaitForNextCheck state becomes {"Seconds": 8}. Nothing else changes, so the
// difference in cost is the schedule's alone.
func naiveTemplate(root, dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "statemachine", "registration.asl.json"))
	if err != nil {
		return "", err
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		return "", err
	}
	states, _ := def["States"].(map[string]any)
	w, ok := states["WaitForNextCheck"].(map[string]any)
	if !ok {
		return "", fmt.Errorf("statemachine/registration.asl.json has no WaitForNextCheck state: the naive baseline replaces it")
	}
	states["WaitForNextCheck"] = map[string]any{"Type": "Wait", "Seconds": 8, "Next": w["Next"],
		"Comment": "benchmark only: the naive fixed 8 s poll"}
	naive, err := json.MarshalIndent(def, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "statemachine"), 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(filepath.Join(root, "statemachine"))
	if err != nil {
		return "", err
	}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(root, "statemachine", en.Name()))
		if err != nil {
			return "", err
		}
		if en.Name() == "registration.asl.json" {
			b = naive
		}
		if err := os.WriteFile(filepath.Join(dir, "statemachine", en.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	tpl, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "template.yaml")
	return p, os.WriteFile(p, tpl, 0o644)
}
