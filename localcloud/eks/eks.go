// Package eks emulates the Amazon EKS operations that work on connected
// (EKS Connector) clusters: RegisterCluster, DescribeCluster, ListClusters,
// DeregisterCluster and the tag operations, over REST-JSON as
// aws-sdk-go-v2's EKS client sends and expects them.
//
// A registration's status is computed when it is read, from the clock and
// from the SSM side (Activations): PENDING until an agent is online, ACTIVE
// from then on, FAILED once the activation expired without an agent ever
// connecting, DELETING for a while after deregistration, then gone.
package eks

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

// Roles is what EKS needs from IAM (the iam Store implements it).
type Roles interface {
	AssumableBy(roleArn, servicePrincipal string, minAge time.Duration) bool
	EnsureServiceLinkedRole(awsServiceName string) string
}

// Activations is what EKS needs from SSM (the ssm Store implements it).
type Activations interface {
	CreateActivation(iamRole, defaultInstanceName, description string, registrationLimit int, expiry time.Time, tags map[string]string) (id, code string)
	DeleteActivation(id string) bool
	OnlineInstances(activationID string) int
}

// InstanceDeregisterer is optional: when the Activations implementation also
// has it, DeregisterCluster removes the managed instances the agent
// registered, as EKS does with ssm:DeregisterManagedInstance.
type InstanceDeregisterer interface {
	DeregisterInstances(activationID string) int
}

// Config configures the store.
type Config struct {
	Region, Account string
	Clock           clock.Clock
	Roles           Roles
	Activations     Activations
	// ClusterQuota is the number of registered clusters per Region (default 10).
	ClusterQuota int
	// RolePropagationDelay: a role created (or whose trust policy changed)
	// less than this long ago looks nonexistent to RegisterCluster.
	RolePropagationDelay time.Duration
	// DeletionDuration is how long a deregistered cluster shows DELETING
	// before it is gone (default 2 minutes).
	DeletionDuration time.Duration
}

const (
	// ActivationLifetime: activationExpiry is createdAt + 3 days.
	ActivationLifetime = 72 * time.Hour
	// TokenLifetime is how long a clientRequestToken is remembered.
	TokenLifetime = 24 * time.Hour
	// registrationLimit of the SSM activation EKS creates: the agent runs as
	// a StatefulSet of 2 replicas by default and each replica registers once.
	// AWS does not document the number; 2 is the assumption that makes a
	// scaled-up agent fail loudly rather than silently.
	registrationLimit = 2

	connectorSLRService  = "eks-connector.amazonaws.com"
	ssmServicePrincipal  = "ssm.amazonaws.com"
	defaultQuota         = 10
	defaultDeletionDelay = 2 * time.Minute
)

// Statuses (types.ClusterStatus).
const (
	StatusPending  = "PENDING"
	StatusActive   = "ACTIVE"
	StatusFailed   = "FAILED"
	StatusDeleting = "DELETING"
)

// Providers accepted in connectorConfig.provider.
// They come from the SDK's enum (generated from the EKS service model), so
// there is one list, and a new SDK brings a new provider.
var Providers = providers()

func providers() []string {
	var out []string
	for _, p := range ekstypes.ConnectorConfigProvider("").Values() {
		out = append(out, string(p))
	}
	return out
}

type cluster struct {
	name, arn string
	created   time.Time
	tags      map[string]string

	connector    bool
	provider     string
	roleArn      string
	activationID string
	expiry       time.Time
	connected    bool      // an agent was seen online at least once
	deregistered time.Time // zero until DeregisterCluster

	version string // managed clusters

	createdBy string // the principal whose request created it (Principal.Name); "" from the Go API
}

type tokenRecord struct {
	fingerprint string
	at          time.Time
	cluster     *cluster
}

// Store is EKS's state.
type Store struct {
	mu            sync.Mutex
	cfg           Config
	clusters      map[string]*cluster
	tokens        map[string]*tokenRecord
	registerCalls int
}

// Service serves the EKS REST-JSON API.
type Service struct{ s *Store }

// New builds the store and its service.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.ClusterQuota == 0 {
		cfg.ClusterQuota = defaultQuota
	}
	if cfg.DeletionDuration == 0 {
		cfg.DeletionDuration = defaultDeletionDelay
	}
	s := &Store{cfg: cfg, clusters: map[string]*cluster{}, tokens: map[string]*tokenRecord{}}
	return s, &Service{s: s}
}

