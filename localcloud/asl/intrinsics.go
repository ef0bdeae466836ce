package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/platform/eks-connector-registrar/localcloud/awsproto"
)

// Intrinsic functions (States.*) as used in `.$` fields of Parameters,
// ItemSelector and ResultSelector.

type argKind int

const (
	argString argKind = iota
	argNumber
	argBool
	argNull
	argPath
	argFunc
)

type iarg struct {
	kind argKind
	raw  string // string literal as written between the quotes (escapes kept)
	num  json.Number
	b    bool
	path *jpath
	fn   *intrinsic
}

type intrinsic struct {
	name string
	args []iarg
}

// intrinsicFunc is one intrinsic function: its argument counts (max -1:
// unlimited) and what it does.
type intrinsicFunc struct {
	min, max int
	apply    func(c *icall) (any, *stateErr)
}

var intrinsicFuncs = map[string]intrinsicFunc{
	"States.Format":         {1, -1, iFormat},
	"States.StringToJson":   {1, 1, iStringToJson},
	"States.JsonToString":   {1, 1, iJsonToString},
	"States.Array":          {0, -1, iArray},
	"States.ArrayPartition": {2, 2, iArrayPartition},
	"States.ArrayContains":  {2, 2, iArrayContains},
	"States.ArrayRange":     {3, 3, iArrayRange},
	"States.ArrayGetItem":   {2, 2, iArrayGetItem},
	"States.ArrayLength":    {1, 1, iArrayLength},
	"States.ArrayUnique":    {1, 1, iArrayUnique},
	"States.Base64Encode":   {1, 1, iBase64Encode},
	"States.Base64Decode":   {1, 1, iBase64Decode},
	"States.Hash":           {2, 2, iHash},
	"States.JsonMerge":      {3, 3, iJsonMerge},
	"States.MathRandom":     {2, 3, iMathRandom},
	"States.MathAdd":        {2, 2, iMathAdd},
	"States.StringSplit":    {2, 2, iStringSplit},
	"States.UUID":           {0, 0, iUUID},
}

func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

func parseIntrinsic(s string) (*intrinsic, error) {
	p := &iparser{s: s}
	fn, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("intrinsic function %q: %v", s, err)
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("intrinsic function %q: unexpected %q after the closing parenthesis", s, p.s[p.i:])
	}
	return fn, nil
}

type iparser struct {
	s string
	i int
}

func (p *iparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *iparser) call() (*intrinsic, error) {
	p.ws()
	j := strings.IndexByte(p.s[p.i:], '(')
	if j < 0 {
		return nil, fmt.Errorf("missing '('")
	}
	name := strings.TrimSpace(p.s[p.i : p.i+j])
	ar, ok := intrinsicFuncs[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	p.i += j + 1
	fn := &intrinsic{name: name}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			fn.args = append(fn.args, a)
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing ')'")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			return nil, fmt.Errorf("unexpected %q in arguments", p.s[p.i])
		}
	}
	if len(fn.args) < ar.min || (ar.max >= 0 && len(fn.args) > ar.max) {
		if ar.min == ar.max {
			return nil, fmt.Errorf("%s takes %d argument(s), got %d", name, ar.min, len(fn.args))
		}
		return nil, fmt.Errorf("%s takes at least %d argument(s), got %d", name, ar.min, len(fn.args))
	}
	return fn, nil
}

func (p *iparser) arg() (iarg, error) {
	p.ws()
	if p.i >= len(p.s) {
		return iarg{}, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		j := p.i + 1
		for ; j < len(p.s) && p.s[j] != '\''; j++ {
			if p.s[j] == '\\' {
				j++
			}
		}
		if j >= len(p.s) {
			return iarg{}, fmt.Errorf("unterminated string literal")
		}
		a := iarg{kind: argString, raw: p.s[p.i+1 : j]}
		p.i = j + 1
		return a, nil
	case c == '$':
		start := p.i
		depth := 0
		var quote byte
		for ; p.i < len(p.s); p.i++ {
			ch := p.s[p.i]
			if quote != 0 {
				if ch == '\\' {
					p.i++
				} else if ch == quote {
					quote = 0
				}
				continue
			}
			if ch == '\'' || ch == '"' {
				quote = ch
			} else if ch == '[' {
				depth++
			} else if ch == ']' {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')') {
				break
			}
		}
		raw := strings.TrimSpace(p.s[start:p.i])
		jp, err := parsePath(raw)
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argPath, path: jp}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		fn, err := p.call()
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argFunc, fn: fn}, nil
	default:
		j := p.i
		for j < len(p.s) && p.s[j] != ',' && p.s[j] != ')' {
			j++
		}
		tok := strings.TrimSpace(p.s[p.i:j])
		p.i = j
		switch tok {
		case "true", "false":
			return iarg{kind: argBool, b: tok == "true"}, nil
		case "null":
			return iarg{kind: argNull}, nil
		}
		var n json.Number
		if err := json.Unmarshal([]byte(tok), &n); err != nil || tok == "" {
			return iarg{}, fmt.Errorf("bad argument %q (strings need single quotes)", tok)
		}
		return iarg{kind: argNumber, num: n}, nil
	}
}

