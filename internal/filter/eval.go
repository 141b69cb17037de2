package filter

import (
	"slices"
	"strings"
)

// eval computes the node for one message. The order in which operands are
// evaluated, and where evaluation stops, follow RocketMQ's expression
// classes, because an error (kErr) raised by an operand that Java would
// not have reached must not abort the match.
func (n *node) eval(p Properties) value {
	switch n.op {
	case opLit:
		return n.lit
	case opProp:
		if s, ok := p.Get(n.name); ok {
			return value{kind: kString, s: s}
		}
		return vNull
	case opNeg:
		return negate(n.kids[0].eval(p))
	case opNot:
		return n.kids[0].eval(p).not()
	case opBoolCast:
		// Properties are strings, never Booleans: a present property is FALSE.
		if v := n.kids[0].eval(p); v.kind == kNull || v.kind == kErr || v.kind == kBool {
			return v
		}
		return vFalse
	case opAnd:
		return n.and(p)
	case opOr:
		return n.or(p)
	case opEq:
		return n.equal(p)
	case opNe:
		return n.equal(p).not()
	case opGt, opGe, opLt, opLe:
		return ordered(n.op, n.kids[0].eval(p), n.kids[1], p)
	case opIsNull, opIsNotNull:
		v := n.kids[0].eval(p)
		if v.kind == kErr {
			return vErr
		}
		return boolValue((v.kind == kNull) == (n.op == opIsNull))
	case opBetween, opNotBetween:
		return n.between(p)
	case opIn, opNotIn:
		return n.in(p)
	default:
		return n.stringMatch(p)
	}
}

// negate is UnaryExpression.createNegate: numbers change sign (an int
// wraps at 32 bits, as Java's does), anything else becomes NULL.
func negate(v value) value {
	switch v.kind {
	case kInt:
		v.n = int64(-int32(v.n))
	case kLong:
		v.n = -v.n
	case kDouble:
		v.f = -v.f
	case kErr:
	default:
		return vNull
	}
	return v
}

// and evaluates left to right and stops at the first FALSE or error.
func (n *node) and(p Properties) value {
	unknown := false
	for _, k := range n.kids {
		switch v := k.eval(p); {
		case v.kind == kErr || v.isFalse():
			return v
		case v.kind == kNull:
			unknown = true
		}
	}
	if unknown {
		return vNull
	}
	return vTrue
}

// or evaluates left to right and stops at the first TRUE or error.
func (n *node) or(p Properties) value {
	unknown := false
	for _, k := range n.kids {
		switch v := k.eval(p); {
		case v.kind == kErr || v.isTrue():
			return v
		case v.kind == kNull:
			unknown = true
		}
	}
	if unknown {
		return vNull
	}
	return vFalse
}

// equal is ComparisonExpression's equality: both sides are evaluated; NULL
// on the left only is unknown, NULL on the right only is FALSE, NULL on
// both sides is TRUE.
func (n *node) equal(p Properties) value {
	l := n.kids[0].eval(p)
	if l.kind == kErr {
		return vErr
	}
	r := n.kids[1].eval(p)
	switch {
	case r.kind == kErr:
		return vErr
	case l.kind == kNull && r.kind == kNull:
		return vTrue
	case l.kind == kNull:
		return vNull
	case r.kind == kNull:
		return vFalse
	}
	c, ok := compare(l, r)
	if !ok {
		return vErr
	}
	return boolValue(c == 0)
}

// ordered is ComparisonExpression's >, >=, < and <=. l is the evaluated
// left operand; the right one is evaluated only if l is not NULL. Two
// strings are compared as doubles.
func ordered(o op, l value, right *node, p Properties) value {
	if l.kind == kErr || l.kind == kNull {
		return l
	}
	r := right.eval(p)
	if r.kind == kErr || r.kind == kNull {
		return r
	}
	var c int
	if l.kind == kString && r.kind == kString {
		lf, ok1 := parseJavaDouble(l.s)
		rf, ok2 := parseJavaDouble(r.s)
		if !ok1 || !ok2 {
			return vErr
		}
		c = compareDouble(lf, rf)
	} else {
		var ok bool
		if c, ok = compare(l, r); !ok {
			return vErr
		}
	}
	switch o {
	case opGt:
		return boolValue(c > 0)
	case opGe:
		return boolValue(c >= 0)
	case opLt:
		return boolValue(c < 0)
	}
	return boolValue(c <= 0)
}

// between is RocketMQ's rewrite of BETWEEN into (x >= low AND x <= high)
// and of NOT BETWEEN into (x < low OR x > high), with x evaluated once.
func (n *node) between(p Properties) value {
	x := n.kids[0].eval(p)
	first, second, stop := opGe, opLe, vFalse
	if n.op == opNotBetween {
		first, second, stop = opLt, opGt, vTrue
	}
	a := ordered(first, x, n.kids[1], p)
	if a.kind == kErr || a == stop {
		return a
	}
	b := ordered(second, x, n.kids[2], p)
	if b.kind == kErr || b == stop {
		return b
	}
	if a.kind == kNull || b.kind == kNull {
		return vNull
	}
	return stop.not()
}

// in is UnaryInExpression: unknown for a missing property.
func (n *node) in(p Properties) value {
	v := n.kids[0].eval(p)
	if v.kind != kString {
		return vNull
	}
	var found bool
	if n.set != nil {
		_, found = n.set[v.s]
	} else {
		found = slices.Contains(n.list, v.s)
	}
	return boolValue(found != (n.op == opNotIn))
}

// stringMatch is CONTAINS, STARTSWITH, ENDSWITH and their NOT forms: FALSE
// for an empty search string, a missing property or a non-string operand.
func (n *node) stringMatch(p Properties) value {
	if n.search == "" {
		return vFalse
	}
	v := n.kids[0].eval(p)
	if v.kind == kErr {
		return vErr
	}
	if v.kind != kString {
		return vFalse
	}
	var found bool
	switch n.op {
	case opContains, opNotContains:
		found = strings.Contains(v.s, n.search)
	case opStartsWith, opNotStartsWith:
		found = strings.HasPrefix(v.s, n.search)
	default:
		found = strings.HasSuffix(v.s, n.search)
	}
	negated := n.op == opNotContains || n.op == opNotStartsWith || n.op == opNotEndsWith
	return boolValue(found != negated)
}
