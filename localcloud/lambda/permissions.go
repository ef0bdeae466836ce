package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Resource-based policies: a function's permissions say who else may invoke
// it. AddPermission (and CloudFormation's AWS::Lambda::Permission, which SAM
// creates for every EventBridgeRule event) adds one statement; an AWS service
// such as EventBridge may invoke the function only when one allows it. Within
// the account a role's own identity policy suffices (the policy engine
// evaluates both).

// Permission is one statement of a function's policy, as AddPermission takes it.
type Permission struct {
	StatementID string
	Action      string // lambda:InvokeFunction
	// Principal is a service ("events.amazonaws.com"), an account id, an
	// IAM ARN, or "*".
	Principal      string
	SourceArn      string
	SourceAccount  string
	PrincipalOrgID string
	// EventSourceToken and FunctionURLAuthType become conditions too.
	EventSourceToken    string
	FunctionURLAuthType string
}

// DeliveryFailure is an asynchronous invocation's record Lambda could not
// deliver: to the on-failure destination (AWS counts these in the
// DestinationDeliveryFailures metric) or to the dead-letter queue
// (DeadLetterErrors). The record is lost.
type DeliveryFailure struct {
	Function, RequestID string
	Kind                string // OnFailure | DeadLetterQueue
	Target              string // the queue ARN
	Error               string // why: the refused send, with the policy engine's explanation
}

// DeliveryFailures lists the records the destinations refused.
func (s *Store) DeliveryFailures() []DeliveryFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DeliveryFailure(nil), s.undelivered...)
}

// InvokeAsyncAs queues an Event invocation on p's behalf, as an AWS service
// invokes a function (EventBridge delivering a rule's event as
// events.amazonaws.com, with aws:SourceArn the rule): authorized as
// lambda:InvokeFunction by p's identity policies and the function's policy.
// A denied invocation returns a *awsproto.DeniedError and does not run.
func (s *Store) InvokeAsyncAs(p *awsproto.Principal, conditions map[string]string, f *Function, payload []byte) error {
	if err := awsproto.Authorize(s.cfg.Authz, "AccessDeniedException", p, "lambda:InvokeFunction", f.Arn, conditions); err != nil {
		return err
	}
	s.InvokeAsync(f, payload)
	return nil
}

type functionPolicy struct {
	statements []json.RawMessage // in the order added
	sids       []string
	revision   string
}

