package eks_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	lceks "github.com/platform/eks-connector-registrar/localcloud/eks"
	lciam "github.com/platform/eks-connector-registrar/localcloud/iam"
)

const (
	account  = "123456789012"
	ssmTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	delay    = 10 * time.Second
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSSM is an in-memory Activations.
type fakeSSM struct {
	mu      sync.Mutex
	n       int
	acts    map[string]activation
	online  map[string]int
	deleted []string
}

type activation struct {
	role, instanceName, description string
	limit                           int
	expiry                          time.Time
}

func newFakeSSM() *fakeSSM {
	return &fakeSSM{acts: map[string]activation{}, online: map[string]int{}}
}

func (f *fakeSSM) CreateActivation(role, name, desc string, limit int, expiry time.Time, _ map[string]string) (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", f.n)
	f.acts[id] = activation{role, name, desc, limit, expiry}
	return id, fmt.Sprintf("code-%d-abcdefghijklmnop", f.n)
}

func (f *fakeSSM) DeleteActivation(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.acts[id]
	delete(f.acts, id)
	f.deleted = append(f.deleted, id)
	return ok
}

func (f *fakeSSM) OnlineInstances(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.online[id]
}

func (f *fakeSSM) setOnline(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[id] = n
}

type env struct {
	clk   *clock.Virtual
	roles *lciam.Store
	ssm   *fakeSSM
	store *lceks.Store
	te    *awsproto.TestEndpoint
	api   *eks.Client
	iam   *iam.Client
	role  string // agent role ARN, already propagated
}

func newEnv(t *testing.T, mod ...func(*lceks.Config)) *env {
	t.Helper()
	clk := clock.NewVirtual(t0)
	roles, iamSvc := lciam.New(lciam.Config{Account: account, Clock: clk})
	ssm := newFakeSSM()
	cfg := lceks.Config{Region: "us-east-1", Account: account, Clock: clk, Roles: roles, Activations: ssm, RolePropagationDelay: delay}
	for _, m := range mod {
		m(&cfg)
	}
	store, svc := lceks.New(cfg)
	te := awsproto.NewTestEndpoint(t, clk, svc, iamSvc)
	e := &env{clk: clk, roles: roles, ssm: ssm, store: store, te: te,
		api: eks.NewFromConfig(te.Config), iam: iam.NewFromConfig(te.Config)}
	e.role = e.createRole(t, "AmazonEKSConnectorAgentRole", ssmTrust)
	clk.Advance(delay)
	return e
}

func (e *env) createRole(t *testing.T, name, trust string) string {
	t.Helper()
	out, err := e.iam.CreateRole(awsproto.Ctx(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Role.Arn)
}

func (e *env) registerInput(name string) *eks.RegisterClusterInput {
	return &eks.RegisterClusterInput{Name: aws.String(name),
		ConnectorConfig: &ekstypes.ConnectorConfigRequest{RoleArn: aws.String(e.role), Provider: ekstypes.ConnectorConfigProviderOther}}
}

func (e *env) register(t *testing.T, name string) *ekstypes.Cluster {
	t.Helper()
	out, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput(name))
	if err != nil {
		t.Fatalf("RegisterCluster %s: %v", name, err)
	}
	return out.Cluster
}

func (e *env) describe(t *testing.T, name string) *ekstypes.Cluster {
	t.Helper()
	out, err := e.api.DescribeCluster(awsproto.Ctx(), &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeCluster %s: %v", name, err)
	}
	return out.Cluster
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode()
}

func httpStatus(t *testing.T, err error) int {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want a response error, got %v", err)
	}
	return re.HTTPStatusCode()
}

