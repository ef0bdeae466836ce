// Package awsproto holds what every local-cloud service shares: SigV4 routing,
// the caller's identity, permission checks, fault injection, and the four wire
// protocols' success and error shapes (JSON 1.0/1.1, REST-JSON, Query/XML).
package awsproto

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Error is an AWS error as a service returns it. Code is the error code a
// client matches on (ResourceNotFoundException, NoSuchEntity, …); Status is the
// HTTP status AWS uses for it. Fields are extra members of the error body
// (EKS puts clusterName there, for example).
type Error struct {
	Code    string
	Message string
	Status  int
	// Sender or Receiver, for Query-protocol errors. Empty means Sender for
	// 4xx and Receiver for 5xx.
	Type string
	// QueryCode is the legacy error code SQS sends in x-amzn-query-error.
	QueryCode string
	Fields    map[string]any
	// RetryAfterMillis, when set, is sent as x-amz-retry-after.
	RetryAfterMillis int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) senderOrReceiver() string {
	if e.Type != "" {
		return e.Type
	}
	if e.Status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// UUID is the local cloud's one UUID spelling: b as 8-4-4-4-12 hex digits.
// version4 first marks b a random UUID (version 4, RFC 4122 variant); without
// it the bytes are spelled as they are (request ids, deterministic ids).
func UUID(b [16]byte, version4 bool) string {
	if version4 {
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
	}
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomBytes() (b [16]byte) {
	_, _ = rand.Read(b[:])
	return b
}

// NewRequestID returns an AWS-shaped request id.
func NewRequestID() string { return UUID(randomBytes(), false) }

// NewUUID is a random (version 4) UUID, as AWS gives event ids, message ids
// and activation ids.
func NewUUID() string { return UUID(randomBytes(), true) }

// ---------------------------------------------------------------------------
// SigV4

// Credential is what the Authorization header's credential scope says.
type Credential struct {
	AccessKeyID string
	Date        string
	Region      string
	Service     string
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request,\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$`)

// ParseAuthorization reads a SigV4 Authorization header. Any credentials are
// accepted, but the header must be well-formed, as AWS requires before it
// even looks at the key.
func ParseAuthorization(h string) (Credential, *Error) {
	if h == "" {
		return Credential{}, &Error{Code: "MissingAuthenticationTokenException", Status: 403,
			Message: "Missing Authentication Token"}
	}
	m := authRE.FindStringSubmatch(h)
	if m == nil {
		return Credential{}, &Error{Code: "IncompleteSignatureException", Status: 403,
			Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters in the SigV4 format"}
	}
	return Credential{AccessKeyID: m[1], Date: m[2], Region: m[3], Service: m[4]}, nil
}

// ---------------------------------------------------------------------------
// Writers

// JSON protocol (awsJson1_0 / awsJson1_1): errors carry __type.

// WriteJSON writes a JSON-protocol success body.
func WriteJSON(w http.ResponseWriter, version string, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-"+version)
	w.WriteHeader(http.StatusOK)
	if v == nil {
		v = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(v)
}

// WriteJSONError writes a JSON-protocol error. namespace is the Smithy
// namespace AWS prefixes to __type (for example "com.amazonaws.ssm").
func WriteJSONError(w http.ResponseWriter, version, namespace string, e *Error) {
	body := map[string]any{}
	for k, v := range e.Fields {
		body[k] = v
	}
	body["__type"] = namespace + "#" + e.Code
	body["message"] = e.Message
	w.Header().Set("Content-Type", "application/x-amz-json-"+version)
	if e.QueryCode != "" {
		w.Header().Set("x-amzn-query-error", e.QueryCode+";"+e.senderOrReceiver())
	}
	writeRetryAfter(w, e)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteRESTJSON writes a REST-JSON success body with the given status.
func WriteRESTJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// WriteRESTError writes a REST-JSON error: the code in X-Amzn-Errortype, the
// message and any extra members in the body.
func WriteRESTError(w http.ResponseWriter, e *Error) {
	body := map[string]any{}
	for k, v := range e.Fields {
		body[k] = v
	}
	body["message"] = e.Message
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", e.Code)
	writeRetryAfter(w, e)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(body)
}

// WriteQuery writes a Query-protocol success: <ActionResponse><ActionResult>…
// result is marshalled with encoding/xml inside the Result element; nil gives
// an empty result element-less response (as IAM does for actions without output).
// QueryOp answers one Query-protocol action from the request's form.
type QueryOp func(c *Call, form url.Values) (any, *Error)

// ServeQuery is the frame of a small Query-protocol (XML) service: parse the
// form, find the action in ops (InvalidAction otherwise), run fault
// injection (Call.Begin), then the operation, and write its result or error.
func ServeQuery(w http.ResponseWriter, r *http.Request, c *Call, xmlns, apiVersion string, ops map[string]QueryOp) {
	if err := r.ParseForm(); err != nil {
		WriteQueryError(w, xmlns, c.RequestID, Errorf(400, "MalformedQueryString", "%v", err))
		return
	}
	action := r.Form.Get("Action")
	op, ok := ops[action]
	if !ok {
		WriteQueryError(w, xmlns, c.RequestID, Errorf(400, "InvalidAction", "Could not find operation %s for version %s", action, apiVersion))
		return
	}
	if e := c.Begin(action); e != nil {
		WriteQueryError(w, xmlns, c.RequestID, e)
		return
	}
	res, e := op(c, r.Form)
	if e != nil {
		WriteQueryError(w, xmlns, c.RequestID, e)
		return
	}
	WriteQuery(w, xmlns, action, c.RequestID, res)
}

func WriteQuery(w http.ResponseWriter, xmlns, action, requestID string, result any) {
	var b strings.Builder
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, "<%sResponse xmlns=\"%s\">", action, xmlns)
	if result != nil {
		inner, err := xml.Marshal(result)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "<%sResult>%s</%sResult>", action, stripOuter(inner), action)
	}
	fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", requestID, action)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

// stripOuter removes the outermost element so that a Go struct's fields become
// the children of <ActionResult>.
func stripOuter(b []byte) []byte {
	s := string(b)
	i := strings.Index(s, ">")
	j := strings.LastIndex(s, "</")
	if i < 0 || j < 0 || j < i {
		return b
	}
	return []byte(s[i+1 : j])
}

// WriteQueryError writes a Query-protocol error as IAM and STS do.
func WriteQueryError(w http.ResponseWriter, xmlns, requestID string, e *Error) {
	var b strings.Builder
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, "<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>%s</Code><Message>", xmlns, e.senderOrReceiver(), e.Code)
	_ = xml.EscapeText(&b, []byte(e.Message))
	fmt.Fprintf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>", requestID)
	w.Header().Set("Content-Type", "text/xml")
	writeRetryAfter(w, e)
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(b.String()))
}

func writeRetryAfter(w http.ResponseWriter, e *Error) {
	if e.RetryAfterMillis > 0 {
		w.Header().Set("x-amz-retry-after", fmt.Sprint(e.RetryAfterMillis))
	}
}
