package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/platform/eks-connector-registrar/internal/lambdamain"
	"github.com/platform/eks-connector-registrar/localcloud/app"
	"github.com/platform/eks-connector-registrar/localcloud/lambda"
)

type logging struct{ base func(ctx context.Context) }

func (h logging) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	h.base(ctx)
	return []byte("{}"), nil
}

// A function run in process logs every line with its invocation's request
// id, as in Lambda.
func TestInProcessLinesCarryTheRequestID(t *testing.T) {
	var out bytes.Buffer
	base := app.FunctionLogger(&out, "trigger")
	run := lambda.InProcess{FunctionName: "f", Handler: logging{base: func(ctx context.Context) {
		log := lambdamain.Logger(ctx, base).With("cluster", "c1")
		log.Info("one")
		log.Warn("two")
	}}}
	for range 2 {
		if _, err := run.Run(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	ids := map[string]int{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		id, _ := rec["requestId"].(string)
		if id == "" || rec["function"] != "trigger" {
			t.Errorf("line without requestId or function: %s", l)
		}
		ids[id]++
	}
	if len(lines) != 4 || len(ids) != 2 {
		t.Errorf("want 4 lines of 2 invocations, got %d lines, ids %v", len(lines), ids)
	}
}
