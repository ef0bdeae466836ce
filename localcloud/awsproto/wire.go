package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The wire checker holds every answer the Router sends to the official
// service model of its operation (wiremodel.go, botocore 1.43.11): a success
// body against the operation's output shape, an error's code against the
// codes the operation declares and the service's common errors. It is on in
// every test binary (and with LOCALCLOUD_WIRE_CHECK=1 in any process); a
// test fails on a violation through CheckWire, which NewTestEndpoint and the
// local cloud's test harnesses call.
//
// Rules, each named in the violation it gives:
//   - required: a member the shape requires is present (and not null);
//   - null: no member is JSON null (AWS leaves out what it does not send; a
//     list or map member it sends is [] or {}, never null);
//   - type: a value has its shape's JSON type (XML: its structure);
//   - unknown-member: a member the shape does not have (the SDK drops it, so
//     the product cannot be relying on it, and a misspelt member hides a
//     missing one);
//   - enum: a string of an enum shape is one of its values;
//   - timestamp: in the protocol's format unless the model's timestampFormat
//     says otherwise: epoch seconds as a JSON number for JSON and REST-JSON
//     bodies, ISO 8601 for Query/XML, an HTTP date in headers;
//   - status: a success has the operation's responseCode (default 200); an
//     error the HTTP status the model gives its shape, when it gives one;
//   - error-code: a code the operation declares, or a common error of the
//     service (commonErrors);
//   - envelope: the protocol's frame (JSON __type, X-Amzn-Errortype, the
//     Query <ActionResponse>/<ActionResult>/<ErrorResponse> elements, the
//     XML namespace).

// WireViolation is one answer that breaks the model.
type WireViolation struct {
	Service, Op string
	Status      int
	Path        string // member path from the output shape, e.g. executions[0].status
	Rule        string // required, null, type, unknown-member, enum, timestamp, status, error-code, envelope
	Detail      string
}

func (v WireViolation) String() string {
	op := v.Op
	if op == "" {
		op = "(no operation)"
	}
	path := v.Path
	if path == "" {
		path = "(answer)"
	}
	return fmt.Sprintf("%s %s (HTTP %d): %s: %s: %s", v.Service, op, v.Status, path, v.Rule, v.Detail)
}

// commonErrors are the codes any operation of a service may answer besides
// those it declares. Each service's API reference has a "Common Errors" page
// (doc:Common Errors) with one of two lists: the older one (SQS, IAM, STS:
// InvalidParameterValue, MissingParameter, MalformedQueryString, …) or the
// newer one (ExpiredTokenException, UnrecognizedClientException, …); a
// service is held to their union. Added, as assumptions: what the JSON
// protocols answer to an unknown target or an unreadable body
// (UnknownOperationException, SerializationException, ValidationException),
// the SigV4 failures with the spellings the SDKs see
// (MissingAuthenticationTokenException, IncompleteSignatureException), and
// IAM's and STS's access-denied code, AccessDenied (their pages list only
// AccessDeniedException). An injected fault's code is held to the same
// lists: a test cannot make AWS send what it never sends.
var commonErrors = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{
		// doc:Common Errors, both lists
		"AccessDeniedException", "ExpiredTokenException", "IncompleteSignature", "InternalFailure",
		"InvalidAction", "InvalidClientTokenId", "InvalidParameterCombination", "InvalidParameterValue",
		"InvalidQueryParameter", "MalformedHttpRequestException", "MalformedQueryString", "MissingAction",
		"MissingAuthenticationToken", "MissingParameter", "NotAuthorized", "OptInRequired",
		"RequestAbortedException", "RequestEntityTooLargeException", "RequestExpired",
		"RequestTimeoutException", "ServiceUnavailable", "ThrottlingException",
		"UnrecognizedClientException", "UnknownOperationException", "ValidationError",
		// assumptions (see above)
		"SerializationException", "ValidationException", "MissingAuthenticationTokenException",
		"IncompleteSignatureException", "AccessDenied",
	} {
		m[c] = true
	}
	return m
}()

