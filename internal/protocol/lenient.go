package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadJSON wraps every NormalizeJSON failure.
var ErrBadJSON = errors.New("protocol: malformed JSON body")

// maxBodyDepth bounds nesting in bodies; RocketMQ's deepest (routes inside
// cluster info inside ...) stay under ten.
const maxBodyDepth = 64

// NormalizeJSON rewrites what fastjson writes into standard JSON:
//
//   - bare map keys, numbers ({0:"a"}) or identifiers ({a:1}), become
//     strings ({"0":"a"});
//   - object and array keys ({{"topic":"t"}:1}) become strings holding
//     their compact JSON text ({"{\"topic\":\"t\"}":1}), which types with
//     such keys (MessageQueue maps) parse back;
//   - whitespace outside strings is dropped.
//
// Standard JSON passes through unchanged apart from whitespace. Nesting is
// bounded; the input is never trusted.
func NormalizeJSON(src []byte) ([]byte, error) {
	n := normalizer{src: src, out: make([]byte, 0, len(src)+len(src)/8)}
	n.ws()
	if err := n.value(0); err != nil {
		return nil, err
	}
	n.ws()
	if n.i != len(n.src) {
		return nil, n.fail("trailing bytes")
	}
	return n.out, nil
}

// UnmarshalLenient is NormalizeJSON followed by json.Unmarshal: the way to
// read a body written by Java (fastjson) or by the Go client.
func UnmarshalLenient(data []byte, v any) error {
	norm, err := NormalizeJSON(data)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(norm, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadJSON, err)
	}
	return nil
}

type normalizer struct {
	src []byte
	i   int
	out []byte
}

func (n *normalizer) fail(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrBadJSON, msg, n.i)
}

func (n *normalizer) ws() {
	for n.i < len(n.src) {
		switch n.src[n.i] {
		case ' ', '\t', '\n', '\r':
			n.i++
		default:
			return
		}
	}
}

func (n *normalizer) peek() byte {
	if n.i < len(n.src) {
		return n.src[n.i]
	}
	return 0
}

func (n *normalizer) value(depth int) error {
	if depth > maxBodyDepth {
		return n.fail("nesting too deep")
	}
	switch c := n.peek(); {
	case c == '{':
		return n.object(depth)
	case c == '[':
		return n.array(depth)
	case c == '"':
		return n.str()
	case c == '-' || isDigit(c):
		return n.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if n.hasPrefix(lit) {
				n.out = append(n.out, lit...)
				n.i += len(lit)
				return nil
			}
		}
	}
	return n.fail("unexpected byte")
}

func (n *normalizer) hasPrefix(s string) bool {
	return len(n.src)-n.i >= len(s) && string(n.src[n.i:n.i+len(s)]) == s
}

func (n *normalizer) object(depth int) error {
	n.i++ // {
	n.out = append(n.out, '{')
	n.ws()
	if n.peek() == '}' {
		n.i++
		n.out = append(n.out, '}')
		return nil
	}
	for {
		n.ws()
		if err := n.key(depth); err != nil {
			return err
		}
		n.ws()
		if n.peek() != ':' {
			return n.fail("expected ':'")
		}
		n.i++
		n.out = append(n.out, ':')
		n.ws()
		if err := n.value(depth + 1); err != nil {
			return err
		}
		n.ws()
		switch n.peek() {
		case ',':
			n.i++
			n.out = append(n.out, ',')
		case '}':
			n.i++
			n.out = append(n.out, '}')
			return nil
		default:
			return n.fail("expected ',' or '}'")
		}
	}
}

func (n *normalizer) array(depth int) error {
	n.i++ // [
	n.out = append(n.out, '[')
	n.ws()
	if n.peek() == ']' {
		n.i++
		n.out = append(n.out, ']')
		return nil
	}
	for {
		n.ws()
		if err := n.value(depth + 1); err != nil {
			return err
		}
		n.ws()
		switch n.peek() {
		case ',':
			n.i++
			n.out = append(n.out, ',')
		case ']':
			n.i++
			n.out = append(n.out, ']')
			return nil
		default:
			return n.fail("expected ',' or ']'")
		}
	}
}

// key writes an object key as a JSON string, whatever form it came in.
func (n *normalizer) key(depth int) error {
	switch c := n.peek(); {
	case c == '"':
		return n.str()
	case c == '{' || c == '[':
		// Normalize the composite key on its own, then quote its text.
		saved := n.out
		n.out = nil
		err := n.value(depth + 1)
		text := n.out
		n.out = saved
		if err != nil {
			return err
		}
		n.out = appendQuoted(n.out, text)
		return nil
	case c == '-' || isDigit(c):
		start := len(n.out)
		if err := n.number(); err != nil {
			return err
		}
		num := string(n.out[start:])
		n.out = append(append(append(n.out[:start], '"'), num...), '"')
		return nil
	case isIdentStart(c):
		start := n.i
		for n.i < len(n.src) && isIdentPart(n.src[n.i]) {
			n.i++
		}
		n.out = append(n.out, '"')
		n.out = append(n.out, n.src[start:n.i]...)
		n.out = append(n.out, '"')
		return nil
	}
	return n.fail("expected object key")
}

// str copies a JSON string, checking its escapes.
func (n *normalizer) str() error {
	start := n.i
	n.i++ // opening quote
	for n.i < len(n.src) {
		switch c := n.src[n.i]; {
		case c == '"':
			n.i++
			n.out = append(n.out, n.src[start:n.i]...)
			return nil
		case c == '\\':
			if n.i+1 >= len(n.src) {
				return n.fail("unterminated string")
			}
			switch n.src[n.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				n.i += 2
			case 'u':
				if len(n.src)-n.i < 6 || !isHex4(n.src[n.i+2:n.i+6]) {
					return n.fail("bad \\u escape")
				}
				n.i += 6
			default:
				return n.fail("bad escape")
			}
		case c < 0x20:
			return n.fail("control character in string")
		default:
			n.i++
		}
	}
	return n.fail("unterminated string")
}

func (n *normalizer) number() error {
	start := n.i
	if n.peek() == '-' {
		n.i++
	}
	digits := n.i
	for n.i < len(n.src) && isDigit(n.src[n.i]) {
		n.i++
	}
	if n.i == digits || n.src[digits] == '0' && n.i-digits > 1 {
		return n.fail("bad number")
	}
	if n.peek() == '.' {
		n.i++
		frac := n.i
		for n.i < len(n.src) && isDigit(n.src[n.i]) {
			n.i++
		}
		if n.i == frac {
			return n.fail("bad number")
		}
	}
	if c := n.peek(); c == 'e' || c == 'E' {
		n.i++
		if c := n.peek(); c == '+' || c == '-' {
			n.i++
		}
		exp := n.i
		for n.i < len(n.src) && isDigit(n.src[n.i]) {
			n.i++
		}
		if n.i == exp {
			return n.fail("bad number")
		}
	}
	// fastjson may suffix longs with L in some modes; accept and drop it.
	text := n.src[start:n.i]
	if c := n.peek(); c == 'L' || c == 'l' {
		n.i++
	}
	n.out = append(n.out, text...)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isHex4(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// appendQuoted appends text as a JSON string. text is normalized JSON, so
// the only bytes to escape are quotes and backslashes.
func appendQuoted(dst, text []byte) []byte {
	dst = append(dst, '"')
	for _, c := range text {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
