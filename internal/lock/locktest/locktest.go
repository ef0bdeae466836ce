// Package locktest holds small in-memory fakes of the SSM parameter store and
// of Step Functions' DescribeExecution, for unit tests of pure logic around the
// lock. End-to-end tests use the local cloud instead.
package locktest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// SSM is an in-memory parameter store with an atomic PutParameter.
type SSM struct {
	mu     sync.Mutex
	params map[string]param
	// Now is the clock of the test's world, which stamps LastModifiedDate.
	Now func() time.Time
	// BeforePut, when set, runs before every PutParameter (outside the lock),
	// to interleave another caller at a chosen point.
	BeforePut func(in *ssm.PutParameterInput)
	Calls     map[string]int
}

type param struct {
	value    string
	modified time.Time
}

// NewSSM returns an empty store whose writes are stamped by now, the clock
// of the test's world (there is no default: a fake on the wall clock beside a
// pinned test clock is how a test comes to depend on the calendar).
func NewSSM(now func() time.Time) *SSM {
	return &SSM{params: map[string]param{}, Calls: map[string]int{}, Now: now}
}

func (s *SSM) now() time.Time { return s.Now() }

// Set writes a parameter directly, with its LastModifiedDate.
func (s *SSM) Set(name, value string, modified time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[name] = param{value, modified}
}

// Value reads a parameter directly.
func (s *SSM) Value(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.params[name]
	return p.value, ok
}

// Names lists the stored parameter names, sorted.
func (s *SSM) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.params {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *SSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	if s.BeforePut != nil {
		s.BeforePut(in)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls["PutParameter"]++
	name := aws.ToString(in.Name)
	if _, ok := s.params[name]; ok && !aws.ToBool(in.Overwrite) {
		return nil, &ssmtypes.ParameterAlreadyExists{Message: aws.String("The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")}
	}
	s.params[name] = param{aws.ToString(in.Value), s.now()}
	return &ssm.PutParameterOutput{Version: 1}, nil
}

func (s *SSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls["GetParameter"]++
	name := aws.ToString(in.Name)
	p, ok := s.params[name]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{
		Name: aws.String(name), Value: aws.String(p.value), LastModifiedDate: aws.Time(p.modified), Type: ssmtypes.ParameterTypeString,
	}}, nil
}

func (s *SSM) DeleteParameter(_ context.Context, in *ssm.DeleteParameterInput, _ ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls["DeleteParameter"]++
	name := aws.ToString(in.Name)
	if _, ok := s.params[name]; !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	delete(s.params, name)
	return &ssm.DeleteParameterOutput{}, nil
}

func (s *SSM) DeleteParameters(_ context.Context, in *ssm.DeleteParametersInput, _ ...func(*ssm.Options)) (*ssm.DeleteParametersOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls["DeleteParameters"]++
	if len(in.Names) > 10 {
		return nil, fmt.Errorf("ValidationException: at most 10 names")
	}
	out := &ssm.DeleteParametersOutput{}
	for _, n := range in.Names {
		if _, ok := s.params[n]; ok {
			delete(s.params, n)
			out.DeletedParameters = append(out.DeletedParameters, n)
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

// GetParametersByPath returns one page of up to 2 names (small pages make
// tests exercise pagination).
func (s *SSM) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Calls["GetParametersByPath"]++
	path := strings.TrimRight(aws.ToString(in.Path), "/") + "/"
	var names []string
	for n := range s.params {
		if rest, ok := strings.CutPrefix(n, path); ok && (aws.ToBool(in.Recursive) || !strings.Contains(rest, "/")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	start := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		start = sort.SearchStrings(names, tok)
	}
	out := &ssm.GetParametersByPathOutput{}
	for i := start; i < len(names) && i < start+2; i++ {
		p := s.params[names[i]]
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(names[i]), Value: aws.String(p.value), LastModifiedDate: aws.Time(p.modified)})
	}
	if start+2 < len(names) {
		out.NextToken = aws.String(names[start+2])
	}
	return out, nil
}

// SFN knows executions by ARN and their status.
type SFN struct {
	mu     sync.Mutex
	status map[string]sfntypes.ExecutionStatus
}

// NewSFN returns a Step Functions fake with no executions.
func NewSFN() *SFN { return &SFN{status: map[string]sfntypes.ExecutionStatus{}} }

// SetStatus records an execution's status.
func (f *SFN) SetStatus(arn string, st sfntypes.ExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[arn] = st
}

// Status is an execution's status ("" when unknown).
func (f *SFN) Status(arn string) sfntypes.ExecutionStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[arn]
}

func (f *SFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := aws.ToString(in.ExecutionArn)
	st, ok := f.status[arn]
	if !ok {
		return nil, &sfntypes.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist: '" + arn + "'")}
	}
	return &sfn.DescribeExecutionOutput{ExecutionArn: aws.String(arn), Status: st}, nil
}