var (
	statementIDRE = regexp.MustCompile(`^[a-zA-Z0-9-_.]{1,100}$`)
	actionRE      = regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`)
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
	iamArnRE      = regexp.MustCompile(`^arn:aws[a-z-]*:(iam::[0-9]{12}:(root|role/.+|user/.+)|sts::[0-9]{12}:assumed-role/.+)$`)
	serviceRE     = regexp.MustCompile(`^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$`)
)

// statement builds the policy statement Lambda makes of a permission.
func statement(fnArn string, p Permission) (json.RawMessage, *awsproto.Error) {
	if !statementIDRE.MatchString(p.StatementID) {
		return nil, awsproto.Errorf(400, "ValidationException",
			"1 validation error detected: Value '%s' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)", p.StatementID)
	}
	if !actionRE.MatchString(p.Action) {
		return nil, awsproto.Errorf(400, "ValidationException",
			"1 validation error detected: Value '%s' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])", p.Action)
	}
	var principal any
	switch {
	case p.Principal == "*":
		principal = "*"
	case accountRE.MatchString(p.Principal):
		principal = map[string]string{"AWS": "arn:aws:iam::" + p.Principal + ":root"}
	case iamArnRE.MatchString(p.Principal):
		principal = map[string]string{"AWS": p.Principal}
	case serviceRE.MatchString(p.Principal):
		principal = map[string]string{"Service": p.Principal}
	default:
		return nil, awsproto.Errorf(400, "InvalidParameterValueException",
			"The provided principal was invalid. Please check the principal and try again.")
	}
	cond := map[string]map[string]string{}
	add := func(op, key, v string) {
		if v == "" {
			return
		}
		if cond[op] == nil {
			cond[op] = map[string]string{}
		}
		cond[op][key] = v
	}
	add("StringEquals", "AWS:SourceAccount", p.SourceAccount)
	add("StringEquals", "aws:PrincipalOrgID", p.PrincipalOrgID)
	add("StringEquals", "lambda:EventSourceToken", p.EventSourceToken)
	add("StringEquals", "lambda:FunctionUrlAuthType", p.FunctionURLAuthType)
	add("ArnLike", "AWS:SourceArn", p.SourceArn)
	st := map[string]any{"Sid": p.StatementID, "Effect": "Allow", "Principal": principal, "Action": p.Action, "Resource": fnArn}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	b, _ := json.Marshal(st)
	return b, nil
}

func (s *Store) document(fp *functionPolicy) []byte {
	if len(fp.statements) == 0 {
		return nil
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": fp.statements})
	return b
}

func functionNotFound(arn string) *awsproto.Error {
	return awsproto.Errorf(404, "ResourceNotFoundException", "Function not found: %s", arn)
}

// AddPermission adds a statement to the function's policy and returns it
// (JSON), as the AddPermission API does. function is a name or ARN.
func (s *Store) AddPermission(function string, p Permission) (string, *awsproto.Error) {
	return s.addPermission(function, p, "")
}

func (s *Store) addPermission(function string, p Permission, revision string) (string, *awsproto.Error) {
	f, ok := s.Lookup(function)
	if !ok {
		return "", functionNotFound(function)
	}
	st, e := statement(f.Arn, p)
	if e != nil {
		return "", e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perms == nil {
		s.perms = map[string]*functionPolicy{}
	}
	fp := s.perms[f.Arn]
	if fp == nil {
		fp = &functionPolicy{}
	}
	if revision != "" && revision != fp.revision {
		return "", awsproto.Errorf(412, "PreconditionFailedException",
			"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	}
	for _, sid := range fp.sids {
		if sid == p.StatementID {
			return "", awsproto.Errorf(409, "ResourceConflictException",
				"The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", p.StatementID)
		}
	}
	next := &functionPolicy{statements: append(append([]json.RawMessage(nil), fp.statements...), st),
		sids: append(append([]string(nil), fp.sids...), p.StatementID), revision: awsproto.NewRequestID()}
	if e := s.publishLocked(f, next); e != nil {
		return "", e
	}
	return string(st), nil
}

// publishLocked installs a function's new policy and hands it to the policy
// engine. Callers hold s.mu (the engine never calls back into the store).
func (s *Store) publishLocked(f *Function, fp *functionPolicy) *awsproto.Error {
	if s.cfg.Policies != nil {
		if err := s.cfg.Policies.SetResourcePolicy(f.Arn, "function policy of "+f.Name, s.document(fp)); err != nil {
			return awsproto.Errorf(400, "InvalidParameterValueException", "The policy is not valid: %v", err)
		}
	}
	s.perms[f.Arn] = fp
	return nil
}

// RemovePermission removes a statement from the function's policy.
func (s *Store) RemovePermission(function, statementID string) *awsproto.Error {
	return s.removePermission(function, statementID, "")
}

func (s *Store) removePermission(function, statementID, revision string) *awsproto.Error {
	f, ok := s.Lookup(function)
	if !ok {
		return functionNotFound(function)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := s.perms[f.Arn]
	if fp == nil || len(fp.sids) == 0 {
		return awsproto.Errorf(404, "ResourceNotFoundException", "No policy is associated with the given resource.")
	}
	if revision != "" && revision != fp.revision {
		return awsproto.Errorf(412, "PreconditionFailedException",
			"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
	}
	next := &functionPolicy{revision: awsproto.NewRequestID()}
	found := false
	for i, sid := range fp.sids {
		if sid == statementID {
			found = true
			continue
		}
		next.sids = append(next.sids, sid)
		next.statements = append(next.statements, fp.statements[i])
	}
	if !found {
		return awsproto.Errorf(404, "ResourceNotFoundException", "Statement %s is not found in resource policy.", statementID)
	}
	return s.publishLocked(f, next)
}

// Policy returns the function's policy (JSON) and its revision id; ok is
// false when it has none.
func (s *Store) Policy(function string) (doc, revision string, ok bool) {
	f, found := s.Lookup(function)
	if !found {
		return "", "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fp := s.perms[f.Arn]
	if fp == nil || len(fp.statements) == 0 {
		return "", "", false
	}
	return string(s.document(fp)), fp.revision, true
}

// servePolicy serves AddPermission, GetPolicy and RemovePermission
// (/2015-03-31/functions/{FunctionName}/policy[/{StatementId}]). It reports
// whether the request was one of them.
func (sv *Service) servePolicy(w http.ResponseWriter, r *http.Request, c *awsproto.Call) bool {
	const prefix = "/2015-03-31/functions/"
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := strings.TrimPrefix(path, prefix)
	name, tail, _ := strings.Cut(rest, "/")
	var op, sid string
	switch {
	case tail == "policy" && r.Method == http.MethodPost:
		op = "AddPermission"
	case tail == "policy" && r.Method == http.MethodGet:
		op = "GetPolicy"
	case strings.HasPrefix(tail, "policy/") && r.Method == http.MethodDelete:
		op, sid = "RemovePermission", strings.TrimPrefix(tail, "policy/")
	default:
		return false
	}
	unescape := func(s string) string {
		if u, err := url.PathUnescape(s); err == nil {
			return u
		}
		return s
	}
	name, sid = unescape(name), unescape(sid)
	if e := c.Begin(op); e != nil {
		sv.WriteError(w, c, e)
		return true
	}
	s := sv.s
	f, ok := s.Lookup(name)
	if !ok {
		sv.WriteError(w, c, functionNotFound(c.ARN("lambda", "function:"+name)))
		return true
	}
	if e := c.Authorize("AccessDeniedException", "lambda:"+op, f.Arn, nil); e != nil {
		sv.WriteError(w, c, e)
		return true
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" && q != "$LATEST" {
		sv.WriteError(w, c, awsproto.Errorf(404, "ResourceNotFoundException",
			"Function not found: %s:%s (the local cloud has no versions or aliases)", f.Arn, q))
		return true
	}
	switch op {
	case "AddPermission":
		var in struct {
			StatementId, Action, Principal, SourceArn, SourceAccount string
			EventSourceToken, PrincipalOrgID, FunctionUrlAuthType    string
			RevisionId                                               string
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &in); err != nil {
			sv.WriteError(w, c, awsproto.Errorf(400, "InvalidRequestContentException", "Could not parse request body into json: %v", err))
			return true
		}
		st, e := s.addPermission(f.Arn, Permission{StatementID: in.StatementId, Action: in.Action, Principal: in.Principal,
			SourceArn: in.SourceArn, SourceAccount: in.SourceAccount, PrincipalOrgID: in.PrincipalOrgID,
			EventSourceToken: in.EventSourceToken, FunctionURLAuthType: in.FunctionUrlAuthType}, in.RevisionId)
		if e != nil {
			sv.WriteError(w, c, e)
			return true
		}
		awsproto.WriteRESTJSON(w, 201, map[string]string{"Statement": st})
	case "GetPolicy":
		doc, rev, ok := s.Policy(f.Arn)
		if !ok {
			sv.WriteError(w, c, awsproto.Errorf(404, "ResourceNotFoundException", "The resource you requested does not exist."))
			return true
		}
		awsproto.WriteRESTJSON(w, 200, map[string]string{"Policy": doc, "RevisionId": rev})
	case "RemovePermission":
		if e := s.removePermission(f.Arn, sid, r.URL.Query().Get("RevisionId")); e != nil {
			sv.WriteError(w, c, e)
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	}
	return true
}
