package awsproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// RecordEnv names the file every router of the process appends its answers
// to, one JSON line each: service, operation, status, the request's method,
// path and body, and the response body. scripts/record-compare.py
// normalises what is random or time-dependent and compares two recordings, the
// evidence that a refactor left the local cloud's conversations as they were.
const RecordEnv = "LOCALCLOUD_RECORD"

var recordPath = os.Getenv(RecordEnv)

var recorder = appender{env: RecordEnv}

// appender appends lines to the file named by the environment variable env,
// opened on first use. One write per line: O_APPEND keeps the lines of
// concurrent test processes whole.
type appender struct {
	env    string
	mu     sync.Mutex
	f      *os.File
	opened bool
}

func (a *appender) writeLine(line []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.opened {
		a.opened = true
		f, err := os.OpenFile(os.Getenv(a.env), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "localcloud: %s: %v\n", a.env, err)
			return
		}
		a.f = f
	}
	if a.f != nil {
		_, _ = a.f.Write(append(line, '\n'))
	}
}

// Record is one recorded answer.
type Record struct {
	Service  string `json:"service"`
	Op       string `json:"op"`
	Status   int    `json:"status"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

// recordRequest reads r's body for the record and puts it back.
func recordRequest(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

func record(c *Call, status int, r *http.Request, req, resp []byte) {
	line, err := json.Marshal(Record{Service: c.Service, Op: c.Op, Status: status,
		Method: r.Method, Path: r.URL.RequestURI(), Request: string(req), Response: string(resp)})
	if err != nil {
		return
	}
	recorder.writeLine(line)
}
