package filter

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// inSetMin is the list length from which IN looks strings up in a map
// rather than scanning the list.
const inSetMin = 8

// parser is a recursive-descent parser over the grammar in doc.go, one
// method per rule. Each method leaves p.tok at the first token it did not
// use.
type parser struct {
	src   string
	lx    lexer
	tok   token
	depth int // current recursion depth through unary
}

func parse(src string) (*node, error) {
	p := &parser{src: src, lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.errorf(p.tok.pos, "expected an operator or the end of the expression, found %s", p.tok.describe())
	}
	return p.asBoolean(n)
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return errorAt(p.src, pos, format, args...)
}

// newNode builds an operator node and enforces MaxDepth.
func (p *parser) newNode(o op, pos int, kids ...*node) (*node, error) {
	n := &node{op: o, pos: pos, kids: kids}
	for _, k := range kids {
		n.depth = max(n.depth, k.depth)
	}
	n.depth++
	if n.depth > MaxDepth {
		return nil, p.errorf(pos, "expression nested too deeply (more than %d levels)", MaxDepth)
	}
	return n, nil
}

// asBoolean checks that n can be an operand of AND, OR, NOT or the whole
// selector. A bare property is accepted and read as a boolean.
func (p *parser) asBoolean(n *node) (*node, error) {
	switch {
	case n.isBoolean():
		return n, nil
	case n.op == opProp:
		return p.newNode(opBoolCast, n.pos, n)
	}
	return nil, p.errorf(n.pos, "expected a boolean expression, found %s", describe(n))
}

