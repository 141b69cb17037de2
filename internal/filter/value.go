package filter

import (
	"math"
	"strconv"
	"strings"
)

// kind is the Java class a value would have in RocketMQ's evaluator.
type kind uint8

const (
	kNull   kind = iota // null: a missing property, the NULL literal, unknown
	kBool               // java.lang.Boolean; n is 0 or 1
	kInt                // java.lang.Integer; n holds it
	kLong               // java.lang.Long; n holds it
	kDouble             // java.lang.Double; f holds it
	kString             // java.lang.String; s holds it
	kErr                // Java threw: the evaluation is aborted
)

// value is one evaluation result. It is passed by value and never
// allocates.
type value struct {
	kind kind
	n    int64
	f    float64
	s    string
}

var (
	vNull  = value{kind: kNull}
	vTrue  = value{kind: kBool, n: 1}
	vFalse = value{kind: kBool, n: 0}
	vErr   = value{kind: kErr}
)

func boolValue(b bool) value {
	if b {
		return vTrue
	}
	return vFalse
}

func (v value) isTrue() bool  { return v.kind == kBool && v.n != 0 }
func (v value) isFalse() bool { return v.kind == kBool && v.n == 0 }

// not is SQL's NOT: unknown and errors pass through.
func (v value) not() value {
	if v.kind == kBool {
		return boolValue(v.n == 0)
	}
	return v
}

func (v value) isNumber() bool {
	return v.kind == kInt || v.kind == kLong || v.kind == kDouble
}

// literal renders a constant the way the lexer reads it back with the same
// kind: a double always has a '.' or an exponent.
func (v value) literal() string {
	switch v.kind {
	case kNull:
		return "NULL"
	case kBool:
		if v.n != 0 {
			return "TRUE"
		}
		return "FALSE"
	case kInt, kLong:
		return strconv.FormatInt(v.n, 10)
	case kDouble:
		s := strconv.FormatFloat(v.f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEIN") { // I, N: Inf and NaN never come from literals
			s += ".0"
		}
		return s
	case kString:
		return quote(v.s)
	}
	return "<error>"
}

// compare orders l and r as RocketMQ's ComparisonExpression.__compare does
// with string conversion on. Both are non-null. ok is false where Java
// throws: a string that does not parse as the other side's number type,
// and a Boolean on the left of a string (Java casts the Boolean to String).
// Unlike types with no conversion compare as -1.
func compare(l, r value) (c int, ok bool) {
	if l.kind == r.kind {
		switch l.kind {
		case kBool, kInt, kLong:
			return cmpInt(l.n, r.n), true
		case kDouble:
			return compareDouble(l.f, r.f), true
		case kString:
			return strings.Compare(l.s, r.s), true
		}
		return -1, true
	}
	switch l.kind {
	case kBool:
		return -1, r.kind != kString
	case kInt, kLong:
		switch r.kind {
		case kInt, kLong:
			return cmpInt(l.n, r.n), true
		case kDouble:
			return compareDouble(float64(l.n), r.f), true
		case kString:
			n, ok := parseJavaInt(r.s, l.bits())
			return cmpInt(l.n, n), ok
		}
	case kDouble:
		switch r.kind {
		case kInt, kLong:
			return compareDouble(l.f, float64(r.n)), true
		case kString:
			f, ok := parseJavaDouble(r.s)
			return compareDouble(l.f, f), ok
		}
	case kString:
		switch r.kind {
		case kBool:
			var n int64
			if strings.EqualFold(l.s, "true") { // Boolean.valueOf
				n = 1
			}
			return cmpInt(n, r.n), true
		case kInt, kLong:
			n, ok := parseJavaInt(l.s, r.bits())
			return cmpInt(n, r.n), ok
		case kDouble:
			f, ok := parseJavaDouble(l.s)
			return compareDouble(f, r.f), ok
		}
	}
	return -1, true
}

// bits is the width of an integer kind: Integer.valueOf or Long.valueOf.
func (v value) bits() int {
	if v.kind == kInt {
		return 32
	}
	return 64
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareDouble is Java's Double.compare: a total order in which
// -0.0 < 0.0 and NaN equals NaN and is above +Inf.
func compareDouble(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return cmpInt(javaDoubleBits(a), javaDoubleBits(b))
}

// javaDoubleBits is Double.doubleToLongBits: the IEEE bits with every NaN
// collapsed to the canonical one.
func javaDoubleBits(f float64) int64 {
	if f != f {
		return 0x7ff8000000000000
	}
	return int64(math.Float64bits(f))
}

// parseJavaInt is Integer.parseInt (bits 32) or Long.parseLong (bits 64):
// an optional sign and at least one decimal digit, nothing else, in range.
func parseJavaInt(s string, bits int) (int64, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg, i = s[0] == '-', 1
	}
	if i == len(s) {
		return 0, false
	}
	limit := uint64(1)<<(bits-1) - 1 // the largest positive value
	if neg {
		limit++
	}
	var n uint64
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		d := uint64(s[i] - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true // n == limit == 1<<63 wraps to MinInt64, as wanted
	}
	return int64(n), true
}

// parseJavaDouble is Double.parseDouble: surrounding characters up to and
// including ' ' are ignored; then an optional sign and "NaN", "Infinity", a
// decimal with optional exponent, or a 0x hexadecimal with binary exponent,
// either followed by an optional f, F, d or D.
func parseJavaDouble(s string) (float64, bool) {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	body := s
	neg := false
	if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
		neg, body = body[0] == '-', body[1:]
	}
	switch body {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	if n := len(body); n > 0 && strings.IndexByte("fFdD", body[n-1]) >= 0 {
		body = body[:n-1]
		s = s[:len(s)-1]
	}
	if !javaFloatSyntax(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeError(err) {
		return 0, false
	}
	return f, true // out of range: ParseFloat returns ±Inf or 0, as Java does
}

func isRangeError(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// javaFloatSyntax reports whether s (sign and suffix removed) is a Java
// decimal or hexadecimal floating-point string. It is stricter than
// strconv.ParseFloat, which also takes underscores, "inf" and the like.
func javaFloatSyntax(s string) bool {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return hexFloatSyntax(s[2:])
	}
	i, mant := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		mant++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			mant++
		}
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		return exponentSyntax(s[i+1:])
	}
	return i == len(s)
}

func hexFloatSyntax(s string) bool {
	isHex := func(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }
	i, mant := 0, 0
	for ; i < len(s) && isHex(s[i]); i++ {
		mant++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isHex(s[i]); i++ {
			mant++
		}
	}
	if mant == 0 || i == len(s) || s[i] != 'p' && s[i] != 'P' {
		return false
	}
	return exponentSyntax(s[i+1:])
}

// exponentSyntax reports whether s is [+-]?[0-9]+.
func exponentSyntax(s string) bool {
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
