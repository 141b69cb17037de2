package filter

import (
	"strings"
)

// op is what a node computes.
type op uint8

const (
	opLit      op = iota // lit
	opProp               // the property name
	opNeg                // -kids[0]
	opNot                // NOT kids[0]
	opBoolCast           // a property used as a boolean
	opAnd                // kids[0] AND kids[1] AND ...
	opOr                 // kids[0] OR kids[1] OR ...
	opEq
	opNe
	opGt
	opGe
	opLt
	opLe
	opIsNull
	opIsNotNull
	opBetween    // kids: value, low, high
	opNotBetween // kids: value, low, high
	opIn         // kids[0] IN list
	opNotIn
	opContains // kids[0] CONTAINS search
	opNotContains
	opStartsWith
	opNotStartsWith
	opEndsWith
	opNotEndsWith
)

// symbols names each operator in the canonical form and in tree dumps.
var symbols = [...]string{
	opNeg: "-", opNot: "NOT", opBoolCast: "bool", opAnd: "AND", opOr: "OR",
	opEq: "=", opNe: "<>", opGt: ">", opGe: ">=", opLt: "<", opLe: "<=",
	opIsNull: "IS NULL", opIsNotNull: "IS NOT NULL",
	opBetween: "BETWEEN", opNotBetween: "NOT BETWEEN",
	opIn: "IN", opNotIn: "NOT IN",
	opContains: "CONTAINS", opNotContains: "NOT CONTAINS",
	opStartsWith: "STARTSWITH", opNotStartsWith: "NOT STARTSWITH",
	opEndsWith: "ENDSWITH", opNotEndsWith: "NOT ENDSWITH",
}

// node is one operator or operand of a compiled expression.
type node struct {
	op     op
	pos    int                 // byte offset of the node's first token, for errors
	depth  int                 // 1 + the depth of the deepest kid
	lit    value               // opLit
	name   string              // opProp: the property
	kids   []*node             // operands, left to right
	list   []string            // opIn, opNotIn: the strings, in source order
	set    map[string]struct{} // opIn, opNotIn: the same, when the list is long
	search string              // opContains ... opNotEndsWith
}

// isBoolean reports whether the node is what RocketMQ calls a
// BooleanExpression: a comparison, a logical operator or one of the
// constants TRUE, FALSE and NULL.
func (n *node) isBoolean() bool {
	switch n.op {
	case opLit:
		return n.lit.kind == kBool || n.lit.kind == kNull
	case opProp, opNeg:
		return false
	}
	return true
}

// atomic reports whether the node prints without parentheses as an operand.
// Prefix minus binds tighter than everything, so it counts as atomic; NOT
// does too, but gets parentheses anyway because "NOT a = 1" reads wrongly.
func (n *node) atomic() bool {
	switch n.op {
	case opLit, opProp, opNeg:
		return true
	case opBoolCast:
		return n.kids[0].atomic()
	}
	return false
}

// format writes the canonical form. nested is true for operands, which are
// parenthesised unless atomic.
func (n *node) format(b *strings.Builder, nested bool) {
	if nested && !n.atomic() {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch n.op {
	case opLit:
		b.WriteString(n.lit.literal())
	case opProp:
		b.WriteString(n.name)
	case opBoolCast:
		n.kids[0].format(b, nested)
	case opNeg:
		b.WriteByte('-')
		k := n.kids[0]
		if k.op == opNeg { // "--" would start a comment
			b.WriteByte('(')
			k.format(b, false)
			b.WriteByte(')')
		} else {
			k.format(b, true)
		}
	case opNot:
		b.WriteString("NOT ")
		n.kids[0].format(b, true)
	case opAnd, opOr:
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(" " + symbols[n.op] + " ")
			}
			k.format(b, true)
		}
	case opIsNull, opIsNotNull:
		n.kids[0].format(b, true)
		b.WriteString(" " + symbols[n.op])
	case opBetween, opNotBetween:
		n.kids[0].format(b, true)
		b.WriteString(" " + symbols[n.op] + " ")
		n.kids[1].format(b, true)
		b.WriteString(" AND ")
		n.kids[2].format(b, true)
	case opIn, opNotIn:
		n.kids[0].format(b, true)
		b.WriteString(" " + symbols[n.op] + " (")
		for i, s := range n.list {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(s))
		}
		b.WriteByte(')')
	case opContains, opNotContains, opStartsWith, opNotStartsWith, opEndsWith, opNotEndsWith:
		n.kids[0].format(b, true)
		b.WriteString(" " + symbols[n.op] + " " + quote(n.search))
	default: // binary comparisons
		n.kids[0].format(b, true)
		b.WriteString(" " + symbols[n.op] + " ")
		n.kids[1].format(b, true)
	}
}

// tree writes the parse tree as an S-expression with the type of every
// literal, for golden tests: (AND (= (prop a) (int 1)) (bool (prop b))).
func (n *node) tree(b *strings.Builder) {
	switch n.op {
	case opLit:
		switch n.lit.kind {
		case kNull, kBool:
			b.WriteString(n.lit.literal())
		default:
			b.WriteString("(" + [...]string{kInt: "int", kLong: "long", kDouble: "double", kString: "string"}[n.lit.kind] + " " + n.lit.literal() + ")")
		}
		return
	case opProp:
		b.WriteString("(prop " + n.name + ")")
		return
	}
	b.WriteString("(" + symbols[n.op])
	for _, k := range n.kids {
		b.WriteByte(' ')
		k.tree(b)
	}
	for _, s := range n.list {
		b.WriteString(" " + quote(s))
	}
	if n.op >= opContains {
		b.WriteString(" " + quote(n.search))
	}
	b.WriteByte(')')
}