// undeclaredErrors are codes an operation answers that its model does not
// declare, each with what backs it (localcloud/FIDELITY.md, Wire). Anything
// else undeclared is a violation.
var undeclaredErrors = map[string]string{
	"eks RegisterCluster InvalidRequestException": "reference eks-connector.md: 'Nonexistent role or missing ssm " +
		"service principal in trust policy' while the agent role propagates (eksctl retries it); not in the model",
	"eks DescribeCluster InvalidParameterException": "assumption, unverified: EKS quotes the name pattern with " +
		"InvalidParameterException for the describe operations that declare it (DescribeNodegroup)",
	"iam CreateRole NoSuchEntity": "assumption, unverified: a PermissionsBoundary that does not exist, as " +
		"PutRolePermissionsBoundary (which declares it) answers; the product's AgentRoleBoundaryNotFound relies on it",
	"iam CreateRole PolicyNotAttachable": "assumption, unverified: a service role policy as PermissionsBoundary, " +
		"as PutRolePermissionsBoundary (which declares it) answers",
}

// wireCheckOn: the checker is on in test binaries, or with LOCALCLOUD_WIRE_CHECK=1.
var wireCheckOn = testing.Testing() || os.Getenv("LOCALCLOUD_WIRE_CHECK") == "1"

// wireStats counts what the checker saw in this process; with
// VALIDATE_REPORT=<file> every checked answer is also appended to that file
// as a line "service<TAB>op<TAB>status<TAB>violations" (scripts/wire-report.py
// sums the lines of every test process).
var wireStats = appender{env: "VALIDATE_REPORT"}

func recordWire(service, op string, status, violations int) {
	if os.Getenv("VALIDATE_REPORT") == "" {
		return
	}
	wireStats.writeLine(fmt.Appendf(nil, "%s\t%s\t%d\t%d", service, op, status, violations))
}

// CheckWire fails t, when it ends, for every answer of rt that broke its
// operation's model, naming the operation, the member path and the rule.
func CheckWire(t testing.TB, rt *Router) {
	t.Helper()
	t.Cleanup(func() {
		for _, v := range rt.WireViolations() {
			t.Errorf("local cloud answered against the AWS model: %s", v)
		}
	})
}

// WireViolations returns the violations of rt's answers so far.
func (rt *Router) WireViolations() []WireViolation {
	rt.wireMu.Lock()
	defer rt.wireMu.Unlock()
	return append([]WireViolation(nil), rt.violations...)
}

// processViolations are the violations of every router of this process.
var processViolations struct {
	sync.Mutex
	list []WireViolation
}

// WireViolationsInProcess returns the violations of every router of this
// process so far: a TestMain's net for clouds a test cannot reach (a
// command that starts its own).
func WireViolationsInProcess() []WireViolation {
	processViolations.Lock()
	defer processViolations.Unlock()
	return append([]WireViolation(nil), processViolations.list...)
}

// WireExitCode is for a TestMain: given m.Run's code, it prints every
// violation of the process and turns a pass into a failure when there was one.
func WireExitCode(code int) int {
	vs := WireViolationsInProcess()
	for _, v := range vs {
		fmt.Fprintf(os.Stderr, "FAIL: local cloud answered against the AWS model: %s\n", v)
	}
	if code == 0 && len(vs) > 0 {
		return 1
	}
	return code
}

func (rt *Router) checkWire(c *Call, status int, header http.Header, body []byte) {
	vs := CheckAnswer(c.Service, c.Op, status, header, body)
	recordWire(c.Service, c.Op, status, len(vs))
	if len(vs) == 0 {
		return
	}
	rt.wireMu.Lock()
	rt.violations = append(rt.violations, vs...)
	rt.wireMu.Unlock()
	processViolations.Lock()
	processViolations.list = append(processViolations.list, vs...)
	processViolations.Unlock()
	for _, v := range vs {
		fmt.Fprintf(os.Stderr, "localcloud: answer against the AWS model: %s\n", v)
	}
}

