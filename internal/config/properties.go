package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxFileSize bounds the size of a properties file.
const MaxFileSize = 16 << 20

var (
	// ErrSyntax is wrapped by the errors of malformed properties input.
	ErrSyntax = errors.New("config: malformed properties")
	// ErrTooLarge is returned for input over MaxFileSize.
	ErrTooLarge = errors.New("config: properties file too large")
)

// Properties is a set of keys and values, each remembering where it was set
// so that errors can point there. The zero value is empty and ready to use.
type Properties struct {
	entries map[string]entry
}

type entry struct {
	value  string
	origin string // "broker.conf:12", "command line", ...
}

// Load reads the properties file at path.
func Load(path string) (*Properties, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return LoadReader(f, path)
}

// LoadReader reads properties from r. name says where they come from in
// error messages and origins, usually the file name.
func LoadReader(r io.Reader, name string) (*Properties, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, name, MaxFileSize)
	}
	return Parse(data, name)
}

// Parse reads properties from data; see the package documentation for the
// format. name is used as in LoadReader.
func Parse(data []byte, name string) (*Properties, error) {
	p := &Properties{}
	text := decode(data)
	lr := lineReader{src: text, line: 1}
	for {
		logical, line, ok := lr.next()
		if !ok {
			return p, nil
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescape(rawKey)
		if err == nil {
			var value string
			if value, err = unescape(rawValue); err == nil {
				p.Set(key, value, fmt.Sprintf("%s:%d", name, line))
				continue
			}
		}
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrSyntax, name, line, err)
	}
}

// decode turns the file into a UTF-8 string: UTF-8 without a leading byte
// order mark, or ISO-8859-1 when the bytes are not valid UTF-8.
func decode(data []byte) string {
	if utf8.Valid(data) {
		return strings.TrimPrefix(string(data), "\uFEFF")
	}
	var b strings.Builder
	b.Grow(len(data) + len(data)/4)
	for _, c := range data {
		b.WriteRune(rune(c)) // ISO-8859-1 is the first 256 code points
	}
	return b.String()
}

// Get returns the value of key as written, and whether it is set.
func (p *Properties) Get(key string) (string, bool) {
	e, ok := p.entries[key]
	return e.value, ok
}

// Origin returns where key was last set, such as "broker.conf:12", or ""
// if it is not set.
func (p *Properties) Origin(key string) string {
	return p.entries[key].origin
}

// Set sets key to value, replacing an earlier value; origin says where the
// value comes from.
func (p *Properties) Set(key, value, origin string) {
	if p.entries == nil {
		p.entries = make(map[string]entry)
	}
	p.entries[key] = entry{value: value, origin: origin}
}

// Len returns the number of keys.
func (p *Properties) Len() int { return len(p.entries) }

// Keys returns the keys in sorted order.
func (p *Properties) Keys() []string {
	keys := make([]string, 0, len(p.entries))
	for k := range p.entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Override sets each "key=value" pair over what p holds, as command-line
// flags override the file. The key is trimmed; the value is taken as is,
// without escapes. origin names the source, e.g. "command line".
func (p *Properties) Override(origin string, pairs ...string) error {
	for _, pair := range pairs {
		key, value, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return fmt.Errorf("%w: %s: %q is not key=value", ErrSyntax, origin, pair)
		}
		p.Set(key, value, origin)
	}
	return nil
}
