// Package sqs emulates Amazon SQS for the local cloud over the awsJson1_0
// protocol current SDKs speak (X-Amz-Target AmazonSQS.<Op>), with the legacy
// query error code in x-amzn-query-error as SQS sends it.
package sqs

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	jsonVersion = "1.0"
	namespace   = "com.amazonaws.sqs"
	targetName  = "AmazonSQS"
)

// Config places the store.
type Config struct {
	Region, Account string
	Clock           clock.Clock
	// Authz decides the sends other services make on a principal's behalf
	// (SendAs: EventBridge dead letters, Lambda on-failure records), which
	// AWS authorizes as SendMessage calls. nil allows them all.
	Authz awsproto.Authorizer
	// Policies receives every queue's Policy attribute (its queue policy)
	// for the Authorizer to evaluate with the callers' identity policies, and
	// refuses a malformed one. nil keeps the attribute unchecked and unused.
	Policies awsproto.ResourcePolicies
}

type msgAttr struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

type message struct {
	id, body, md5Body, md5Attrs string
	attrs                       map[string]msgAttr
	sent, visibleAt, firstRecv  time.Time
	receiveCount                int
	receipt                     string
}

type queue struct {
	name, arn string
	// policyName names the queue policy in permission records: the
	// AWS::SQS::QueuePolicy's logical id, or "<queue> queue policy".
	policyName string
	attrs      map[string]string // user-settable attributes
	created    time.Time
	msgs       []*message
}

// Store is SQS's state.
type Store struct {
	cfg    Config
	mu     sync.Mutex
	queues map[string]*queue
}

// Service serves the SQS wire API.
type Service struct{ awsproto.JSONServer[*Store] }

// New builds an empty SQS.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Store{cfg: cfg, queues: map[string]*queue{}}
	return s, &Service{awsproto.JSONServer[*Store]{API: jsonService, Store: s}}
}

var defaultAttrs = map[string]string{
	"VisibilityTimeout":             "30",
	"MaximumMessageSize":            "262144",
	"MessageRetentionPeriod":        "345600",
	"DelaySeconds":                  "0",
	"ReceiveMessageWaitTimeSeconds": "0",
	"SqsManagedSseEnabled":          "true",
}

var settable = map[string]bool{"VisibilityTimeout": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true, "DelaySeconds": true,
	"ReceiveMessageWaitTimeSeconds": true, "Policy": true, "RedrivePolicy": true, "RedriveAllowPolicy": true, "KmsMasterKeyId": true,
	"KmsDataKeyReusePeriodSeconds": true, "SqsManagedSseEnabled": true, "FifoQueue": true, "ContentBasedDeduplication": true,
	"DeduplicationScope": true, "FifoThroughputLimit": true}

func (s *Store) queueARN(name string) string {
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, name)
}

func (s *Store) createLocked(name string, attrs map[string]string) *queue {
	q := &queue{name: name, arn: s.queueARN(name), attrs: map[string]string{}, created: s.cfg.Clock.Now()}
	for k, v := range defaultAttrs {
		q.attrs[k] = v
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	s.queues[name] = q
	return q
}

// CreateQueue makes a queue (idempotent) and returns its ARN.
func (s *Store) CreateQueue(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		return q.arn
	}
	return s.createLocked(name, nil).arn
}

func (s *Store) byArn(queueArn string) (*queue, bool) {
	a, err := arn.Parse(queueArn)
	if err != nil {
		return nil, false
	}
	q, ok := s.queues[a.Resource]
	if ok && q.arn != queueArn {
		return nil, false
	}
	return q, ok
}

// SendByArn sends a message with String message attributes, as an
// administrator would (no authorization).
func (s *Store) SendByArn(queueArn, body string, attrs map[string]string) error {
	return s.SendAs(nil, nil, queueArn, body, attrs)
}