// CheckAnswer checks one answer of service (SigV4 name) to operation op
// (empty when the request never reached an operation) against the model.
func CheckAnswer(service, op string, status int, header http.Header, body []byte) []WireViolation {
	m := wireModelFor(service)
	if m == nil {
		return nil
	}
	ck := &wireCheck{m: m, v: WireViolation{Service: service, Op: op, Status: status}}
	var o *wireOp
	if op != "" {
		o = m.Operations[op]
		// An operation the local cloud does not serve may only be refused
		// with a common error (UnknownOperationException).
		if o == nil && status < 300 {
			ck.fail("", "envelope", "a success answer to %s, which the committed model does not have (add it to scripts/gen-service-models.py)", op)
			return ck.out
		}
	}
	if status >= 300 {
		ck.checkError(o, header, body)
		return ck.out
	}
	if o == nil {
		ck.fail("", "envelope", "a success answer to no operation")
		return ck.out
	}
	want := o.HTTP.ResponseCode
	if want == 0 {
		want = 200
	}
	if status != want && !(m.Metadata.Protocol == "rest-json" && o.Output != nil && hasStatusMember(o.Output.shape)) {
		ck.fail("", "status", "HTTP %d, the model says %d", status, want)
	}
	switch m.Metadata.Protocol {
	case "json":
		ck.checkJSONBody(o.Output, body)
	case "rest-json":
		ck.checkRESTJSON(o.Output, header, body)
	case "query":
		ck.checkQuery(op, o.Output, body)
	}
	return ck.out
}

func hasStatusMember(s *wireShape) bool {
	for _, r := range s.Members {
		if r.Location == "statusCode" {
			return true
		}
	}
	return false
}

type wireCheck struct {
	m   *wireModel
	v   WireViolation
	out []WireViolation
}

func (ck *wireCheck) fail(path, rule, format string, args ...any) {
	v := ck.v
	v.Path, v.Rule, v.Detail = path, rule, fmt.Sprintf(format, args...)
	ck.out = append(ck.out, v)
}

// ---------------------------------------------------------------------------
// Errors

func (ck *wireCheck) checkError(o *wireOp, header http.Header, body []byte) {
	var code string
	switch ck.m.Metadata.Protocol {
	case "json", "rest-json":
		var b map[string]any
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &b); err != nil {
				ck.fail("", "envelope", "the error body is not JSON: %v", err)
			}
		}
		if ck.m.Metadata.Protocol == "rest-json" {
			code = header.Get("X-Amzn-Errortype")
		}
		if t, ok := b["__type"].(string); ok && code == "" {
			code = t
		}
		if code == "" {
			ck.fail("", "envelope", "an error without a code (neither X-Amzn-Errortype nor __type)")
			return
		}
		// "namespace#Code:uri" -> Code, as the SDKs read it.
		if i := strings.LastIndex(code, "#"); i >= 0 {
			code = code[i+1:]
		}
		if i := strings.Index(code, ":"); i >= 0 {
			code = code[:i]
		}
	case "query":
		var e struct {
			XMLName xml.Name
			Error   struct {
				Type, Code, Message string
			}
			RequestID string `xml:"RequestId"`
		}
		if err := xml.Unmarshal(body, &e); err != nil {
			ck.fail("", "envelope", "the error body is not XML: %v", err)
			return
		}
		if e.XMLName.Local != "ErrorResponse" || e.Error.Code == "" || e.RequestID == "" {
			ck.fail("", "envelope", "not <ErrorResponse><Error><Code>…</Code></Error><RequestId>…</RequestId></ErrorResponse>")
		}
		if e.Error.Type != "Sender" && e.Error.Type != "Receiver" {
			ck.fail("Error.Type", "enum", "%q is neither Sender nor Receiver", e.Error.Type)
		}
		code = e.Error.Code
	}
	if o != nil {
		if st, ok := o.errors[code]; ok {
			if st != 0 && st != ck.v.Status {
				ck.fail("", "status", "%s is HTTP %d in the model, answered with %d", code, st, ck.v.Status)
			}
			return
		}
	}
	if commonErrors[code] || undeclaredErrors[ck.v.Service+" "+ck.v.Op+" "+code] != "" {
		return
	}
	ck.fail("", "error-code", "%s is neither declared by the operation (%s) nor a common error of %s",
		code, strings.Join(declared(o), ", "), ck.v.Service)
}

