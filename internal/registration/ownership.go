package registration

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// intentSkew bounds the difference between SSM's clock (the intent
// parameter's LastModifiedDate) and EKS's (createdAt) when deciding a
// registration came after our intent.
const intentSkew = 5 * time.Minute

// Evidence is what this project stored about a cluster name: its activation
// record and its intent, each with whether it was found.
type Evidence struct {
	Activation      Activation
	ActivationFound bool
	Intent          Intent // WrittenAt is the parameter's LastModifiedDate (ReadIntent)
	IntentFound     bool
}

// Ours is the one ownership rule for a connected cluster, used by
// CheckCluster, RegisterCluster (a name already in use) and Cleanup (before
// any deregistration). The registration is ours only if
//
//	(a) our activation record names its activation id, or
//	(b) the intent of this execution (executionArn) exists and the cluster was
//	    created no earlier than the intent's LastModifiedDate minus intentSkew
//	    (SSM's and EKS's clocks, never a Lambda's) — unless the intent is
//	    spent: an activation record of the same execution and attempt names
//	    another activation, so that attempt's registration is known, and a
//	    later one of that name (someone re-registered it) is not ours.
//
// Anything else — a cluster created before our intent, or with an intent of
// another execution only — is someone else's registration of that name and
// must never be deregistered by us.
func Ours(cl *ekstypes.Cluster, ev Evidence, executionArn string) bool {
	if cl == nil || cl.ConnectorConfig == nil {
		return false
	}
	id := aws.ToString(cl.ConnectorConfig.ActivationId)
	if ev.ActivationFound && id != "" && ev.Activation.ActivationID == id {
		return true
	}
	if ev.IntentFound && ev.ActivationFound && ev.Activation.ExecutionArn == ev.Intent.ExecutionArn && ev.Activation.Attempt == ev.Intent.Attempt {
		return false // the intent is spent (see above), and its record names another activation
	}
	return ev.IntentFound && executionArn != "" && ev.Intent.ExecutionArn == executionArn &&
		cl.CreatedAt != nil && !ev.Intent.WrittenAt.IsZero() &&
		!cl.CreatedAt.Before(ev.Intent.WrittenAt.Add(-intentSkew))
}
