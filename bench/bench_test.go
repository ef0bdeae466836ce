package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/app"
)

// The detection targets of issue 12: 30 s in the first 10 minutes, then
// 10 % of the elapsed time, capped at 30 minutes.
func TestDelayTarget(t *testing.T) {
	for at, want := range map[time.Duration]time.Duration{
		30 * time.Second: 30 * time.Second, 10 * time.Minute: 30 * time.Second,
		30 * time.Minute: 3 * time.Minute, 2 * time.Hour: 12 * time.Minute,
		5 * time.Hour: 30 * time.Minute, 71 * time.Hour: 30 * time.Minute,
	} {
		if got := delayTarget(at); got != want {
			t.Errorf("delayTarget(%s) = %s, want %s", at, got, want)
		}
	}
}

// The naive baseline differs from the product's definition in one state
// only, WaitForNextCheck, which waits a fixed 8 s; every other file the
// template references is copied unchanged.
func TestNaiveTemplateChangesOnlyThePollWait(t *testing.T) {
	root := app.RepoRoot()
	dir := t.TempDir()
	tpl, err := naiveTemplate(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) map[string]any {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	orig := read(filepath.Join(root, "statemachine", "registration.asl.json"))
	naive := read(filepath.Join(dir, "statemachine", "registration.asl.json"))
	ps, ns := orig["States"].(map[string]any), naive["States"].(map[string]any)
	if len(ps) != len(ns) {
		t.Fatalf("%d states, the product has %d", len(ns), len(ps))
	}
	for name, st := range ps {
		if name == "WaitForNextCheck" {
			w := ns[name].(map[string]any)
			if w["Seconds"] != float64(8) || w["Next"] != st.(map[string]any)["Next"] || w["TimestampPath"] != nil {
				t.Errorf("WaitForNextCheck = %v, want a fixed 8 s wait to the same next state", w)
			}
			continue
		}
		if !reflect.DeepEqual(st, ns[name]) {
			t.Errorf("state %s differs from the product's", name)
		}
	}
	if _, err := os.Stat(tpl); err != nil {
		t.Fatal(err)
	}
}
