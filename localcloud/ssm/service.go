// Package ssm emulates AWS Systems Manager for the local cloud: Parameter
// Store, hybrid activations and the managed instances that register with them
// (the EKS connector agent is one), over the awsJson1_1 protocol the
// aws-sdk-go-v2 ssm client speaks (X-Amz-Target AmazonSSM.<Op>).
package ssm

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
	"github.com/platform/eks-connector-registrar/localcloud/clock"
)

const (
	jsonVersion  = "1.1"
	namespace    = "com.amazonaws.ssm"
	targetName   = "AmazonSSM"
	accessDenied = "AccessDeniedException"
)

// Config places the store in one region and account and gives it its clock.
type Config struct {
	Region, Account string
	Clock           clock.Clock
}

// Store is SSM's state: parameters, activations and managed instances.
type Store struct {
	cfg Config

	mu          sync.Mutex
	params      map[string]*parameter
	activations map[string]*activation
	deleted     map[string]bool // ids of deleted activations
	issuedCodes []string        // every activation code issued (IssuedCodes)
	instances   map[string]*instance
}

// Service serves the SSM wire API from a Store.
type Service struct{ awsproto.JSONServer[*Store] }

// New builds an empty SSM.
func New(cfg Config) (*Store, *Service) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Store{cfg: cfg, params: map[string]*parameter{}, activations: map[string]*activation{}, deleted: map[string]bool{}, instances: map[string]*instance{}}
	return s, &Service{awsproto.JSONServer[*Store]{API: jsonService, Store: s}}
}

var jsonService = &awsproto.JSONService[*Store]{
	SigV4Name: "ssm", Prefix: targetName, Version: jsonVersion, Namespace: namespace, Unknown: awsproto.UnknownOperation,
	Ops: map[string]awsproto.JSONHandler[*Store]{
		"PutParameter":                (*Store).opPutParameter,
		"GetParameter":                (*Store).opGetParameter,
		"GetParameters":               (*Store).opGetParameters,
		"GetParametersByPath":         (*Store).opGetParametersByPath,
		"DeleteParameter":             (*Store).opDeleteParameter,
		"DeleteParameters":            (*Store).opDeleteParameters,
		"DescribeParameters":          (*Store).opDescribeParameters,
		"GetParameterHistory":         (*Store).opGetParameterHistory,
		"CreateActivation":            (*Store).opCreateActivation,
		"DescribeActivations":         (*Store).opDescribeActivations,
		"DeleteActivation":            (*Store).opDeleteActivation,
		"DescribeInstanceInformation": (*Store).opDescribeInstanceInformation,
		"DeregisterManagedInstance":   (*Store).opDeregisterManagedInstance,
	},
}

func decode(body []byte, v any) *awsproto.Error {
	if err := json.Unmarshal(body, v); err != nil {
		return &awsproto.Error{Code: "SerializationException", Status: 400, Message: "Start of structure or map found where not expected: " + err.Error()}
	}
	return nil
}

func validation(format string, args ...any) *awsproto.Error {
	return awsproto.Errorf(400, "ValidationException", format, args...)
}

// epoch is a timestamp as awsJson1_1 sends it: seconds since the epoch.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(fmt.Sprintf("%.3f", float64(ms)/1000)), nil
}

func (t *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	sec, frac := math.Modf(f)
	*t = epoch(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	return nil
}

func ep(t time.Time) *epoch { e := epoch(t); return &e }

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagsToMap(ts []tag) (map[string]string, *awsproto.Error) {
	if len(ts) > 50 {
		return nil, awsproto.Errorf(400, "TooManyTagsError", "The Tags list exceeds the maximum of 50 tags")
	}
	m := map[string]string{}
	for _, t := range ts {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return nil, awsproto.Errorf(400, "InvalidTag", "Tag key must be 1-128 characters and value at most 256 characters")
		}
		m[t.Key] = t.Value
	}
	return m, nil
}

func mapToTags(m map[string]string) []tag {
	if len(m) == 0 {
		return nil
	}
	out := make([]tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, tag{Key: k, Value: m[k]})
	}
	return out
}