// ---------------------------------------------------------------------------
// Go API for tests and other packages

// AddManagedCluster creates an EKS-managed (non-connector) ACTIVE cluster.
func (s *Store) AddManagedCluster(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	s.clusters[name] = &cluster{name: name, arn: s.clusterARN(name), created: s.cfg.Clock.Now(),
		tags: map[string]string{}, version: "1.31"}
}

// ClusterNames lists every cluster that exists (DELETING ones included), sorted.
func (s *Store) ClusterNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	return s.sortedNamesLocked(true)
}

// RegisterCalls counts RegisterCluster requests that created a registration
// (idempotent replays and failures are not counted).
func (s *Store) RegisterCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registerCalls
}

// ClusterInfo is what a test's leak check needs to know about a cluster.
type ClusterInfo struct {
	Name, Status string
	// CreatedBy is the principal (Principal.Name) whose RegisterCluster
	// created it: "admin" for a test's own, a role's logical id for the
	// project's; "" for a managed cluster added through the Go API.
	CreatedBy    string
	Connector    bool
	ActivationID string
}

// Clusters lists every cluster that exists (DELETING ones included), by name.
func (s *Store) Clusters() []ClusterInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	var out []ClusterInfo
	for _, n := range s.sortedNamesLocked(true) {
		c := s.clusters[n]
		out = append(out, ClusterInfo{Name: n, Status: s.statusLocked(c), CreatedBy: c.createdBy,
			Connector: c.connector, ActivationID: c.activationID})
	}
	return out
}

// ClusterStatus returns the status DescribeCluster would show.
func (s *Store) ClusterStatus(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	c := s.clusters[name]
	if c == nil {
		return "", false
	}
	return s.statusLocked(c), true
}

func (s *Store) clusterARN(name string) string {
	return fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, name)
}

// sweepLocked removes clusters whose deletion finished and stale tokens.
func (s *Store) sweepLocked() {
	now := s.cfg.Clock.Now()
	for n, c := range s.clusters {
		if !c.deregistered.IsZero() && !now.Before(c.deregistered.Add(s.cfg.DeletionDuration)) {
			delete(s.clusters, n)
		}
	}
	for t, r := range s.tokens {
		if !now.Before(r.at.Add(TokenLifetime)) {
			delete(s.tokens, t)
		}
	}
}

// statusLocked computes a cluster's status now.
//
// Once an agent has connected, the registration stays ACTIVE even if every
// agent later goes away: EKS reports lost connectivity in the console, not as
// a cluster status, and the ClusterActiveWaiter has no state for it. An
// activation that expired without any agent ever connecting is FAILED.
func (s *Store) statusLocked(c *cluster) string {
	switch {
	case !c.deregistered.IsZero():
		return StatusDeleting
	case !c.connector || c.connected:
		return StatusActive
	}
	if s.cfg.Activations != nil && s.cfg.Activations.OnlineInstances(c.activationID) > 0 {
		c.connected = true
		return StatusActive
	}
	if !s.cfg.Clock.Now().Before(c.expiry) {
		return StatusFailed
	}
	return StatusPending
}

