package message

import (
	"bytes"
	"sort"
)

// MaxPropertiesLength is the largest properties string a record can carry:
// PROPLEN is written as a Java short.
const MaxPropertiesLength = 32767

// AppendProperty appends one key\x01value\x02 pair to dst. It does not
// check the characters: a key or value containing a separator produces a
// string that decodes differently, exactly as in Java.
func AppendProperty(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, NameValueSeparator)
	dst = append(dst, value...)
	return append(dst, PropertySeparator)
}

// EncodeProperties encodes props as a properties string, keys sorted so
// the output is deterministic. Empty keys and values are skipped: Java
// would drop them on decode anyway.
func EncodeProperties(props map[string]string) []byte {
	if len(props) == 0 {
		return nil
	}
	keys := make([]string, 0, len(props))
	n := 0
	for k, v := range props {
		if k == "" || v == "" {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(keys)
	dst := make([]byte, 0, n)
	for _, k := range keys {
		dst = AppendProperty(dst, k, props[k])
	}
	return dst
}

// forEachProperty calls fn for every pair Java's string2messageProperties
// keeps, in order of appearance. It stops early when fn returns false.
func forEachProperty(props []byte, fn func(k, v []byte) bool) {
	for len(props) > 0 {
		end := bytes.IndexByte(props, PropertySeparator)
		pair := props
		if end < 0 {
			props = nil
		} else {
			pair, props = props[:end], props[end+1:]
		}
		sep := bytes.IndexByte(pair, NameValueSeparator)
		// Key and value must both be non-empty.
		if sep > 0 && sep < len(pair)-1 {
			if !fn(pair[:sep], pair[sep+1:]) {
				return
			}
		}
	}
}

// ParseProperties decodes a properties string into a map with Java's
// rules (see the package documentation). It never fails: malformed pairs
// are dropped, as Java drops them.
func ParseProperties(props []byte) map[string]string {
	m := make(map[string]string, 8)
	forEachProperty(props, func(k, v []byte) bool {
		m[string(k)] = string(v)
		return true
	})
	return m
}

// PropertyValue returns the value of key in props, with the decoding rules
// of ParseProperties (a later duplicate wins), and whether it was found.
// It does not allocate; the returned slice aliases props.
func PropertyValue(props []byte, key string) ([]byte, bool) {
	var (
		val   []byte
		found bool
	)
	for len(props) > 0 {
		end := bytes.IndexByte(props, PropertySeparator)
		pair := props
		if end < 0 {
			props = nil
		} else {
			pair, props = props[:end], props[end+1:]
		}
		// Cheap reject before looking for the name/value separator.
		if len(pair) < len(key)+2 || pair[len(key)] != NameValueSeparator || string(pair[:len(key)]) != key {
			continue
		}
		// The first 0x01 must be the one after the key (keys cannot hold it
		// in Java's reading), and the value must be non-empty.
		if len(key) == 0 || bytes.IndexByte(pair[:len(key)], NameValueSeparator) >= 0 {
			continue
		}
		val, found = pair[len(key)+1:], true
	}
	return val, found
}

// PropertyString is PropertyValue returning a string ("" when absent).
func PropertyString(props []byte, key string) string {
	v, _ := PropertyValue(props, key)
	return string(v)
}
