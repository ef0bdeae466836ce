// Package iam emulates the slice of AWS Identity and Access Management the
// project uses: roles, their trust policies, inline policies and
// permissions boundaries, service-linked roles, and managed policies
// (customer managed ones with their versions, a few AWS managed ones)
// attached to roles (managed.go). It speaks the Query
// protocol (form-encoded requests, XML responses) exactly as aws-sdk-go-v2's
// IAM client sends and expects it.
//
// IAM is global: ARNs carry no region (arn:aws:iam::<account>:role<path><name>).
// Names are unique and looked up case-insensitively, as IAM does.
package iam

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	xmlns      = "https://iam.amazonaws.com/doc/2010-05-08/"
	apiVersion = "2010-05-08"

	// IAM default quotas.
	trustPolicyQuota      = 2048  // ACLSizePerRole, non-whitespace characters
	inlinePolicyRoleQuota = 10240 // aggregate inline policy size per role
	maxTags               = 50
)

// Config configures the store.
type Config struct {
	Account string
	Clock   clock.Clock
}

// Tag is an IAM tag.
type Tag struct{ Key, Value string }

type role struct {
	name, path, id, arn string
	created             time.Time
	trustChanged        time.Time
	trust               string
	description         string
	maxSession          int
	boundary            string
	tags                []Tag
	inline              map[string]string
	attached            []string // managed policy ARNs (AttachRolePolicy; a service-linked role's own)
	serviceLinked       bool
	createdBy           string
}

// Store is IAM's state.
type Store struct {
	mu    sync.Mutex
	cfg   Config
	roles map[string]*role // by lower-case name
	// policies are the account's customer managed policies, by lower-case
	// name (unique in the account whatever the path, as role names are);
	// awsPolicies the AWS managed ones the local cloud knows, by ARN.
	policies    map[string]*managedPolicy
	awsPolicies map[string]*managedPolicy
	seq         uint64
}

// Service serves IAM's Query API.
type Service struct{ s *Store }

// New builds the store and its service.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Store{cfg: cfg, roles: map[string]*role{}, policies: map[string]*managedPolicy{}, awsPolicies: awsManagedPolicies()}
	return s, &Service{s: s}
}

// ---------------------------------------------------------------------------
// Go API for other services and tests

// RoleSnapshot is a copy of a role's state, for tests and other services.
type RoleSnapshot struct {
	Name, ARN, ID, Path string
	Created             time.Time
	// TrustPolicy is the assume-role policy document as submitted (not encoded).
	TrustPolicy string
	// InlinePolicies maps policy name to document (as submitted).
	InlinePolicies      map[string]string
	AttachedPolicies    []string
	PermissionsBoundary string
	Description         string
	MaxSessionDuration  int
	Tags                map[string]string
	ServiceLinked       bool
	// CreatedBy is the Principal.Name of the caller whose request created
	// the role ("admin" for a test's own); "" when the cloud created it
	// (the template's roles, a service-linked role EKS created on use).
	CreatedBy string
}

// Role returns a snapshot of the role of that name (case-insensitive).
func (s *Store) Role(name string) (RoleSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roles[strings.ToLower(name)]
	if r == nil {
		return RoleSnapshot{}, false
	}
	snap := RoleSnapshot{
		Name: r.name, ARN: r.arn, ID: r.id, Path: r.path, Created: r.created,
		TrustPolicy: r.trust, InlinePolicies: map[string]string{},
		AttachedPolicies:    append([]string(nil), r.attached...),
		PermissionsBoundary: r.boundary, Description: r.description,
		MaxSessionDuration: r.maxSession, Tags: tagMap(r.tags), ServiceLinked: r.serviceLinked,
		CreatedBy: r.createdBy,
	}
	for k, v := range r.inline {
		snap.InlinePolicies[k] = v
	}
	return snap, true
}

// RoleNames lists the roles' names, sorted.
func (s *Store) RoleNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.roles))
	for _, r := range s.roles {
		names = append(names, r.name)
	}
	sort.Strings(names)
	return names
}

// RoleID returns the unique id (AROA…) of the role of that name, for STS.
func (s *Store) RoleID(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.roles[strings.ToLower(name)]; r != nil {
		return r.id, true
	}
	return "", false
}

