// Package workflow holds the contract between the trigger, the state machines
// and the step handlers: the execution input, the SSM parameter layout, and the
// settings every function reads from its environment.
package workflow

import (
	"fmt"
	"strconv"
	"strings"
)

// RegistrationInput is the input of the registration state machine, written by
// the trigger. It never holds the activation code.
type RegistrationInput struct {
	ClusterName              string            `json:"clusterName"`
	Provider                 string            `json:"provider"` // canonical EKS enum value
	ActivationTimeoutMinutes int               `json:"activationTimeoutMinutes"`
	ConsoleAccessArns        []string          `json:"consoleAccessArns"`
	Tags                     map[string]string `json:"tags,omitempty"`
	EventID                  string            `json:"eventId"`
	// Attempt numbers registrations within one execution. It starts at 1 and
	// grows only when a registration whose code was lost is replaced.
	Attempt int `json:"attempt"`
}

// DeregistrationInput is the input of the deregistration state machine.
type DeregistrationInput struct {
	ClusterName string `json:"clusterName"`
	// Reason is the request's reason, "" when it gave none. Always present
	// (no omitempty): the state machine reads $.reason into "Cluster
	// Deregistered", and a JSONPath to a missing field fails the execution.
	Reason  string `json:"reason"`
	EventID string `json:"eventId"`
	// StoppedExecutionArn names a registration the trigger stopped to take
	// over; a Lambda of it may still be running, so the flow re-checks at the end.
	StoppedExecutionArn string `json:"stoppedExecutionArn,omitempty"`
}

// Parameters is the SSM layout under the configured prefix. A cluster's
// records (intent, activation code, activation record) live under
// ClusterPath; its lock and takeover markers live apart, under LockPath, so
// the trigger (which only locks) is granted nothing on the cluster's folder,
// and in particular nothing on the activation code. No function lists a
// cluster's folder by path: GetParametersByPath on it would return the code.
type Parameters struct {
	Prefix string // e.g. /eks-connector-registrar, no trailing slash
}

// ClusterPath is the folder of one cluster's records.
func (p Parameters) ClusterPath(cluster string) string {
	return strings.TrimRight(p.Prefix, "/") + "/clusters/" + cluster
}

// LockPath is the folder of one cluster's lock and takeover markers.
func (p Parameters) LockPath(cluster string) string {
	return strings.TrimRight(p.Prefix, "/") + "/locks/" + cluster
}

// Lock holds the ARN of the execution that owns the cluster.
func (p Parameters) Lock(cluster string) string { return p.LockPath(cluster) + "/lock" }

// Takeover marks that a stale lock held by the execution with the given id was
// taken over; creating it without Overwrite makes the takeover atomic.
func (p Parameters) Takeover(cluster, staleHolderID string) string {
	return p.LockPath(cluster) + "/takeover-" + staleHolderID
}

// Superseded marks that a deregistration took the lock over from the
// registration execution with the given id before that execution started.
// Its trigger, retried later, must not start it. Release leaves it, so a
// retry after the deregistration has ended still sees it.
func (p Parameters) Superseded(cluster, holderID string) string {
	return p.LockPath(cluster) + "/superseded-" + holderID
}

// Intent records that this project is about to register (cluster, execution, attempt).
func (p Parameters) Intent(cluster string) string { return p.ClusterPath(cluster) + "/intent" }

// ActivationCode is the SecureString holding the one-time activation code.
// Only RegisterCluster writes it; no function reads it (the agent's installer
// does, with the operator's credentials); CompleteRegistration and Cleanup
// delete it by name.
func (p Parameters) ActivationCode(cluster string) string {
	return p.ClusterPath(cluster) + "/activation-code"
}

// Activation is the non-secret activation data (id, expiry, region, provider, execution).
func (p Parameters) Activation(cluster string) string {
	return p.ClusterPath(cluster) + "/activation"
}

