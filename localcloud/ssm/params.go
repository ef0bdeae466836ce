package ssm

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// DefaultKeyAlias is the AWS managed key SecureString parameters use by default.
const DefaultKeyAlias = "alias/aws/ssm"

const maxVersions = 100

type paramVersion struct {
	typ, value, ciphertext string
	keyID, keyArn          string // SecureString only
	description            string
	allowedPattern         string
	dataType               string
	tier                   string
	version                int64
	modified               time.Time
	modifiedUser           string
}

type parameter struct {
	name     string
	versions []*paramVersion // oldest first; the last is current
	tags     map[string]string
}

func (p *parameter) cur() *paramVersion { return p.versions[len(p.versions)-1] }

// ParameterARN is the ARN AWS gives a parameter: the name without its leading slash.
func (s *Store) ParameterARN(name string) string {
	return fmt.Sprintf("arn:%s:ssm:%s:%s:parameter/%s", awsproto.Partition, s.cfg.Region, s.cfg.Account, strings.TrimPrefix(name, "/"))
}

// Parameter returns a parameter's current plaintext value and type.
func (s *Store) Parameter(name string) (value, typ string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.params[name]
	if !ok {
		return "", "", false
	}
	return p.cur().value, p.cur().typ, true
}

// ParameterNames lists every parameter name, sorted.
func (s *Store) ParameterNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.params))
}

// ---------------------------------------------------------------------------
// Names

var nameChars = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

// nameFromInput accepts a parameter name or its ARN (as every parameter
// operation does) and returns the name.
func (s *Store) nameFromInput(in string) string {
	prefix := fmt.Sprintf("arn:%s:ssm:%s:%s:parameter", awsproto.Partition, s.cfg.Region, s.cfg.Account)
	if strings.HasPrefix(in, prefix+"/") {
		rest := strings.TrimPrefix(in, prefix+"/")
		if strings.Contains(rest, "/") {
			return "/" + rest
		}
		return rest
	}
	return in
}

// validateName applies PutParameter's naming rules.
func (s *Store) validateName(name string) *awsproto.Error {
	if name == "" {
		return validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if len(name) > 2048 {
		return validation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must have length less than or equal to 2048", name)
	}
	// The 2048 limit includes 1037 characters reserved for internal use; the
	// usable limit is 1011 characters counting the whole parameter ARN.
	if len(s.ParameterARN(name)) > 1011 {
		return validation("Parameter name: the fully qualified parameter name (ARN) can be at most 1011 characters")
	}
	bare := strings.ToLower(strings.TrimPrefix(name, "/"))
	if !nameChars.MatchString(name) || strings.HasPrefix(bare, "aws") || strings.HasPrefix(bare, "ssm") {
		return validation(`Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`)
	}
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			return validation("Parameter name must be a fully qualified name.")
		}
		if strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
			return validation(`Parameter name: can't be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_`)
		}
		if strings.Count(name, "/") > 15 {
			return awsproto.Errorf(400, "HierarchyLevelLimitExceededException",
				"Parameter name hierarchy level limit exceeded; maximum 15 levels")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Keys: a tiny KMS. Aliases, key ids and key ARNs resolve to a key ARN.

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	keyArnRE = regexp.MustCompile(`^arn:aws:kms:[a-z0-9-]+:\d{12}:(key/[0-9a-f-]{36}|alias/[a-zA-Z0-9/_-]+)$`)
	aliasRE  = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
)

func (s *Store) keyArn(keyID string) (string, *awsproto.Error) {
	kms := fmt.Sprintf("arn:%s:kms:%s:%s:", awsproto.Partition, s.cfg.Region, s.cfg.Account)
	switch {
	case aliasRE.MatchString(keyID):
		return kms + "key/" + aliasKeyID(s.cfg.Account+keyID), nil
	case uuidRE.MatchString(keyID):
		return kms + "key/" + keyID, nil
	case keyArnRE.MatchString(keyID):
		if i := strings.Index(keyID, ":alias/"); i >= 0 {
			return keyID[:i+1] + "key/" + aliasKeyID(s.cfg.Account+keyID[i+1:]), nil
		}
		return keyID, nil
	}
	return "", awsproto.Errorf(400, "InvalidKeyId", "Invalid keyId %s", keyID)
}