// AssumableBy reports whether roleArn names an existing role whose trust
// policy lets servicePrincipal call sts:AssumeRole, and whose creation (and
// last trust-policy change) is at least minAge old on the clock: IAM is
// eventually consistent, and other services see a new role only after a
// while.
func (s *Store) AssumableBy(roleArn, servicePrincipal string, minAge time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.roleByARNLocked(roleArn)
	if r == nil {
		return false
	}
	now := s.cfg.Clock.Now()
	if now.Sub(r.created) < minAge || now.Sub(r.trustChanged) < minAge {
		return false
	}
	return trusts(r.trust, servicePrincipal)
}

// EnsureServiceLinkedRole creates the service-linked role of awsServiceName
// if it does not exist and returns its ARN ("" for a service without a
// service-linked role).
func (s *Store) EnsureServiceLinkedRole(awsServiceName string) string {
	slr, ok := serviceLinkedRoles[awsServiceName]
	if !ok {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.roles[strings.ToLower(slr.roleName)]; r != nil {
		return r.arn
	}
	return s.createServiceLinkedLocked(awsServiceName, slr, "").arn
}

func (s *Store) roleByARNLocked(arn string) *role {
	i := strings.LastIndex(arn, "/")
	if i < 0 {
		return nil
	}
	r := s.roles[strings.ToLower(arn[i+1:])]
	if r == nil || r.arn != arn {
		return nil
	}
	return r
}

func (s *Store) arnFor(path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", awsproto.Partition, s.cfg.Account, path, name)
}

// newRoleIDLocked makes an AROA id: 21 characters, uppercase letters and digits.
func (s *Store) newRoleIDLocked(name string) string { return s.newIDLocked("AROA", name) }

// newIDLocked makes a unique id of that prefix (AROA a role, ANPA a managed
// policy): 21 characters, uppercase letters and digits.
func (s *Store) newIDLocked(prefix, name string) string {
	s.seq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", s.cfg.Account, name, s.seq)))
	return prefix + base32.StdEncoding.EncodeToString(h[:])[:17]
}

type slrInfo struct {
	roleName string
	policy   string // managed policy name, attached under /aws-service-role/
	suffix   bool   // whether CustomSuffix is accepted
}

// serviceLinkedRoles is the table of services whose service-linked role the
// local cloud knows.
var serviceLinkedRoles = map[string]slrInfo{
	"eks-connector.amazonaws.com":        {"AWSServiceRoleForAmazonEKSConnector", "AmazonEKSConnectorServiceRolePolicy", false},
	"eks.amazonaws.com":                  {"AWSServiceRoleForAmazonEKS", "AmazonEKSServiceRolePolicy", false},
	"eks-nodegroup.amazonaws.com":        {"AWSServiceRoleForAmazonEKSNodegroup", "AWSServiceRoleForAmazonEKSNodegroup", false},
	"eks-fargate.amazonaws.com":          {"AWSServiceRoleForAmazonEKSForFargate", "AmazonEKSForFargateServiceRolePolicy", false},
	"ssm.amazonaws.com":                  {"AWSServiceRoleForAmazonSSM", "AmazonSSMServiceRolePolicy", false},
	"autoscaling.amazonaws.com":          {"AWSServiceRoleForAutoScaling", "AutoScalingServiceRolePolicy", true},
	"elasticloadbalancing.amazonaws.com": {"AWSServiceRoleForElasticLoadBalancing", "AWSElasticLoadBalancingServiceRolePolicy", false},
}

func (s *Store) createServiceLinkedLocked(service string, slr slrInfo, description string) *role {
	name := slr.roleName
	path := "/aws-service-role/" + service + "/"
	now := s.cfg.Clock.Now()
	r := &role{
		name: name, path: path, id: s.newRoleIDLocked(name), arn: s.arnFor(path, name),
		created: now, trustChanged: now, description: description, maxSession: 3600,
		trust:         `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service + `"},"Action":"sts:AssumeRole"}]}`,
		inline:        map[string]string{},
		attached:      []string{"arn:aws:iam::aws:policy/aws-service-role/" + slr.policy},
		serviceLinked: true,
	}
	s.roles[strings.ToLower(name)] = r
	return r
}