func TestRegisterAndDescribe(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now()
	in := e.registerInput("my-cluster_1")
	in.Tags = map[string]string{"team": "platform"}
	out, err := e.api.RegisterCluster(awsproto.Ctx(), in)
	if err != nil {
		t.Fatal(err)
	}
	c := out.Cluster
	if aws.ToString(c.Name) != "my-cluster_1" || aws.ToString(c.Arn) != "arn:aws:eks:us-east-1:123456789012:cluster/my-cluster_1" {
		t.Errorf("name/arn %s %s", aws.ToString(c.Name), aws.ToString(c.Arn))
	}
	if c.Status != ekstypes.ClusterStatusPending || !c.CreatedAt.Equal(now) || c.Tags["team"] != "platform" {
		t.Errorf("status %s created %v tags %v", c.Status, c.CreatedAt, c.Tags)
	}
	cc := c.ConnectorConfig
	if cc == nil || aws.ToString(cc.ActivationCode) == "" || aws.ToString(cc.ActivationId) == "" {
		t.Fatalf("connector config %+v", cc)
	}
	if !cc.ActivationExpiry.Equal(now.Add(72*time.Hour)) || aws.ToString(cc.Provider) != "OTHER" || aws.ToString(cc.RoleArn) != e.role {
		t.Errorf("connector config expiry %v provider %s role %s", cc.ActivationExpiry, aws.ToString(cc.Provider), aws.ToString(cc.RoleArn))
	}
	act := e.ssm.acts[aws.ToString(cc.ActivationId)]
	if act.role != e.role || act.limit != 2 || !act.expiry.Equal(*cc.ActivationExpiry) || act.instanceName != "eks_c:my-cluster_1" {
		t.Errorf("activation %+v", act)
	}
	if _, ok := e.roles.Role("AWSServiceRoleForAmazonEKSConnector"); !ok {
		t.Error("RegisterCluster should create the connector service-linked role")
	}
	if e.store.RegisterCalls() != 1 {
		t.Errorf("register calls %d", e.store.RegisterCalls())
	}

	d := e.describe(t, "my-cluster_1")
	if d.Status != ekstypes.ClusterStatusPending || d.ConnectorConfig == nil {
		t.Fatalf("describe %+v", d)
	}
	if d.ConnectorConfig.ActivationCode != nil {
		t.Error("DescribeCluster must never return the activation code")
	}
	if aws.ToString(d.ConnectorConfig.ActivationId) != aws.ToString(cc.ActivationId) || !d.CreatedAt.Equal(now) {
		t.Errorf("describe %+v", d.ConnectorConfig)
	}
	if names := e.store.ClusterNames(); len(names) != 1 || names[0] != "my-cluster_1" {
		t.Errorf("names %v", names)
	}
}

func TestRegisterExistingSLR(t *testing.T) {
	e := newEnv(t)
	before := e.roles.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	e.register(t, "a")
	snap, _ := e.roles.Role("AWSServiceRoleForAmazonEKSConnector")
	if snap.ARN != before || len(e.roles.RoleNames()) != 2 {
		t.Errorf("SLR changed: %v %v", snap.ARN, e.roles.RoleNames())
	}
}

func TestRolePropagationDelay(t *testing.T) {
	e := newEnv(t)
	in := e.registerInput("late")
	in.ConnectorConfig.RoleArn = aws.String(e.createRole(t, "NewRole", ssmTrust))
	_, err := e.api.RegisterCluster(awsproto.Ctx(), in)
	var ire *ekstypes.InvalidRequestException
	if !errors.As(err, &ire) || apiCode(t, err) != "InvalidRequestException" || httpStatus(t, err) != 400 {
		t.Fatalf("want InvalidRequestException 400, got %v", err)
	}
	if aws.ToString(ire.Message) != "Nonexistent role or missing ssm service principal in trust policy" {
		t.Errorf("message %q", aws.ToString(ire.Message))
	}
	if e.store.RegisterCalls() != 0 || len(e.ssm.acts) != 0 {
		t.Error("a failed registration must not create anything")
	}
	e.clk.Advance(delay)
	if _, err := e.api.RegisterCluster(awsproto.Ctx(), in); err != nil {
		t.Fatalf("after propagation: %v", err)
	}
}

