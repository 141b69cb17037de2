package remoting

import (
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/gorocket/gorocket/internal/protocol"
)

// appendJSONHeader appends the JSON serialization of c's header, keys in
// fastjson's order. It cannot fail: every Command has a JSON form.
func appendJSONHeader(b []byte, c *Command) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	b = append(b, `,"extFields":{`...)
	for i, kv := range c.ExtFields {
		if i > 0 {
			b = append(b, ',')
		}
		b = protocol.AppendJSONString(b, kv.Key)
		b = append(b, ':')
		b = protocol.AppendJSONString(b, kv.Value)
	}
	b = append(b, `},"flag":`...)
	b = strconv.AppendInt(b, int64(c.Flag), 10)
	b = append(b, `,"language":"`...)
	b = append(b, c.Language.Name()...)
	b = append(b, `","opaque":`...)
	b = strconv.AppendInt(b, int64(c.Opaque), 10)
	if c.Remark != "" {
		b = append(b, `,"remark":`...)
		b = protocol.AppendJSONString(b, c.Remark)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(c.Version), 10)
	return append(b, '}')
}

// maxJSONDepth bounds nesting inside values the decoder skips.
const maxJSONDepth = 32

// jsonHeader decodes a JSON header. Strings without escapes alias the
// input; the rest are built fresh.
type jsonHeader struct {
	s string
	i int
}

func decodeJSONHeader(s string, c *Command, fields *[]protocol.ExtField) error {
	d := jsonHeader{s: s}
	d.ws()
	if !d.eat('{') {
		return d.fail("expected '{'")
	}
	d.ws()
	if !d.eat('}') {
		for {
			d.ws()
			key, err := d.str()
			if err != nil {
				return err
			}
			d.ws()
			if !d.eat(':') {
				return d.fail("expected ':'")
			}
			d.ws()
			switch key {
			case "code":
				c.Code, err = d.int32()
			case "language":
				c.Language, err = d.language()
			case "version":
				c.Version, err = d.int32()
			case "opaque":
				c.Opaque, err = d.int32()
			case "flag":
				c.Flag, err = d.int32()
			case "remark":
				c.Remark, err = d.nullableStr()
			case "extFields":
				err = d.extFields(fields)
			default:
				err = d.skip(0)
			}
			if err != nil {
				return err
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat('}') {
				break
			}
			return d.fail("expected ',' or '}'")
		}
	}
	d.ws()
	if d.i != len(d.s) {
		return d.fail("trailing bytes after header")
	}
	return nil
}

func (d *jsonHeader) fail(msg string) error {
	return badFrame("JSON header: %s at offset %d", msg, d.i)
}

func (d *jsonHeader) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonHeader) eat(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonHeader) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *jsonHeader) literal(word string) bool {
	if strings.HasPrefix(d.s[d.i:], word) {
		d.i += len(word)
		return true
	}
	return false
}

// str reads a JSON string.
func (d *jsonHeader) str() (string, error) {
	if !d.eat('"') {
		return "", d.fail("expected string")
	}
	// Header strings are short: a byte loop beats IndexByte's setup.
	for j := d.i; j < len(d.s); j++ {
		switch d.s[j] {
		case '"':
			s := d.s[d.i:j]
			d.i = j + 1
			return s, nil
		case '\\':
			return d.strEscaped()
		}
	}
	return "", d.fail("unterminated string")
}

// strEscaped decodes a string containing escapes; d.i is just past the
// opening quote.
func (d *jsonHeader) strEscaped() (string, error) {
	// The raw length bounds the decoded length (every escape is at least
	// as long as what it stands for), so one allocation does.
	raw := 0
	for j := d.i; j < len(d.s) && d.s[j] != '"'; j++ {
		if d.s[j] == '\\' {
			j++
		}
		raw = j + 1 - d.i
	}
	b := make([]byte, 0, raw)
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			b = append(b, d.s[start:d.i]...)
			d.i++
			// b is never written again; the string may alias it.
			return unsafe.String(unsafe.SliceData(b), len(b)), nil
		case c != '\\':
			d.i++
			continue
		}
		b = append(b, d.s[start:d.i]...)
		d.i++
		if d.i >= len(d.s) {
			break
		}
		e := d.s[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.fail("bad \\u escape")
			}
			if r >= 0xD800 && r < 0xDC00 {
				// A high surrogate must be followed by \u and a low one.
				save := d.i
				if d.literal(`\u`) {
					if r2, ok := d.hex4(); ok && r2 >= 0xDC00 && r2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					} else {
						d.i, r = save, utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", d.fail("bad escape")
		}
		start = d.i
	}
	return "", d.fail("unterminated string")
}

