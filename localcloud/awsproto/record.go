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

var recorder = struct {
	sync.Mutex
	f      *os.File
	opened bool
}{}

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
	recorder.Lock()
	defer recorder.Unlock()
	if !recorder.opened {
		recorder.opened = true
		f, err := os.OpenFile(recordPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "localcloud: %s: %v\n", RecordEnv, err)
			return
		}
		recorder.f = f
	}
	if recorder.f != nil {
		// One write per line: O_APPEND keeps concurrent processes' lines whole.
		_, _ = recorder.f.Write(append(line, '\n'))
	}
}