func TestRoleNotTrustingSSM(t *testing.T) {
	e := newEnv(t)
	cases := map[string]string{
		"missing role": "arn:aws:iam::123456789012:role/Nope",
		"wrong service": e.createRole(t, "Ec2Role",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	}
	e.clk.Advance(time.Hour)
	for name, arn := range cases {
		in := e.registerInput("c")
		in.ConnectorConfig.RoleArn = aws.String(arn)
		_, err := e.api.RegisterCluster(awsproto.Ctx(), in)
		if err == nil || apiCode(t, err) != "InvalidRequestException" || !strings.Contains(err.Error(), "missing ssm service principal") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	e := newEnv(t)
	invalidChars := `The parameter name contains invalid characters. It should conform to the regular expression "^[0-9A-Za-z][A-Za-z0-9-_]*"In other words`
	cases := []struct {
		name     string
		mod      func(*eks.RegisterClusterInput)
		contains string
	}{
		{"dot", func(in *eks.RegisterClusterInput) { in.Name = aws.String("cluster.com") }, invalidChars},
		{"leading dash", func(in *eks.RegisterClusterInput) { in.Name = aws.String("-x") }, invalidChars},
		{"empty", func(in *eks.RegisterClusterInput) { in.Name = aws.String("") }, "between 1 and 100"},
		{"too long", func(in *eks.RegisterClusterInput) { in.Name = aws.String(strings.Repeat("a", 101)) }, "between 1 and 100"},
		{"bad provider", func(in *eks.RegisterClusterInput) { in.ConnectorConfig.Provider = "MINIKUBE" }, "Member must satisfy enum value set"},
		{"lower-case provider", func(in *eks.RegisterClusterInput) { in.ConnectorConfig.Provider = "other" }, "connectorConfig.provider"},
		{"role not an ARN", func(in *eks.RegisterClusterInput) {
			in.ConnectorConfig.RoleArn = aws.String("AmazonEKSConnectorAgentRole")
		}, "roleArn"},
		{"reserved tag", func(in *eks.RegisterClusterInput) { in.Tags = map[string]string{"aws:x": "y"} }, "reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := e.registerInput("valid")
			tc.mod(in)
			_, err := e.api.RegisterCluster(awsproto.Ctx(), in)
			var ipe *ekstypes.InvalidParameterException
			if !errors.As(err, &ipe) {
				t.Fatalf("want *InvalidParameterException, got %v", err)
			}
			if httpStatus(t, err) != 400 || !strings.Contains(aws.ToString(ipe.Message), tc.contains) {
				t.Errorf("status %d message %q", httpStatus(t, err), aws.ToString(ipe.Message))
			}
		})
	}
	if e.store.RegisterCalls() != 0 {
		t.Error("nothing should have been registered")
	}
}

func TestDuplicateName(t *testing.T) {
	e := newEnv(t)
	e.register(t, "dup")
	e.store.AddManagedCluster("managed")
	for _, name := range []string{"dup", "managed"} {
		_, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput(name))
		var riu *ekstypes.ResourceInUseException
		if !errors.As(err, &riu) || httpStatus(t, err) != 409 {
			t.Fatalf("%s: want ResourceInUseException 409, got %v", name, err)
		}
		if aws.ToString(riu.Message) != "Cluster already exists with name: "+name || aws.ToString(riu.ClusterName) != name {
			t.Errorf("%s: message %q clusterName %q", name, aws.ToString(riu.Message), aws.ToString(riu.ClusterName))
		}
	}
	if e.store.RegisterCalls() != 1 {
		t.Errorf("register calls %d", e.store.RegisterCalls())
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, func(c *lceks.Config) { c.ClusterQuota = 2 })
	e.store.AddManagedCluster("managed") // managed clusters do not count
	e.register(t, "a")
	e.register(t, "b")
	_, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput("c"))
	var rle *ekstypes.ResourceLimitExceededException
	if !errors.As(err, &rle) || httpStatus(t, err) != 400 || !strings.Contains(aws.ToString(rle.Message), "quota of 2") {
		t.Fatalf("want ResourceLimitExceededException 400, got %v", err)
	}
	// A DELETING registration still counts; a gone one does not.
	if _, err := e.api.DeregisterCluster(awsproto.Ctx(), &eks.DeregisterClusterInput{Name: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput("c")); apiCode(t, err) != "ResourceLimitExceededException" {
		t.Fatalf("while DELETING: %v", err)
	}
	e.clk.Advance(2 * time.Minute)
	e.register(t, "c")
}