// Settings are read once per function from its environment (template.yaml
// declares them all).
type Settings struct {
	ParameterPrefix             string // PARAMETER_PREFIX
	EventBusName                string // EVENT_BUS_NAME
	EventSource                 string // EVENT_SOURCE
	AgentRoleMode               string // AGENT_ROLE_MODE: managed | existing
	AgentRoleName               string // AGENT_ROLE_NAME
	AgentRolePath               string // AGENT_ROLE_PATH
	AgentRolePermissionBoundary string // AGENT_ROLE_PERMISSIONS_BOUNDARY (ARN or empty)
	AgentRoleArn                string // AGENT_ROLE_ARN (existing mode)
	KMSKeyID                    string // KMS_KEY_ID (empty: the AWS managed key)
	DefaultTimeoutMinutes       int    // DEFAULT_ACTIVATION_TIMEOUT_MINUTES
	RegistrationStateMachineArn string // REGISTRATION_STATE_MACHINE_ARN
	DeregistrationStateMachine  string // DEREGISTRATION_STATE_MACHINE_ARN
}

// Agent role modes.
const (
	RoleModeManaged  = "managed"
	RoleModeExisting = "existing"
)

// LoadSettings reads Settings with getenv (os.Getenv in Lambda; a map in the
// local cloud's in-process runner).
func LoadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{
		ParameterPrefix:             getenv("PARAMETER_PREFIX"),
		EventBusName:                getenv("EVENT_BUS_NAME"),
		EventSource:                 getenv("EVENT_SOURCE"),
		AgentRoleMode:               getenv("AGENT_ROLE_MODE"),
		AgentRoleName:               getenv("AGENT_ROLE_NAME"),
		AgentRolePath:               getenv("AGENT_ROLE_PATH"),
		AgentRolePermissionBoundary: getenv("AGENT_ROLE_PERMISSIONS_BOUNDARY"),
		AgentRoleArn:                getenv("AGENT_ROLE_ARN"),
		KMSKeyID:                    getenv("KMS_KEY_ID"),
		RegistrationStateMachineArn: getenv("REGISTRATION_STATE_MACHINE_ARN"),
		DeregistrationStateMachine:  getenv("DEREGISTRATION_STATE_MACHINE_ARN"),
	}
	if s.ParameterPrefix == "" {
		s.ParameterPrefix = "/eks-connector-registrar"
	}
	if !strings.HasPrefix(s.ParameterPrefix, "/") {
		return s, fmt.Errorf("PARAMETER_PREFIX %q must start with '/'", s.ParameterPrefix)
	}
	s.ParameterPrefix = strings.TrimRight(s.ParameterPrefix, "/")
	if s.EventBusName == "" {
		s.EventBusName = "default"
	}
	if s.EventSource == "" {
		s.EventSource = "eks-connector-registrar"
	}
	if s.AgentRoleMode == "" {
		s.AgentRoleMode = RoleModeManaged
	}
	if s.AgentRoleMode != RoleModeManaged && s.AgentRoleMode != RoleModeExisting {
		return s, fmt.Errorf("AGENT_ROLE_MODE %q must be %q or %q", s.AgentRoleMode, RoleModeManaged, RoleModeExisting)
	}
	if s.AgentRoleMode == RoleModeExisting && s.AgentRoleArn == "" {
		return s, fmt.Errorf("AGENT_ROLE_ARN is required when AGENT_ROLE_MODE is %q", RoleModeExisting)
	}
	if s.AgentRoleName == "" {
		s.AgentRoleName = "AmazonEKSConnectorAgentRole"
	}
	if s.AgentRolePath == "" {
		s.AgentRolePath = "/"
	}
	s.DefaultTimeoutMinutes = 4320
	if v := getenv("DEFAULT_ACTIVATION_TIMEOUT_MINUTES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 4320 {
			return s, fmt.Errorf("DEFAULT_ACTIVATION_TIMEOUT_MINUTES %q must be an integer from 5 to 4320", v)
		}
		s.DefaultTimeoutMinutes = n
	}
	return s, nil
}

// Params is the SSM layout for these settings.
func (s Settings) Params() Parameters { return Parameters{Prefix: s.ParameterPrefix} }
