package ssm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

type activation struct {
	id, code            string
	iamRole             string
	defaultInstanceName string
	description         string
	limit               int
	count               int
	created, expiry     time.Time
	tags                map[string]string
}

type instance struct {
	id, activationID, iamRole, name, computerName, ip string
	pingStatus                                        string
	lastPing, registered                              time.Time
}

// ---------------------------------------------------------------------------
// Go API (the EKS emulation and the agent simulator)

// CreateActivation makes a hybrid activation and returns its id (a UUID) and
// its code (20 characters, returned only here, as AWS does).
func (s *Store) CreateActivation(iamRole, defaultInstanceName, description string, registrationLimit int, expiry time.Time, tags map[string]string) (id, code string) {
	now := s.cfg.Clock.Now()
	if registrationLimit <= 0 {
		registrationLimit = 1
	}
	if expiry.IsZero() {
		expiry = now.Add(24 * time.Hour)
	}
	a := &activation{id: awsproto.NewUUID(), code: activationCode(), iamRole: iamRole, defaultInstanceName: defaultInstanceName,
		description: description, limit: registrationLimit, created: now, expiry: expiry.UTC(), tags: map[string]string{}}
	for k, v := range tags {
		a.tags[k] = v
	}
	s.mu.Lock()
	s.activations[a.id] = a
	s.issuedCodes = append(s.issuedCodes, a.code)
	s.mu.Unlock()
	return a.id, a.code
}

// IssuedCodes lists every activation code this store has issued, deleted
// activations included: the secrets a test searches its world's output for.
func (s *Store) IssuedCodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issuedCodes)
}

// DeleteActivation removes an activation; instances that already registered
// with it stay registered. It reports false when there was no such activation.
func (s *Store) DeleteActivation(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.activations[id]; !ok {
		return false
	}
	delete(s.activations, id)
	s.deleted[id] = true
	return true
}

// wasDeleted reports whether an activation of that id existed and was deleted.
func (s *Store) wasDeleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[id]
}

// OnlineInstances counts the instances registered with an activation whose
// PingStatus is Online.
func (s *Store) OnlineInstances(activationID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, in := range s.instances {
		if in.activationID == activationID && in.pingStatus == "Online" {
			n++
		}
	}
	return n
}

func invalidActivation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(400, "InvalidActivation", format, args...)
}

// RegisterManagedInstance is what the agent's registration does (the
// non-public RegisterManagedInstance API): it checks the activation and its
// code, the expiry and the registration limit, and creates the managed
// instance Online. An empty instanceID gets an mi-… id. Registering an id that
// is already registered refreshes it (the agent re-registering).
func (s *Store) RegisterManagedInstance(activationID, activationCode, instanceID string) error {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.activations[activationID]
	if !ok {
		return invalidActivation("Activation ID %s is not valid", activationID)
	}
	if a.code != activationCode {
		return invalidActivation("Activation ID %s and activation code do not match", activationID)
	}
	if !now.Before(a.expiry) {
		return invalidActivation("Activation %s has expired", activationID)
	}
	if instanceID == "" {
		b := make([]byte, 9)
		_, _ = rand.Read(b)
		instanceID = "mi-" + hex.EncodeToString(b)[:17]
	}
	if in, ok := s.instances[instanceID]; ok && in.activationID == activationID {
		in.pingStatus, in.lastPing = "Online", now
		return nil
	}
	if a.count >= a.limit {
		return invalidActivation("Activation %s has reached its registration limit of %d", activationID, a.limit)
	}
	a.count++
	computer := fmt.Sprintf("localhost-%d", a.count-1)
	if strings.HasPrefix(instanceID, "eks_c:") {
		computer = fmt.Sprintf("eks-connector-%d", a.count-1)
	}
	s.instances[instanceID] = &instance{id: instanceID, activationID: activationID, iamRole: a.iamRole,
		name: a.defaultInstanceName, computerName: computer, ip: fmt.Sprintf("10.0.%d.%d", (a.count/250)%250, 10+a.count%240),
		pingStatus: "Online", lastPing: now, registered: now}
	return nil
}

// SetPingStatus changes a managed instance's PingStatus: "Online" or
// "ConnectionLost" (or the deprecated "Inactive").
func (s *Store) SetPingStatus(instanceID, status string) error {
	switch status {
	case "Online", "ConnectionLost", "Inactive":
	default:
		return validation("invalid PingStatus %q", status)
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[instanceID]
	if !ok {
		return awsproto.Errorf(400, "InvalidInstanceId", "Instance Id %s is not valid", instanceID)
	}
	if in.pingStatus == "Online" {
		in.lastPing = now
	}
	in.pingStatus = status
	if status == "Online" {
		in.lastPing = now
	}
	return nil
}

// Instances lists the registered managed instance ids, sorted.
func (s *Store) Instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.instances))
}

