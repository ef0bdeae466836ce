package registration

import (
	"fmt"
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

// ActivationCodeStoreRefused: SSM refused, for good, to store the activation
// code (PutParameter failed with an error a retry will not fix: a KMS key
// the function may not use, a denied ssm:PutParameter). Registering again
// would only lose the next code the same way, so the state machine
// compensates (deregisters the registration) and fails with this reason.
type ActivationCodeStoreRefused struct {
	Cluster, Parameter string
	KeyID              string // the KmsKeyArn template parameter ("" = aws/ssm)
	KeyProblem         bool   // the refusal is about the key (awserr.IsKeyUnusable)
	Code, Message      string // SSM's answer
}

func (e ActivationCodeStoreRefused) Error() string {
	what := fmt.Sprintf("SSM refused to store the activation code of cluster %q in SecureString parameter %s (%s: %s)",
		e.Cluster, e.Parameter, orNone(e.Code), e.Message)
	var todo string
	switch {
	case e.KeyProblem && e.KeyID != "":
		todo = fmt.Sprintf("the parameter is encrypted under the KMS key %s (template parameter KmsKeyArn), which the RegisterClusterFunction role "+
			"may not use: let the key's policy allow that role kms:Encrypt and kms:GenerateDataKey through SSM (kms:ViaService ssm.<region>.amazonaws.com), "+
			"check the key exists, is enabled and is in this Region, or set KmsKeyArn to \"\" to use the AWS managed key aws/ssm", e.KeyID)
	case e.KeyProblem:
		todo = "the AWS managed key aws/ssm could not be used: check that no policy denies the RegisterClusterFunction role kms:Encrypt through SSM"
	default:
		todo = "check the RegisterClusterFunction role's ssm:PutParameter permission on the parameter prefix (template.yaml) and any SCP or permissions boundary that denies it"
		if e.KeyID != "" {
			todo += fmt.Sprintf(", and that it may use the KMS key %s (template parameter KmsKeyArn)", e.KeyID)
		}
	}
	return what + "; registering again would lose the next code the same way, so the registration was not retried: " + todo +
		", then send Register Cluster again"
}

// ActivationCodeLost: a registration of ours exists but its activation code
// is not stored (a crash between RegisterCluster and the store, a store that failed transiently,
// or a replayed request that returned no code). The code cannot be recovered,
// so the state machine deregisters it and registers again.
type ActivationCodeLost struct{ Cluster, Reason string }

func (e ActivationCodeLost) Error() string {
	return fmt.Sprintf("the activation code of cluster %q was not stored (%s) and cannot be recovered; "+
		"the registration is replaced by a new one", e.Cluster, e.Reason)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
