package filter

import (
	"strings"
	"testing"
)

// storedProps is Properties over RocketMQ's stored property encoding,
// "key\x01value\x02...", scanned on every Get: what the broker can do
// straight off a record without building a map.
type storedProps string

func (s storedProps) Get(key string) (string, bool) {
	rest := string(s)
	for rest != "" {
		k, after, ok := strings.Cut(rest, "\x01")
		if !ok {
			return "", false
		}
		v, next, _ := strings.Cut(after, "\x02")
		if k == key {
			return v, true
		}
		rest = next
	}
	return "", false
}

func encode(m Map) storedProps {
	var b strings.Builder
	for _, k := range []string{"UNIQ_KEY", "KEYS", "WAIT", "TAGS", "a", "region", "price", "n"} {
		if v, ok := m[k]; ok {
			b.WriteString(k + "\x01" + v + "\x02")
		}
	}
	return storedProps(b.String())
}

var benchMessage = Map{
	"UNIQ_KEY": "7F0000010B5A18B4AAC27D1A2C3B0000",
	"KEYS":     "order-4711",
	"WAIT":     "true",
	"TAGS":     "red",
	"a":        "2",
	"region":   "eu",
	"price":    "19.99",
	"n":        "x",
}

var benchSelectors = []struct{ name, expr string }{
	{"issue-example", "(a BETWEEN 0 AND 3) AND region = 'eu' AND TAGS = 'red'"},
	{"tag-in-10", "TAGS IN ('t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9', 'red')"},
	{"double-compare", "price > 9.99 AND price <= 100.0"},
	{"string-ops", "KEYS STARTSWITH 'order-' AND NOT (region CONTAINS 'us')"},
	{"first-term-false", "region = 'us' AND (a BETWEEN 0 AND 3) AND TAGS = 'red'"},
	{"missing-property", "vip IS NOT NULL OR level > 3"},
	{"eval-error", "n > 5 OR TAGS = 'red'"},
}

// BenchmarkMatch measures Match per message for each selector, over a map
// and over the stored encoding.
func BenchmarkMatch(b *testing.B) {
	stored := encode(benchMessage)
	for _, s := range benchSelectors {
		e, err := Compile(s.expr)
		if err != nil {
			b.Fatal(err)
		}
		for _, props := range []struct {
			name string
			p    Properties
		}{{"map", benchMessage}, {"stored", stored}} {
			b.Run(s.name+"/"+props.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					e.Match(props.p)
				}
			})
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchSelectors[0].expr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(128)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compile(benchSelectors[0].expr); err != nil {
			b.Fatal(err)
		}
	}
}
