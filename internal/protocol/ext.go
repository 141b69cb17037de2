package protocol

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// ExtField is one entry of a command's custom header.
type ExtField struct {
	Key, Value string
}

// ExtFields is a command's custom header, the extFields map of
// RemotingCommand: string keys to string values, kept in wire order. It is a
// slice rather than a map because every request carries one and a slice
// decodes with a single allocation; headers have a dozen entries, so lookups
// are short scans.
//
// Keys are unique when built with Set. A decoded header may repeat a key
// (JSON allows it); Get returns the last value, which is what a map built
// in wire order would hold.
type ExtFields []ExtField

// Get returns the value for key and whether it is present.
func (f ExtFields) Get(key string) (string, bool) {
	for i := len(f) - 1; i >= 0; i-- {
		if f[i].Key == key {
			return f[i].Value, true
		}
	}
	return "", false
}

// Value returns the value for key, or "" when absent.
func (f ExtFields) Value(key string) string {
	v, _ := f.Get(key)
	return v
}

// Set sets key to value, replacing an existing entry.
func (f *ExtFields) Set(key, value string) {
	s := *f
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Key == key {
			s[i].Value = value
			return
		}
	}
	*f = append(s, ExtField{key, value})
}

// Delete removes every entry for key.
func (f *ExtFields) Delete(key string) {
	s := (*f)[:0]
	for _, kv := range *f {
		if kv.Key != key {
			s = append(s, kv)
		}
	}
	clear((*f)[len(s):])
	*f = s
}

// Map returns the fields as a map (last value wins).
func (f ExtFields) Map() map[string]string {
	m := make(map[string]string, len(f))
	for _, kv := range f {
		m[kv.Key] = kv.Value
	}
	return m
}

// ExtFieldsFromMap returns the entries of m sorted by key.
func ExtFieldsFromMap(m map[string]string) ExtFields {
	f := make(ExtFields, 0, len(m))
	for k, v := range m {
		f = append(f, ExtField{k, v})
	}
	sort.Slice(f, func(i, j int) bool { return f[i].Key < f[j].Key })
	return f
}

// Header errors. Decoding a header wraps one of these in a *FieldError that
// names the field; its message is what a server puts in the remark.
var (
	ErrMissingField = errors.New("protocol: missing required header field")
	ErrInvalidField = errors.New("protocol: invalid header field")
)

// FieldError reports a header field that is missing or does not parse.
type FieldError struct {
	Field string
	Value string // the offending value; empty when missing
	Err   error  // ErrMissingField or ErrInvalidField
}

func (e *FieldError) Error() string {
	if errors.Is(e.Err, ErrMissingField) {
		return "protocol: missing required header field \"" + e.Field + "\""
	}
	return "protocol: invalid header field \"" + e.Field + "\": " + strconv.Quote(clip(e.Value))
}

func (e *FieldError) Unwrap() error { return e.Err }

func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

func missing(field string) error {
	return &FieldError{Field: field, Err: ErrMissingField}
}

func invalid(field, value string) error {
	return &FieldError{Field: field, Value: value, Err: ErrInvalidField}
}

// ParseInt32 parses a header value as Java's Integer.parseInt does: an
// optional sign and decimal digits, nothing else.
func ParseInt32(field, s string) (int32, error) {
	n, ok := parseDecimal(s, 32)
	if !ok {
		return 0, invalid(field, s)
	}
	return int32(n), nil
}

// ParseInt64 parses a header value as Java's Long.parseLong does.
func ParseInt64(field, s string) (int64, error) {
	n, ok := parseDecimal(s, 64)
	if !ok {
		return 0, invalid(field, s)
	}
	return n, nil
}

// ParseBool parses a header value as Java's Boolean.parseBoolean does:
// "true" in any case is true, everything else is false. It never fails,
// because Java never rejects a boolean.
func ParseBool(s string) bool {
	return len(s) == 4 && strings.EqualFold(s, "true")
}

// parseDecimal is strconv.ParseInt restricted to Java's syntax (no
// underscores, no base prefixes) and without allocating on failure.
func parseDecimal(s string, bits uint) (int64, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if len(s) > 19 {
		return 0, false
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if u > limit {
			return 0, false
		}
		return -int64(u), true
	}
	if u >= limit {
		return 0, false
	}
	return int64(u), true
}

// AppendInt appends key=decimal(v).
func (f ExtFields) AppendInt(key string, v int64) ExtFields {
	return append(f, ExtField{key, strconv.FormatInt(v, 10)})
}

// AppendBool appends key="true"/"false".
func (f ExtFields) AppendBool(key string, v bool) ExtFields {
	return append(f, ExtField{key, strconv.FormatBool(v)})
}
