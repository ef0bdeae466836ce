package asl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// An invoker that panics is a bug of the emulation, not an outcome of the
// task: the execution fails with States.Runtime (which no Catch handles)
// naming the panic, and the process lives on, whether the attempt runs
// inline or raced against TimeoutSeconds on its own goroutine.
func TestAPanickingInvokerFailsTheExecution(t *testing.T) {
	for _, timeout := range []string{``, `"TimeoutSeconds":30,`} {
		def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",` + timeout + `
			"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}}`
		e, _, _ := run(t, def, `{}`, func(context.Context, TaskRequest, int) (json.RawMessage, error) {
			var cfg func() string
			return json.RawMessage(cfg()), nil // a nil func: what a store without a client config did
		})
		cause := failed(t, e, ErrRuntime)
		if !strings.Contains(cause, "the task invoker panicked on state 'T'") || !strings.Contains(cause, "nil pointer") {
			t.Errorf("timeout %q: cause %q, want the panic named", timeout, cause)
		}
		if types := strings.Join(eventTypes(e.History()), ","); !strings.Contains(types, "TaskFailed") {
			t.Errorf("timeout %q: history %s has no TaskFailed", timeout, types)
		}
	}
}