func TestIdempotencyToken(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	in := e.registerInput("idem")
	in.ClientRequestToken = aws.String("token-1")
	first, err := e.api.RegisterCluster(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour)
	again, err := e.api.RegisterCluster(ctx, in)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if aws.ToString(again.Cluster.ConnectorConfig.ActivationId) != aws.ToString(first.Cluster.ConnectorConfig.ActivationId) ||
		!again.Cluster.CreatedAt.Equal(*first.Cluster.CreatedAt) {
		t.Error("replay should return the same registration")
	}
	if again.Cluster.ConnectorConfig.ActivationCode != nil {
		t.Error("a replay must not return the activation code again")
	}

	// 50 concurrent duplicates of a new request: one registration.
	in2 := e.registerInput("burst")
	in2.ClientRequestToken = aws.String("token-burst")
	var wg sync.WaitGroup
	codes := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := e.api.RegisterCluster(ctx, in2)
			if err != nil {
				t.Error(err)
				return
			}
			if c := aws.ToString(out.Cluster.ConnectorConfig.ActivationCode); c != "" {
				codes <- c
			}
		}()
	}
	wg.Wait()
	close(codes)
	if len(codes) != 1 || e.store.RegisterCalls() != 2 || len(e.ssm.acts) != 2 {
		t.Errorf("codes %d, register calls %d, activations %d", len(codes), e.store.RegisterCalls(), len(e.ssm.acts))
	}

	// Same token, different request.
	other := e.registerInput("other-name")
	other.ClientRequestToken = aws.String("token-1")
	_, err = e.api.RegisterCluster(ctx, other)
	var ipe *ekstypes.InvalidParameterException
	if !errors.As(err, &ipe) || httpStatus(t, err) != 400 {
		t.Fatalf("token mismatch: want InvalidParameterException, got %v", err)
	}

	// After 24 hours the token is forgotten: the name is simply in use.
	e.clk.Advance(24 * time.Hour)
	_, err = e.api.RegisterCluster(ctx, in)
	if apiCode(t, err) != "ResourceInUseException" {
		t.Fatalf("expired token: %v", err)
	}
	if e.store.RegisterCalls() != 2 {
		t.Errorf("register calls %d", e.store.RegisterCalls())
	}
}

func TestStatusLifecycle(t *testing.T) {
	e := newEnv(t)
	id := aws.ToString(e.register(t, "live").ConnectorConfig.ActivationId)
	e.register(t, "dead")

	e.clk.Advance(time.Hour)
	e.ssm.setOnline(id, 2)
	if s := e.describe(t, "live").Status; s != ekstypes.ClusterStatusActive {
		t.Fatalf("with online agents: %s", s)
	}
	if s := e.describe(t, "dead").Status; s != ekstypes.ClusterStatusPending {
		t.Fatalf("without agents: %s", s)
	}
	// An agent that later goes away does not make the cluster un-ACTIVE.
	e.ssm.setOnline(id, 0)
	e.clk.Advance(72 * time.Hour)
	if s := e.describe(t, "live").Status; s != ekstypes.ClusterStatusActive {
		t.Errorf("connected then lost: %s", s)
	}
	d := e.describe(t, "dead")
	if d.Status != ekstypes.ClusterStatusFailed || d.ConnectorConfig == nil {
		t.Errorf("expired, never connected: %s", d.Status)
	}
	if s, _ := e.store.ClusterStatus("dead"); s != "FAILED" {
		t.Errorf("ClusterStatus %s", s)
	}
}

func TestExpiryBoundary(t *testing.T) {
	e := newEnv(t)
	e.register(t, "x")
	e.clk.Advance(72*time.Hour - time.Second)
	if s := e.describe(t, "x").Status; s != ekstypes.ClusterStatusPending {
		t.Errorf("just before expiry: %s", s)
	}
	e.clk.Advance(time.Second)
	if s := e.describe(t, "x").Status; s != ekstypes.ClusterStatusFailed {
		t.Errorf("at expiry: %s", s)
	}
}