// describe renders a node for an error message.
func describe(n *node) string {
	var b strings.Builder
	n.format(&b, false)
	s := b.String()
	if len(s) > 40 {
		cut := 37
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// or = and { OR and }
func (p *parser) or() (*node, error) {
	return p.logical(tOr, opOr, p.and)
}

// and = equality { AND equality }
func (p *parser) and() (*node, error) {
	return p.logical(tAnd, opAnd, p.equality)
}

// logical parses a chain of one logical operator into one flat node. AND
// and OR are associative here, errors and short-circuits included, so
// "(a AND b) AND c" and "a AND (b AND c)" flatten to the same node.
func (p *parser) logical(t tokenKind, o op, operand func() (*node, error)) (*node, error) {
	first, err := operand()
	if err != nil || p.tok.kind != t {
		return first, err
	}
	var kids []*node
	add := func(n *node) error {
		n, err := p.asBoolean(n)
		if err != nil {
			return err
		}
		if n.op == o {
			kids = append(kids, n.kids...)
		} else {
			kids = append(kids, n)
		}
		return nil
	}
	if err := add(first); err != nil {
		return nil, err
	}
	for p.tok.kind == t {
		if err := p.advance(); err != nil {
			return nil, err
		}
		next, err := operand()
		if err != nil {
			return nil, err
		}
		if err := add(next); err != nil {
			return nil, err
		}
	}
	return p.newNode(o, first.pos, kids...)
}

// equality = comparison { ("=" | "<>") comparison | IS [NOT] NULL }
func (p *parser) equality() (*node, error) {
	left, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for {
		switch p.tok.kind {
		case tEq, tNe:
			o := opEq
			if p.tok.kind == tNe {
				o = opNe
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
			right, err := p.comparison()
			if err != nil {
				return nil, err
			}
			if err := p.checkEquality(left, right, o); err != nil {
				return nil, err
			}
			if left, err = p.newNode(o, left.pos, left, right); err != nil {
				return nil, err
			}
		case tIs:
			o, err := p.isNull()
			if err != nil {
				return nil, err
			}
			if left, err = p.newNode(o, left.pos, left); err != nil {
				return nil, err
			}
		default:
			return left, nil
		}
	}
}

// isNull parses IS [NOT] NULL.
func (p *parser) isNull() (op, error) {
	if err := p.advance(); err != nil {
		return 0, err
	}
	o := opIsNull
	if p.tok.kind == tNot {
		o = opIsNotNull
		if err := p.advance(); err != nil {
			return 0, err
		}
	}
	if p.tok.kind != tNull {
		if o == opIsNull {
			return 0, p.errorf(p.tok.pos, "expected NULL or NOT NULL after IS, found %s", p.tok.describe())
		}
		return 0, p.errorf(p.tok.pos, "expected NULL after IS NOT, found %s", p.tok.describe())
	}
	return o, p.advance()
}

// comparison = unary { ordering unary | [NOT] BETWEEN ... | [NOT] IN ... |
// [NOT] CONTAINS|STARTSWITH|ENDSWITH string }
func (p *parser) comparison() (*node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		negated := false
		switch p.tok.kind {
		case tGt, tGe, tLt, tLe:
			o := [...]op{tGt: opGt, tGe: opGe, tLt: opLt, tLe: opLe}[p.tok.kind]
			if err := p.advance(); err != nil {
				return nil, err
			}
			right, err := p.unary()
			if err != nil {
				return nil, err
			}
			if err := p.checkOrdered(left, o); err != nil {
				return nil, err
			}
			if err := p.checkOrdered(right, o); err != nil {
				return nil, err
			}
			if left, err = p.newNode(o, left.pos, left, right); err != nil {
				return nil, err
			}
			continue
		case tNot:
			negated = true
			if err := p.advance(); err != nil {
				return nil, err
			}
			switch p.tok.kind {
			case tBetween, tIn, tContains, tStartsWith, tEndsWith:
			default:
				return nil, p.errorf(p.tok.pos, "expected BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT, found %s", p.tok.describe())
			}
		case tBetween, tIn, tContains, tStartsWith, tEndsWith:
		default:
			return left, nil
		}
		switch p.tok.kind {
		case tBetween:
			left, err = p.between(left, negated)
		case tIn:
			left, err = p.in(left, negated)
		default:
			left, err = p.stringMatch(left, negated)
		}
		if err != nil {
			return nil, err
		}
	}
}

// between parses BETWEEN unary AND unary, p.tok being BETWEEN.
func (p *parser) between(value *node, negated bool) (*node, error) {
	o := opBetween
	if negated {
		o = opNotBetween
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	low, err := p.unary()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tAnd {
		return nil, p.errorf(p.tok.pos, "expected AND in %s, found %s", symbols[o], p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	high, err := p.unary()
	if err != nil {
		return nil, err
	}
	for _, n := range []*node{value, low, high} {
		if err := p.checkOrdered(n, o); err != nil {
			return nil, err
		}
	}
	if o == opBetween && low.op == opLit && high.op == opLit {
		if c, _ := compare(high.lit, low.lit); c < 0 {
			return nil, p.errorf(low.pos, "BETWEEN bounds out of order: %s is greater than %s", low.lit.literal(), high.lit.literal())
		}
	}
	return p.newNode(o, value.pos, value, low, high)
}

// in parses IN ( string { , string } ), p.tok being IN.
func (p *parser) in(left *node, negated bool) (*node, error) {
	o := opIn
	if negated {
		o = opNotIn
	}
	if left.op != opProp {
		return nil, p.errorf(left.pos, "%s needs a property on its left, found %s", symbols[o], describe(left))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLParen {
		return nil, p.errorf(p.tok.pos, "expected ( after %s, found %s", symbols[o], p.tok.describe())
	}
	var list []string
	for {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.errorf(p.tok.pos, "expected a string literal in the %s list, found %s", symbols[o], p.tok.describe())
		}
		list = append(list, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tRParen {
			break
		}
		if p.tok.kind != tComma {
			return nil, p.errorf(p.tok.pos, "expected , or ) in the %s list, found %s", symbols[o], p.tok.describe())
		}
	}
	n, err := p.newNode(o, left.pos, left)
	if err != nil {
		return nil, err
	}
	n.list = list
	if len(list) >= inSetMin {
		n.set = make(map[string]struct{}, len(list))
		for _, s := range list {
			n.set[s] = struct{}{}
		}
	}
	return n, p.advance()
}

// stringMatch parses CONTAINS, STARTSWITH or ENDSWITH and its string.
func (p *parser) stringMatch(left *node, negated bool) (*node, error) {
	var o op
	switch p.tok.kind {
	case tContains:
		o = opContains
	case tStartsWith:
		o = opStartsWith
	default:
		o = opEndsWith
	}
	if negated {
		o++ // each NOT form directly follows its positive form
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tString {
		return nil, p.errorf(p.tok.pos, "expected a string literal after %s, found %s", symbols[o], p.tok.describe())
	}
	n, err := p.newNode(o, left.pos, left)
	if err != nil {
		return nil, err
	}
	n.search = p.tok.text
	return n, p.advance()
}

// checkOrdered enforces RocketMQ's rule for the operands of >, >=, <, <=
// and BETWEEN: a literal must be a number, and a boolean expression cannot
// be ordered at all.
func (p *parser) checkOrdered(n *node, o op) error {
	if n.op == opLit && !n.lit.isNumber() {
		return p.errorf(n.pos, "%s cannot be an operand of %s: only numbers are ordered", n.lit.literal(), symbols[o])
	}
	if n.isBoolean() {
		return p.errorf(n.pos, "boolean expression %s cannot be an operand of %s", describe(n), symbols[o])
	}
	return nil
}

// checkEquality enforces RocketMQ's rules for = and <>: NULL is compared
// with IS NULL, and TRUE or FALSE on the left cannot meet a number or
// string literal on the right.
func (p *parser) checkEquality(left, right *node, o op) error {
	for _, n := range []*node{left, right} {
		if n.op == opLit && n.lit.kind == kNull {
			return p.errorf(n.pos, "NULL cannot be an operand of %s; use IS NULL or IS NOT NULL", symbols[o])
		}
	}
	if left.op == opLit && left.lit.kind == kBool && right.op == opLit && right.lit.kind != kBool {
		return p.errorf(left.pos, "%s cannot be compared with %s", left.lit.literal(), right.lit.literal())
	}
	return nil
}

// unary = "+" unary | "-" unary | NOT unary | primary
func (p *parser) unary() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxDepth {
		return nil, p.errorf(p.tok.pos, "expression nested too deeply (more than %d levels)", MaxDepth)
	}
	pos := p.tok.pos
	switch p.tok.kind {
	case tPlus:
		if err := p.advance(); err != nil {
			return nil, err
		}
		return p.unary()
	case tMinus, tNot:
		o := opNeg
		if p.tok.kind == tNot {
			o = opNot
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if o == opNot {
			if x, err = p.asBoolean(x); err != nil {
				return nil, err
			}
		}
		return p.newNode(o, pos, x)
	}
	return p.primary()
}

// primary = literal | identifier | "(" or ")"
func (p *parser) primary() (*node, error) {
	t := p.tok
	var n *node
	switch t.kind {
	case tIdent:
		n = &node{op: opProp, pos: t.pos, depth: 1, name: t.text}
	case tString:
		n = literalNode(t.pos, value{kind: kString, s: t.text})
	case tTrue, tFalse:
		n = literalNode(t.pos, boolValue(t.kind == tTrue))
	case tNull:
		n = literalNode(t.pos, vNull)
	case tDecimal:
		v, err := p.decimal(t)
		if err != nil {
			return nil, err
		}
		n = literalNode(t.pos, v)
	case tFloat:
		v, err := p.float(t)
		if err != nil {
			return nil, err
		}
		n = literalNode(t.pos, v)
	case tLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.errorf(p.tok.pos, "expected ) to close the ( at %s, found %s", p.where(t.pos), p.tok.describe())
		}
		return inner, p.advance()
	default:
		return nil, p.errorf(t.pos, "expected a property, a literal or (, found %s", t.describe())
	}
	return n, p.advance()
}

func literalNode(pos int, v value) *node {
	return &node{op: opLit, pos: pos, depth: 1, lit: v}
}

// where renders an offset as line:column for messages that point back.
func (p *parser) where(pos int) string {
	line, col := position(p.src, pos)
	return strconv.Itoa(line) + ":" + strconv.Itoa(col)
}

// decimal converts a decimal literal as ConstantExpression.createFromDecimal
// does: an int when it fits in 32 bits, else a long.
func (p *parser) decimal(t token) (value, error) {
	text := strings.TrimRight(t.text, "lL")
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return value{}, p.errorf(t.pos, "number %s does not fit in a long (64 bits)", t.text)
	}
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return value{kind: kInt, n: n}, nil
	}
	return value{kind: kLong, n: n}, nil
}

// float converts a floating-point literal to a double, refusing one that
// overflows or that underflows to zero.
func (p *parser) float(t token) (value, error) {
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil && !isRangeError(err) {
		return value{}, p.errorf(t.pos, "malformed number %s", t.text) // unreachable: the lexer checked it
	}
	if math.IsInf(f, 0) {
		return value{}, p.errorf(t.pos, "number %s is too large for a double", t.text)
	}
	if f == 0 {
		mantissa, _, _ := strings.Cut(strings.ToLower(t.text), "e")
		if strings.Trim(mantissa, "0.") != "" {
			return value{}, p.errorf(t.pos, "number %s is too small for a double", t.text)
		}
	}
	return value{kind: kDouble, f: f}, nil
}