// unescapeLiteral turns \' \{ \} \\ (any backslash pair) into the character.
func unescapeLiteral(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// ienv is what intrinsic evaluation can see.
type ienv struct {
	input, ctx any
	rand       func(f func(r *rand.Rand))
}

func ifail(format string, a ...any) *stateErr { return failf(ErrIntrinsicFailure, format, a...) }

func (fn *intrinsic) eval(env *ienv) (any, *stateErr) {
	vals := make([]any, len(fn.args))
	for i, a := range fn.args {
		switch a.kind {
		case argString:
			vals[i] = unescapeLiteral(a.raw)
		case argNumber:
			vals[i] = a.num
		case argBool:
			vals[i] = a.b
		case argNull:
			vals[i] = nil
		case argPath:
			src := env.input
			if a.path.context {
				src = env.ctx
			}
			v, ok := a.path.get(src)
			if !ok {
				return nil, runtimeErr("The JsonPath argument %q of %s could not be found in the input %s", a.path.raw, fn.name, jsonText(src))
			}
			vals[i] = v
		case argFunc:
			v, err := a.fn.eval(env)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	return fn.apply(vals, env)
}

func (fn *intrinsic) apply(v []any, env *ienv) (any, *stateErr) {
	f, ok := intrinsicFuncs[fn.name]
	if !ok {
		return nil, ifail("unknown intrinsic function %s", fn.name)
	}
	return f.apply(&icall{fn: fn, v: v, env: env})
}

// icall is one call of an intrinsic function: its evaluated arguments v.
type icall struct {
	fn  *intrinsic
	v   []any
	env *ienv
}

func (c *icall) str(i int) (string, *stateErr) {
	s, ok := c.v[i].(string)
	if !ok {
		return "", ifail("%s: argument %d must be a string, got %s", c.fn.name, i+1, jsonType(c.v[i]))
	}
	return s, nil
}

func (c *icall) arr(i int) ([]any, *stateErr) {
	a, ok := c.v[i].([]any)
	if !ok {
		return nil, ifail("%s: argument %d must be an array, got %s", c.fn.name, i+1, jsonType(c.v[i]))
	}
	return a, nil
}

func (c *icall) integer(i int) (int64, *stateErr) {
	n, ok := toInt(c.v[i])
	if !ok {
		return 0, ifail("%s: argument %d must be an integer, got %s", c.fn.name, i+1, jsonText(c.v[i]))
	}
	return n, nil
}

func iFormat(c *icall) (any, *stateErr) {
	if c.fn.args[0].kind != argString {
		return nil, ifail("States.Format: the first argument must be a string literal")
	}
	return formatTemplate(c.fn.args[0].raw, c.v[1:])
}

func iStringToJson(c *icall) (any, *stateErr) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	out, perr := decodeJSON([]byte(s))
	if perr != nil {
		return nil, ifail("States.StringToJson: %q is not JSON: %v", s, perr)
	}
	return out, nil
}

func iJsonToString(c *icall) (any, *stateErr) {
	return jsonText(c.v[0]), nil
}

func iArray(c *icall) (any, *stateErr) {
	return append([]any{}, c.v...), nil
}

func iArrayPartition(c *icall) (any, *stateErr) {
	a, err := c.arr(0)
	if err != nil {
		return nil, err
	}
	n, err := c.integer(1)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, ifail("States.ArrayPartition: chunk size must be positive, got %d", n)
	}
	out := []any{}
	for i := 0; i < len(a); i += int(n) {
		end := min(i+int(n), len(a))
		out = append(out, append([]any{}, a[i:end]...))
	}
	return out, nil
}

func iArrayContains(c *icall) (any, *stateErr) {
	a, err := c.arr(0)
	if err != nil {
		return nil, err
	}
	for _, x := range a {
		if jsonEqual(x, c.v[1]) {
			return true, nil
		}
	}
	return false, nil
}

func iArrayRange(c *icall) (any, *stateErr) {
	var n [3]int64
	for i := range n {
		x, err := c.integer(i)
		if err != nil {
			return nil, err
		}
		n[i] = x
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, ifail("States.ArrayRange: step must not be 0")
	}
	out := []any{}
	for x := start; (step > 0 && x <= end) || (step < 0 && x >= end); x += step {
		if len(out) == 1000 {
			return nil, ifail("States.ArrayRange: the result would have more than 1000 items")
		}
		out = append(out, intNum(x))
	}
	return out, nil
}

func iArrayGetItem(c *icall) (any, *stateErr) {
	a, err := c.arr(0)
	if err != nil {
		return nil, err
	}
	i, err := c.integer(1)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, ifail("States.ArrayGetItem: index %d is out of bounds for an array of %d items", i, len(a))
	}
	return a[i], nil
}

func iArrayLength(c *icall) (any, *stateErr) {
	a, err := c.arr(0)
	if err != nil {
		return nil, err
	}
	return intNum(int64(len(a))), nil
}

