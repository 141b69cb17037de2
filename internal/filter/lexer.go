package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tEOF tokenKind = iota
	tIdent
	tString
	tDecimal
	tFloat

	// Keywords.
	tNot
	tAnd
	tOr
	tBetween
	tIn
	tTrue
	tFalse
	tNull
	tIs
	tContains
	tStartsWith
	tEndsWith

	// Punctuation.
	tEq
	tNe
	tGt
	tGe
	tLt
	tLe
	tLParen
	tRParen
	tComma
	tPlus
	tMinus
)

var keywords = map[string]tokenKind{
	"NOT":        tNot,
	"AND":        tAnd,
	"OR":         tOr,
	"BETWEEN":    tBetween,
	"IN":         tIn,
	"TRUE":       tTrue,
	"FALSE":      tFalse,
	"NULL":       tNull,
	"IS":         tIs,
	"CONTAINS":   tContains,
	"STARTSWITH": tStartsWith,
	"ENDSWITH":   tEndsWith,
}

// maxKeywordLen is the length of the longest keyword, STARTSWITH.
const maxKeywordLen = 10

// token is one lexeme. For tString, text is the decoded value; for every
// other kind it is the source text.
type token struct {
	kind tokenKind
	pos  int
	text string
}

// describe renders the token for an error message: `AND`, `")"`,
// `identifier "price"`, `end of input`.
func (t token) describe() string {
	switch {
	case t.kind == tEOF:
		return "end of input"
	case t.kind == tIdent:
		return fmt.Sprintf("identifier %q", t.text)
	case t.kind == tString:
		return "string " + quote(t.text)
	case t.kind == tDecimal || t.kind == tFloat:
		return "number " + t.text
	case t.kind >= tNot && t.kind <= tEndsWith:
		return strings.ToUpper(t.text)
	default:
		return strconv.Quote(t.text)
	}
}

// lexer turns the source into tokens on demand.
type lexer struct {
	src string
	pos int
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

// next returns the next token or a *SyntaxError.
func (l *lexer) next() (token, error) {
	if err := l.skipBlanksAndComments(); err != nil {
		return token{}, err
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case isIdentStart(c):
		for l.pos++; l.pos < len(l.src) && isIdentPart(l.src[l.pos]); l.pos++ {
		}
		text := l.src[start:l.pos]
		if len(text) <= maxKeywordLen {
			if k, ok := keywords[strings.ToUpper(text)]; ok {
				return token{kind: k, pos: start, text: text}, nil
			}
		}
		return token{kind: tIdent, pos: start, text: text}, nil
	case isDigit(c) || c == '.' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]):
		return l.number(), nil
	case c == '\'':
		return l.string()
	}
	kind, n := tEOF, 1
	switch c {
	case '=':
		kind = tEq
	case '<':
		kind = tLt
		if strings.HasPrefix(l.src[start:], "<>") {
			kind, n = tNe, 2
		} else if strings.HasPrefix(l.src[start:], "<=") {
			kind, n = tLe, 2
		}
	case '>':
		kind = tGt
		if strings.HasPrefix(l.src[start:], ">=") {
			kind, n = tGe, 2
		}
	case '(':
		kind = tLParen
	case ')':
		kind = tRParen
	case ',':
		kind = tComma
	case '+':
		kind = tPlus
	case '-':
		kind = tMinus
	}
	if kind != tEOF {
		l.pos += n
		return token{kind: kind, pos: start, text: l.src[start:l.pos]}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	return token{}, errorAt(l.src, start, "unexpected character %q", r)
}

func (l *lexer) skipBlanksAndComments() error {
	for l.pos < len(l.src) {
		switch rest := l.src[l.pos:]; {
		case isBlank(rest[0]):
			l.pos++
		case strings.HasPrefix(rest, "--"):
			if i := strings.IndexAny(rest, "\r\n"); i >= 0 {
				l.pos += i
			} else {
				l.pos = len(l.src)
			}
		case strings.HasPrefix(rest, "/*"):
			i := strings.Index(rest[2:], "*/")
			if i < 0 {
				return errorAt(l.src, l.pos, "unterminated comment: /* without */")
			}
			l.pos += 2 + i + 2
		default:
			return nil
		}
	}
	return nil
}

// number scans a decimal or floating-point literal. Like JavaCC it takes the
// longest match: "007.5" is one float, while "007" is the decimal 0 followed
// by more input, and "5L" is a decimal but "0L" is 0 followed by L.
func (l *lexer) number() token {
	start := l.pos
	l.digits()
	if l.pos < len(l.src) && l.src[l.pos] == '.' {
		l.pos++
		l.digits()
		l.exponent()
		return token{kind: tFloat, pos: start, text: l.src[start:l.pos]}
	}
	if l.exponent() {
		return token{kind: tFloat, pos: start, text: l.src[start:l.pos]}
	}
	if l.src[start] == '0' {
		l.pos = start + 1
		return token{kind: tDecimal, pos: start, text: "0"}
	}
	if l.pos < len(l.src) && (l.src[l.pos] == 'l' || l.src[l.pos] == 'L') {
		l.pos++
	}
	return token{kind: tDecimal, pos: start, text: l.src[start:l.pos]}
}

func (l *lexer) digits() {
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
}

// exponent consumes [eE][+-]?[0-9]+ if it is there in full.
func (l *lexer) exponent() bool {
	i := l.pos
	if i >= len(l.src) || l.src[i] != 'e' && l.src[i] != 'E' {
		return false
	}
	i++
	if i < len(l.src) && (l.src[i] == '+' || l.src[i] == '-') {
		i++
	}
	if i >= len(l.src) || !isDigit(l.src[i]) {
		return false
	}
	for i < len(l.src) && isDigit(l.src[i]) {
		i++
	}
	l.pos = i
	return true
}

// string scans a quoted literal; ” inside it stands for one quote.
func (l *lexer) string() (token, error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], '\'')
		if j < 0 {
			return token{}, errorAt(l.src, start, "unterminated string: ' without closing '")
		}
		b.WriteString(l.src[i : i+j])
		i += j + 1
		if i < len(l.src) && l.src[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		l.pos = i
		return token{kind: tString, pos: start, text: b.String()}, nil
	}
}

// quote renders s as a string literal.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
