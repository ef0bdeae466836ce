package registration

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestOurs(t *testing.T) {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC) // the intent's LastModifiedDate
	cl := func(created time.Time) *ekstypes.Cluster {
		return &ekstypes.Cluster{CreatedAt: aws.Time(created), ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String("act-1")}}
	}
	mine := Intent{ExecutionArn: execArn, Attempt: 1, WrittenAt: at}
	for _, c := range []struct {
		name string
		cl   *ekstypes.Cluster
		ev   Evidence
		want bool
	}{
		{"record names it", cl(at.Add(-time.Hour)), Evidence{Activation: Activation{ActivationID: "act-1"}, ActivationFound: true}, true},
		{"our intent, created after", cl(at.Add(time.Minute)), Evidence{Intent: mine, IntentFound: true}, true},
		{"our intent, created within the skew before", cl(at.Add(-4 * time.Minute)), Evidence{Intent: mine, IntentFound: true}, true},
		{"our intent, created before it", cl(at.Add(-6 * time.Minute)), Evidence{Intent: mine, IntentFound: true}, false},
		{"another execution's intent", cl(at.Add(time.Minute)), Evidence{Intent: Intent{ExecutionArn: "arn:other", Attempt: 1, WrittenAt: at}, IntentFound: true}, false},
		{"nothing of ours", cl(at), Evidence{}, false},
		{"no createdAt", &ekstypes.Cluster{ConnectorConfig: &ekstypes.ConnectorConfigResponse{ActivationId: aws.String("act-1")}}, Evidence{Intent: mine, IntentFound: true}, false},
		{"managed cluster", &ekstypes.Cluster{CreatedAt: aws.Time(at.Add(time.Minute))}, Evidence{Intent: mine, IntentFound: true}, false},
		{"intent spent: this attempt's record names another activation (re-registered by someone)", cl(at.Add(time.Hour)),
			Evidence{Intent: mine, IntentFound: true, Activation: Activation{ActivationID: "act-0", ExecutionArn: execArn, Attempt: 1}, ActivationFound: true}, false},
		{"record of an earlier attempt does not spend this attempt's intent", cl(at.Add(time.Minute)),
			Evidence{Intent: Intent{ExecutionArn: execArn, Attempt: 2, WrittenAt: at}, IntentFound: true, Activation: Activation{ActivationID: "act-0", ExecutionArn: execArn, Attempt: 1}, ActivationFound: true}, true},
	} {
		if got := Ours(c.cl, c.ev, execArn); got != c.want {
			t.Errorf("%s: Ours = %v, want %v", c.name, got, c.want)
		}
	}
}