// ActivationInfo describes an activation that exists (not deleted).
type ActivationInfo struct {
	ID, DefaultInstanceName string
	Expiry                  time.Time
	Expired                 bool // on the store's clock
}

// Activations lists the activations that exist (not deleted), by id.
func (s *Store) Activations() []ActivationInfo {
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ActivationInfo
	for _, id := range slices.Sorted(maps.Keys(s.activations)) {
		a := s.activations[id]
		out = append(out, ActivationInfo{ID: id, DefaultInstanceName: a.defaultInstanceName, Expiry: a.expiry, Expired: !now.Before(a.expiry)})
	}
	return out
}

// InstanceActivations maps each registered managed instance to the
// activation it registered with.
func (s *Store) InstanceActivations() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, in := range s.instances {
		out[id] = in.activationID
	}
	return out
}

// ActivationIDs lists the activations that exist (not deleted), sorted.
func (s *Store) ActivationIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.activations))
}

// Activation codes are 20 characters of the base64 alphabet.
const codeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func activationCode() string {
	var b strings.Builder
	for range 20 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(codeAlphabet))))
		b.WriteByte(codeAlphabet[n.Int64()])
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Wire operations

// instanceARN is the ARN ssm:DeregisterManagedInstance of instance id is
// authorized against. The SAR gives the action the managed-instance
// resource type (arn:…:ssm:<region>:<account>:managed-instance/<id>). An EKS
// Connector instance (id eks_c:<cluster>_<suffix>) is authorized against its
// EKS cluster's ARN instead: AWS's managed policy
// AmazonEKSConnectorServiceRolePolicy, with which EKS deregisters those
// instances, grants the action only on arn:aws:eks:*:*:cluster/*. That is
// an inference from the policy, recorded in FIDELITY.md.
func (s *Store) instanceARN(id string) string {
	if rest, ok := strings.CutPrefix(id, "eks_c:"); ok && len(rest) > 18 && rest[len(rest)-18] == '_' {
		return fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, rest[:len(rest)-18])
	}
	return fmt.Sprintf("arn:%s:ssm:%s:%s:managed-instance/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, id)
}

