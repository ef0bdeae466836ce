package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/platform/eks-connector-registrar/internal/workflow"
	"github.com/platform/eks-connector-registrar/localcloud"
)

// functionSetup gives a function, on a fresh cloud, what the state machine
// has done before its step, so its invocations take the path they take in a
// registration rather than an early error. It is called before each
// invocation (n counts them on this cloud, from 0) with the events/ payload,
// outside the timed interval, and returns the payload to hand out.
var functionSetup = map[string]func(root string, cl *localcloud.Cloud, event []byte, n int) ([]byte, error){
	"RegisterClusterFunction": registerClusterSetup,
}

// registerClusterSetup: the roles EnsureRoles makes (its own events/ payload,
// invoked in-process before the first invocation), and the cluster's lock
// held by the execution, as the trigger writes it (cmd/localcloud's
// TestEveryEventBehindRIE sets up the same). Each invocation after the
// first registers a cluster of its own (the name and the execution ARN get
// a suffix), so a warm invocation is a new registration too, not the
// idempotent rerun of the first.
func registerClusterSetup(root string, cl *localcloud.Cloud, event []byte, n int) ([]byte, error) {
	if n == 0 {
		payload, err := os.ReadFile(filepath.Join(root, "events", "step-ensure-roles.json"))
		if err != nil {
			return nil, err
		}
		tf, ok := cl.Template.Function("EnsureRolesFunction")
		if !ok {
			return nil, fmt.Errorf("no EnsureRolesFunction in the template")
		}
		f, _ := cl.Lambda.Lookup(tf.Arn)
		if _, ferr := cl.Lambda.InvokeSync(context.Background(), f, payload, "RequestResponse", 1); ferr != nil {
			return nil, fmt.Errorf("EnsureRolesFunction before RegisterCluster: %s: %s", ferr.Type, ferr.Message)
		}
	}
	var in map[string]any
	if err := json.Unmarshal(event, &in); err != nil {
		return nil, err
	}
	exec, _ := in["execution"].(map[string]any)
	cluster, _ := exec["clusterName"].(string)
	arn, _ := in["executionArn"].(string)
	if cluster == "" || arn == "" {
		return nil, fmt.Errorf("events/step-register-cluster.json: no execution.clusterName or executionArn")
	}
	if n > 0 {
		suffixed := fmt.Sprintf("%s-%d", cluster, n)
		arn = strings.Replace(arn, ":register-"+cluster+"-", ":register-"+suffixed+"-", 1)
		cluster = suffixed
		exec["clusterName"], in["executionArn"] = cluster, arn
	}
	tf, ok := cl.Template.Function("TriggerFunction")
	if !ok {
		return nil, fmt.Errorf("no TriggerFunction in the template")
	}
	params := workflow.Parameters{Prefix: tf.Environment["PARAMETER_PREFIX"]}
	if _, err := ssm.NewFromConfig(cl.ConfigFor("admin")).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(params.Lock(cluster)), Value: aws.String(arn), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		return nil, fmt.Errorf("writing the lock of %s: %w", cluster, err)
	}
	return json.Marshal(in)
}
