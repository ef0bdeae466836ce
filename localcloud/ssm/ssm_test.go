package ssm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	localssm "github.com/platform/eks-connector-registrar/localcloud/ssm"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

type env struct {
	store *localssm.Store
	clk   *clock.Virtual
	te    *awsproto.TestEndpoint
	cli   *ssm.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewVirtual(t0)
	st, svc := localssm.New(localssm.Config{Region: "us-east-1", Account: "123456789012", Clock: clk})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	cli := ssm.NewFromConfig(te.Config, func(o *ssm.Options) { o.RetryMaxAttempts = 1 })
	return &env{store: st, clk: clk, te: te, cli: cli}
}

var ctx = context.Background()

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestPutGetParameter(t *testing.T) {
	e := newEnv(t)
	out, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/lock/c1"), Value: aws.String("owner-1"), Type: ssmtypes.ParameterTypeString,
		Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != 1 || out.Tier != ssmtypes.ParameterTierStandard {
		t.Fatalf("put = %+v", out)
	}
	g, err := e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/lock/c1")})
	if err != nil {
		t.Fatal(err)
	}
	p := g.Parameter
	if aws.ToString(p.Value) != "owner-1" || p.Type != ssmtypes.ParameterTypeString || p.Version != 1 ||
		aws.ToString(p.ARN) != "arn:aws:ssm:us-east-1:123456789012:parameter/app/lock/c1" || !p.LastModifiedDate.Equal(t0) || aws.ToString(p.DataType) != "text" {
		t.Fatalf("got %+v", p)
	}
	// By ARN.
	if _, err := e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: p.ARN}); err != nil {
		t.Fatal(err)
	}
	// Without Overwrite: ParameterAlreadyExists.
	_, err = e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/lock/c1"), Value: aws.String("x"), Type: ssmtypes.ParameterTypeString})
	var pae *ssmtypes.ParameterAlreadyExists
	if !errors.As(err, &pae) {
		t.Fatalf("want ParameterAlreadyExists, got %v", err)
	}
	// Overwrite increments the version and may omit the type.
	e.clk.Advance(time.Minute)
	out, err = e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/lock/c1"), Value: aws.String("owner-2"), Overwrite: aws.Bool(true)})
	if err != nil || out.Version != 2 {
		t.Fatalf("overwrite: %v %+v", err, out)
	}
	g, _ = e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/lock/c1")})
	if aws.ToString(g.Parameter.Value) != "owner-2" || !g.Parameter.LastModifiedDate.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %+v", g.Parameter)
	}
	// Version selector.
	g, err = e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/lock/c1:1")})
	if err != nil || aws.ToString(g.Parameter.Value) != "owner-1" || aws.ToString(g.Parameter.Selector) != ":1" {
		t.Fatalf("selector: %v %+v", err, g)
	}
	_, err = e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/app/lock/c1:7")})
	var pvnf *ssmtypes.ParameterVersionNotFound
	if !errors.As(err, &pvnf) {
		t.Fatalf("want ParameterVersionNotFound, got %v", err)
	}
	// Tags with overwrite: ValidationException.
	_, err = e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/lock/c1"), Value: aws.String("x"), Overwrite: aws.Bool(true),
		Tags: []ssmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("tags+overwrite: %v", err)
	}
	v, typ, ok := e.store.Parameter("/app/lock/c1")
	if !ok || v != "owner-2" || typ != "String" {
		t.Fatal(v, typ, ok)
	}
}

func TestGetParameterNotFoundAndStatus(t *testing.T) {
	e := newEnv(t)
	_, err := e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var nf *ssmtypes.ParameterNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("want ParameterNotFound, got %v", err)
	}
	var he interface{ HTTPStatusCode() int }
	if !errors.As(err, &he) || he.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("status: %v", err)
	}
	_, err = e.cli.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/nope")})
	if !errors.As(err, &nf) {
		t.Fatalf("delete: want ParameterNotFound, got %v", err)
	}
}