func (s *Store) opCreateActivation(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		IamRole             string `json:"IamRole"`
		DefaultInstanceName string `json:"DefaultInstanceName"`
		Description         string `json:"Description"`
		ExpirationDate      *epoch `json:"ExpirationDate"`
		RegistrationLimit   *int   `json:"RegistrationLimit"`
		Tags                []tag  `json:"Tags"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.IamRole == "" {
		return nil, validation("1 validation error detected: Value null at 'iamRole' failed to satisfy constraint: Member must not be null")
	}
	limit := 1
	if in.RegistrationLimit != nil {
		limit = *in.RegistrationLimit
		if limit < 1 || limit > 1000 {
			return nil, validation("1 validation error detected: Value '%d' at 'registrationLimit' failed to satisfy constraint: Member must have value less than or equal to 1000 and greater than or equal to 1", limit)
		}
	}
	if len(in.Description) > 256 || len(in.DefaultInstanceName) > 256 {
		return nil, validation("Description and DefaultInstanceName must be at most 256 characters")
	}
	now := s.cfg.Clock.Now()
	expiry := now.Add(24 * time.Hour)
	if in.ExpirationDate != nil {
		expiry = time.Time(*in.ExpirationDate)
		if !expiry.After(now) || expiry.After(now.Add(30*24*time.Hour)) {
			return nil, awsproto.Errorf(400, "ValidationException",
				"Expiration date must be in the future and at most 30 days from now")
		}
	}
	tags, e := tagsToMap(in.Tags)
	if e != nil {
		return nil, e
	}
	if e := c.Authorize(accessDenied, "ssm:CreateActivation", "*", nil); e != nil {
		return nil, e
	}
	role := in.IamRole
	if !strings.HasPrefix(role, "arn:") {
		role = fmt.Sprintf("arn:%s:iam::%s:role/%s", awsproto.Partition, s.cfg.Account, strings.TrimPrefix(role, "/"))
	}
	if e := c.Authorize(accessDenied, "iam:PassRole", role, map[string]string{"iam:PassedToService": "ssm.amazonaws.com"}); e != nil {
		return nil, e
	}
	id, code := s.CreateActivation(in.IamRole, in.DefaultInstanceName, in.Description, limit, expiry, tags)
	return map[string]any{"ActivationId": id, "ActivationCode": code}, nil
}

type activationOut struct {
	ActivationId        string `json:"ActivationId"`
	Description         string `json:"Description,omitempty"`
	DefaultInstanceName string `json:"DefaultInstanceName,omitempty"`
	IamRole             string `json:"IamRole"`
	RegistrationLimit   int    `json:"RegistrationLimit"`
	RegistrationsCount  int    `json:"RegistrationsCount"`
	ExpirationDate      *epoch `json:"ExpirationDate"`
	Expired             bool   `json:"Expired"`
	CreatedDate         *epoch `json:"CreatedDate"`
	Tags                []tag  `json:"Tags,omitempty"`
}

func (s *Store) opDescribeActivations(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Filters []struct {
			FilterKey    string   `json:"FilterKey"`
			FilterValues []string `json:"FilterValues"`
		} `json:"Filters"`
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	n, after, e := pageArgs(in.MaxResults, 1, 50, in.NextToken)
	if e != nil {
		return nil, e
	}
	for _, f := range in.Filters {
		switch f.FilterKey {
		case "ActivationIds", "DefaultInstanceName", "IamRole":
		default:
			return nil, validation("1 validation error detected: Value '%s' at 'filters.1.member.filterKey' failed to satisfy constraint: Member must satisfy enum value set: [ActivationIds, DefaultInstanceName, IamRole]", f.FilterKey)
		}
	}
	if e := c.Authorize(accessDenied, "ssm:DescribeActivations", "*", nil); e != nil {
		return nil, e
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// AWS lists activations newest first; ties broken by id for stable paging.
	all := make([]*activation, 0, len(s.activations))
	for _, a := range s.activations {
		all = append(all, a)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.After(all[j].created)
		}
		return all[i].id < all[j].id
	})
	pg := listPage[activationOut]{n: n}
	skipping := after != ""
	for _, a := range all {
		if skipping {
			if a.id == after {
				skipping = false
			}
			continue
		}
		if !activationMatches(a, in.Filters) {
			continue
		}
		if !pg.add(a.id, activationOut{ActivationId: a.id, Description: a.description, DefaultInstanceName: a.defaultInstanceName,
			IamRole: a.iamRole, RegistrationLimit: a.limit, RegistrationsCount: a.count, ExpirationDate: ep(a.expiry),
			Expired: !now.Before(a.expiry), CreatedDate: ep(a.created), Tags: mapToTags(a.tags)}) {
			break
		}
	}
	return pg.answer("ActivationList"), nil
}

func activationMatches(a *activation, fs []struct {
	FilterKey    string   `json:"FilterKey"`
	FilterValues []string `json:"FilterValues"`
}) bool {
	for _, f := range fs {
		var have string
		switch f.FilterKey {
		case "ActivationIds":
			have = a.id
		case "DefaultInstanceName":
			have = a.defaultInstanceName
		case "IamRole":
			have = a.iamRole
		}
		if !slices.Contains(f.FilterValues, have) {
			return false
		}
	}
	return true
}

func (s *Store) opDeleteActivation(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		ActivationId string `json:"ActivationId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if !uuidRE.MatchString(in.ActivationId) {
		return nil, validation("1 validation error detected: Value '%s' at 'activationId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", in.ActivationId)
	}
	// ssm:DeleteActivation supports no resource-level permissions: "*".
	if e := c.Authorize(accessDenied, "ssm:DeleteActivation", "*", nil); e != nil {
		return nil, e
	}
	if !s.DeleteActivation(in.ActivationId) {
		// The model declares both codes for DeleteActivation. The API
		// reference gives InvalidActivation for an activation that "might
		// have been deleted" and InvalidActivationId for an id that is not
		// valid; which one AWS sends for a deleted activation is not
		// documented further (FIDELITY.md: assumption). The product accepts
		// both (awserr.IsActivationGone).
		if s.wasDeleted(in.ActivationId) {
			return nil, invalidActivation("Activation %s is not valid: it has been deleted", in.ActivationId)
		}
		return nil, awsproto.Errorf(400, "InvalidActivationId", "Activation ID %s is not valid", in.ActivationId)
	}
	return struct{}{}, nil
}

type instanceOut struct {
	InstanceId       string `json:"InstanceId"`
	PingStatus       string `json:"PingStatus"`
	LastPingDateTime *epoch `json:"LastPingDateTime,omitempty"`
	AgentVersion     string `json:"AgentVersion"`
	IsLatestVersion  bool   `json:"IsLatestVersion"`
	PlatformType     string `json:"PlatformType"`
	PlatformName     string `json:"PlatformName"`
	PlatformVersion  string `json:"PlatformVersion"`
	ActivationId     string `json:"ActivationId"`
	IamRole          string `json:"IamRole"`
	RegistrationDate *epoch `json:"RegistrationDate"`
	ResourceType     string `json:"ResourceType"`
	Name             string `json:"Name,omitempty"`
	IPAddress        string `json:"IPAddress"`
	ComputerName     string `json:"ComputerName"`
	SourceId         string `json:"SourceId"`
	SourceType       string `json:"SourceType"`
}

