package protocol

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Header is implemented by headers that convert themselves without
// reflection (the hot paths).
type Header interface {
	// DecodeExt fills the header from extFields.
	DecodeExt(f ExtFields) error
	// AppendExt appends the header's fields to dst.
	AppendExt(dst ExtFields) ExtFields
}

// DecodeHeader fills the header h points to from f. h is a Header or a
// pointer to a struct whose fields carry `ext:"name[,required][,omitempty]"`
// tags; untagged fields are left alone. Supported field types: string,
// int32, int64, bool, and pointers to them (nil when the key is absent).
// Missing required fields and values that do not parse give a *FieldError.
// Keys h does not declare are ignored, as Java ignores them.
func DecodeHeader(f ExtFields, h any) error {
	if hh, ok := h.(Header); ok {
		return hh.DecodeExt(f)
	}
	v := reflect.ValueOf(h)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("protocol: DecodeHeader needs a pointer to a struct, got %T", h))
	}
	v = v.Elem()
	for _, fi := range layoutOf(v.Type()) {
		s, ok := f.Get(fi.name)
		if !ok {
			if fi.required {
				return missing(fi.name)
			}
			continue
		}
		if err := fi.set(v.Field(fi.index), s); err != nil {
			return err
		}
	}
	return nil
}

// EncodeHeader appends h's fields to dst. Strings are written when
// non-empty, pointers when non-nil, numbers and booleans always (unless
// omitempty and zero); required fields always.
func EncodeHeader(dst ExtFields, h any) ExtFields {
	if hh, ok := h.(Header); ok {
		return hh.AppendExt(dst)
	}
	v := reflect.ValueOf(h)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("protocol: EncodeHeader needs a struct, got %T", h))
	}
	for _, fi := range layoutOf(v.Type()) {
		if s, ok := fi.get(v.Field(fi.index)); ok {
			dst = append(dst, ExtField{fi.name, s})
		}
	}
	return dst
}

type fieldKind uint8

const (
	kindString fieldKind = iota
	kindInt32
	kindInt64
	kindBool
)

type fieldInfo struct {
	index     int
	name      string
	kind      fieldKind
	pointer   bool
	required  bool
	omitempty bool
}

var layouts sync.Map // reflect.Type -> []fieldInfo

func layoutOf(t reflect.Type) []fieldInfo {
	if l, ok := layouts.Load(t); ok {
		return l.([]fieldInfo)
	}
	var out []fieldInfo
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("ext")
		if !ok || tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		fi := fieldInfo{index: i, name: parts[0]}
		if fi.name == "" {
			panic(fmt.Sprintf("protocol: %s.%s: empty ext name", t, sf.Name))
		}
		for _, opt := range parts[1:] {
			switch opt {
			case "required":
				fi.required = true
			case "omitempty":
				fi.omitempty = true
			default:
				panic(fmt.Sprintf("protocol: %s.%s: unknown ext option %q", t, sf.Name, opt))
			}
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			fi.pointer = true
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.String:
			fi.kind = kindString
		case reflect.Int32:
			fi.kind = kindInt32
		case reflect.Int64:
			fi.kind = kindInt64
		case reflect.Bool:
			fi.kind = kindBool
		default:
			panic(fmt.Sprintf("protocol: %s.%s: unsupported header field type %s", t, sf.Name, sf.Type))
		}
		out = append(out, fi)
	}
	l, _ := layouts.LoadOrStore(t, out)
	return l.([]fieldInfo)
}

func (fi *fieldInfo) set(v reflect.Value, s string) error {
	if fi.pointer {
		p := reflect.New(v.Type().Elem())
		v.Set(p)
		v = p.Elem()
	}
	switch fi.kind {
	case kindString:
		v.SetString(s)
	case kindInt32:
		n, err := ParseInt32(fi.name, s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case kindInt64:
		n, err := ParseInt64(fi.name, s)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case kindBool:
		v.SetBool(ParseBool(s))
	}
	return nil
}

func (fi *fieldInfo) get(v reflect.Value) (string, bool) {
	if fi.pointer {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	} else if v.IsZero() && (fi.omitempty || fi.kind == kindString && !fi.required) {
		return "", false
	}
	switch fi.kind {
	case kindString:
		return v.String(), true
	case kindInt32, kindInt64:
		return strconv.FormatInt(v.Int(), 10), true
	default:
		return strconv.FormatBool(v.Bool()), true
	}
}