func TestPutParameterValidation(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat("/a", 16)
	cases := []struct {
		name, value string
		typ         ssmtypes.ParameterType
		keyID       string
		code        string
	}{
		{"awsfoo", "v", "String", "", "ValidationException"},
		{"/ssm/x", "v", "String", "", "ValidationException"},
		{"/AWS/x", "v", "String", "", "ValidationException"},
		{"a/b", "v", "String", "", "ValidationException"},
		{"/a b", "v", "String", "", "ValidationException"},
		{"/a/", "v", "String", "", "ValidationException"},
		{deep, "v", "String", "", "HierarchyLevelLimitExceededException"},
		{strings.Repeat("/a", 15), "v", "String", "", ""},
		{"/x/" + strings.Repeat("n", 1200), "v", "String", "", "ValidationException"},
		{"/big", strings.Repeat("v", 4097), "String", "", "ValidationException"},
		{"/ok4k", strings.Repeat("v", 4096), "String", "", ""},
		{"/t", "v", "Number", "", "ValidationException"},
		{"/k", "v", "String", "alias/mine", "ValidationException"},
		{"/badkey", "v", "SecureString", "not a key", "InvalidKeyId"},
		{"/notype", "v", "", "", "ValidationException"},
		{"/empty", "", "String", "", "ValidationException"},
	}
	for _, tc := range cases {
		in := &ssm.PutParameterInput{Name: aws.String(tc.name), Value: aws.String(tc.value), Type: tc.typ}
		if tc.keyID != "" {
			in.KeyId = aws.String(tc.keyID)
		}
		_, err := e.cli.PutParameter(ctx, in)
		if got := apiCode(err); got != tc.code {
			t.Errorf("%.40s: code %q, want %q (%v)", tc.name, got, tc.code, err)
		}
	}
	var hl *ssmtypes.HierarchyLevelLimitExceededException
	_, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(deep), Value: aws.String("v"), Type: "String"})
	if !errors.As(err, &hl) {
		t.Fatal(err)
	}
	// Advanced tier holds 8 KB.
	out, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/adv"), Value: aws.String(strings.Repeat("v", 5000)), Type: "String", Tier: ssmtypes.ParameterTierAdvanced})
	if err != nil || out.Tier != ssmtypes.ParameterTierAdvanced {
		t.Fatal(err, out)
	}
	// AllowedPattern.
	_, err = e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/pat"), Value: aws.String("abc"), Type: "String", AllowedPattern: aws.String(`^\d+$`)})
	var pm *ssmtypes.ParameterPatternMismatchException
	if !errors.As(err, &pm) {
		t.Fatal(err)
	}
}

// PutParameter without Overwrite is a lock: of 50 concurrent callers exactly one wins.
func TestPutParameterLockAtomic(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, exists, other := 0, 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/locks/cluster-a"), Value: aws.String(fmt.Sprint("owner-", i)), Type: "String"})
			var pae *ssmtypes.ParameterAlreadyExists
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.As(err, &pae):
				exists++
			default:
				other++
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || exists != 49 || other != 0 {
		t.Fatalf("wins=%d exists=%d other=%d", wins, exists, other)
	}
}