func TestDeregister(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	id := aws.ToString(e.register(t, "gone").ConnectorConfig.ActivationId)
	out, err := e.api.DeregisterCluster(ctx, &eks.DeregisterClusterInput{Name: aws.String("gone")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Cluster.Status != ekstypes.ClusterStatusDeleting || out.Cluster.ConnectorConfig == nil || out.Cluster.ConnectorConfig.ActivationCode != nil {
		t.Fatalf("deregister response %+v", out.Cluster)
	}
	if len(e.ssm.deleted) != 1 || e.ssm.deleted[0] != id {
		t.Errorf("activation not deleted: %v", e.ssm.deleted)
	}
	if s := e.describe(t, "gone").Status; s != ekstypes.ClusterStatusDeleting {
		t.Errorf("after deregister: %s", s)
	}
	_, err = e.api.DeregisterCluster(ctx, &eks.DeregisterClusterInput{Name: aws.String("gone")})
	var riu *ekstypes.ResourceInUseException
	if !errors.As(err, &riu) || httpStatus(t, err) != 409 {
		t.Errorf("second deregister while DELETING: %v", err)
	}
	_, err = e.api.RegisterCluster(ctx, e.registerInput("gone"))
	if !errors.As(err, &riu) {
		t.Errorf("register while DELETING: %v", err)
	}

	e.clk.Advance(2 * time.Minute)
	_, err = e.api.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("gone")})
	var rnf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &rnf) || httpStatus(t, err) != 404 {
		t.Fatalf("after deletion: want ResourceNotFoundException 404, got %v", err)
	}
	if aws.ToString(rnf.Message) != "No cluster found for name: gone." || aws.ToString(rnf.ClusterName) != "gone" {
		t.Errorf("not found %q %q", aws.ToString(rnf.Message), aws.ToString(rnf.ClusterName))
	}
	_, err = e.api.DeregisterCluster(ctx, &eks.DeregisterClusterInput{Name: aws.String("gone")})
	if !errors.As(err, &rnf) {
		t.Errorf("deregister gone: %v", err)
	}
	if len(e.store.ClusterNames()) != 0 {
		t.Errorf("names %v", e.store.ClusterNames())
	}
	// The name is free again.
	e.register(t, "gone")
}

func TestDeregisterManaged(t *testing.T) {
	e := newEnv(t)
	e.store.AddManagedCluster("prod")
	_, err := e.api.DeregisterCluster(awsproto.Ctx(), &eks.DeregisterClusterInput{Name: aws.String("prod")})
	// The model of DeregisterCluster does not declare InvalidRequestException
	// (what the local cloud answered before); ClientException it does.
	if err == nil || apiCode(t, err) != "ClientException" || httpStatus(t, err) != 400 {
		t.Fatalf("deregister managed: %v", err)
	}
	d := e.describe(t, "prod")
	if d.Status != ekstypes.ClusterStatusActive || d.ConnectorConfig != nil || aws.ToString(d.Version) == "" {
		t.Errorf("managed cluster %+v", d)
	}
}

func TestDescribeInvalidName(t *testing.T) {
	e := newEnv(t)
	_, err := e.api.DescribeCluster(awsproto.Ctx(), &eks.DescribeClusterInput{Name: aws.String("cluster.com")})
	var ipe *ekstypes.InvalidParameterException
	if !errors.As(err, &ipe) || !strings.Contains(aws.ToString(ipe.Message), "The parameter name contains invalid characters") {
		t.Fatalf("want InvalidParameterException, got %v", err)
	}
}

func TestListClusters(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	e.store.AddManagedCluster("m1")
	e.store.AddManagedCluster("m2")
	for _, n := range []string{"c3", "c1", "c2"} {
		e.register(t, n)
	}
	out, err := e.api.ListClusters(ctx, &eks.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(out.Clusters, ",") != "m1,m2" || out.NextToken != nil {
		t.Errorf("without include: %v", out.Clusters)
	}
	var all []string
	p := eks.NewListClustersPaginator(e.api, &eks.ListClustersInput{Include: []string{"all"}, MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page.Clusters...)
	}
	if strings.Join(all, ",") != "c1,c2,c3,m1,m2" || pages != 3 {
		t.Errorf("include=all: %v in %d pages", all, pages)
	}
	for _, bad := range []*eks.ListClustersInput{
		{Include: []string{"ALL"}},
		{MaxResults: aws.Int32(101)},
		{MaxResults: aws.Int32(0)},
		{NextToken: aws.String("garbage!")},
	} {
		_, err := e.api.ListClusters(ctx, bad)
		var ipe *ekstypes.InvalidParameterException
		if !errors.As(err, &ipe) {
			t.Errorf("%+v: want InvalidParameterException, got %v", bad, err)
		}
	}
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := awsproto.Ctx()
	arn := e.register(t, "tagged").Arn
	if _, err := e.api.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.api.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(out.Tags) != 1 || out.Tags["b"] != "2" {
		t.Fatalf("tags %v %v", out, err)
	}
	if d := e.describe(t, "tagged"); d.Tags["b"] != "2" {
		t.Errorf("describe tags %v", d.Tags)
	}
	_, err = e.api.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:eks:us-east-1:123456789012:cluster/none")})
	var nf *ekstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing resource: %v", err)
	}
}

