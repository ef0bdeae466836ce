// Package logtest captures what Lambda's own log handler
// (lambdacontext.NewLogHandler, which writes to os.Stdout) writes, so tests
// can check every line of an invocation carries its request id.
package logtest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

var stdoutMu sync.Mutex

// Capture is the real lambdacontext.NewLogHandler, writing into a pipe
// instead of the process's stdout.
type Capture struct {
	Logger *slog.Logger
	w      *os.File
	done   chan struct{}
	buf    bytes.Buffer
}

// New builds a Capture; Lines ends it.
func New(t *testing.T) *Capture {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutMu.Lock()
	old := os.Stdout
	os.Stdout = w // NewLogHandler takes os.Stdout when it is built
	h := lambdacontext.NewLogHandler()
	os.Stdout = old
	stdoutMu.Unlock()
	c := &Capture{Logger: slog.New(h), w: w, done: make(chan struct{})}
	go func() {
		_, _ = io.Copy(&c.buf, r)
		close(c.done)
	}()
	t.Cleanup(func() { _ = w.Close() })
	return c
}

// Lines closes the capture and returns the lines written.
func (c *Capture) Lines() []string {
	_ = c.w.Close()
	<-c.done
	s := strings.TrimSpace(c.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Invocation is a context as the Lambda runtime gives a handler.
func Invocation(requestID string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
}

// AssertEveryLineHas fails t unless lines is not empty and every line
// carries requestId=<id> (text) or "requestId":"<id>" (JSON).
func AssertEveryLineHas(t *testing.T, lines []string, id string) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("nothing was logged")
	}
	for _, l := range lines {
		if !strings.Contains(l, "requestId="+id) && !strings.Contains(l, `"requestId":"`+id+`"`) {
			t.Errorf("log line without requestId %s: %s", id, l)
		}
	}
}
