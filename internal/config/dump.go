package config

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Entry is one key and its effective value.
type Entry struct {
	Key   string
	Value string
}

// Dump lists every tagged field of the targets with its current value,
// formatted so that Apply reads it back, sorted by key. A key that several
// targets share is listed once if they agree and once per value if not.
func Dump(targets ...any) ([]Entry, error) {
	var entries []Entry
	for _, target := range targets {
		fields, err := fieldsOf(target)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			entries = append(entries, Entry{Key: f.key, Value: format(f)})
		}
	}
	slices.SortStableFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Key, b.Key) })
	var out []Entry
	for _, e := range entries {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func format(f field) string {
	v := f.v
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())
	case reflect.Slice:
		return strings.Join(v.Convert(reflect.TypeFor[[]string]()).Interface().([]string), f.separator())
	}
	return "" // unreachable: fieldsOf checked the type
}

// Print writes Dump's entries as "key=value" lines, escaped where needed so
// that the output is itself a properties file that loads to the same
// values. This is "gorocket broker -p".
func Print(w io.Writer, targets ...any) error {
	entries, err := Dump(targets...)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		fmt.Fprintf(bw, "%s=%s\n", escape(e.Key, true), escape(e.Value, false))
	}
	return bw.Flush()
}

// escape writes s as a key or value of a properties file: backslashes and
// control characters always, the separators and a leading comment
// character in keys, and leading blanks in values.
func escape(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < ' ':
			fmt.Fprintf(&b, `\u%04X`, r)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case key && (r == '=' || r == ':' || (i == 0 && (r == '#' || r == '!'))):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
