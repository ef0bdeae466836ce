package awsproto

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// TestEndpoint is an httptest server running a Router, for a service's own tests.
type TestEndpoint struct {
	URL    string
	Router *Router
	Config aws.Config // admin credentials, region us-east-1, BaseEndpoint = URL
}

// NewTestEndpoint starts a router with the given services on a free loopback
// port and returns an aws.Config pointing the real SDK clients at it. Every
// answer is checked against the AWS model of its operation (CheckWire): a
// violation fails t.
func NewTestEndpoint(t testing.TB, clk clock.Clock, services ...Service) *TestEndpoint {
	t.Helper()
	rt := &Router{Account: "123456789012", Clock: clk, Authz: AllowAll{}, Faults: NewFaults(1)}
	for _, s := range services {
		rt.Register(s)
	}
	CheckWire(t, rt)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDADMIN", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	return &TestEndpoint{URL: srv.URL, Router: rt, Config: cfg}
}

// Ctx is a convenience for tests.
func Ctx() context.Context { return context.Background() }
