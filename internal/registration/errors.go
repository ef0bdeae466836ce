package registration

import (
	"fmt"
	"strings"
)

// The Go type names of these errors are the state machine's ErrorEquals
// names; the handlers return them unwrapped.

// ManagedClusterExists: an EKS-managed (not connected) cluster has the name.
type ManagedClusterExists struct{ Cluster, ClusterArn string }

func (e ManagedClusterExists) Error() string {
	return fmt.Sprintf("cluster %q is an Amazon EKS managed cluster (%s), not a connected one: "+
		"EKS Connector cannot register a name that is taken; register the external cluster under another name",
		e.Cluster, e.ClusterArn)
}

// ClusterOwnedElsewhere: a connected cluster of that name exists and this
// project did not register it. It is left alone.
type ClusterOwnedElsewhere struct{ Cluster, Status, ActivationID string }

func (e ClusterOwnedElsewhere) Error() string {
	what := "registered by someone else (not by eks-connector-registrar)"
	if e.Status == "FAILED" {
		what = "registered by someone else and its activation expired (status FAILED)"
	}
	return fmt.Sprintf("connected cluster %q is %s, status %s, activation %s; this workflow did not deregister it. "+
		"Finish or remove that registration (aws eks deregister-cluster --name %s) and send Register Cluster again",
		e.Cluster, what, orNone(e.Status), orNone(e.ActivationID), e.Cluster)
}

// RegistrationSuperseded: the cluster's lock no longer names this execution
// (a deregistration took the cluster over), so it must not register.
type RegistrationSuperseded struct{ Cluster, Holder string }

func (e RegistrationSuperseded) Error() string {
	return fmt.Sprintf("the lock of cluster %q is held by %s, not by this execution: a deregistration (or a later registration) "+
		"took the cluster over, so nothing was registered", e.Cluster, orNone(e.Holder))
}

// RolePropagationDelay: EKS cannot see the agent role yet (IAM is eventually
// consistent). The state machine retries for about three minutes.
type RolePropagationDelay struct{ Cluster, RoleArn, Message string }

func (e RolePropagationDelay) Error() string {
	return fmt.Sprintf("EKS cannot use agent role %s for cluster %q yet (%s): IAM changes take a while to propagate; "+
		"retried for about 3 minutes. If this persists, check the role's trust policy allows ssm.amazonaws.com",
		e.RoleArn, e.Cluster, e.Message)
}

// ServiceLinkedRoleMissing: the account has no AWSServiceRoleForAmazonEKSConnector.
type ServiceLinkedRoleMissing struct{ Cluster, Message string }

func (e ServiceLinkedRoleMissing) Error() string {
	return fmt.Sprintf("cannot register cluster %q: the service-linked role AWSServiceRoleForAmazonEKSConnector is missing (%s); "+
		"create it once with: aws iam create-service-linked-role --aws-service-name eks-connector.amazonaws.com", e.Cluster, e.Message)
}

// RegisteredClustersQuotaExceeded: the Region's "Registered clusters" quota is reached.
type RegisteredClustersQuotaExceeded struct{ Cluster, Region string }

func (e RegisteredClustersQuotaExceeded) Error() string {
	return fmt.Sprintf("cannot register cluster %q: the Amazon EKS quota \"Registered clusters\" of Region %s is reached "+
		"(default 10); nothing was registered and nothing was left behind. Deregister unused connected clusters or "+
		"request an increase in Service Quotas (Amazon Elastic Kubernetes Service, \"Registered clusters\")",
		e.Cluster, e.Region)
}

// ActivationCodeLost: a registration of ours exists but its activation code
// is not stored (a crash between RegisterCluster and the store, a failed store,
// or a replayed request that returned no code). The code cannot be recovered,
// so the state machine deregisters it and registers again.
type ActivationCodeLost struct{ Cluster, Reason string }

func (e ActivationCodeLost) Error() string {
	return fmt.Sprintf("the activation code of cluster %q was not stored (%s) and cannot be recovered; "+
		"the registration is replaced by a new one", e.Cluster, e.Reason)
}

// StepInputInvalid: the state machine passed an input the step cannot use:
// a bug in the state machine definition, not in the request.
type StepInputInvalid struct {
	Step     string
	Problems []string
}

func (e StepInputInvalid) Error() string {
	return fmt.Sprintf("%s got an unusable input: %s; this is a state machine definition bug", e.Step, strings.Join(e.Problems, "; "))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
