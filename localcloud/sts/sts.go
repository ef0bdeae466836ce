// Package sts emulates AWS Security Token Service's GetCallerIdentity over the
// Query protocol, as aws-sdk-go-v2's STS client sends and expects it.
package sts

import (
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

const (
	xmlns      = "https://sts.amazonaws.com/doc/2011-06-15/"
	apiVersion = "2011-06-15"
)

// RoleIDs looks up a role's unique id (AROA…); the IAM Store implements it.
type RoleIDs interface {
	RoleID(name string) (string, bool)
}

// Config configures the service. Roles is optional: without it, role ids are
// derived from the role name.
type Config struct {
	Account string
	Roles   RoleIDs
}

// Store holds STS's (empty) state; it exists so that STS follows the
// package convention.
type Store struct{ cfg Config }

// Service serves the STS Query API.
type Service struct{ s *Store }

// New builds the store and its service.
func New(cfg Config) (*Store, *Service) {
	s := &Store{cfg: cfg}
	return s, &Service{s: s}
}

func (*Service) SigV4Name() string { return "sts" }

func (*Service) WriteError(w http.ResponseWriter, c *awsproto.Call, e *awsproto.Error) {
	awsproto.WriteQueryError(w, xmlns, c.RequestID, e)
}

func (v *Service) ServeAWS(w http.ResponseWriter, r *http.Request, c *awsproto.Call) {
	awsproto.ServeQuery(w, r, c, xmlns, apiVersion, map[string]awsproto.QueryOp{
		// GetCallerIdentity needs no permission: an explicit deny cannot
		// block it, so there is no Authorize here.
		"GetCallerIdentity": func(c *awsproto.Call, _ url.Values) (any, *awsproto.Error) {
			return v.s.identity(c), nil
		},
	})
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserId  string `xml:"UserId"`
	Account string `xml:"Account"`
}

var (
	roleARNRE    = regexp.MustCompile(`^arn:([\w-]+):iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$`)
	assumedRE    = regexp.MustCompile(`^arn:([\w-]+):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)$`)
	userARNRE    = regexp.MustCompile(`^arn:([\w-]+):iam::(\d{12}):user/(?:.*/)?([\w+=,.@-]+)$`)
	rootARNRE    = regexp.MustCompile(`^arn:([\w-]+):iam::(\d{12}):root$`)
	badSessionRE = regexp.MustCompile(`[^\w+=,.@-]`)
)

// identity answers as STS does for the caller: the account root reports the
// account id as UserId; a role is always seen through its session, as
// arn:aws:sts::<acct>:assumed-role/<name>/<session> (the path is dropped) with
// UserId <role id>:<session>. A principal given as a role ARN is a role
// session named after the principal (Lambda names its sessions after the
// function), so GetCallerIdentity never reports an iam role ARN.
func (s *Store) identity(c *awsproto.Call) callerIdentity {
	p := c.Principal
	if p == nil {
		p = &awsproto.Principal{Name: "admin", ARN: "arn:aws:iam::" + c.Account + ":root"}
	}
	acct := s.cfg.Account
	if acct == "" {
		acct = c.Account
	}
	switch {
	case rootARNRE.MatchString(p.ARN):
		m := rootARNRE.FindStringSubmatch(p.ARN)
		return callerIdentity{Arn: p.ARN, UserId: m[2], Account: m[2]}
	case assumedRE.MatchString(p.ARN):
		m := assumedRE.FindStringSubmatch(p.ARN)
		return callerIdentity{Arn: p.ARN, UserId: s.roleID(m[3]) + ":" + m[4], Account: m[2]}
	case roleARNRE.MatchString(p.ARN):
		m := roleARNRE.FindStringSubmatch(p.ARN)
		session := badSessionRE.ReplaceAllString(p.Name, "-")
		if session == "" {
			session = "session"
		}
		if len(session) > 64 {
			session = session[:64]
		}
		arn := "arn:" + m[1] + ":sts::" + m[2] + ":assumed-role/" + m[3] + "/" + session
		return callerIdentity{Arn: arn, UserId: s.roleID(m[3]) + ":" + session, Account: m[2]}
	case userARNRE.MatchString(p.ARN):
		m := userARNRE.FindStringSubmatch(p.ARN)
		return callerIdentity{Arn: p.ARN, UserId: "AIDA" + hashID(m[3]), Account: m[2]}
	default:
		return callerIdentity{Arn: p.ARN, UserId: "AIDA" + hashID(p.ARN), Account: acct}
	}
}

func (s *Store) roleID(name string) string {
	if s.cfg.Roles != nil {
		if id, ok := s.cfg.Roles.RoleID(name); ok {
			return id
		}
	}
	return "AROA" + hashID(strings.ToLower(name))
}

// hashID is 17 uppercase letters and digits derived from s.
func hashID(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:17]
}
