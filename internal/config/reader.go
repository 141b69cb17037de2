package config

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// isBlank reports whether c separates things on a line: Java's space, tab
// and form feed.
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// lineReader splits the input into logical lines, joining continued lines
// and skipping blank and comment lines.
type lineReader struct {
	src  string
	pos  int
	line int // 1-based number of the natural line at pos
}

// next returns the next logical line, raw (escapes still in it), and the
// number of the natural line it starts on.
func (r *lineReader) next() (logical string, line int, ok bool) {
	for {
		r.skipBlanks()
		if r.pos == len(r.src) {
			return "", 0, false
		}
		if c := r.src[r.pos]; c == '#' || c == '!' {
			r.restOfLine()
			if !r.endLine() {
				return "", 0, false
			}
			continue
		}
		if !r.endLine() {
			break // neither blank nor a comment: the logical line starts here
		}
	}
	line = r.line
	var b strings.Builder
	for {
		seg := r.restOfLine()
		if !continues(seg) {
			b.WriteString(seg)
			r.endLine()
			return b.String(), line, true
		}
		b.WriteString(seg[:len(seg)-1])
		if !r.endLine() {
			return b.String(), line, true // a backslash at the very end is dropped
		}
		r.skipBlanks()
	}
}

func (r *lineReader) skipBlanks() {
	for r.pos < len(r.src) && isBlank(r.src[r.pos]) {
		r.pos++
	}
}

// restOfLine returns the text up to the line break or the end of input.
func (r *lineReader) restOfLine() string {
	start := r.pos
	if i := strings.IndexAny(r.src[start:], "\r\n"); i >= 0 {
		r.pos += i
	} else {
		r.pos = len(r.src)
	}
	return r.src[start:r.pos]
}

// endLine consumes a line break (LF, CR or CRLF) and reports whether there
// was one.
func (r *lineReader) endLine() bool {
	switch {
	case strings.HasPrefix(r.src[r.pos:], "\r\n"):
		r.pos += 2
	case r.pos < len(r.src) && (r.src[r.pos] == '\r' || r.src[r.pos] == '\n'):
		r.pos++
	default:
		return false
	}
	r.line++
	return true
}

// continues reports whether a line ends in an odd number of backslashes.
func continues(seg string) bool {
	n := len(seg) - len(strings.TrimRight(seg, `\`))
	return n%2 == 1
}

// splitKeyValue splits a logical line as Properties.load does: the key ends
// at the first unescaped '=', ':' or blank; then blanks, at most one '=' or
// ':', and blanks again precede the value.
func splitKeyValue(line string) (key, value string) {
	end, escaped := len(line), false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !escaped && (c == '=' || c == ':' || isBlank(c)) {
			end = i
			break
		}
		escaped = c == '\\' && !escaped
	}
	key, rest := line[:end], line[end:]
	sep := false
	for rest != "" {
		c := rest[0]
		if isBlank(c) {
			rest = rest[1:]
			continue
		}
		if !sep && (c == '=' || c == ':') {
			sep = true
			rest = rest[1:]
			continue
		}
		break
	}
	return key, rest
}

var errUnicodeEscape = errors.New(`malformed \uXXXX escape`)

// unescape decodes \t \n \r \f, \uXXXX and \<any character>.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break // a lone backslash at the end stands for nothing
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return "", errUnicodeEscape
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := lowSurrogate(s[i+1:]); ok && r < 0xDC00 {
					r = utf16.DecodeRune(r, r2)
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c) // the first byte of whatever follows; the rest copy as is
		}
	}
	return b.String(), nil
}

// lowSurrogate reads a `\uXXXX` that is a low surrogate.
func lowSurrogate(s string) (rune, bool) {
	if !strings.HasPrefix(s, `\u`) {
		return 0, false
	}
	r, ok := hex4(s[2:])
	return r, ok && 0xDC00 <= r && r <= 0xDFFF
}

// hex4 decodes exactly four hex digits at the start of s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
