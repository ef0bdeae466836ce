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
	SigV4Name string // the credential-scope name the router dispatches on, e.g. ssm
	Prefix    string // e.g. AmazonSSM
	Version   string // "1.0" or "1.1"
	Namespace string // the Smithy namespace of __type, e.g. com.amazonaws.ssm
	Ops       map[string]JSONHandler[S]
	// Unknown builds the service's answer to an operation it does not serve.
	Unknown func(target string) *Error
}

// WriteError writes an error in the service's shape.
func (js *JSONService[S]) WriteError(w http.ResponseWriter, _ *Call, e *Error) {
	WriteJSONError(w, js.Version, js.Namespace, e)
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

// JSONServer serves a JSONService from its store: it is the Service of a
// JSON-protocol service package, which embeds it in its own Service type.
type JSONServer[S any] struct {
	API   *JSONService[S]
	Store S
}

// SigV4Name implements Service.
func (sv JSONServer[S]) SigV4Name() string { return sv.API.SigV4Name }

// ServeAWS implements Service.
func (sv JSONServer[S]) ServeAWS(w http.ResponseWriter, r *http.Request, c *Call) {
	sv.API.Serve(w, r, c, sv.Store)
}

// WriteError implements Service.
func (sv JSONServer[S]) WriteError(w http.ResponseWriter, c *Call, e *Error) {
	sv.API.WriteError(w, c, e)
}

// UnknownOperation is the usual answer to an operation a service does not serve.
func UnknownOperation(target string) *Error {
	return &Error{Code: "UnknownOperationException", Status: 400, Message: fmt.Sprintf("Unknown operation %s", target)}
}
