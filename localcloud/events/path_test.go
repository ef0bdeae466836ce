package events

import "testing"

// InputPath reuses the ASL engine's JSONPath parser but keeps EventBridge's
// narrower subset: names and non-negative indexes from $, nothing else.
func TestInputPathSubset(t *testing.T) {
	doc := []byte(`{"detail-type":"X","detail":{"ids":["a","b"],"n":1}}`)
	for _, tc := range []struct{ path, want string }{
		{"$", string(doc)},
		{"$.detail-type", `"X"`},
		{"$['detail']['n']", `1`},
		{"$.detail.ids[1]", `"b"`},
		{"$.detail.ids[2]", ""},
		{"$.nope.x", ""},
	} {
		v, ok, err := lookupPath(doc, tc.path)
		if err != nil || ok != (tc.want != "") || string(v) != tc.want {
			t.Errorf("%s: got %s, %v, %v; want %s", tc.path, v, ok, err, tc.want)
		}
	}
	for _, bad := range []string{"detail", "$$.Execution", "$.detail.ids[*]", "$.detail.ids[0:1]", "$.detail.ids[-1]", "$..n", "$.a[?(@.b)]", "$."} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("%s: accepted, want refused", bad)
		}
	}
}
