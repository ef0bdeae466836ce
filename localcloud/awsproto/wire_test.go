package awsproto

import (
	"net/http"
	"strings"
	"testing"
)

// The wire checker against answers AWS would not send, one per rule, and
// answers it would, which must pass: a checker that finds nothing proves
// nothing.
func TestCheckAnswerFindsEachRule(t *testing.T) {
	const iamNS = `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`
	role := func(inner string) string {
		return `<GetRoleResponse ` + iamNS + `><GetRoleResult><Role>` + inner +
			`</Role></GetRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetRoleResponse>`
	}
	const fullRole = `<Path>/</Path><RoleName>n</RoleName><RoleId>AROA1</RoleId><Arn>arn:aws:iam::1:role/n</Arn>`
	item := func(status, start string) string {
		return `{"executions":[{"executionArn":"a","stateMachineArn":"s","name":"n","status":"` + status + `","startDate":` + start + `}]}`
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name, service, op string
		status            int
		header            http.Header
		body              string
		want              string // "" passes; else "path: rule"
	}{
		{"empty list", "states", "ListExecutions", 200, nil, `{"executions":[]}`, ""},
		{"null list", "states", "ListExecutions", 200, nil, `{"executions":null}`, "executions: null"},
		{"missing required", "states", "ListExecutions", 200, nil, `{}`, "executions: required"},
		{"good item", "states", "ListExecutions", 200, nil, item("RUNNING", "1795856400.5"), ""},
		{"bad enum", "states", "ListExecutions", 200, nil, item("DONE", "1795856400"), "executions[0].status: enum"},
		{"iso timestamp in JSON", "states", "ListExecutions", 200, nil, item("RUNNING", `"2026-11-27T10:00:00Z"`), "executions[0].startDate: timestamp"},
		{"unknown member", "states", "ListExecutions", 200, nil, `{"executions":[],"Executions":[]}`, "Executions: unknown-member"},
		{"null string", "states", "ListExecutions", 200, nil, `{"executions":[],"nextToken":null}`, "nextToken: null"},
		{"wrong type", "eks", "ListClusters", 200, nil, `{"clusters":"a"}`, "clusters: type"},
		{"declared error", "ssm", "GetParameter", 400, nil, `{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"m"}`, ""},
		{"common error", "ssm", "GetParameter", 400, nil, `{"__type":"ThrottlingException","message":"m"}`, ""},
		{"undeclared error", "ssm", "GetParameter", 400, nil, `{"__type":"com.amazonaws.ssm#ResourceNotFoundException"}`, ": error-code"},
		{"unserved op refused", "states", "ListActivities", 400, nil, `{"__type":"com.amazonaws.sfn#UnknownOperationException"}`, ""},
		{"rest-json error status", "eks", "DescribeCluster", 400, hdr("X-Amzn-Errortype", "ResourceNotFoundException"), `{"message":"m"}`, ": status"},
		{"rest-json error", "eks", "DescribeCluster", 404, hdr("X-Amzn-Errortype", "ResourceNotFoundException"), `{"message":"m"}`, ""},
		{"known undeclared", "eks", "RegisterCluster", 400, hdr("X-Amzn-Errortype", "InvalidRequestException"), `{"message":"Nonexistent role"}`, ""},
		{"success status", "lambda", "AddPermission", 200, nil, `{"Statement":"{}"}`, ": status"},
		{"blob payload, header members", "lambda", "Invoke", 200, hdr("X-Amz-Executed-Version", "$LATEST"), `raw payload`, ""},
		{"xml good", "iam", "GetRole", 200, nil, role(fullRole + `<CreateDate>2026-11-27T10:00:00Z</CreateDate>`), ""},
		{"xml missing required", "iam", "GetRole", 200, nil, role(fullRole), "Role.CreateDate: required"},
		{"xml timestamp", "iam", "GetRole", 200, nil, role(fullRole + `<CreateDate>1795856400</CreateDate>`), "Role.CreateDate: timestamp"},
		{"xml unknown member", "iam", "GetRole", 200, nil, role(fullRole + `<CreateDate>2026-11-27T10:00:00Z</CreateDate><Extra/>`), "Role.Extra: unknown-member"},
		{"xml root", "iam", "GetRole", 200, nil, strings.Replace(role(fullRole+`<CreateDate>2026-11-27T10:00:00Z</CreateDate>`), iamNS, `xmlns="x"`, 1), ": envelope"},
		{"xml list items", "iam", "ListRolePolicies", 200, nil, `<ListRolePoliciesResponse ` + iamNS + `><ListRolePoliciesResult><PolicyNames><name>p</name></PolicyNames><IsTruncated>false</IsTruncated></ListRolePoliciesResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListRolePoliciesResponse>`, "PolicyNames[0]: type"},
		{"xml error", "iam", "GetRole", 404, nil, `<ErrorResponse ` + iamNS + `><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ""},
		{"xml undeclared error", "iam", "GetRole", 400, nil, `<ErrorResponse ` + iamNS + `><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ": error-code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			vs := CheckAnswer(tc.service, tc.op, tc.status, h, []byte(tc.body))
			if tc.want == "" {
				for _, v := range vs {
					t.Errorf("unexpected violation: %s", v)
				}
				return
			}
			found := false
			for _, v := range vs {
				found = found || v.Path+": "+v.Rule == tc.want
			}
			if !found {
				t.Errorf("want %q among %v", tc.want, vs)
			}
		})
	}
}

// Every operation a committed model lists parses and links, so a model the
// generator writes wrong fails here rather than in the first test that uses it.
func TestCommittedModelsLoad(t *testing.T) {
	for _, svc := range []string{"eks", "events", "iam", "lambda", "sqs", "ssm", "states", "sts"} {
		m := wireModelFor(svc)
		if m == nil || len(m.Operations) == 0 || !strings.HasPrefix(m.Source, "botocore 1.43.11 ") {
			t.Errorf("%s: model %+v", svc, m)
		}
	}
}
