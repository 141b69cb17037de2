package filter

import (
	"errors"
	"fmt"
	"strings"
)

// MaxDepth bounds how deeply an expression may nest: parentheses, prefix
// operators and chained comparisons such as "a = 1 = TRUE" each add a level;
// a flat chain of AND (or of OR) adds one level however long it is.
const MaxDepth = 128

// ErrInvalid is wrapped by every error Compile returns.
var ErrInvalid = errors.New("filter: invalid SQL92 expression")

// Properties gives the evaluator a message's properties. Get reports whether
// the property is present; a present property may be the empty string.
// Implementations are called once per property reference per evaluation and
// should not allocate.
type Properties interface {
	Get(key string) (value string, ok bool)
}

// Map is Properties backed by a map.
type Map map[string]string

// Get implements Properties.
func (m Map) Get(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

// Expression is a compiled selector. It is immutable and safe for concurrent
// use.
type Expression struct {
	root *node
}

// Compile parses and checks a selector. The error, if any, is a *SyntaxError
// that wraps ErrInvalid and says where and why.
func Compile(text string) (*Expression, error) {
	root, err := parse(text)
	if err != nil {
		return nil, err
	}
	return &Expression{root: root}, nil
}

// Match reports whether a message with the given properties is selected:
// whether the selector evaluates to TRUE. Unknown (a NULL result) and
// evaluation errors, such as comparing a non-numeric property with a number,
// do not match.
func (e *Expression) Match(p Properties) bool {
	v := e.root.eval(p)
	return v.kind == kBool && v.n != 0
}

// String returns the canonical form of the expression (see the package
// documentation).
func (e *Expression) String() string {
	var b strings.Builder
	e.root.format(&b, false)
	return b.String()
}

// SyntaxError is an expression Compile refused.
type SyntaxError struct {
	Offset int    // byte offset into the expression
	Line   int    // 1-based line
	Column int    // 1-based column, in characters
	Msg    string // what was wrong, e.g. `expected ")", found AND`
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%v at %d:%d: %s", ErrInvalid, e.Line, e.Column, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *SyntaxError) Unwrap() error { return ErrInvalid }

// errorAt builds a *SyntaxError for the byte offset off of src.
func errorAt(src string, off int, format string, args ...any) error {
	off = min(max(off, 0), len(src))
	line, col := position(src, off)
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// position converts a byte offset into a 1-based line and column. CR, LF
// and CRLF end lines; columns count characters, and each byte of invalid
// UTF-8 counts as one.
func position(src string, off int) (line, col int) {
	line, col = 1, 1
	for i, r := range src[:off] {
		switch {
		case r == '\r' && i+1 < len(src) && src[i+1] == '\n':
			// The '\n' of the CRLF pair ends the line.
		case r == '\n' || r == '\r':
			line, col = line+1, 1
		default:
			col++
		}
	}
	return line, col
}
