// Package cloudformation emulates the one CloudFormation operation the
// operator's command reads, DescribeStacks, over the Query protocol: the
// stack the local cloud deployed template.yaml as, with its Outputs. The
// local cloud does not create stacks through this API; the deploy registers
// the one it made.
package cloudformation

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

const (
	xmlns      = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	apiVersion = "2010-05-15"
)

// Stack is a deployed stack.
type Stack struct {
	Name    string
	ID      string // the stack ARN
	Created time.Time
	Outputs map[string]Output
}

// Output is one stack output.
type Output struct {
	Value       string
	Description string
}

// Config configures the service.
type Config struct {
	Region, Account string
}

// Store holds the stacks.
type Store struct {
	cfg    Config
	mu     sync.Mutex
	stacks map[string]*Stack
}

// Service serves the CloudFormation Query API.
type Service struct{ s *Store }

// New builds the store and its service.
func New(cfg Config) (*Store, *Service) {
	s := &Store{cfg: cfg, stacks: map[string]*Stack{}}
	return s, &Service{s: s}
}

// AddStack records a deployed stack (CREATE_COMPLETE); id is its ARN.
func (s *Store) AddStack(name, id string, created time.Time, outputs map[string]Output) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stacks[name] = &Stack{Name: name, ID: id, Created: created.UTC(), Outputs: outputs}
}

func (*Service) SigV4Name() string { return "cloudformation" }

func (*Service) WriteError(w http.ResponseWriter, c *awsproto.Call, e *awsproto.Error) {
	awsproto.WriteQueryError(w, xmlns, c.RequestID, e)
}

func (v *Service) ServeAWS(w http.ResponseWriter, r *http.Request, c *awsproto.Call) {
	awsproto.ServeQuery(w, r, c, xmlns, apiVersion, map[string]awsproto.QueryOp{
		"DescribeStacks": func(c *awsproto.Call, form url.Values) (any, *awsproto.Error) {
			return v.s.describe(c, form.Get("StackName"))
		},
	})
}

type describeResult struct {
	Stacks []stackXML `xml:"Stacks>member"`
}

type stackXML struct {
	StackID      string      `xml:"StackId"`
	StackName    string      `xml:"StackName"`
	CreationTime string      `xml:"CreationTime"`
	StackStatus  string      `xml:"StackStatus"`
	Outputs      []outputXML `xml:"Outputs>member"`
}

type outputXML struct {
	OutputKey   string `xml:"OutputKey"`
	OutputValue string `xml:"OutputValue"`
	Description string `xml:"Description,omitempty"`
}

// describe answers for one stack, by name or ARN, or every stack without a
// name. An unknown stack is CloudFormation's ValidationError.
func (s *Store) describe(c *awsproto.Call, name string) (describeResult, *awsproto.Error) {
	s.mu.Lock()
	var stacks []*Stack
	for _, st := range s.stacks {
		if name == "" || st.Name == name || st.ID == name {
			stacks = append(stacks, st)
		}
	}
	s.mu.Unlock()
	if name != "" && len(stacks) == 0 {
		return describeResult{}, &awsproto.Error{Code: "ValidationError", Status: 400, Message: "Stack with id " + name + " does not exist"}
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Name < stacks[j].Name })
	var out describeResult
	for _, st := range stacks {
		resource := st.ID
		if e := c.Authorize("AccessDenied", "cloudformation:DescribeStacks", resource, nil); e != nil {
			return describeResult{}, e
		}
		x := stackXML{StackID: st.ID, StackName: st.Name, CreationTime: st.Created.Format("2006-01-02T15:04:05.000Z"), StackStatus: "CREATE_COMPLETE"}
		keys := slices.Sorted(maps.Keys(st.Outputs))
		for _, k := range keys {
			x.Outputs = append(x.Outputs, outputXML{OutputKey: k, OutputValue: st.Outputs[k].Value, Description: strings.TrimSpace(st.Outputs[k].Description)})
		}
		out.Stacks = append(out.Stacks, x)
	}
	return out, nil
}
