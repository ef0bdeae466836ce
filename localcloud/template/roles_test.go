package template

import "testing"

// AWS::IAM::Role resources are listed with their trust policy and inline
// policies (intrinsics resolved), for the roles other services assume.
func TestIAMRoles(t *testing.T) {
	tp := mustLoad(t, Options{})
	var got *Role
	for i := range tp.Roles {
		if tp.Roles[i].LogicalID == "RuleInvokeRole" {
			got = &tp.Roles[i]
		}
	}
	if got == nil {
		t.Fatalf("roles %+v, want RuleInvokeRole", tp.Roles)
	}
	wantArn := "arn:aws:iam::123456789012:role/service-role/local-RuleInvokeRole-HSVK4RQI5DIL"
	wantDoc := `{"Statement":[{"Action":"states:StartExecution","Effect":"Allow","Resource":"` + sm(t, tp, "DeregistrationStateMachine").Arn +
		`"}],"Version":"2012-10-17"}`
	wantTrust := `{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"}}],"Version":"2012-10-17"}`
	if got.Arn != wantArn || got.Name != "local-RuleInvokeRole-HSVK4RQI5DIL" || len(got.Policies) != 1 || got.Policies[0].Name != "StartDeregistration" ||
		string(got.Policies[0].Document) != wantDoc || string(got.TrustPolicy) != wantTrust {
		t.Errorf("role %s %s trust %s policies %+v\nwant %s, StartDeregistration %s", got.Name, got.Arn, got.TrustPolicy, got.Policies, wantArn, wantDoc)
	}
}
