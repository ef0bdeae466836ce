package localcloud_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/platform/eks-connector-registrar/localcloud"
)

// One endpoint serves every service, routed by the SigV4 scope, and a
// 72-hour wait in a state machine takes no real time.
func TestOneEndpointServesEveryService(t *testing.T) {
	c, err := localcloud.Start(localcloud.Options{NoAgent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	cfg := c.ConfigFor("admin")

	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != c.Account {
		t.Fatalf("GetCallerIdentity = %v, %v", id, err)
	}
	_, err = eks.NewFromConfig(cfg).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("nope")})
	var nf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeCluster of a missing cluster: %v, want ResourceNotFoundException", err)
	}
	_, err = ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/nope")})
	var pnf *ssmtypes.ParameterNotFound
	if !errors.As(err, &pnf) {
		t.Fatalf("GetParameter of a missing parameter: %v, want ParameterNotFound", err)
	}

	sm, e := c.SFN.CreateStateMachine("wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":259200,"Next":"P"},"P":{"Type":"Pass","Result":{"ok":true},"End":true}}}`, "arn:aws:iam::123456789012:role/x")
	if e != nil {
		t.Fatal(e)
	}
	client := sfn.NewFromConfig(cfg)
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm.Arn), Name: aws.String("one"), Input: aws.String(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := c.SFN.Execution(aws.ToString(out.ExecutionArn))
	<-ex.Engine().Done()
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"ok":true}` {
		t.Fatalf("execution %s output %s", d.Status, aws.ToString(d.Output))
	}
	if waited := d.StopDate.Sub(*d.StartDate); waited != 72*time.Hour {
		t.Errorf("virtual wait %s, want 72h", waited)
	}
	// Same name, same input while running is idempotent; after it ended, the name is taken.
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(sm.Arn), Name: aws.String("one"), Input: aws.String(`{}`)})
	var exists *sfntypes.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("restarting a finished execution name: %v, want ExecutionAlreadyExists", err)
	}
}