func TestSecureString(t *testing.T) {
	e := newEnv(t)
	if _, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/s/secret"), Value: aws.String("hunter2"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	g, err := e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/s/secret")})
	if err != nil {
		t.Fatal(err)
	}
	if v := aws.ToString(g.Parameter.Value); v == "hunter2" || strings.Contains(v, "hunter2") || !strings.HasPrefix(v, "AQICAH") {
		t.Fatalf("SecureString without decryption returned %q", v)
	}
	g, err = e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/s/secret"), WithDecryption: aws.Bool(true)})
	if err != nil || aws.ToString(g.Parameter.Value) != "hunter2" || g.Parameter.Type != ssmtypes.ParameterTypeSecureString {
		t.Fatal(err, g)
	}
	// Customer key: kms:Encrypt on Put, kms:Decrypt on Get, on the key ARN.
	rec := &recorder{}
	e.te.Router.Authz = rec
	e.te.Router.Principals = func(string) *awsproto.Principal {
		return &awsproto.Principal{Name: "fn", ARN: "arn:aws:iam::123456789012:role/fn"}
	}
	if _, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/s/cmk"), Value: aws.String("v"), Type: "SecureString", KeyId: aws.String("alias/my-key")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/s/cmk"), WithDecryption: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	got := rec.list()
	want := []string{"ssm:PutParameter arn:aws:ssm:us-east-1:123456789012:parameter/s/cmk", "kms:Encrypt arn:aws:kms:us-east-1:123456789012:key/",
		"ssm:GetParameter arn:aws:ssm:us-east-1:123456789012:parameter/s/cmk", "kms:Decrypt arn:aws:kms:us-east-1:123456789012:key/"}
	if len(got) != len(want) {
		t.Fatalf("checks %v", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("check %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	// A denied decrypt is AccessDeniedException.
	rec.deny = "kms:Decrypt"
	_, err = e.cli.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/s/cmk"), WithDecryption: aws.Bool(true)})
	var ad *ssmtypes.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Fatal(err)
	}
}

type recorder struct {
	mu     sync.Mutex
	checks []string
	deny   string
}

func (r *recorder) Decide(p *awsproto.Principal, action, resource string, _ map[string]string) awsproto.Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, action+" "+resource)
	return awsproto.Decision{Allowed: action != r.deny}
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = nil
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.checks...)
}

func TestGetParametersAndByPath(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"/app/a", "/app/b", "/app/sub/c", "/app/sub/deep/d", "/other/x"} {
		if _, err := e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(n), Value: aws.String("v" + n), Type: "String"}); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = e.cli.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/sec"), Value: aws.String("s3cr3t"), Type: "SecureString"})
	gp, err := e.cli.GetParameters(ctx, &ssm.GetParametersInput{Names: []string{"/app/a", "/missing", "/app/sub/c"}})
	if err != nil || len(gp.Parameters) != 2 || len(gp.InvalidParameters) != 1 || gp.InvalidParameters[0] != "/missing" {
		t.Fatal(err, gp)
	}
	names := func(ps []ssmtypes.Parameter) []string {
		var out []string
		for _, p := range ps {
			out = append(out, aws.ToString(p.Name))
		}
		return out
	}
	bp, err := e.cli.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app")})
	if err != nil || strings.Join(names(bp.Parameters), ",") != "/app/a,/app/b,/app/sec" {
		t.Fatal(err, names(bp.Parameters))
	}
	for _, p := range bp.Parameters {
		if aws.ToString(p.Name) == "/app/sec" && aws.ToString(p.Value) == "s3cr3t" {
			t.Fatal("by-path returned a SecureString's plaintext without WithDecryption")
		}
	}
	// Recursive, paged by 2 with the paginator.
	pg := ssm.NewGetParametersByPathPaginator(e.cli, &ssm.GetParametersByPathInput{Path: aws.String("/app/"), Recursive: aws.Bool(true), MaxResults: aws.Int32(2), WithDecryption: aws.Bool(true)})
	var all []string
	pages := 0
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, names(out.Parameters)...)
		for _, p := range out.Parameters {
			if aws.ToString(p.Name) == "/app/sec" && aws.ToString(p.Value) != "s3cr3t" {
				t.Fatal("WithDecryption by path")
			}
		}
	}
	if strings.Join(all, ",") != "/app/a,/app/b,/app/sec,/app/sub/c,/app/sub/deep/d" || pages != 3 {
		t.Fatal(pages, all)
	}
	_, err = e.cli.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), MaxResults: aws.Int32(11)})
	if apiCode(err) != "ValidationException" {
		t.Fatal(err)
	}
	_, err = e.cli.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String("/app"), NextToken: aws.String("garbage!")})
	var bad *ssmtypes.InvalidNextToken
	if !errors.As(err, &bad) {
		t.Fatal(err)
	}
	// Delete in bulk.
	dp, err := e.cli.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: []string{"/app/a", "/nope"}})
	if err != nil || len(dp.DeletedParameters) != 1 || dp.DeletedParameters[0] != "/app/a" || len(dp.InvalidParameters) != 1 {
		t.Fatal(err, dp)
	}
	if _, err := e.cli.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String("/app/b")}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.store.ParameterNames(), ","); got != "/app/sec,/app/sub/c,/app/sub/deep/d,/other/x" {
		t.Fatal(got)
	}
	// DescribeParameters.
	dps, err := e.cli.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Type"), Values: []string{"SecureString"}}}})
	if err != nil || len(dps.Parameters) != 1 || aws.ToString(dps.Parameters[0].KeyId) != "alias/aws/ssm" {
		t.Fatal(err, dps)
	}
	dps, err = e.cli.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{"/app/sub"}}}})
	if err != nil || len(dps.Parameters) != 2 {
		t.Fatal(err, dps)
	}
}