func (d *jsonHeader) hex4() (rune, bool) {
	if len(d.s)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.s[d.i : d.i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r, true
}

// number returns the text of a JSON number at d.i.
func (d *jsonHeader) number() string {
	start := d.i
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	return d.s[start:d.i]
}

// int32 reads an integer that fits int32: a number, a quoted number, or
// null (zero).
func (d *jsonHeader) int32() (int32, error) {
	var text string
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return 0, err
		}
		text = s
	case c == '-' || '0' <= c && c <= '9':
		text = d.number()
	case d.literal("null"):
		return 0, nil
	default:
		return 0, d.fail("expected integer")
	}
	n, err := strconv.ParseInt(text, 10, 32)
	if err != nil {
		return 0, d.fail("bad integer")
	}
	return int32(n), nil
}

// language reads the language: an enum name, its number, or null (Java's
// default, JAVA). Names this code does not know become OTHER.
func (d *jsonHeader) language() (protocol.LanguageCode, error) {
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return 0, err
		}
		l, _ := protocol.ParseLanguage(s)
		return l, nil
	case c == '-' || '0' <= c && c <= '9':
		n, err := strconv.ParseUint(d.number(), 10, 8)
		if err != nil {
			return 0, d.fail("bad language number")
		}
		return protocol.LanguageCode(n), nil
	case d.literal("null"):
		return protocol.LanguageJava, nil
	}
	return 0, d.fail("expected language")
}

func (d *jsonHeader) nullableStr() (string, error) {
	if d.literal("null") {
		return "", nil
	}
	return d.str()
}

// extFields reads the extFields object (or null) into fields. String values
// are kept; null values are dropped; other scalars keep their literal text.
func (d *jsonHeader) extFields(fields *[]protocol.ExtField) error {
	if d.literal("null") {
		return nil
	}
	if !d.eat('{') {
		return d.fail("extFields: expected object")
	}
	d.ws()
	if d.eat('}') {
		return nil
	}
	for {
		d.ws()
		key, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		if !d.eat(':') {
			return d.fail("expected ':'")
		}
		d.ws()
		var val string
		switch c := d.peek(); {
		case c == '"':
			if val, err = d.str(); err != nil {
				return err
			}
			*fields = append(*fields, protocol.ExtField{Key: key, Value: val})
		case d.literal("null"):
		case c == '{' || c == '[':
			return d.fail("extFields: nested value")
		default:
			start := d.i
			if err := d.skip(0); err != nil {
				return err
			}
			*fields = append(*fields, protocol.ExtField{Key: key, Value: d.s[start:d.i]})
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			return nil
		}
		return d.fail("extFields: expected ',' or '}'")
	}
}

// skip passes over one JSON value of any kind.
func (d *jsonHeader) skip(depth int) error {
	if depth > maxJSONDepth {
		return d.fail("nesting too deep")
	}
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.i++
		d.ws()
		if d.eat(closer) {
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if _, err := d.str(); err != nil {
					return err
				}
				d.ws()
				if !d.eat(':') {
					return d.fail("expected ':'")
				}
				d.ws()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			if d.eat(closer) {
				return nil
			}
			return d.fail("expected ',' or closing bracket")
		}
	case c == '-' || '0' <= c && c <= '9':
		if d.number() == "" {
			return d.fail("bad number")
		}
		return nil
	case d.literal("true"), d.literal("false"), d.literal("null"):
		return nil
	}
	return d.fail("unexpected byte")
}