// denyAuthz denies one action to non-admin principals and records checks.
type denyAuthz struct {
	mu      sync.Mutex
	deny    string
	checked []string
}

func (d *denyAuthz) Decide(_ *awsproto.Principal, action, resource string, _ map[string]string) awsproto.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.checked = append(d.checked, action+" "+resource)
	return awsproto.Decision{Allowed: action != d.deny}
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	az := &denyAuthz{deny: "ssm:CreateActivation"}
	e.te.Router.Authz = az
	e.te.Router.Principals = func(string) *awsproto.Principal {
		return &awsproto.Principal{Name: "RegisterFunction", ARN: "arn:aws:iam::123456789012:role/RegistrarRole"}
	}
	_, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput("authz"))
	var ade *ekstypes.AccessDeniedException
	if !errors.As(err, &ade) || httpStatus(t, err) != 403 || !strings.Contains(aws.ToString(ade.Message), "ssm:CreateActivation") {
		t.Fatalf("want AccessDeniedException 403, got %v", err)
	}
	// eks:RegisterCluster has no resource types (SAR): it is checked on
	// "*". The EKS user guide's prerequisites add ssm:CreateActivation,
	// ssm:DeleteActivation and iam:PassRole.
	want := []string{
		"eks:RegisterCluster *",
		"iam:PassRole " + e.role,
		"ssm:CreateActivation *",
	}
	if strings.Join(az.checked, "|") != strings.Join(want, "|") {
		t.Errorf("checks %v", az.checked)
	}
	az.deny, az.checked = "ssm:DeleteActivation", nil
	if _, err := e.api.RegisterCluster(awsproto.Ctx(), e.registerInput("authz")); !errors.As(err, &ade) ||
		!strings.Contains(aws.ToString(ade.Message), "ssm:DeleteActivation") {
		t.Fatalf("RegisterCluster without ssm:DeleteActivation: want AccessDeniedException, got %v", err)
	}
	if want := append(want, "ssm:DeleteActivation *"); strings.Join(az.checked, "|") != strings.Join(want, "|") {
		t.Errorf("checks %v, want %v", az.checked, want)
	}
	az.deny = ""
	e.register(t, "authz")
	az.checked = nil
	if _, err := e.api.DeregisterCluster(awsproto.Ctx(), &eks.DeregisterClusterInput{Name: aws.String("authz")}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"eks:DeregisterCluster arn:aws:eks:us-east-1:123456789012:cluster/authz",
		"ssm:DeleteActivation *",
		"ssm:DeregisterManagedInstance arn:aws:eks:us-east-1:123456789012:cluster/authz",
	}
	if strings.Join(az.checked, "|") != strings.Join(want, "|") {
		t.Errorf("deregister checks %v", az.checked)
	}
}

func TestInjectedFault(t *testing.T) {
	e := newEnv(t)
	e.te.Router.Faults.Add(awsproto.Fault{Service: "eks", Op: "RegisterCluster", FirstN: 1,
		Code: "ServiceUnavailableException", Status: 503})
	api := eks.NewFromConfig(e.te.Config, func(o *eks.Options) { o.RetryMaxAttempts = 1 })
	_, err := api.RegisterCluster(awsproto.Ctx(), e.registerInput("f"))
	var sue *ekstypes.ServiceUnavailableException
	if !errors.As(err, &sue) || e.store.RegisterCalls() != 0 {
		t.Fatalf("injected fault: %v", err)
	}
	e.register(t, "f")
}

// The local EKS accepts exactly the SDK's providers (the model's enum).
func TestProvidersAreTheSDKEnum(t *testing.T) {
	var sdk []string
	for _, p := range ekstypes.ConnectorConfigProvider("").Values() {
		sdk = append(sdk, string(p))
	}
	if strings.Join(lceks.Providers, ",") != strings.Join(sdk, ",") {
		t.Errorf("local EKS providers %v, SDK %v", lceks.Providers, sdk)
	}
}