// aliasKeyID gives each alias a stable key id.
func aliasKeyID(alias string) string {
	h := sha256.Sum256([]byte(alias))
	x := fmt.Sprintf("%x", h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func isDefaultKey(keyID string) bool {
	return keyID == DefaultKeyAlias || strings.HasSuffix(keyID, ":"+DefaultKeyAlias)
}

// ciphertext makes a KMS-looking blob: what GetParameter returns for a
// SecureString without WithDecryption.
func ciphertext(keyArn, value string) string {
	b := []byte{0x01, 0x02, 0x02, 0x00, 0x78}
	h := sha256.Sum256([]byte(keyArn))
	b = append(b, h[:]...)
	nonce := make([]byte, 12+len(value)+48)
	_, _ = rand.Read(nonce)
	b = append(b, nonce...)
	return base64.StdEncoding.EncodeToString(b)
}

// ---------------------------------------------------------------------------
// PutParameter

type putParameterInput struct {
	Name           string  `json:"Name"`
	Value          *string `json:"Value"`
	Type           string  `json:"Type"`
	Description    *string `json:"Description"`
	KeyId          string  `json:"KeyId"`
	Overwrite      *bool   `json:"Overwrite"`
	AllowedPattern *string `json:"AllowedPattern"`
	Tags           []tag   `json:"Tags"`
	Tier           string  `json:"Tier"`
	Policies       string  `json:"Policies"`
	DataType       string  `json:"DataType"`
}

func (s *Store) opPutParameter(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in putParameterInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name := s.nameFromInput(in.Name)
	if e := s.validateName(name); e != nil {
		return nil, e
	}
	if in.Value == nil {
		return nil, validation("1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null")
	}
	if in.Type != "" && in.Type != "String" && in.Type != "StringList" && in.Type != "SecureString" {
		return nil, validation("1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	switch in.Tier {
	case "", "Standard", "Advanced", "Intelligent-Tiering":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", in.Tier)
	}
	switch in.DataType {
	case "", "text", "aws:ec2:image", "aws:ssm:integration":
	default:
		return nil, validation("The following data type is not supported: %s (Data type names are all lowercase.)", in.DataType)
	}
	if in.Description != nil && len(*in.Description) > 1024 {
		return nil, validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	overwrite := in.Overwrite != nil && *in.Overwrite
	if overwrite && len(in.Tags) > 0 {
		return nil, validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	tags, e := tagsToMap(in.Tags)
	if e != nil {
		return nil, e
	}
	arn := s.ParameterARN(name)
	if e := c.Authorize(accessDenied, "ssm:PutParameter", arn, nil); e != nil {
		return nil, e
	}
	if len(tags) > 0 {
		if e := c.Authorize(accessDenied, "ssm:AddTagsToResource", arn, nil); e != nil {
			return nil, e
		}
	}
	if in.AllowedPattern != nil {
		re, err := regexp.Compile(*in.AllowedPattern)
		if err != nil || len(*in.AllowedPattern) > 1024 {
			return nil, awsproto.Errorf(400, "InvalidAllowedPatternException", "The request does not meet the regular expression requirement.")
		}
		if !re.MatchString(*in.Value) {
			return nil, awsproto.Errorf(400, "ParameterPatternMismatchException",
				"Parameter value, cannot be validated against allowedPattern: %s", *in.AllowedPattern)
		}
	}

	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p, exists := s.params[name]
	if exists && !overwrite {
		return nil, awsproto.Errorf(400, "ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	typ := in.Type
	if typ == "" {
		if !exists {
			return nil, validation("A parameter type is required when you create a parameter.")
		}
		typ = p.cur().typ
	}
	v := &paramVersion{typ: typ, value: *in.Value, dataType: "text", tier: "Standard", modified: now}
	if c.Principal != nil {
		v.modifiedUser = c.Principal.ARN
	}
	if exists {
		old := p.cur()
		v.description, v.allowedPattern, v.dataType, v.tier = old.description, old.allowedPattern, old.dataType, old.tier
		if typ == "SecureString" && old.typ == "SecureString" {
			v.keyID = old.keyID
		}
		if len(p.versions) >= maxVersions {
			return nil, awsproto.Errorf(400, "ParameterMaxVersionLimitExceeded",
				"You attempted to create a new version of %s by calling the PutParameter API with the overwrite flag. Version %d, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.", name, p.versions[0].version)
		}
	}
	if in.Description != nil {
		v.description = *in.Description
	}
	if in.AllowedPattern != nil {
		v.allowedPattern = *in.AllowedPattern
	}
	if in.DataType != "" {
		v.dataType = in.DataType
	}
	if in.Tier != "" {
		v.tier = in.Tier
	}
	if v.tier == "Intelligent-Tiering" {
		v.tier = "Standard"
		if len(*in.Value) > 4096 {
			v.tier = "Advanced"
		}
	}
	if exists && p.cur().tier == "Advanced" && v.tier == "Standard" {
		return nil, validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier.")
	}
	limit := 4096
	if v.tier == "Advanced" {
		limit = 8192
	}
	if len(*in.Value) == 0 {
		return nil, validation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(*in.Value) > limit {
		if v.tier == "Standard" {
			return nil, validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html")
		}
		return nil, validation("Advanced tier parameters support a maximum parameter value of 8192 characters.")
	}
	if in.KeyId != "" && typ != "SecureString" {
		return nil, validation("KeyId is required for SecureString type parameter only.")
	}
	if typ == "SecureString" {
		if in.KeyId != "" {
			v.keyID = in.KeyId
		}
		if v.keyID == "" {
			v.keyID = DefaultKeyAlias
		}
		ka, e := s.keyArn(v.keyID)
		if e != nil {
			return nil, e
		}
		v.keyArn = ka
		if !isDefaultKey(v.keyID) {
			if e := c.Authorize(accessDenied, "kms:Encrypt", ka, s.kmsContext()); e != nil {
				return nil, e
			}
		}
		v.ciphertext = ciphertext(ka, v.value)
	}
	if !exists {
		p = &parameter{name: name, tags: tags}
		v.version = 1
		s.params[name] = p
	} else {
		v.version = p.cur().version + 1
	}
	p.versions = append(p.versions, v)
	return map[string]any{"Version": v.version, "Tier": v.tier}, nil
}

// ---------------------------------------------------------------------------
// Reading

type paramOut struct {
	Name             string `json:"Name"`
	Type             string `json:"Type"`
	Value            string `json:"Value"`
	Version          int64  `json:"Version"`
	Selector         string `json:"Selector,omitempty"`
	LastModifiedDate *epoch `json:"LastModifiedDate"`
	ARN              string `json:"ARN"`
	DataType         string `json:"DataType"`
}

func (s *Store) out(p *parameter, v *paramVersion, selector string, decrypt bool) paramOut {
	val := v.value
	if v.typ == "SecureString" && !decrypt {
		val = v.ciphertext
	}
	return paramOut{Name: p.name, Type: v.typ, Value: val, Version: v.version, Selector: selector,
		LastModifiedDate: ep(v.modified), ARN: s.ParameterARN(p.name), DataType: v.dataType}
}

// lookup finds name (which may carry a ":version" selector). Callers hold s.mu.
func (s *Store) lookupLocked(raw string) (*parameter, *paramVersion, string, *awsproto.Error) {
	name := baseName(raw)
	selector := raw[len(name):]
	name = s.nameFromInput(name)
	p, ok := s.params[name]
	if !ok {
		return nil, nil, "", awsproto.Errorf(400, "ParameterNotFound", "Parameter %s not found.", raw)
	}
	if selector == "" {
		return p, p.cur(), "", nil
	}
	n, err := strconv.ParseInt(selector[1:], 10, 64)
	if err != nil {
		// A label selector: this emulation keeps no labels.
		return nil, nil, "", awsproto.Errorf(400, "ParameterNotFound", "Parameter %s not found.", raw)
	}
	for _, v := range p.versions {
		if v.version == n {
			return p, v, selector, nil
		}
	}
	return nil, nil, "", awsproto.Errorf(400, "ParameterVersionNotFound",
		"Systems Manager could not find version %d of %s. Verify the version and try again.", n, name)
}

// authorizeDecrypt checks the caller's kms:Decrypt on the key of every
// SecureString version it reads decrypted (a customer key; the AWS managed
// key needs no permission).
func (s *Store) authorizeDecrypt(c *awsproto.Call, decrypt bool, vs ...*paramVersion) *awsproto.Error {
	if !decrypt {
		return nil
	}
	for _, v := range vs {
		if v.typ != "SecureString" || isDefaultKey(v.keyID) {
			continue
		}
		if e := c.Authorize(accessDenied, "kms:Decrypt", v.keyArn, s.kmsContext()); e != nil {
			return e
		}
	}
	return nil
}

// kmsContext is what KMS sees when SSM uses a key on the caller's behalf:
// the request comes through SSM, from the caller's account. Key policies and
// grants commonly pin kms:ViaService to SSM in this Region.
func (s *Store) kmsContext() map[string]string {
	return map[string]string{
		"kms:ViaService":    "ssm." + s.cfg.Region + ".amazonaws.com",
		"kms:CallerAccount": s.cfg.Account,
	}
}

func baseName(raw string) string {
	if strings.HasPrefix(raw, "arn:") {
		if strings.Count(raw, ":") > 5 {
			return raw[:strings.LastIndex(raw, ":")]
		}
		return raw
	}
	if i := strings.LastIndex(raw, ":"); i >= 0 {
		return raw[:i]
	}
	return raw
}

type getParameterInput struct {
	Name           string `json:"Name"`
	WithDecryption bool   `json:"WithDecryption"`
}

func (s *Store) opGetParameter(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in getParameterInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == "" {
		return nil, validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if e := c.Authorize(accessDenied, "ssm:GetParameter", s.ParameterARN(s.nameFromInput(baseName(in.Name))), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	p, v, sel, e := s.lookupLocked(in.Name)
	var o paramOut
	if e == nil {
		o = s.out(p, v, sel, in.WithDecryption)
	}
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if e := s.authorizeDecrypt(c, in.WithDecryption, v); e != nil {
		return nil, e
	}
	return map[string]any{"Parameter": o}, nil
}

type getParametersInput struct {
	Names          []string `json:"Names"`
	WithDecryption bool     `json:"WithDecryption"`
}

func (s *Store) opGetParameters(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in getParametersInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	for _, n := range in.Names {
		if e := c.Authorize(accessDenied, "ssm:GetParameters", s.ParameterARN(s.nameFromInput(baseName(n))), nil); e != nil {
			return nil, e
		}
	}
	found := []paramOut{}
	invalid := []string{}
	var toDecrypt []*paramVersion
	s.mu.Lock()
	seen := map[string]bool{}
	for _, n := range in.Names {
		if seen[n] {
			continue
		}
		seen[n] = true
		p, v, sel, e := s.lookupLocked(n)
		if e != nil {
			invalid = append(invalid, n)
			continue
		}
		found = append(found, s.out(p, v, sel, in.WithDecryption))
		toDecrypt = append(toDecrypt, v)
	}
	s.mu.Unlock()
	if e := s.authorizeDecrypt(c, in.WithDecryption, toDecrypt...); e != nil {
		return nil, e
	}
	return map[string]any{"Parameters": found, "InvalidParameters": invalid}, nil
}

type parameterStringFilter struct {
	Key    string   `json:"Key"`
	Option string   `json:"Option"`
	Values []string `json:"Values"`
}

type getParametersByPathInput struct {
	Path             string                  `json:"Path"`
	Recursive        bool                    `json:"Recursive"`
	WithDecryption   bool                    `json:"WithDecryption"`
	MaxResults       *int                    `json:"MaxResults"`
	NextToken        string                  `json:"NextToken"`
	ParameterFilters []parameterStringFilter `json:"ParameterFilters"`
}

func encodeToken(after string) string {
	return base64.StdEncoding.EncodeToString([]byte("lc1:" + after))
}

func decodeToken(tok string) (string, *awsproto.Error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "lc1:") {
		return "", awsproto.Errorf(400, "InvalidNextToken", "The specified token isn't valid.")
	}
	return strings.TrimPrefix(string(b), "lc1:"), nil
}

// pageArgs reads the paging of a list request: the page size (MaxResults,
// from min to max; max when absent, as SSM's lists default to their
// largest page) and the key the page before ended with (NextToken; "" for
// the first page).
func pageArgs(maxResults *int, min, max int, nextToken string) (n int, after string, e *awsproto.Error) {
	n = max
	if maxResults != nil {
		if *maxResults < min || *maxResults > max {
			return 0, "", validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to %d and greater than or equal to %d", *maxResults, max, min)
		}
		n = *maxResults
	}
	if nextToken != "" {
		if after, e = decodeToken(nextToken); e != nil {
			return 0, "", e
		}
	}
	return n, after, nil
}

// listPage collects one page of a list answer, n items at most.
type listPage[T any] struct {
	n     int
	items []T
	last  string // the key of the last item on the page
	next  string // the NextToken of the rest, when there is more
}

// add puts x, of that key, on the page; when the page is full it reports
// false, and the NextToken resumes after the last key.
func (p *listPage[T]) add(key string, x T) bool {
	if len(p.items) == p.n {
		p.next = encodeToken(p.last)
		return false
	}
	p.items = append(p.items, x)
	p.last = key
	return true
}

// answer is the list answer: the items (a list even when empty) under
// member, and NextToken when there is more.
func (p *listPage[T]) answer(member string) map[string]any {
	out := map[string]any{member: nonNil(p.items)}
	if p.next != "" {
		out["NextToken"] = p.next
	}
	return out
}

func (s *Store) opGetParametersByPath(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in getParametersByPathInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Path == "" {
		return nil, validation("1 validation error detected: Value null at 'path' failed to satisfy constraint: Member must not be null")
	}
	path := in.Path
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") || !nameChars.MatchString(path) {
		return nil, validation("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.")
	}
	if strings.Count(strings.TrimSuffix(path, "/"), "/") > 15 {
		return nil, awsproto.Errorf(400, "HierarchyLevelLimitExceededException", "Parameter name hierarchy level limit exceeded; maximum 15 levels")
	}
	n, after, e := pageArgs(in.MaxResults, 1, 10, in.NextToken)
	if e != nil {
		return nil, e
	}
	for _, f := range in.ParameterFilters {
		if f.Key == "Name" || f.Key == "Path" || f.Key == "Tier" {
			return nil, awsproto.Errorf(400, "InvalidFilterKey", "The following filter key is not valid: %s. Valid filter keys include: [Type, KeyId, Label].", f.Key)
		}
	}
	if e := c.Authorize(accessDenied, "ssm:GetParametersByPath", s.ParameterARN(strings.TrimSuffix(path, "/")), nil); e != nil {
		return nil, e
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	s.mu.Lock()
	var names []string
	for name := range s.params {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if !in.Recursive && strings.Contains(name[len(prefix):], "/") {
			continue
		}
		if !matchFilters(s.params[name], in.ParameterFilters) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	pg := listPage[paramOut]{n: n}
	var vs []*paramVersion
	for _, name := range names {
		if after != "" && name <= after {
			continue
		}
		p := s.params[name]
		if !pg.add(name, s.out(p, p.cur(), "", in.WithDecryption)) {
			break
		}
		vs = append(vs, p.cur())
	}
	s.mu.Unlock()
	if e := s.authorizeDecrypt(c, in.WithDecryption, vs...); e != nil {
		return nil, e
	}
	return pg.answer("Parameters"), nil
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// matchFilters applies Type/KeyId/Tier/DataType/Name/tag: filters (Equals and BeginsWith).
func matchFilters(p *parameter, fs []parameterStringFilter) bool {
	v := p.cur()
	for _, f := range fs {
		var have string
		switch {
		case f.Key == "Type":
			have = v.typ
		case f.Key == "KeyId":
			have = v.keyID
		case f.Key == "Tier":
			have = v.tier
		case f.Key == "DataType":
			have = v.dataType
		case f.Key == "Name":
			have = p.name
		case f.Key == "Path":
			continue // handled by the caller
		case strings.HasPrefix(f.Key, "tag:"):
			t, ok := p.tags[strings.TrimPrefix(f.Key, "tag:")]
			if !ok {
				return false
			}
			if len(f.Values) == 0 {
				continue
			}
			have = t
		default:
			continue
		}
		ok := false
		for _, want := range f.Values {
			if f.Option == "BeginsWith" && strings.HasPrefix(have, want) || f.Option == "Contains" && strings.Contains(have, want) ||
				(f.Option == "" || f.Option == "Equals") && have == want {
				ok = true
			}
			if f.Key == "Name" && (f.Option == "" || f.Option == "Equals") && strings.TrimPrefix(have, "/") == strings.TrimPrefix(want, "/") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Deleting

func (s *Store) opDeleteParameter(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Name string `json:"Name"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == "" {
		return nil, validation("1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	name := s.nameFromInput(in.Name)
	if e := c.Authorize(accessDenied, "ssm:DeleteParameter", s.ParameterARN(name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.params[name]; !ok {
		return nil, awsproto.Errorf(400, "ParameterNotFound", "Parameter %s not found.", in.Name)
	}
	delete(s.params, name)
	return struct{}{}, nil
}

func (s *Store) opDeleteParameters(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Names []string `json:"Names"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Names) == 0 || len(in.Names) > 10 {
		return nil, validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	for _, n := range in.Names {
		if e := c.Authorize(accessDenied, "ssm:DeleteParameters", s.ParameterARN(s.nameFromInput(n)), nil); e != nil {
			return nil, e
		}
	}
	deleted, invalid := []string{}, []string{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range in.Names {
		name := s.nameFromInput(n)
		if _, ok := s.params[name]; ok {
			delete(s.params, name)
			deleted = append(deleted, n)
		} else {
			invalid = append(invalid, n)
		}
	}
	return map[string]any{"DeletedParameters": deleted, "InvalidParameters": invalid}, nil
}

// ---------------------------------------------------------------------------
// DescribeParameters and GetParameterHistory

type metadataOut struct {
	Name             string `json:"Name"`
	ARN              string `json:"ARN"`
	Type             string `json:"Type"`
	KeyId            string `json:"KeyId,omitempty"`
	LastModifiedDate *epoch `json:"LastModifiedDate"`
	LastModifiedUser string `json:"LastModifiedUser,omitempty"`
	Description      string `json:"Description,omitempty"`
	AllowedPattern   string `json:"AllowedPattern,omitempty"`
	Version          int64  `json:"Version"`
	Tier             string `json:"Tier"`
	Policies         []any  `json:"Policies"`
	DataType         string `json:"DataType"`
}

func (s *Store) opDescribeParameters(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Filters []struct {
			Key    string   `json:"Key"`
			Values []string `json:"Values"`
		} `json:"Filters"`
		ParameterFilters []parameterStringFilter `json:"ParameterFilters"`
		MaxResults       *int                    `json:"MaxResults"`
		NextToken        string                  `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if len(in.Filters) > 0 && len(in.ParameterFilters) > 0 {
		return nil, validation("You can use either Filters or ParameterFilters in a single request.")
	}
	n, after, e := pageArgs(in.MaxResults, 1, 50, in.NextToken)
	if e != nil {
		return nil, e
	}
	fs := in.ParameterFilters
	for _, f := range in.Filters {
		switch f.Key {
		case "Name", "Type", "KeyId":
			fs = append(fs, parameterStringFilter{Key: f.Key, Values: f.Values})
		default:
			return nil, awsproto.Errorf(400, "InvalidFilterKey", "The following filter key is not valid: %s", f.Key)
		}
	}
	var pathFilter *parameterStringFilter
	for i, f := range fs {
		switch {
		case f.Key == "Name" || f.Key == "Type" || f.Key == "KeyId" || f.Key == "Path" || f.Key == "Tier" || f.Key == "DataType" || strings.HasPrefix(f.Key, "tag:"):
		default:
			return nil, awsproto.Errorf(400, "InvalidFilterKey", "The following filter key is not valid: %s", f.Key)
		}
		if f.Key == "Path" {
			pathFilter = &fs[i]
		}
	}
	if e := c.Authorize(accessDenied, "ssm:DescribeParameters", "*", nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pg := listPage[metadataOut]{n: n}
	for _, name := range slices.Sorted(maps.Keys(s.params)) {
		if after != "" && name <= after {
			continue
		}
		p := s.params[name]
		if pathFilter != nil && !pathMatch(name, *pathFilter) {
			continue
		}
		if !matchFilters(p, fs) {
			continue
		}
		v := p.cur()
		if !pg.add(name, metadataOut{Name: name, ARN: s.ParameterARN(name), Type: v.typ, KeyId: v.keyID,
			LastModifiedDate: ep(v.modified), LastModifiedUser: v.modifiedUser, Description: v.description,
			AllowedPattern: v.allowedPattern, Version: v.version, Tier: v.tier, Policies: []any{}, DataType: v.dataType}) {
			break
		}
	}
	return pg.answer("Parameters"), nil
}

func pathMatch(name string, f parameterStringFilter) bool {
	for _, path := range f.Values {
		prefix := strings.TrimSuffix(path, "/") + "/"
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if f.Option == "Recursive" || !strings.Contains(name[len(prefix):], "/") {
			return true
		}
	}
	return false
}

func (s *Store) opGetParameterHistory(c *awsproto.Call, body []byte) (any, *awsproto.Error) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
		MaxResults     *int   `json:"MaxResults"`
		NextToken      string `json:"NextToken"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name := s.nameFromInput(in.Name)
	n, after, e := pageArgs(in.MaxResults, 1, 50, in.NextToken)
	if e != nil {
		return nil, e
	}
	start, _ := strconv.Atoi(after) // the token is where the page starts
	if e := c.Authorize(accessDenied, "ssm:GetParameterHistory", s.ParameterARN(name), nil); e != nil {
		return nil, e
	}
	s.mu.Lock()
	p, ok := s.params[name]
	if !ok {
		s.mu.Unlock()
		return nil, awsproto.Errorf(400, "ParameterNotFound", "Parameter %s not found.", in.Name)
	}
	pg := listPage[map[string]any]{n: n}
	var vs []*paramVersion
	for i := start; i < len(p.versions); i++ {
		v := p.versions[i]
		o := s.out(p, v, "", in.WithDecryption)
		m := map[string]any{"Name": name, "Type": v.typ, "Value": o.Value, "Version": v.version,
			"LastModifiedDate": ep(v.modified), "Tier": v.tier, "DataType": v.dataType, "Labels": []string{}, "Policies": []any{}}
		if v.keyID != "" {
			m["KeyId"] = v.keyID
		}
		if v.description != "" {
			m["Description"] = v.description
		}
		if v.modifiedUser != "" {
			m["LastModifiedUser"] = v.modifiedUser
		}
		// Its key is where the next page would start.
		if !pg.add(strconv.Itoa(i+1), m) {
			break
		}
		vs = append(vs, v)
	}
	s.mu.Unlock()
	if e := s.authorizeDecrypt(c, in.WithDecryption, vs...); e != nil {
		return nil, e
	}
	return pg.answer("Parameters"), nil
}