func TestActivationsAndInstances(t *testing.T) {
	e := newEnv(t)
	id, code := e.store.CreateActivation("AmazonEKSConnectorAgentRole", "eks-connector", "EKS connector", 2, t0.Add(72*time.Hour), map[string]string{"cluster": "c1"})
	if len(code) != 20 || len(id) != 36 {
		t.Fatal(id, code)
	}
	err := e.store.RegisterManagedInstance(id, code+"x", "eks_c:c1_aaaaaaaaaaaaaaaaa")
	var ae *awsproto.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidActivation" {
		t.Fatalf("wrong code: %v", err)
	}
	if err := e.store.RegisterManagedInstance("00000000-0000-4000-8000-000000000000", code, "x"); !errors.As(err, &ae) || ae.Code != "InvalidActivation" {
		t.Fatal(err)
	}
	for _, i := range []string{"eks_c:c1_aaaaaaaaaaaaaaaaa", "eks_c:c1_bbbbbbbbbbbbbbbbb"} {
		if err := e.store.RegisterManagedInstance(id, code, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.RegisterManagedInstance(id, code, "eks_c:c1_ccccccccccccccccc"); !errors.As(err, &ae) || ae.Code != "InvalidActivation" {
		t.Fatalf("over limit: %v", err)
	}
	if n := e.store.OnlineInstances(id); n != 2 {
		t.Fatal(n)
	}
	da, err := e.cli.DescribeActivations(ctx, &ssm.DescribeActivationsInput{Filters: []ssmtypes.DescribeActivationsFilter{
		{FilterKey: ssmtypes.DescribeActivationsFilterKeysActivationIds, FilterValues: []string{id}}}})
	if err != nil || len(da.ActivationList) != 1 {
		t.Fatal(err, da)
	}
	a := da.ActivationList[0]
	if aws.ToString(a.ActivationId) != id || aws.ToInt32(a.RegistrationsCount) != 2 || aws.ToInt32(a.RegistrationLimit) != 2 || a.Expired ||
		!a.ExpirationDate.Equal(t0.Add(72*time.Hour)) || !a.CreatedDate.Equal(t0) || aws.ToString(a.IamRole) != "AmazonEKSConnectorAgentRole" ||
		aws.ToString(a.DefaultInstanceName) != "eks-connector" || len(a.Tags) != 1 {
		t.Fatalf("%+v", a)
	}
	ii, err := e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
		{Key: aws.String("ActivationIds"), Values: []string{id}}}})
	if err != nil || len(ii.InstanceInformationList) != 2 {
		t.Fatal(err, ii)
	}
	in := ii.InstanceInformationList[0]
	if aws.ToString(in.InstanceId) != "eks_c:c1_aaaaaaaaaaaaaaaaa" || in.PingStatus != ssmtypes.PingStatusOnline || in.ResourceType != ssmtypes.ResourceTypeManagedInstance ||
		aws.ToString(in.ActivationId) != id || aws.ToString(in.IamRole) != "AmazonEKSConnectorAgentRole" || !in.RegistrationDate.Equal(t0) ||
		in.LastPingDateTime == nil || aws.ToString(in.Name) != "eks-connector" || aws.ToString(in.ComputerName) == "" {
		t.Fatalf("%+v", in)
	}
	// Legacy filter list and PingStatus.
	if err := e.store.SetPingStatus("eks_c:c1_bbbbbbbbbbbbbbbbb", "ConnectionLost"); err != nil {
		t.Fatal(err)
	}
	ii, err = e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
		{Key: ssmtypes.InstanceInformationFilterKeyPingStatus, ValueSet: []string{"ConnectionLost"}}}})
	if err != nil || len(ii.InstanceInformationList) != 1 || aws.ToString(ii.InstanceInformationList[0].InstanceId) != "eks_c:c1_bbbbbbbbbbbbbbbbb" {
		t.Fatal(err, ii)
	}
	if n := e.store.OnlineInstances(id); n != 1 {
		t.Fatal(n)
	}
	// DeleteActivation leaves instances registered.
	if _, err := e.cli.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if len(e.store.Instances()) != 2 || len(e.store.ActivationIDs()) != 0 {
		t.Fatal(e.store.Instances(), e.store.ActivationIDs())
	}
	// Deleting it again: InvalidActivation, "the activation might have been
	// deleted" (API reference); an id it never had: InvalidActivationId.
	_, err = e.cli.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String(id)})
	var ia *ssmtypes.InvalidActivation
	if !errors.As(err, &ia) {
		t.Fatal(err)
	}
	_, err = e.cli.DeleteActivation(ctx, &ssm.DeleteActivationInput{ActivationId: aws.String("00000000-0000-4000-8000-00000000abcd")})
	var iai *ssmtypes.InvalidActivationId
	if !errors.As(err, &iai) {
		t.Fatal(err)
	}
	if err := e.store.RegisterManagedInstance(id, code, "eks_c:c1_ddddddddddddddddd"); !errors.As(err, &ae) || ae.Code != "InvalidActivation" {
		t.Fatalf("deleted activation: %v", err)
	}
	// Deregister.
	if _, err := e.cli.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String("eks_c:c1_aaaaaaaaaaaaaaaaa")}); err != nil {
		t.Fatal(err)
	}
	_, err = e.cli.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String("eks_c:c1_aaaaaaaaaaaaaaaaa")})
	var iii *ssmtypes.InvalidInstanceId
	if !errors.As(err, &iii) {
		t.Fatal(err)
	}
	if got := e.store.Instances(); len(got) != 1 {
		t.Fatal(got)
	}
}