func (s *Store) sortedNamesLocked(all bool) []string {
	names := make([]string, 0, len(s.clusters))
	for n, c := range s.clusters {
		if all || !c.connector {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// ---------------------------------------------------------------------------
// Wire shapes (member names from the aws-sdk-go-v2 EKS schemas). Timestamps
// are epoch seconds with millisecond precision, as EKS sends them.

type connectorConfigJSON struct {
	ActivationID     string   `json:"activationId,omitempty"`
	ActivationCode   string   `json:"activationCode,omitempty"`
	ActivationExpiry *float64 `json:"activationExpiry,omitempty"`
	Provider         string   `json:"provider,omitempty"`
	RoleArn          string   `json:"roleArn,omitempty"`
}

type clusterJSON struct {
	Name            string               `json:"name"`
	Arn             string               `json:"arn"`
	CreatedAt       float64              `json:"createdAt"`
	Version         string               `json:"version,omitempty"`
	Status          string               `json:"status"`
	PlatformVersion string               `json:"platformVersion,omitempty"`
	Tags            map[string]string    `json:"tags"`
	ConnectorConfig *connectorConfigJSON `json:"connectorConfig,omitempty"`
}

type clusterResponse struct {
	Cluster clusterJSON `json:"cluster"`
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// viewLocked renders a cluster. The activation code is never part of it:
// RegisterCluster adds it to its own response, once.
func (s *Store) viewLocked(c *cluster) clusterJSON {
	v := clusterJSON{Name: c.name, Arn: c.arn, CreatedAt: epoch(c.created), Status: s.statusLocked(c), Tags: map[string]string{}}
	for k, val := range c.tags {
		v.Tags[k] = val
	}
	if c.connector {
		exp := epoch(c.expiry)
		v.ConnectorConfig = &connectorConfigJSON{ActivationID: c.activationID, ActivationExpiry: &exp,
			Provider: c.provider, RoleArn: c.roleArn}
	} else {
		v.Version = c.version
		v.PlatformVersion = "eks.1"
	}
	return v
}

// ---------------------------------------------------------------------------
// Errors

func invalidParam(name, format string, args ...any) *awsproto.Error {
	e := awsproto.Errorf(400, "InvalidParameterException", format, args...)
	if name != "" {
		e.Fields = map[string]any{"clusterName": name}
	}
	return e
}

func notFound(name string) *awsproto.Error {
	e := awsproto.Errorf(404, "ResourceNotFoundException", "No cluster found for name: %s.", name)
	e.Fields = map[string]any{"clusterName": name}
	return e
}

var nameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]*$`)

// validateName answers as EKS does for a bad cluster name (the wording,
// including the missing space before "In other words", is EKS's).
func validateName(param, name string) *awsproto.Error {
	if name == "" || len(name) > 100 {
		return invalidParam("", "The parameter %s must be between 1 and 100 characters long.", param)
	}
	if !nameRE.MatchString(name) {
		return invalidParam("", `The parameter %s contains invalid characters. It should conform to the regular expression "^[0-9A-Za-z][A-Za-z0-9-_]*"In other words, it should start with a number or letter, and can contain numbers, letters, dashes, and underscores.`, param)
	}
	return nil
}

var roleARNRE = regexp.MustCompile(`^arn:aws[\w-]*:iam::\d{12}:role/.+$`)

func validateTags(tags map[string]string) *awsproto.Error {
	if len(tags) > 50 {
		return invalidParam("", "Number of tags must not exceed 50.")
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 128:
			return invalidParam("", "Tag key %q must be between 1 and 128 characters.", k)
		case len(v) > 256:
			return invalidParam("", "Tag value for key %q must be at most 256 characters.", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalidParam("", "Tag keys starting with 'aws:' are reserved for AWS use.")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Routing

func (*Service) SigV4Name() string { return "eks" }

func (*Service) WriteError(w http.ResponseWriter, c *awsproto.Call, e *awsproto.Error) {
	awsproto.WriteRESTError(w, e)
}

func (v *Service) ServeAWS(w http.ResponseWriter, r *http.Request, c *awsproto.Call) {
	segs, err := pathSegments(r.URL)
	if err != nil {
		v.WriteError(w, c, awsproto.Errorf(400, "BadRequestException", "Malformed path: %v", err))
		return
	}
	var out any
	var e *awsproto.Error
	switch {
	case r.Method == http.MethodPost && len(segs) == 1 && segs[0] == "cluster-registrations":
		out, e = v.s.registerCluster(c, r)
	case r.Method == http.MethodDelete && len(segs) == 2 && segs[0] == "cluster-registrations":
		out, e = v.s.deregisterCluster(c, segs[1])
	case r.Method == http.MethodGet && len(segs) == 1 && segs[0] == "clusters":
		out, e = v.s.listClusters(c, r.URL.Query())
	case r.Method == http.MethodGet && len(segs) == 2 && segs[0] == "clusters":
		out, e = v.s.describeCluster(c, segs[1])
	case len(segs) == 2 && segs[0] == "tags":
		out, e = v.s.tags(c, r, segs[1])
	default:
		e = awsproto.Errorf(404, "UnknownOperationException", "The local cloud does not serve %s %s", r.Method, r.URL.Path)
	}
	if e != nil {
		v.WriteError(w, c, e)
		return
	}
	awsproto.WriteRESTJSON(w, http.StatusOK, out)
}

func pathSegments(u *url.URL) ([]string, error) {
	raw := strings.Trim(u.EscapedPath(), "/")
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		parts[i] = d
	}
	return parts, nil
}

// ---------------------------------------------------------------------------
// RegisterCluster

type registerRequest struct {
	Name            *string `json:"name"`
	ConnectorConfig *struct {
		RoleArn  *string `json:"roleArn"`
		Provider *string `json:"provider"`
	} `json:"connectorConfig"`
	ClientRequestToken *string           `json:"clientRequestToken"`
	Tags               map[string]string `json:"tags"`
}

func (s *Store) registerCluster(c *awsproto.Call, r *http.Request) (any, *awsproto.Error) {
	if e := c.Begin("RegisterCluster"); e != nil {
		return nil, e
	}
	var req registerRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, awsproto.Errorf(400, "BadRequestException", "Could not parse request body into json: %v", err)
	}
	// Validation, before authorization, as the service front end does.
	if req.Name == nil {
		return nil, invalidParam("", "The parameter name is required.")
	}
	name := *req.Name
	if e := validateName("name", name); e != nil {
		return nil, e
	}
	if req.ConnectorConfig == nil {
		return nil, invalidParam(name, "The parameter connectorConfig is required.")
	}
	if req.ConnectorConfig.RoleArn == nil || *req.ConnectorConfig.RoleArn == "" {
		return nil, invalidParam(name, "The parameter connectorConfig.roleArn is required.")
	}
	roleArn := *req.ConnectorConfig.RoleArn
	if req.ConnectorConfig.Provider == nil {
		return nil, invalidParam(name, "The parameter connectorConfig.provider is required.")
	}
	provider := *req.ConnectorConfig.Provider
	valid := false
	for _, p := range Providers {
		valid = valid || p == provider
	}
	if !valid {
		// EKS reports a bad enum as InvalidParameterException; the message
		// follows the service's validation wording (not documented verbatim).
		return nil, invalidParam(name, "1 validation error detected: Value '%s' at 'connectorConfig.provider' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
			provider, strings.Join(Providers, ", "))
	}
	if !roleARNRE.MatchString(roleArn) {
		return nil, invalidParam(name, "The parameter connectorConfig.roleArn is not a valid IAM role ARN: %s", roleArn)
	}
	if e := validateTags(req.Tags); e != nil {
		return nil, e
	}
	token := ""
	if req.ClientRequestToken != nil {
		token = *req.ClientRequestToken
		if len(token) > 64 {
			return nil, invalidParam(name, "The parameter clientRequestToken must be at most 64 characters long.")
		}
	}

	arn := s.clusterARN(name)
	// eks:RegisterCluster has no resource types in the IAM service
	// authorization reference: it is authorized against "*". The EKS user
	// guide (Connect an external Kubernetes cluster, Prerequisites) lists
	// the permissions registering needs: eks:RegisterCluster,
	// ssm:CreateActivation, ssm:DeleteActivation and iam:PassRole; the two
	// SSM actions have no resource types either. Tags in the request are
	// not checked as eks:TagResource: no AWS source says EKS makes that
	// check (FIDELITY.md).
	for _, chk := range []struct{ action, resource string }{
		{"eks:RegisterCluster", "*"},
		{"iam:PassRole", roleArn},
		{"ssm:CreateActivation", "*"},
		{"ssm:DeleteActivation", "*"},
	} {
		if e := c.Authorize("AccessDeniedException", chk.action, chk.resource, nil); e != nil {
			return nil, e
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	now := c.Clock.Now()
	fp := fingerprint(name, roleArn, provider, req.Tags)

	// Idempotency. A replay returns the registration as it is now, without
	// the activation code: AWS does not document returning it twice, so the
	// emulator assumes it does not. A token whose registration is gone (it
	// was deregistered) no longer answers and the request is served anew.
	if token != "" {
		if rec := s.tokens[token]; rec != nil {
			if rec.fingerprint != fp {
				return nil, invalidParam(name, "The clientRequestToken %s was already used for a different request.", token)
			}
			if s.clusters[rec.cluster.name] == rec.cluster {
				return clusterResponse{s.viewLocked(rec.cluster)}, nil
			}
			delete(s.tokens, token)
		}
	}

	if s.clusters[name] != nil {
		e := awsproto.Errorf(409, "ResourceInUseException", "Cluster already exists with name: %s", name)
		e.Fields = map[string]any{"clusterName": name}
		return nil, e
	}
	registered := 0
	for _, cl := range s.clusters {
		if cl.connector {
			registered++
		}
	}
	if registered >= s.cfg.ClusterQuota {
		e := awsproto.Errorf(400, "ResourceLimitExceededException",
			"Cannot register cluster %s: the account has reached its quota of %d registered clusters in %s.", name, s.cfg.ClusterQuota, s.cfg.Region)
		e.Fields = map[string]any{"clusterName": name}
		return nil, e
	}
	if s.cfg.Roles != nil {
		if !s.cfg.Roles.AssumableBy(roleArn, ssmServicePrincipal, s.cfg.RolePropagationDelay) {
			e := awsproto.Errorf(400, "InvalidRequestException", "Nonexistent role or missing ssm service principal in trust policy")
			e.Fields = map[string]any{"clusterName": name}
			return nil, e
		}
		// EKS creates the connector's service-linked role on first use.
		s.cfg.Roles.EnsureServiceLinkedRole(connectorSLRService)
	}

	cl := &cluster{
		name: name, arn: arn, created: now, tags: map[string]string{},
		connector: true, provider: provider, roleArn: roleArn, expiry: now.Add(ActivationLifetime),
	}
	if c.Principal != nil {
		cl.createdBy = c.Principal.Name
	}
	for k, v := range req.Tags {
		cl.tags[k] = v
	}
	code := ""
	if s.cfg.Activations != nil {
		cl.activationID, code = s.cfg.Activations.CreateActivation(roleArn, "eks_c:"+name,
			"Activation for EKS Connector cluster "+name, registrationLimit, cl.expiry, nil)
	}
	s.clusters[name] = cl
	s.registerCalls++
	if token != "" {
		s.tokens[token] = &tokenRecord{fingerprint: fp, at: now, cluster: cl}
	}
	view := s.viewLocked(cl)
	view.ConnectorConfig.ActivationCode = code
	return clusterResponse{view}, nil
}

func fingerprint(name, role, provider string, tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%q|%q", name, role, provider)
	for _, k := range keys {
		fmt.Fprintf(&b, "|%q=%q", k, tags[k])
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// DescribeCluster

func (s *Store) describeCluster(c *awsproto.Call, name string) (any, *awsproto.Error) {
	if e := c.Begin("DescribeCluster"); e != nil {
		return nil, e
	}
	if e := validateName("name", name); e != nil {
		return nil, e
	}
	if e := c.Authorize("AccessDeniedException", "eks:DescribeCluster", s.clusterARN(name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	cl := s.clusters[name]
	if cl == nil {
		return nil, notFound(name)
	}
	return clusterResponse{s.viewLocked(cl)}, nil
}

// ---------------------------------------------------------------------------
// ListClusters

type listResponse struct {
	Clusters  []string `json:"clusters"`
	NextToken *string  `json:"nextToken,omitempty"`
}

func (s *Store) listClusters(c *awsproto.Call, q url.Values) (any, *awsproto.Error) {
	if e := c.Begin("ListClusters"); e != nil {
		return nil, e
	}
	all := false
	for _, inc := range q["include"] {
		// Only lower-case "all" is accepted.
		if inc != "all" {
			return nil, invalidParam("", "The include parameter value %s is not valid. Valid value: all", inc)
		}
		all = true
	}
	maxResults := 100
	if m, ok := q["maxResults"]; ok {
		n, err := strconv.Atoi(m[0])
		if err != nil || n < 1 || n > 100 {
			return nil, invalidParam("", "The maxResults parameter must be between 1 and 100.")
		}
		maxResults = n
	}
	if e := c.Authorize("AccessDeniedException", "eks:ListClusters", "*", nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	names := s.sortedNamesLocked(all)
	start := 0
	if tok := q.Get("nextToken"); tok != "" {
		after, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(after) < 2 || after[0] != 'c' {
			return nil, invalidParam("", "The nextToken provided is not valid.")
		}
		start = sort.SearchStrings(names, string(after[1:]))
		if start < len(names) && names[start] == string(after[1:]) {
			start++
		}
	}
	end := min(start+maxResults, len(names))
	out := listResponse{Clusters: append([]string{}, names[start:end]...)}
	if end < len(names) {
		t := base64.RawURLEncoding.EncodeToString([]byte("c" + names[end-1]))
		out.NextToken = &t
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// DeregisterCluster

func (s *Store) deregisterCluster(c *awsproto.Call, name string) (any, *awsproto.Error) {
	if e := c.Begin("DeregisterCluster"); e != nil {
		return nil, e
	}
	if e := validateName("name", name); e != nil {
		return nil, e
	}
	// The EKS user guide (Deregister a Kubernetes cluster, its permission
	// list): eks:DeregisterCluster, ssm:DeleteActivation and
	// ssm:DeregisterManagedInstance. DeleteActivation has no resource
	// types (so "*"). The connector's instances (eks_c:<cluster>_…) are
	// authorized against the cluster's ARN, as the local SSM does for
	// DeregisterManagedInstance of such an instance: AWS's managed policy
	// AmazonEKSConnectorServiceRolePolicy grants that action only on
	// arn:aws:eks:*:*:cluster/* (FIDELITY.md: an inference).
	for _, chk := range []struct{ action, resource string }{
		{"eks:DeregisterCluster", s.clusterARN(name)},
		{"ssm:DeleteActivation", "*"},
		{"ssm:DeregisterManagedInstance", s.clusterARN(name)},
	} {
		if e := c.Authorize("AccessDeniedException", chk.action, chk.resource, nil); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	cl := s.clusters[name]
	if cl == nil {
		return nil, notFound(name)
	}
	if !cl.connector {
		// An EKS-managed cluster is deleted with DeleteCluster. AWS does not
		// document the answer; ClientException is the one the operation's
		// model declares for a request the caller got wrong (assumption).
		e := awsproto.Errorf(400, "ClientException",
			"Cluster %s is not a registered cluster. Use DeleteCluster to delete an Amazon EKS cluster.", name)
		e.Fields = map[string]any{"clusterName": name}
		return nil, e
	}
	if !cl.deregistered.IsZero() {
		// A second deregistration while the first is in progress: the
		// operation's model lists ResourceInUseException, the answer that
		// forces callers to treat "already deleting" explicitly.
		e := awsproto.Errorf(409, "ResourceInUseException", "Cluster %s is currently being deregistered.", name)
		e.Fields = map[string]any{"clusterName": name}
		return nil, e
	}
	cl.deregistered = c.Clock.Now()
	if s.cfg.Activations != nil && cl.activationID != "" {
		if d, ok := s.cfg.Activations.(InstanceDeregisterer); ok {
			d.DeregisterInstances(cl.activationID)
		}
		s.cfg.Activations.DeleteActivation(cl.activationID)
	}
	return clusterResponse{s.viewLocked(cl)}, nil
}

// ---------------------------------------------------------------------------
// Tags

type tagsBody struct {
	Tags map[string]string `json:"tags"`
}

func (s *Store) tags(c *awsproto.Call, r *http.Request, arn string) (any, *awsproto.Error) {
	op := map[string]string{http.MethodGet: "ListTagsForResource", http.MethodPost: "TagResource", http.MethodDelete: "UntagResource"}[r.Method]
	if op == "" {
		return nil, awsproto.Errorf(404, "UnknownOperationException", "The local cloud does not serve %s /tags", r.Method)
	}
	if e := c.Begin(op); e != nil {
		return nil, e
	}
	var body tagsBody
	if op == "TagResource" {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, awsproto.Errorf(400, "BadRequestException", "Could not parse request body into json: %v", err)
		}
		if len(body.Tags) == 0 {
			return nil, awsproto.Errorf(400, "BadRequestException", "tags must not be empty")
		}
		if e := validateTags(body.Tags); e != nil {
			e.Code = "BadRequestException"
			return nil, e
		}
	}
	if e := c.Authorize("AccessDeniedException", "eks:"+op, arn, nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	prefix := s.clusterARN("")
	cl := s.clusters[strings.TrimPrefix(arn, prefix)]
	if !strings.HasPrefix(arn, prefix) || cl == nil || cl.arn != arn {
		return nil, awsproto.Errorf(404, "NotFoundException", "Resource %s not found.", arn)
	}
	switch op {
	case "TagResource":
		if len(cl.tags)+len(body.Tags) > 50 {
			return nil, awsproto.Errorf(400, "BadRequestException", "Number of tags must not exceed 50.")
		}
		for k, v := range body.Tags {
			cl.tags[k] = v
		}
		return struct{}{}, nil
	case "UntagResource":
		for _, k := range r.URL.Query()["tagKeys"] {
			delete(cl.tags, k)
		}
		return struct{}{}, nil
	default:
		out := tagsBody{Tags: map[string]string{}}
		for k, v := range cl.tags {
			out.Tags[k] = v
		}
		return out, nil
	}
}
