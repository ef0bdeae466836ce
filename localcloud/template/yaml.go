package template

import "github.com/platform/eks-connector-registrar/internal/cfnyaml"

// document is a decoded template plus the order of its Resources (maps lose
// it; Functions, Queues and Rules are reported in template order).
type document struct {
	root          map[string]any
	resourceOrder []string
}

func parseDocument(data []byte) (*document, error) {
	root, order, err := cfnyaml.Decode(data)
	if err != nil {
		return nil, err
	}
	return &document{root: root, resourceOrder: order}, nil
}

func joinPath(path, key string) string { return cfnyaml.JoinPath(path, key) }