func TestActivationExpiry(t *testing.T) {
	e := newEnv(t)
	id, code := e.store.CreateActivation("role", "", "", 1, t0.Add(72*time.Hour), nil)
	e.clk.Advance(72 * time.Hour)
	err := e.store.RegisterManagedInstance(id, code, "")
	var ae *awsproto.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidActivation" {
		t.Fatal(err)
	}
	da, err := e.cli.DescribeActivations(ctx, &ssm.DescribeActivationsInput{})
	if err != nil || len(da.ActivationList) != 1 || !da.ActivationList[0].Expired {
		t.Fatal(err, da)
	}
}

func TestCreateActivationWire(t *testing.T) {
	e := newEnv(t)
	out, err := e.cli.CreateActivation(ctx, &ssm.CreateActivationInput{IamRole: aws.String("AmazonEKSConnectorAgentRole"), RegistrationLimit: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.RegisterManagedInstance(aws.ToString(out.ActivationId), aws.ToString(out.ActivationCode), ""); err != nil {
		t.Fatal(err)
	}
	ii, err := e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil || len(ii.InstanceInformationList) != 1 || !strings.HasPrefix(aws.ToString(ii.InstanceInformationList[0].InstanceId), "mi-") {
		t.Fatal(err, ii)
	}
	// Pagination of DescribeActivations.
	for range 7 {
		e.store.CreateActivation("r", "", "", 1, time.Time{}, nil)
	}
	pg := ssm.NewDescribeActivationsPaginator(e.cli, &ssm.DescribeActivationsInput{MaxResults: aws.Int32(3)})
	n := 0
	for pg.HasMorePages() {
		p, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.ActivationList)
	}
	if n != 8 {
		t.Fatal(n)
	}
	_, err = e.cli.DescribeActivations(ctx, &ssm.DescribeActivationsInput{Filters: []ssmtypes.DescribeActivationsFilter{{FilterKey: "Bogus", FilterValues: []string{"x"}}}})
	if apiCode(err) != "ValidationException" {
		t.Fatal(err)
	}
}

func TestAuthorizeManagedInstanceArn(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{deny: "ssm:DeregisterManagedInstance"}
	e.te.Router.Authz = rec
	e.te.Router.Principals = func(string) *awsproto.Principal {
		return &awsproto.Principal{Name: "fn", ARN: "arn:aws:iam::123456789012:role/fn"}
	}
	_, err := e.cli.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String("eks_c:c1_aaaaaaaaaaaaaaaaa")})
	var ad *ssmtypes.AccessDeniedException
	if !errors.As(err, &ad) {
		t.Fatal(err)
	}
	// A connector instance is authorized against its cluster's ARN
	// (AmazonEKSConnectorServiceRolePolicy grants the action on cluster ARNs
	// only; FIDELITY.md), any other against managed-instance/<id> (SAR).
	if got := rec.list(); len(got) != 1 || got[0] != "ssm:DeregisterManagedInstance arn:aws:eks:us-east-1:123456789012:cluster/c1" {
		t.Fatal(got)
	}
	for id, want := range map[string]string{
		"mi-0123456789abcdef0":               "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0",
		"eks_c:my_cluster_bbbbbbbbbbbbbbbbb": "arn:aws:eks:us-east-1:123456789012:cluster/my_cluster",
	} {
		rec.reset()
		if _, err := e.cli.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String(id)}); !errors.As(err, &ad) {
			t.Fatal(err)
		}
		if got := rec.list(); len(got) != 1 || got[0] != "ssm:DeregisterManagedInstance "+want {
			t.Errorf("%s: checked %v, want %s", id, got, want)
		}
	}
}

