package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrTarget reports a programming error: Apply or Dump was given
	// something other than a pointer to a struct, or a struct whose tags
	// it cannot serve.
	ErrTarget = errors.New("config: bad target")
	// ErrValue is wrapped by every *ValueError.
	ErrValue = errors.New("config: invalid value")
)

// ValueError is a value that does not convert to its field's type.
type ValueError struct {
	Key    string
	Value  string
	Origin string // where the value was set, e.g. "broker.conf:12"
	Want   string // what was expected, e.g. "an integer (int32)"
}

func (e *ValueError) Error() string {
	where := ""
	if e.Origin != "" {
		where = e.Origin + ": "
	}
	return fmt.Sprintf("config: %s%s: %q is not %s", where, e.Key, e.Value, e.Want)
}

// Unwrap returns ErrValue.
func (e *ValueError) Unwrap() error { return ErrValue }

// field is one tagged struct field.
type field struct {
	key  string
	sep  string // []string only
	path string // Go field path, for messages: "BrokerOptions.Store.FlushInterval"
	v    reflect.Value
}

var durationType = reflect.TypeFor[time.Duration]()

// fieldsOf lists the tagged fields of target, which must be a non-nil
// pointer to a struct.
func fieldsOf(target any) ([]field, error) {
	rv := reflect.ValueOf(target)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %T is not a non-nil pointer to a struct", ErrTarget, target)
	}
	var fields []field
	if err := walk(rv.Elem(), rv.Elem().Type().Name(), &fields); err != nil {
		return nil, err
	}
	seen := make(map[string]string, len(fields))
	for _, f := range fields {
		if other, dup := seen[f.key]; dup {
			return nil, fmt.Errorf("%w: %s and %s both claim %q", ErrTarget, other, f.path, f.key)
		}
		seen[f.key] = f.path
	}
	return fields, nil
}

func walk(v reflect.Value, path string, fields *[]field) error {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		fpath := path + "." + sf.Name
		tag, tagged := sf.Tag.Lookup("prop")
		if tag == "-" {
			continue
		}
		if !tagged {
			if sf.Type.Kind() == reflect.Struct {
				if err := walk(v.Field(i), fpath, fields); err != nil {
					return err
				}
			}
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		f := field{key: key, path: fpath, v: v.Field(i)}
		if key == "" {
			return fmt.Errorf("%w: %s has an empty prop tag", ErrTarget, fpath)
		}
		if opts != "" {
			sep, ok := strings.CutPrefix(opts, "sep=")
			if !ok || sep == "" || sf.Type != reflect.TypeFor[[]string]() {
				return fmt.Errorf("%w: %s: unknown prop tag option %q (only []string takes sep=)", ErrTarget, fpath, opts)
			}
			f.sep = sep
		}
		if err := checkType(sf.Type); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrTarget, fpath, err)
		}
		*fields = append(*fields, f)
	}
	return nil
}

func checkType(t reflect.Type) error {
	if t == durationType {
		return errors.New("time.Duration is not supported: use an integer of milliseconds, as RocketMQ does")
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Float32, reflect.Float64:
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return nil
		}
	}
	return fmt.Errorf("type %s is not supported", t)
}

// Apply sets the tagged fields of each target, a pointer to a struct, from
// p, and returns the keys of p that no field claims, sorted. It converts
// every value first and changes nothing if any fails: the error then joins
// one *ValueError per bad value, in key order. unknown is valid even when
// err is not nil.
func Apply(p *Properties, targets ...any) (unknown []string, err error) {
	type assignment struct {
		f field
		v reflect.Value
	}
	var (
		plan    []assignment
		bad     []ValueError
		claimed = make(map[string]bool)
	)
	for _, target := range targets {
		fields, err := fieldsOf(target)
		if err != nil {
			return nil, err
		}
		for _, f := range fields {
			raw, ok := p.Get(f.key)
			if !ok {
				continue
			}
			claimed[f.key] = true
			v, want := convert(raw, f)
			if want != "" {
				ve := ValueError{Key: f.key, Value: raw, Origin: p.Origin(f.key), Want: want}
				if !slices.Contains(bad, ve) { // a key claimed twice with the same type
					bad = append(bad, ve)
				}
				continue
			}
			plan = append(plan, assignment{f, v})
		}
	}
	for _, k := range p.Keys() {
		if !claimed[k] {
			unknown = append(unknown, k)
		}
	}
	if len(bad) > 0 {
		slices.SortStableFunc(bad, func(a, b ValueError) int { return strings.Compare(a.Key, b.Key) })
		errs := make([]error, len(bad))
		for i := range bad {
			errs[i] = &bad[i]
		}
		return unknown, errors.Join(errs...)
	}
	for _, a := range plan {
		a.f.v.Set(a.v)
	}
	return unknown, nil
}

// convert parses raw for the field. On failure it returns what it wanted,
// for the error message.
func convert(raw string, f field) (reflect.Value, string) {
	t := f.v.Type()
	s := trim(raw)
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch {
		case strings.EqualFold(s, "true"):
			v.SetBool(true)
		case strings.EqualFold(s, "false"):
			v.SetBool(false)
		default:
			return v, "a boolean (true or false)"
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return v, fmt.Sprintf("an integer (%s)", t.Kind())
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, t.Bits())
		if err != nil || strings.Trim(s, "+-.0123456789eE") != "" {
			return v, "a decimal number"
		}
		v.SetFloat(n)
	case reflect.Slice:
		var list []string
		for e := range strings.SplitSeq(s, f.separator()) {
			if e = trim(e); e != "" {
				list = append(list, e)
			}
		}
		v = reflect.ValueOf(slices.Clip(list)).Convert(t)
	}
	return v, ""
}

func (f field) separator() string {
	if f.sep != "" {
		return f.sep
	}
	return ","
}

// trim is Java's String.trim: it removes every character up to ' ' at
// both ends.
func trim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
