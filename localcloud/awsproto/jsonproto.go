package awsproto

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// JSONHandler is one operation of a JSON-protocol service: it gets the
// decoded call and the raw request body, and returns the response shape.
type JSONHandler[S any] func(s S, c *Call, body []byte) (any, *Error)

// JSONService describes a JSON 1.0/1.1 service (X-Amz-Target "<Prefix>.<Op>").
type JSONService[S any] struct {
	Prefix  string // e.g. AmazonSSM
	Version string // "1.0" or "1.1"
	Ops     map[string]JSONHandler[S]
	// Unknown builds the service's answer to an operation it does not serve.
	Unknown func(target string) *Error
	// WriteError writes an error in the service's shape.
	WriteError func(w http.ResponseWriter, c *Call, e *Error)
}

// Serve dispatches one request: the operation from X-Amz-Target, injected
// faults (Call.Begin), the body ("{}" when empty), the handler, the answer.
func (js *JSONService[S]) Serve(w http.ResponseWriter, r *http.Request, c *Call, s S) {
	prefix, op := Target(r)
	h, ok := js.Ops[op]
	if r.Method != http.MethodPost || prefix != js.Prefix || !ok {
		js.WriteError(w, c, js.Unknown(r.Header.Get("X-Amz-Target")))
		return
	}
	if e := c.Begin(op); e != nil {
		js.WriteError(w, c, e)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		js.WriteError(w, c, &Error{Code: "SerializationException", Status: 400, Message: err.Error()})
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	out, e := h(s, c, body)
	if e != nil {
		js.WriteError(w, c, e)
		return
	}
	WriteJSON(w, js.Version, out)
}

// UnknownOperation is the usual answer to an operation a service does not serve.
func UnknownOperation(target string) *Error {
	return &Error{Code: "UnknownOperationException", Status: 400, Message: fmt.Sprintf("Unknown operation %s", target)}
}