func iArrayUnique(c *icall) (any, *stateErr) {
	a, err := c.arr(0)
	if err != nil {
		return nil, err
	}
	out := []any{}
next:
	for _, x := range a {
		for _, y := range out {
			if jsonEqual(x, y) {
				continue next
			}
		}
		out = append(out, x)
	}
	return out, nil
}

func iBase64Encode(c *icall) (any, *stateErr) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s) > 10000 {
		return nil, ifail("States.Base64Encode: input is longer than 10000 characters")
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func iBase64Decode(c *icall) (any, *stateErr) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	if len(s) > 10000 {
		return nil, ifail("States.Base64Decode: input is longer than 10000 characters")
	}
	b, derr := base64.StdEncoding.DecodeString(s)
	if derr != nil {
		return nil, ifail("States.Base64Decode: %q is not base64: %v", s, derr)
	}
	return string(b), nil
}

func iHash(c *icall) (any, *stateErr) {
	if c.v[0] == nil {
		return nil, ifail("States.Hash: the data must not be null")
	}
	data, ok := c.v[0].(string)
	if !ok {
		data = jsonText(c.v[0])
	}
	if utf8.RuneCountInString(data) > 10000 {
		return nil, ifail("States.Hash: input is longer than 10000 characters")
	}
	alg, err := c.str(1)
	if err != nil {
		return nil, err
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, ifail("States.Hash: unknown algorithm %q (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func iJsonMerge(c *icall) (any, *stateErr) {
	a, ok1 := asObject(c.v[0])
	b, ok2 := asObject(c.v[1])
	if !ok1 || !ok2 {
		return nil, ifail("States.JsonMerge: the first two arguments must be objects")
	}
	deep, ok := c.v[2].(bool)
	if !ok {
		return nil, ifail("States.JsonMerge: the third argument must be a boolean")
	}
	if deep {
		return nil, ifail("States.JsonMerge: deep merging is not supported; the third argument must be false")
	}
	// json1's keys in their order, a key json2 also has keeping its
	// place with json2's value, then json2's other keys in their order.
	out := a.clone()
	for _, k := range b.keys {
		out.set(k, b.vals[k])
	}
	return out, nil
}

func iMathRandom(c *icall) (any, *stateErr) {
	lo, err := c.integer(0)
	if err != nil {
		return nil, err
	}
	hi, err := c.integer(1)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, ifail("States.MathRandom: the end (%d) must be greater than the start (%d)", hi, lo)
	}
	var r int64
	if len(c.v) == 3 {
		seed, err := c.integer(2)
		if err != nil {
			return nil, err
		}
		r = lo + rand.New(rand.NewPCG(uint64(seed), 0)).Int64N(hi-lo)
	} else {
		c.env.rand(func(rr *rand.Rand) { r = lo + rr.Int64N(hi-lo) })
	}
	return intNum(r), nil
}

func iMathAdd(c *icall) (any, *stateErr) {
	a, ok1 := numRat(asNumber(c.v[0]))
	b, ok2 := numRat(asNumber(c.v[1]))
	if !ok1 || !ok2 {
		return nil, ifail("States.MathAdd: both arguments must be numbers")
	}
	sum := a.Add(a, b)
	if sum.IsInt() {
		return json.Number(sum.Num().String()), nil
	}
	f, _ := sum.Float64()
	return json.Number(fmt.Sprint(f)), nil
}

func iStringSplit(c *icall) (any, *stateErr) {
	s, err := c.str(0)
	if err != nil {
		return nil, err
	}
	d, err := c.str(1)
	if err != nil {
		return nil, err
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func iUUID(c *icall) (any, *stateErr) {
	var b [16]byte
	c.env.rand(func(rr *rand.Rand) {
		for i := range b {
			b[i] = byte(rr.UintN(256))
		}
	})
	return awsproto.UUID(b, true), nil
}

func asNumber(v any) json.Number {
	n, _ := v.(json.Number)
	return n
}

// formatTemplate implements States.Format: `{}` is replaced by the next
// argument; `\{`, `\}`, `\'` and `\\` are literal characters.
func formatTemplate(raw string, args []any) (any, *stateErr) {
	var b strings.Builder
	used := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			b.WriteByte(raw[i])
		case c == '{' && i+1 < len(raw) && raw[i+1] == '}':
			if used >= len(args) {
				return nil, ifail("States.Format: the template has more {} placeholders than arguments (%d)", len(args))
			}
			switch a := args[used].(type) {
			case string:
				b.WriteString(a)
			case *object, map[string]any, []any:
				return nil, ifail("States.Format: argument %d must be a string, number, boolean or null, got %s", used+2, jsonType(a))
			default:
				b.WriteString(jsonText(a))
			}
			used++
			i++
		default:
			b.WriteByte(c)
		}
	}
	if used != len(args) {
		return nil, ifail("States.Format: the template has %d {} placeholders but %d arguments were given", used, len(args))
	}
	return b.String(), nil
}