// SendAs sends a message with String message attributes on behalf of p, as
// AWS services send dead letters and destination records: authorized as
// p's sqs:SendMessage on the queue (p's identity policies and the queue
// policy, with the request context conditions), so a denied send fails with
// a *awsproto.DeniedError and nothing is sent. A nil p is not checked.
func (s *Store) SendAs(p *awsproto.Principal, conditions map[string]string, queueArn, body string, attrs map[string]string) error {
	ma := map[string]msgAttr{}
	for k, v := range attrs {
		ma[k] = msgAttr{DataType: "String", StringValue: v}
	}
	s.mu.Lock()
	q, ok := s.byArn(queueArn)
	s.mu.Unlock()
	if !ok {
		return nonExistent()
	}
	if err := awsproto.Authorize(s.cfg.Authz, "AccessDeniedException", p, "sqs:SendMessage", q.arn, conditions); err != nil {
		var de *awsproto.DeniedError
		if errors.As(err, &de) {
			de.Err.QueryCode = "AccessDenied"
		}
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.byArn(queueArn); !ok || cur != q {
		return nonExistent()
	}
	s.sendLocked(q, body, ma, 0)
	return nil
}

// SetQueuePolicy sets the queue's Policy attribute, as an
// AWS::SQS::QueuePolicy does; name is how permission records name it. An
// empty doc removes it. A malformed policy is refused.
func (s *Store) SetQueuePolicy(queueArn, name, doc string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.byArn(queueArn)
	if !ok {
		return nonExistent()
	}
	if name == "" {
		name = q.name + " queue policy"
	}
	if e := s.setPolicyLocked(q, name, doc); e != nil {
		return e
	}
	return nil
}

// setPolicyLocked stores the Policy attribute and hands it to the policy
// engine. Callers hold s.mu (the engine never calls back into the store).
func (s *Store) setPolicyLocked(q *queue, name, doc string) *awsproto.Error {
	if s.cfg.Policies != nil {
		if err := s.cfg.Policies.SetResourcePolicy(q.arn, name, []byte(doc)); err != nil {
			return qerr(400, "InvalidAttributeValue", "InvalidAttributeValue", "Invalid value for the parameter Policy. Reason: %v", err)
		}
	}
	q.policyName = name
	if doc == "" {
		delete(q.attrs, "Policy")
	} else {
		q.attrs["Policy"] = doc
	}
	return nil
}

// QueueArns lists every queue's ARN, sorted.
func (s *Store) QueueArns() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, q := range s.queues {
		out = append(out, q.arn)
	}
	sort.Strings(out)
	return out
}

// Messages lists the bodies of a queue's messages (visible or in flight), in order.
func (s *Store) Messages(queueArn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.byArn(queueArn)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range q.msgs {
		out = append(out, m.body)
	}
	return out
}

// MessageAttributes lists the String message attributes of a queue's messages, in order.
func (s *Store) MessageAttributes(queueArn string) []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.byArn(queueArn)
	if !ok {
		return nil
	}
	var out []map[string]string
	for _, m := range q.msgs {
		a := map[string]string{}
		for k, v := range m.attrs {
			a[k] = v.StringValue
		}
		out = append(out, a)
	}
	return out
}

func md5Hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// md5OfAttributes is SQS's MD5OfMessageAttributes: attributes sorted by
// name, each as length-prefixed name, data type, a transport byte (1 string,
// 2 binary) and the length-prefixed value.
func md5OfAttributes(attrs map[string]msgAttr) string {
	if len(attrs) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(attrs))
	var buf bytes.Buffer
	put := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		buf.Write(l[:])
		buf.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			buf.WriteByte(2)
			put(a.BinaryValue)
		} else {
			buf.WriteByte(1)
			put([]byte(a.StringValue))
		}
	}
	return md5Hex(buf.Bytes())
}

func (s *Store) sendLocked(q *queue, body string, attrs map[string]msgAttr, delay int) *message {
	now := s.cfg.Clock.Now()
	m := &message{id: awsproto.NewUUID(), body: body, md5Body: md5Hex([]byte(body)), md5Attrs: md5OfAttributes(attrs), attrs: attrs,
		sent: now, visibleAt: now.Add(time.Duration(delay) * time.Second)}
	q.msgs = append(q.msgs, m)
	return m
}

// ---------------------------------------------------------------------------
// Errors

func qerr(status int, code, query, format string, args ...any) *awsproto.Error {
	return &awsproto.Error{Code: code, QueryCode: query, Status: status, Message: fmt.Sprintf(format, args...)}
}

