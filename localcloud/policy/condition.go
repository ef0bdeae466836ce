package policy

import (
	"strings"
)

type setOp int

const (
	single setOp = iota
	forAnyValue
	forAllValues
)

// operator is a parsed condition operator such as
// "ForAllValues:StringLikeIfExists".
type operator struct {
	set      setOp
	base     string // StringEquals, ArnLike, Bool, Null, ...
	ifExists bool
	negated  bool
}

var supported = map[string]bool{
	"StringEquals": true, "StringNotEquals": true,
	"StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"ArnEquals": true, "ArnNotEquals": true, "ArnLike": true, "ArnNotLike": true,
	"Bool": true, "Null": true,
}

// Operators IAM has that this package does not evaluate: refused at parse
// time rather than evaluated wrongly.
var unsupported = map[string]bool{
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true,
	"NumericLessThanEquals": true, "NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true,
	"DateLessThanEquals": true, "DateGreaterThan": true, "DateGreaterThanEquals": true,
	"IpAddress": true, "NotIpAddress": true, "BinaryEquals": true,
}

func parseOperator(op string) (operator, error) {
	var o operator
	rest := op
	switch {
	case strings.HasPrefix(rest, "ForAnyValue:"):
		o.set, rest = forAnyValue, strings.TrimPrefix(rest, "ForAnyValue:")
	case strings.HasPrefix(rest, "ForAllValues:"):
		o.set, rest = forAllValues, strings.TrimPrefix(rest, "ForAllValues:")
	}
	if b, ok := strings.CutSuffix(rest, "IfExists"); ok {
		o.ifExists, rest = true, b
	}
	o.base = rest
	switch {
	case unsupported[o.base]:
		return o, malformed("condition operator %q is not supported by the local cloud's policy engine", op)
	case !supported[o.base]:
		return o, malformed("unknown condition operator %q (operators are case-sensitive)", op)
	case o.base == "Null" && (o.ifExists || o.set != single):
		return o, malformed("condition operator %q: Null takes neither IfExists nor a set prefix", op)
	}
	o.negated = strings.Contains(o.base, "Not")
	return o, nil
}

// evalCondition evaluates one operator → key → values entry against the
// request context (keys lower-cased). valid is false for an operator this
// package does not evaluate.
//
// Request context values are single-valued, so ForAnyValue/ForAllValues
// treat a present key as a set of one value; an absent key is the empty
// set (ForAllValues true, ForAnyValue false), as in AWS.
func evalCondition(op, key string, values []string, ctx map[string]string, vars bool) (result, valid bool) {
	o, err := parseOperator(op)
	if err != nil {
		return false, false
	}
	v, present := ctx[strings.ToLower(key)]
	if o.base == "Null" {
		for _, want := range values {
			if strings.EqualFold(want, "true") && !present || strings.EqualFold(want, "false") && present {
				return true, true
			}
		}
		return false, true
	}
	if !present {
		switch {
		case o.ifExists:
			return true, true
		case o.set == forAllValues:
			return true, true
		case o.set == forAnyValue:
			return false, true
		}
		// AWS: an absent key does not match, so the condition is false,
		// unless the operator requires the key not to match (StringNotLike,
		// ArnNotEquals, ...), which an absent key satisfies.
		return o.negated, true
	}
	matched := false
	for _, want := range values {
		if matchValue(o.base, want, v, vars, ctx) {
			matched = true
			break
		}
	}
	return matched != o.negated, true
}

// matchValue reports whether the context value v matches the policy value
// want under the positive form of base.
func matchValue(base, want, v string, vars bool, ctx map[string]string) bool {
	if base == "Bool" {
		return strings.EqualFold(want, v)
	}
	p, ok := expand(want, vars, ctx)
	if !ok {
		return false
	}
	switch base {
	case "StringEquals", "StringNotEquals":
		return string(p.r) == v
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(string(p.r), v)
	case "StringLike", "StringNotLike":
		return p.match(v)
	case "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike":
		// Both compare the six ARN parts separately, wildcards allowed.
		// A value that is not an ARN matches no ARN pattern.
		if _, ok := plain(v).splitARN(); !ok {
			return false
		}
		return matchARN(p, v)
	}
	return false
}
