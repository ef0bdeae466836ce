package awsproto

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// The official service models the wire checker (wire.go) holds every answer
// to: a subset of botocore's service-2.json per service, written by
// scripts/gen-service-models.py (the operations the local cloud serves, the
// output and error shapes they reach, the protocol). Parsed once per process,
// on first use.
//
//go:embed models/*.json
var modelFiles embed.FS

type wireModel struct {
	Source   string `json:"source"`
	Metadata struct {
		Protocol     string `json:"protocol"`
		JSONVersion  string `json:"jsonVersion"`
		TargetPrefix string `json:"targetPrefix"`
		XMLNamespace string `json:"xmlNamespace"`
	} `json:"metadata"`
	Operations map[string]*wireOp    `json:"operations"`
	Shapes     map[string]*wireShape `json:"shapes"`
}

type wireOp struct {
	HTTP struct {
		ResponseCode int `json:"responseCode"`
	} `json:"http"`
	Output *wireRef  `json:"output"`
	Errors []wireRef `json:"errors"`

	// errors: the codes the operation declares, with the HTTP status the
	// model gives each (0: not given).
	errors map[string]int
}

type wireRef struct {
	Shape           string `json:"shape"`
	Location        string `json:"location"`
	LocationName    string `json:"locationName"`
	TimestampFormat string `json:"timestampFormat"`
	ResultWrapper   string `json:"resultWrapper"`
	Flattened       bool   `json:"flattened"`
	XMLAttribute    bool   `json:"xmlAttribute"`
	JSONValue       bool   `json:"jsonvalue"`

	shape *wireShape
}

type wireShape struct {
	Type            string              `json:"type"`
	Members         map[string]*wireRef `json:"members"`
	Required        []string            `json:"required"`
	Member          *wireRef            `json:"member"`
	Key             *wireRef            `json:"key"`
	Value           *wireRef            `json:"value"`
	Enum            []string            `json:"enum"`
	TimestampFormat string              `json:"timestampFormat"`
	Flattened       bool                `json:"flattened"`
	LocationName    string              `json:"locationName"`
	Payload         string              `json:"payload"`
	Error           *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
	} `json:"error"`

	name     string
	required map[string]bool
	enum     map[string]bool
	// xmlMembers: a structure's members by their XML element name.
	xmlMembers map[string]string
	// memberNames: sorted, for stable messages.
	memberNames []string
}

var (
	modelsMu sync.Mutex
	models   = map[string]*wireModel{}
)

// wireModelFor returns the model of the service with this SigV4 name (nil
// when none is committed), parsing it on first use.
func wireModelFor(service string) *wireModel {
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if m, ok := models[service]; ok {
		return m
	}
	b, err := modelFiles.ReadFile("models/" + service + ".json")
	if err != nil {
		models[service] = nil
		return nil
	}
	m := &wireModel{}
	if err := json.Unmarshal(b, m); err != nil {
		panic(fmt.Sprintf("awsproto: the committed model of %s does not parse: %v", service, err))
	}
	m.link()
	models[service] = m
	return m
}

// link resolves shape references and precomputes the lookups the checker uses.
func (m *wireModel) link() {
	ref := func(r *wireRef) {
		if r != nil {
			r.shape = m.Shapes[r.Shape]
			if r.shape == nil {
				panic(fmt.Sprintf("awsproto: model %s: shape %s is missing (regenerate with scripts/gen-service-models.py)", m.Source, r.Shape))
			}
		}
	}
	for name, s := range m.Shapes {
		s.name = name
		s.required = map[string]bool{}
		for _, r := range s.Required {
			s.required[r] = true
		}
		if len(s.Enum) > 0 {
			s.enum = map[string]bool{}
			for _, e := range s.Enum {
				s.enum[e] = true
			}
		}
		s.xmlMembers = map[string]string{}
		for mn, r := range s.Members {
			ref(r)
			s.memberNames = append(s.memberNames, mn)
			xn := mn
			if r.LocationName != "" {
				xn = r.LocationName
			}
			s.xmlMembers[xn] = mn
		}
		sort.Strings(s.memberNames)
		ref(s.Member)
		ref(s.Key)
		ref(s.Value)
	}
	for _, op := range m.Operations {
		ref(op.Output)
		op.errors = map[string]int{}
		for i := range op.Errors {
			r := &op.Errors[i]
			ref(r)
			code := r.Shape
			status := 0
			if e := r.shape.Error; e != nil {
				// The Query protocol sends the error's own code; the JSON
				// protocols send the shape's name.
				if m.Metadata.Protocol == "query" && e.Code != "" {
					code = e.Code
				}
				status = e.HTTPStatusCode
			}
			op.errors[code] = status
		}
	}
}