// The SSM model (botocore 1.43.11, DescribeInstanceInformationRequest
// MaxResults): "The default value is 10 items." A request without MaxResults
// gets pages of 10, not of the 50 the range allows.
func TestDescribeInstanceInformationDefaultPageSize(t *testing.T) {
	e := newEnv(t)
	id, code := e.store.CreateActivation("AmazonEKSConnectorAgentRole", "eks-connector", "", 12, t0.Add(72*time.Hour), nil)
	for i := range 12 {
		if err := e.store.RegisterManagedInstance(id, code, fmt.Sprintf("eks_c:c1_%017d", i)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil || len(first.InstanceInformationList) != 10 || first.NextToken == nil {
		t.Fatalf("first page without MaxResults: %v, %d items, NextToken %v; want 10 items and a NextToken", err, len(first.InstanceInformationList), first.NextToken != nil)
	}
	rest, err := e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{NextToken: first.NextToken})
	if err != nil || len(rest.InstanceInformationList) != 2 || rest.NextToken != nil {
		t.Fatalf("second page: %v, %+v", err, rest)
	}
	all, err := e.cli.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(50)})
	if err != nil || len(all.InstanceInformationList) != 12 {
		t.Fatalf("MaxResults 50: %v, %d items", err, len(all.InstanceInformationList))
	}
}