func declared(o *wireOp) []string {
	if o == nil {
		return nil
	}
	var out []string
	for c := range o.errors {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------------------
// JSON and REST-JSON

func (ck *wireCheck) checkJSONBody(out *wireRef, body []byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	v, err := decodeJSON(body)
	if err != nil {
		ck.fail("", "envelope", "the body is not JSON: %v", err)
		return
	}
	if out == nil {
		if m, ok := v.(map[string]any); !ok || len(m) > 0 {
			ck.fail("", "unknown-member", "the operation has no output, answered %s", clip(body))
		}
		return
	}
	ck.jsonValue("", out, out.shape, v, "unixTimestamp", nil)
}

func (ck *wireCheck) checkRESTJSON(out *wireRef, header http.Header, body []byte) {
	if out == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			ck.checkJSONBody(nil, body)
		}
		return
	}
	s := out.shape
	for _, mn := range s.memberNames {
		r := s.Members[mn]
		switch r.Location {
		case "header":
			h := header.Get(r.LocationName)
			if h == "" {
				if s.required[mn] {
					ck.fail(mn, "required", "header %s is missing", r.LocationName)
				}
				continue
			}
			ck.scalarText(mn, r, r.shape, h, "rfc822")
		case "headers", "statusCode":
		}
	}
	if s.Payload != "" {
		p := s.Members[s.Payload]
		if p.shape.Type != "structure" || len(bytes.TrimSpace(body)) == 0 {
			return // a blob or string payload is the body as it is
		}
		v, err := decodeJSON(body)
		if err != nil {
			ck.fail(s.Payload, "envelope", "the body is not JSON: %v", err)
			return
		}
		ck.jsonValue(s.Payload, p, p.shape, v, "unixTimestamp", nil)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	v, err := decodeJSON(body)
	if err != nil {
		ck.fail("", "envelope", "the body is not JSON: %v", err)
		return
	}
	ck.jsonValue("", out, s, v, "unixTimestamp", func(mn string) bool { return s.Members[mn].Location != "" })
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

// jsonValue checks v against shape s. skip leaves out members bound outside
// the body (REST-JSON headers, status code).
func (ck *wireCheck) jsonValue(path string, r *wireRef, s *wireShape, v any, tsDefault string, skip func(string) bool) {
	if v == nil {
		what := "a " + s.Type
		if s.Type == "list" || s.Type == "map" {
			what = "a " + s.Type + " (AWS sends [] or {}, or leaves the member out)"
		}
		ck.fail(path, "null", "JSON null where the model has %s (%s)", what, s.name)
		return
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			ck.fail(path, "type", "%T where the model has a structure (%s)", v, s.name)
			return
		}
		for _, mn := range s.memberNames {
			if skip != nil && skip(mn) {
				continue
			}
			mv, present := obj[mn]
			if !present {
				if s.required[mn] {
					ck.fail(join(path, mn), "required", "missing; %s requires it", s.name)
				}
				continue
			}
			mr := s.Members[mn]
			ck.jsonValue(join(path, mn), mr, mr.shape, mv, tsDefault, nil)
		}
		var unknown []string
		for k := range obj {
			if _, ok := s.Members[k]; !ok || (skip != nil && skip(k)) {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			ck.fail(join(path, k), "unknown-member", "%s has no member %s (members: %s)", s.name, k, strings.Join(s.memberNames, ", "))
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			ck.fail(path, "type", "%T where the model has a list (%s)", v, s.name)
			return
		}
		for i, e := range arr {
			ck.jsonValue(fmt.Sprintf("%s[%d]", path, i), s.Member, s.Member.shape, e, tsDefault, nil)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			ck.fail(path, "type", "%T where the model has a map (%s)", v, s.name)
			return
		}
		keys := slices.Sorted(maps.Keys(obj))
		for _, k := range keys {
			p := fmt.Sprintf("%s[%q]", path, k)
			if ks := s.Key.shape; ks.enum != nil && !ks.enum[k] {
				ck.fail(p, "enum", "key %q is not one of %s (%s)", k, strings.Join(ks.Enum, ", "), ks.name)
			}
			ck.jsonValue(p, s.Value, s.Value.shape, obj[k], tsDefault, nil)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			ck.fail(path, "type", "%T where the model has a string (%s)", v, s.name)
			return
		}
		if s.enum != nil && !s.enum[str] {
			ck.fail(path, "enum", "%q is not one of %s (%s)", str, strings.Join(s.Enum, ", "), s.name)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			ck.fail(path, "type", "%T where the model has a boolean (%s)", v, s.name)
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			ck.fail(path, "type", "%T where the model has an %s (%s)", v, s.Type, s.name)
		} else if _, err := n.Int64(); err != nil {
			ck.fail(path, "type", "%s is not an %s (%s)", n, s.Type, s.name)
		}
	case "float", "double":
		if _, ok := v.(json.Number); !ok {
			ck.fail(path, "type", "%T where the model has a %s (%s)", v, s.Type, s.name)
		}
	case "blob":
		str, ok := v.(string)
		if !ok {
			ck.fail(path, "type", "%T where the model has a blob, base64 (%s)", v, s.name)
		} else if _, err := base64.StdEncoding.DecodeString(str); err != nil {
			ck.fail(path, "type", "a blob that is not base64: %v", err)
		}
	case "timestamp":
		f := tsFormat(r, s, tsDefault)
		switch f {
		case "unixTimestamp":
			if _, ok := v.(json.Number); !ok {
				ck.fail(path, "timestamp", "%T %v where the model has epoch seconds as a number", v, v)
			}
		default:
			str, ok := v.(string)
			if !ok {
				ck.fail(path, "timestamp", "%T where the model has %s text", v, f)
				return
			}
			ck.timestampText(path, f, str)
		}
	}
}

func tsFormat(r *wireRef, s *wireShape, def string) string {
	if r != nil && r.TimestampFormat != "" {
		return r.TimestampFormat
	}
	if s.TimestampFormat != "" {
		return s.TimestampFormat
	}
	return def
}

func (ck *wireCheck) timestampText(path, format, str string) {
	var err error
	switch format {
	case "iso8601":
		_, err = time.Parse(time.RFC3339Nano, str)
	case "rfc822":
		_, err = http.ParseTime(str)
	case "unixTimestamp":
		_, err = strconv.ParseFloat(str, 64)
	}
	if err != nil {
		ck.fail(path, "timestamp", "%q is not %s", str, format)
	}
}

// scalarText checks a scalar sent as text (an XML element, a header).
func (ck *wireCheck) scalarText(path string, r *wireRef, s *wireShape, str, tsDefault string) {
	var err error
	switch s.Type {
	case "string":
		if s.enum != nil && !s.enum[str] {
			ck.fail(path, "enum", "%q is not one of %s (%s)", str, strings.Join(s.Enum, ", "), s.name)
		}
		return
	case "boolean":
		if str != "true" && str != "false" {
			err = fmt.Errorf("not true or false")
		}
	case "integer", "long":
		_, err = strconv.ParseInt(str, 10, 64)
	case "float", "double":
		_, err = strconv.ParseFloat(str, 64)
	case "blob":
		_, err = base64.StdEncoding.DecodeString(str)
	case "timestamp":
		ck.timestampText(path, tsFormat(r, s, tsDefault), str)
		return
	default:
		ck.fail(path, "type", "text where the model has a %s (%s)", s.Type, s.name)
		return
	}
	if err != nil {
		ck.fail(path, "type", "%q is not a %s (%s): %v", str, s.Type, s.name, err)
	}
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// ---------------------------------------------------------------------------
// Query / XML

type xnode struct {
	name     xml.Name
	children []*xnode
	text     string
}

func parseXML(b []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root == nil {
				root = n
			} else {
				return nil, fmt.Errorf("more than one root element")
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	return root, nil
}

func (ck *wireCheck) checkQuery(op string, out *wireRef, body []byte) {
	root, err := parseXML(body)
	if err != nil {
		ck.fail("", "envelope", "the body is not XML: %v", err)
		return
	}
	if root.name.Local != op+"Response" || root.name.Space != ck.m.Metadata.XMLNamespace {
		ck.fail("", "envelope", "root element {%s}%s, the model's is {%s}%sResponse", root.name.Space, root.name.Local, ck.m.Metadata.XMLNamespace, op)
	}
	var result *xnode
	meta := false
	for _, c := range root.children {
		switch {
		case out != nil && c.name.Local == out.ResultWrapper:
			result = c
		case c.name.Local == "ResponseMetadata":
			meta = len(c.children) == 1 && c.children[0].name.Local == "RequestId" && c.children[0].text != ""
		default:
			ck.fail(c.name.Local, "unknown-member", "an element the response does not have")
		}
	}
	if !meta {
		ck.fail("ResponseMetadata", "envelope", "no <ResponseMetadata><RequestId>")
	}
	if out == nil {
		return
	}
	if result == nil {
		ck.fail(out.ResultWrapper, "required", "no <%s> element", out.ResultWrapper)
		return
	}
	ck.xmlValue("", out.shape, result, nil)
}

// xmlValue checks the element n (whose children are a structure's members,
// a list's items or a map's entries, or whose text is a scalar) against s.
// r is the member's reference, for a scalar's timestampFormat.
func (ck *wireCheck) xmlValue(path string, s *wireShape, n *xnode, r *wireRef) {
	switch s.Type {
	case "structure":
		seen := map[string]int{}
		for _, c := range n.children {
			mn, ok := s.xmlMembers[c.name.Local]
			if !ok {
				ck.fail(join(path, c.name.Local), "unknown-member", "%s has no member %s (members: %s)", s.name, c.name.Local, strings.Join(s.memberNames, ", "))
				continue
			}
			mr := s.Members[mn]
			seen[mn]++
			if mr.shape.Type == "list" && (mr.Flattened || mr.shape.Flattened) {
				ck.xmlValue(fmt.Sprintf("%s[%d]", join(path, mn), seen[mn]-1), mr.shape.Member.shape, c, mr.shape.Member)
				continue
			}
			if seen[mn] > 1 {
				ck.fail(join(path, mn), "type", "the element appears %d times", seen[mn])
				continue
			}
			ck.xmlValue(join(path, mn), mr.shape, c, mr)
		}
		for _, mn := range s.memberNames {
			if s.required[mn] && seen[mn] == 0 {
				ck.fail(join(path, mn), "required", "missing; %s requires it", s.name)
			}
		}
	case "list":
		item := "member"
		if s.Member.LocationName != "" {
			item = s.Member.LocationName
		}
		for i, c := range n.children {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.name.Local != item {
				ck.fail(p, "type", "<%s> in a list of <%s> (%s)", c.name.Local, item, s.name)
				continue
			}
			ck.xmlValue(p, s.Member.shape, c, s.Member)
		}
	case "map":
		kn, vn := "key", "value"
		if s.Key.LocationName != "" {
			kn = s.Key.LocationName
		}
		if s.Value.LocationName != "" {
			vn = s.Value.LocationName
		}
		for i, c := range n.children {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.name.Local != "entry" || len(c.children) != 2 || c.children[0].name.Local != kn || c.children[1].name.Local != vn {
				ck.fail(p, "type", "not <entry><%s/><%s/></entry> (%s)", kn, vn, s.name)
				continue
			}
			ck.xmlValue(p+".key", s.Key.shape, c.children[0], s.Key)
			ck.xmlValue(p+".value", s.Value.shape, c.children[1], s.Value)
		}
	default:
		if len(n.children) > 0 {
			ck.fail(path, "type", "elements where the model has a %s (%s)", s.Type, s.name)
			return
		}
		ck.scalarText(path, r, s, n.text, "iso8601")
	}
}
