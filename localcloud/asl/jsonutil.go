package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	"slices"
	"unicode/utf8"
)

// Values inside the engine are the generic JSON tree: *object, []any,
// string, json.Number, bool and nil. They are treated as immutable: a
// change (ResultPath, JsonMerge) copies the containers it touches.
//
// Objects keep their keys in insertion order, as Step Functions does: an
// execution's output, JsonToString and the payloads a Task receives list
// the keys in the order of the input they came from (or of the template
// that built them), and a key that ResultPath adds goes at the end. A
// map[string]any is still accepted where a value is read (tests build
// context objects that way); it reads in sorted key order.

// object is a JSON object with its keys in insertion order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject(n int) *object {
	return &object{keys: make([]string, 0, n), vals: make(map[string]any, n)}
}

// objectOf builds an object from alternating keys and values.
func objectOf(kv ...any) *object {
	o := newObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) len() int { return len(o.keys) }

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

// set adds k at the end, or replaces its value where it stands. Only for an
// object being built: shared objects are copied first (clone).
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) clone() *object {
	c := &object{keys: make([]string, len(o.keys), len(o.keys)+1), vals: make(map[string]any, len(o.vals)+1)}
	copy(c.keys, o.keys)
	for k, v := range o.vals {
		c.vals[k] = v
	}
	return c
}

// MarshalJSON lets encoding/json render an object (in key order).
func (o *object) MarshalJSON() ([]byte, error) { return encodeJSON(o), nil }

// asObject reads v as an object: an *object as it is, a map[string]any in
// sorted key order.
func asObject(v any) (*object, bool) {
	switch x := v.(type) {
	case *object:
		return x, true
	case map[string]any:
		o := newObject(len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			o.set(k, x[k])
		}
		return o, true
	}
	return nil, false
}

// lookup reads key k of v if v is an object.
func lookup(v any, k string) (any, bool) {
	switch x := v.(type) {
	case *object:
		return x.get(k)
	case map[string]any:
		r, ok := x[k]
		return r, ok
	}
	return nil, false
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := newObject(4)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.set(k, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return tok, nil
	}
}

// encodeJSON renders compact JSON without HTML escaping (as Step Functions
// does), object keys in their order.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	if err := appendJSON(&buf, v); err != nil {
		// Only reachable with a value that is not a JSON tree.
		return []byte("null")
	}
	return buf.Bytes()
}

func appendJSON(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		appendString(buf, x)
	case json.Number:
		if x == "" {
			buf.WriteString("0")
		} else {
			buf.WriteString(string(x))
		}
	case []any:
		buf.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := appendJSON(buf, it); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case *object:
		buf.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			appendString(buf, k)
			buf.WriteByte(':')
			if err := appendJSON(buf, x.vals[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case map[string]any:
		o, _ := asObject(x)
		return appendJSON(buf, o)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
	}
	return nil
}

// appendString writes s as a JSON string exactly as encoding/json does
// without HTML escaping.
func appendString(buf *bytes.Buffer, s string) {
	plain := utf8.ValidString(s)
	for i := 0; plain && i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0xe2 {
			plain = false // 0xe2: U+2028/U+2029 are escaped too
		}
	}
	if plain {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimRight(b.Bytes(), "\n"))
}

func jsonText(v any) string { return string(encodeJSON(v)) }

func numRat(n json.Number) (*big.Rat, bool) {
	return new(big.Rat).SetString(string(n))
}

// jsonEqual is deep equality with numbers compared by value; the order of
// an object's keys does not matter.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := numRat(x)
		ry, ok2 := numRat(y)
		if !ok1 || !ok2 {
			return x == y
		}
		return rx.Cmp(ry) == 0
	case *object, map[string]any:
		ox, _ := asObject(x)
		oy, ok := asObject(b)
		if !ok || ox.len() != oy.len() {
			return false
		}
		for _, k := range ox.keys {
			w, ok := oy.get(k)
			if !ok || !jsonEqual(ox.vals[k], w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// toInt reads an integer-valued JSON number.
func toInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	r, ok := numRat(n)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

func intNum(i int64) json.Number { return json.Number(fmt.Sprint(i)) }

// plainDefinition turns a decoded definition into map[string]any for the
// validator, except the payload fields (Parameters, ItemSelector,
// ResultSelector and a Pass state's Result), which keep their key order:
// Step Functions builds a payload in its template's order.
func plainDefinition(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, x.len())
		for _, k := range x.keys {
			if payloadField[k] {
				m[k] = x.vals[k]
			} else {
				m[k] = plainDefinition(x.vals[k])
			}
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = plainDefinition(it)
		}
		return out
	}
	return v
}

var payloadField = map[string]bool{"Parameters": true, "ItemSelector": true, "ResultSelector": true, "Result": true}
