package sts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
	lciam "github.com/platform/eks-connector-registrar/localcloud/iam"
	lcsts "github.com/platform/eks-connector-registrar/localcloud/sts"
)

func TestGetCallerIdentityAdmin(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	_, svc := lcsts.New(lcsts.Config{Account: "123456789012"})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	out, err := sts.NewFromConfig(te.Config).GetCallerIdentity(awsproto.Ctx(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" || aws.ToString(out.Arn) != "arn:aws:iam::123456789012:root" ||
		aws.ToString(out.UserId) != "123456789012" {
		t.Errorf("identity %s %s %s", aws.ToString(out.Account), aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
}

func TestGetCallerIdentityPrincipals(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	roles, _ := lciam.New(lciam.Config{Account: "123456789012", Clock: clk})
	roles.EnsureServiceLinkedRole("eks-connector.amazonaws.com")
	slrID, _ := roles.RoleID("AWSServiceRoleForAmazonEKSConnector")
	_, svc := lcsts.New(lcsts.Config{Account: "123456789012", Roles: roles})
	principals := map[string]*awsproto.Principal{
		"AKIDROLE":    {Name: "RegisterFunction", ARN: "arn:aws:iam::123456789012:role/app/RegistrarRole"},
		"AKIDSLR":     {Name: "eks", ARN: "arn:aws:iam::123456789012:role/aws-service-role/eks-connector.amazonaws.com/AWSServiceRoleForAmazonEKSConnector"},
		"AKIDSESSION": {Name: "x", ARN: "arn:aws:sts::123456789012:assumed-role/Dev/alice"},
		"AKIDUSER":    {Name: "bob", ARN: "arn:aws:iam::123456789012:user/bob"},
	}
	te := awsproto.NewTestEndpoint(t, clk, svc)
	te.Router.Principals = func(k string) *awsproto.Principal { return principals[k] }

	cases := []struct{ key, arn, userPrefix string }{
		{"AKIDROLE", "arn:aws:sts::123456789012:assumed-role/RegistrarRole/RegisterFunction", "AROA"},
		{"AKIDSLR", "arn:aws:sts::123456789012:assumed-role/AWSServiceRoleForAmazonEKSConnector/eks", slrID + ":eks"},
		{"AKIDSESSION", "arn:aws:sts::123456789012:assumed-role/Dev/alice", "AROA"},
		{"AKIDUSER", "arn:aws:iam::123456789012:user/bob", "AIDA"},
	}
	for _, tc := range cases {
		cfg := te.Config.Copy()
		cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: tc.key, SecretAccessKey: "s"}, nil
		})
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(awsproto.Ctx(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Arn) != tc.arn || !strings.HasPrefix(aws.ToString(out.UserId), tc.userPrefix) || aws.ToString(out.Account) != "123456789012" {
			t.Errorf("%s: %s %s %s", tc.key, aws.ToString(out.Arn), aws.ToString(out.UserId), aws.ToString(out.Account))
		}
		if strings.HasPrefix(tc.arn, "arn:aws:sts") && !strings.HasSuffix(aws.ToString(out.UserId), ":"+tc.arn[strings.LastIndex(tc.arn, "/")+1:]) {
			t.Errorf("%s: user id %s lacks the session", tc.key, aws.ToString(out.UserId))
		}
	}
}

func TestUnknownAction(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	_, svc := lcsts.New(lcsts.Config{Account: "123456789012"})
	te := awsproto.NewTestEndpoint(t, clk, svc)
	// The local STS serves only GetCallerIdentity.
	api := sts.NewFromConfig(te.Config)
	_, err := api.GetSessionToken(awsproto.Ctx(), &sts.GetSessionTokenInput{})
	var ae smithy.APIError
	if err == nil || !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAction" {
		t.Errorf("unknown action: %v", err)
	}
}