var instanceFilterKeys = []string{"InstanceIds", "AgentVersion", "PingStatus", "PlatformTypes", "ActivationIds", "IamRole", "ResourceType", "AssociationStatus"}

func (s *Store) opDescribeInstanceInformation(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		InstanceInformationFilterList []struct {
			Key      string   `json:"key"`
			ValueSet []string `json:"valueSet"`
		} `json:"InstanceInformationFilterList"`
		Filters []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
		} `json:"Filters"`
		MaxResults *int   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.InstanceInformationFilterList) > 0 && len(in.Filters) > 0 {
		return nil, awsproto.Errorf(400, "InvalidInstanceInformationFilterValue", "You can use either InstanceInformationFilterList or Filters in a single request, not both.")
	}
	type filter struct {
		key    string
		values []string
	}
	var fs []filter
	for _, f := range in.InstanceInformationFilterList {
		if !slices.Contains(instanceFilterKeys, f.Key) {
			return nil, validation("1 validation error detected: Value '%s' at 'instanceInformationFilterList.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]", f.Key, strings.Join(instanceFilterKeys, ", "))
		}
		if len(f.ValueSet) == 0 {
			return nil, awsproto.Errorf(400, "InvalidInstanceInformationFilterValue", "The filter value for %s is not valid.", f.Key)
		}
		fs = append(fs, filter{f.Key, f.ValueSet})
	}
	for _, f := range in.Filters {
		if !slices.Contains(instanceFilterKeys, f.Key) && !strings.HasPrefix(f.Key, "tag:") && f.Key != "tag-key" {
			return nil, awsproto.Errorf(400, "InvalidFilterKey", "The filter key %s is not valid.", f.Key)
		}
		if len(f.Values) == 0 {
			return nil, awsproto.Errorf(400, "InvalidInstanceInformationFilterValue", "The filter value for %s is not valid.", f.Key)
		}
		fs = append(fs, filter{f.Key, f.Values})
	}
	// The page size is 5–50, and 10 when MaxResults is absent (the SSM model:
	// "The default value is 10 items").
	if in.MaxResults == nil {
		n := defaultInstancePage
		in.MaxResults = &n
	}
	n, after, e := pageArgs(in.MaxResults, 5, 50, in.NextToken)
	if e != nil {
		return nil, e
	}
	if e := c.Authorize(accessDenied, "ssm:DescribeInstanceInformation", "*", nil); e != nil {
		return nil, e
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	pg := listPage[instanceOut]{n: n}
	for _, id := range slices.Sorted(maps.Keys(s.instances)) {
		if after != "" && id <= after {
			continue
		}
		i := s.instances[id]
		ok := true
		for _, f := range fs {
			var have string
			switch f.key {
			case "InstanceIds":
				have = i.id
			case "PingStatus":
				have = i.pingStatus
			case "ActivationIds":
				have = i.activationID
			case "IamRole":
				have = i.iamRole
			case "ResourceType":
				have = "ManagedInstance"
			case "PlatformTypes":
				have = "Linux"
			case "AgentVersion":
				have = agentVersion
			default:
				have = "\x00" // tags and association status: nothing matches
			}
			if !slices.Contains(f.values, have) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		last := i.lastPing
		if i.pingStatus == "Online" {
			// An online agent pings every few minutes.
			last = now
		}
		if !pg.add(id, instanceOut{InstanceId: i.id, PingStatus: i.pingStatus, LastPingDateTime: ep(last),
			AgentVersion: agentVersion, PlatformType: "Linux", PlatformName: "Amazon Linux", PlatformVersion: "2",
			ActivationId: i.activationID, IamRole: i.iamRole, RegistrationDate: ep(i.registered), ResourceType: "ManagedInstance",
			Name: i.name, IPAddress: i.ip, ComputerName: i.computerName, SourceId: i.id, SourceType: "AWS::SSM::ManagedInstance"}) {
			break
		}
	}
	return pg.answer("InstanceInformationList"), nil
}

const agentVersion = "3.3.1142.0"

// defaultInstancePage is DescribeInstanceInformation's page size without MaxResults.
const defaultInstancePage = 10

func (s *Store) opDeregisterManagedInstance(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		InstanceId string `json:"InstanceId"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.InstanceId == "" {
		return nil, validation("1 validation error detected: Value null at 'instanceId' failed to satisfy constraint: Member must not be null")
	}
	if e := c.Authorize(accessDenied, "ssm:DeregisterManagedInstance", s.instanceARN(in.InstanceId), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.instances[in.InstanceId]; !ok {
		return nil, awsproto.Errorf(400, "InvalidInstanceId", "Instance Id %s is not valid", in.InstanceId)
	}
	delete(s.instances, in.InstanceId)
	return struct{}{}, nil
}