func nonExistent() *awsproto.Error {
	return qerr(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func invalidParam(format string, args ...any) *awsproto.Error {
	return qerr(400, "InvalidParameterValue", "InvalidParameterValue", format, args...)
}

func missingParam(name string) *awsproto.Error {
	return qerr(400, "MissingParameter", "MissingParameter", "The request must contain the parameter %s.", name)
}

func authorize(c *awsproto.Call, action, arn string) *awsproto.Error {
	if e := c.Authorize("AccessDeniedException", action, arn, nil); e != nil {
		e.QueryCode = "AccessDenied"
		e.Status = 403
		return e
	}
	return nil
}

// ---------------------------------------------------------------------------
// Wire

var jsonService = &awsproto.JSONService[*Store]{
	SigV4Name: "sqs", Prefix: targetName, Version: jsonVersion, Namespace: namespace, Unknown: func(target string) *awsproto.Error {
		return qerr(400, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "Unknown operation %s", target)
	},
	Ops: map[string]awsproto.JSONHandler[*Store]{
		"CreateQueue":        (*Store).opCreateQueue,
		"GetQueueUrl":        (*Store).opGetQueueUrl,
		"GetQueueAttributes": (*Store).opGetQueueAttributes,
		"SendMessage":        (*Store).opSendMessage,
		"ReceiveMessage":     (*Store).opReceiveMessage,
		"DeleteMessage":      (*Store).opDeleteMessage,
		"DeleteQueue":        (*Store).opDeleteQueue,
		"SetQueueAttributes": (*Store).opSetQueueAttributes,
		"ListQueues":         (*Store).opListQueues,
	},
}

func decode(body []byte, v any) *awsproto.Error {
	if err := json.Unmarshal(body, v); err != nil {
		return qerr(400, "InvalidParameterValue", "InvalidParameterValue", "%v", err)
	}
	return nil
}

func (s *Store) url(base, name string) string { return base + "/" + s.cfg.Account + "/" + name }

// onQueue is the frame of an operation on one existing queue: with the
// store lock held, the queue the request's QueueUrl names
// (MissingParameter, QueueDoesNotExist), the caller's permission to perform
// action on it, and then do, still under the lock.
func (s *Store) onQueue(c *awsproto.Call, url, action string, do func(q *queue) (any, *awsproto.Error)) (any, *awsproto.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, e := s.fromURLLocked(url)
	if e != nil {
		return nil, e
	}
	if e := authorize(c, action, q.arn); e != nil {
		return nil, e
	}
	return do(q)
}

// fromURLLocked finds a queue by URL (any host; the path is
// /<account>/<name>). Callers hold s.mu.
func (s *Store) fromURLLocked(u string) (*queue, *awsproto.Error) {
	if u == "" {
		return nil, missingParam("QueueUrl")
	}
	parts := strings.Split(strings.TrimSuffix(u, "/"), "/")
	if len(parts) < 2 {
		return nil, nonExistent()
	}
	name, acct := parts[len(parts)-1], parts[len(parts)-2]
	q, ok := s.queues[name]
	if !ok || acct != s.cfg.Account {
		return nil, nonExistent()
	}
	return q, nil
}

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkAttributes refuses an attribute a queue does not have (or, on an
// existing queue, FifoQueue, which only CreateQueue sets) and a
// VisibilityTimeout out of range.
func checkAttributes(attrs map[string]string, existing bool) *awsproto.Error {
	for k, v := range attrs {
		if !settable[k] || existing && k == "FifoQueue" {
			return qerr(400, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", k)
		}
		if k == "VisibilityTimeout" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 43200 {
				return qerr(400, "InvalidAttributeValue", "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout.")
			}
		}
	}
	return nil
}

func (s *Store) opCreateQueue(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name := in.QueueName
	fifo := strings.HasSuffix(name, ".fifo")
	if !queueNameRE.MatchString(strings.TrimSuffix(name, ".fifo")) || len(name) > 80 {
		return nil, invalidParam("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if e := checkAttributes(in.Attributes, false); e != nil {
		return nil, e
	}
	if (in.Attributes["FifoQueue"] == "true") != fifo {
		return nil, invalidParam("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	}
	if e := authorize(c, "sqs:CreateQueue", s.queueARN(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		for k, v := range in.Attributes {
			if q.attrs[k] != v {
				return nil, qerr(400, "QueueNameExists", "QueueAlreadyExists", "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return map[string]string{"QueueUrl": s.url(c.Endpoint, name)}, nil
	}
	q := s.createLocked(name, in.Attributes)
	if doc, ok := in.Attributes["Policy"]; ok {
		if e := s.setPolicyLocked(q, q.name+" queue policy", doc); e != nil {
			delete(s.queues, name)
			return nil, e
		}
	}
	return map[string]string{"QueueUrl": s.url(c.Endpoint, name)}, nil
}

func (s *Store) opGetQueueUrl(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueName              string `json:"QueueName"`
		QueueOwnerAWSAccountId string `json:"QueueOwnerAWSAccountId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.QueueName == "" {
		return nil, missingParam("QueueName")
	}
	if e := authorize(c, "sqs:GetQueueUrl", s.queueARN(in.QueueName)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[in.QueueName]; !ok || (in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != s.cfg.Account) {
		return nil, nonExistent()
	}
	return map[string]string{"QueueUrl": s.url(c.Endpoint, in.QueueName)}, nil
}

func (s *Store) opGetQueueAttributes(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl       string   `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.onQueue(c, in.QueueUrl, "sqs:GetQueueAttributes", func(q *queue) (any, *awsproto.Error) {
		now := s.cfg.Clock.Now()
		all := map[string]string{}
		for k, v := range q.attrs {
			all[k] = v
		}
		visible, inflight, delayed := 0, 0, 0
		for _, m := range q.msgs {
			switch {
			case m.receiveCount == 0 && m.visibleAt.After(now):
				delayed++
			case m.visibleAt.After(now):
				inflight++
			default:
				visible++
			}
		}
		all["QueueArn"] = q.arn
		all["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
		all["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inflight)
		all["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
		all["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
		all["LastModifiedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
		out := map[string]string{}
		for _, n := range in.AttributeNames {
			if n == "All" {
				out = all
				break
			}
			v, ok := all[n]
			if !ok && !settable[n] {
				return nil, qerr(400, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", n)
			}
			if ok {
				out[n] = v
			}
		}
		return map[string]any{"Attributes": out}, nil
	})
}

func (s *Store) opSendMessage(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl          string             `json:"QueueUrl"`
		MessageBody       *string            `json:"MessageBody"`
		DelaySeconds      *int               `json:"DelaySeconds"`
		MessageAttributes map[string]msgAttr `json:"MessageAttributes"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.MessageBody == nil || *in.MessageBody == "" {
		return nil, missingParam("MessageBody")
	}
	if len(in.MessageAttributes) > 10 {
		return nil, invalidParam("Number of message attributes [%d] exceeds the allowed maximum [10].", len(in.MessageAttributes))
	}
	size := len(*in.MessageBody)
	for k, a := range in.MessageAttributes {
		if a.DataType == "" || !(strings.HasPrefix(a.DataType, "String") || strings.HasPrefix(a.DataType, "Number") || strings.HasPrefix(a.DataType, "Binary")) {
			return nil, invalidParam("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", k)
		}
		if strings.HasPrefix(a.DataType, "Binary") && len(a.BinaryValue) == 0 || !strings.HasPrefix(a.DataType, "Binary") && a.StringValue == "" {
			return nil, invalidParam("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", k, a.DataType)
		}
		size += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return s.onQueue(c, in.QueueUrl, "sqs:SendMessage", func(q *queue) (any, *awsproto.Error) {
		maxSize, _ := strconv.Atoi(q.attrs["MaximumMessageSize"])
		if size > maxSize {
			return nil, invalidParam("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", maxSize)
		}
		delay, _ := strconv.Atoi(q.attrs["DelaySeconds"])
		if in.DelaySeconds != nil {
			if *in.DelaySeconds < 0 || *in.DelaySeconds > 900 {
				return nil, invalidParam("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *in.DelaySeconds)
			}
			delay = *in.DelaySeconds
		}
		m := s.sendLocked(q, *in.MessageBody, in.MessageAttributes, delay)
		out := map[string]string{"MessageId": m.id, "MD5OfMessageBody": m.md5Body}
		if m.md5Attrs != "" {
			out["MD5OfMessageAttributes"] = m.md5Attrs
		}
		return out, nil
	})
}

func (s *Store) opReceiveMessage(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl                    string   `json:"QueueUrl"`
		MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
		VisibilityTimeout           *int     `json:"VisibilityTimeout"`
		WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames       []string `json:"MessageAttributeNames"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	n := 1
	if in.MaxNumberOfMessages != nil {
		n = *in.MaxNumberOfMessages
		if n < 1 || n > 10 {
			return nil, invalidParam("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n)
		}
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20) {
		return nil, invalidParam("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200) {
		return nil, invalidParam("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout)
	}
	return s.onQueue(c, in.QueueUrl, "sqs:ReceiveMessage", func(q *queue) (any, *awsproto.Error) {
		vt, _ := strconv.Atoi(q.attrs["VisibilityTimeout"])
		if in.VisibilityTimeout != nil {
			vt = *in.VisibilityTimeout
		}
		sysNames := append(append([]string(nil), in.AttributeNames...), in.MessageSystemAttributeNames...)
		now := s.cfg.Clock.Now()
		msgs := []map[string]any{}
		for _, m := range q.msgs {
			if len(msgs) == n {
				break
			}
			if m.visibleAt.After(now) {
				continue
			}
			m.receiveCount++
			if m.firstRecv.IsZero() {
				m.firstRecv = now
			}
			m.visibleAt = now.Add(time.Duration(vt) * time.Second)
			m.receipt = base64.StdEncoding.EncodeToString([]byte(q.name + "\x00" + m.id + "\x00" + awsproto.NewUUID()))
			out := map[string]any{"MessageId": m.id, "ReceiptHandle": m.receipt, "MD5OfBody": m.md5Body, "Body": m.body}
			if attrs := systemAttrs(m, sysNames, c); len(attrs) > 0 {
				out["Attributes"] = attrs
			}
			if sel := selectAttrs(m.attrs, in.MessageAttributeNames); len(sel) > 0 {
				out["MessageAttributes"] = sel
				out["MD5OfMessageAttributes"] = md5OfAttributes(sel)
			}
			msgs = append(msgs, out)
		}
		// Long polling would wait up to WaitTimeSeconds for a message; answering
		// at once with none is what a long poll that times out returns.
		return map[string]any{"Messages": msgs}, nil
	})
}

func systemAttrs(m *message, names []string, c *awsproto.Call) map[string]string {
	all := map[string]string{
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateReceiveCount":          strconv.Itoa(m.receiveCount),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstRecv.UnixMilli(), 10),
	}
	if c.Principal != nil {
		all["SenderId"] = c.Principal.ARN
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

func selectAttrs(attrs map[string]msgAttr, names []string) map[string]msgAttr {
	out := map[string]msgAttr{}
	for _, n := range names {
		for k, v := range attrs {
			if n == "All" || n == ".*" || n == k || strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*")) {
				out[k] = v
			}
		}
	}
	return out
}

func (s *Store) opDeleteMessage(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.ReceiptHandle == "" {
		return nil, missingParam("ReceiptHandle")
	}
	return s.onQueue(c, in.QueueUrl, "sqs:DeleteMessage", func(q *queue) (any, *awsproto.Error) {
		raw, err := base64.StdEncoding.DecodeString(in.ReceiptHandle)
		parts := strings.Split(string(raw), "\x00")
		if err != nil || len(parts) != 3 || parts[0] != q.name {
			return nil, qerr(400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle \"%s\" is not a valid receipt handle.", in.ReceiptHandle)
		}
		for i, m := range q.msgs {
			if m.id == parts[1] {
				// Any receipt handle of the message deletes it, as SQS does.
				q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
				break
			}
		}
		return struct{}{}, nil
	})
}

func (s *Store) opDeleteQueue(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl string `json:"QueueUrl"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	return s.onQueue(c, in.QueueUrl, "sqs:DeleteQueue", func(q *queue) (any, *awsproto.Error) {
		if s.cfg.Policies != nil {
			_ = s.cfg.Policies.SetResourcePolicy(q.arn, "", nil)
		}
		delete(s.queues, q.name)
		return struct{}{}, nil
	})
}

func (s *Store) opSetQueueAttributes(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueUrl   string            `json:"QueueUrl"`
		Attributes map[string]string `json:"Attributes"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Attributes == nil {
		return nil, missingParam("Attributes")
	}
	if e := checkAttributes(in.Attributes, true); e != nil {
		return nil, e
	}
	return s.onQueue(c, in.QueueUrl, "sqs:SetQueueAttributes", func(q *queue) (any, *awsproto.Error) {
		if doc, ok := in.Attributes["Policy"]; ok {
			name := q.policyName
			if name == "" {
				name = q.name + " queue policy"
			}
			if e := s.setPolicyLocked(q, name, doc); e != nil {
				return nil, e
			}
		}
		for k, v := range in.Attributes {
			if k != "Policy" {
				q.attrs[k] = v
			}
		}
		return struct{}{}, nil
	})
}

func (s *Store) opListQueues(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		QueueNamePrefix string `json:"QueueNamePrefix"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := authorize(c, "sqs:ListQueues", "*"); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.queues {
		if strings.HasPrefix(n, in.QueueNamePrefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	urls := []string{}
	for _, n := range names {
		urls = append(urls, s.url(c.Endpoint, n))
	}
	return map[string]any{"QueueUrls": urls}, nil
}
