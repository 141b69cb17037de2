package message

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePropertiesJavaRules(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"a\x011\x02b\x012\x02", map[string]string{"a": "1", "b": "2"}},
		{"a\x011\x02b\x012", map[string]string{"a": "1", "b": "2"}},     // no trailing separator
		{"\x01v\x02k\x01\x02ok\x01y\x02", map[string]string{"ok": "y"}}, // empty key, empty value dropped
		{"novalue\x02\x02\x02x\x01y\x02", map[string]string{"x": "y"}},  // no 0x01, empty pairs
		{"k\x01a\x01b\x02", map[string]string{"k": "a\x01b"}},           // value keeps later 0x01
		{"k\x011\x02k\x012\x02", map[string]string{"k": "2"}},           // last wins
		{"TAGS\x01TagA\x02KEYS\x01k1 k2\x02", map[string]string{"TAGS": "TagA", "KEYS": "k1 k2"}},
	}
	for _, tc := range cases {
		got := ParseProperties([]byte(tc.in))
		require.Equal(t, tc.want, got, "%q", tc.in)
		for k, v := range tc.want {
			pv, ok := PropertyValue([]byte(tc.in), k)
			require.True(t, ok, "%q in %q", k, tc.in)
			require.Equal(t, v, string(pv))
		}
	}
	_, ok := PropertyValue([]byte("k\x01\x02"), "k")
	require.False(t, ok, "empty value is absent")
	_, ok = PropertyValue([]byte("kk\x01v\x02"), "k")
	require.False(t, ok, "prefix of a key does not match")
	_, ok = PropertyValue([]byte("k\x01v\x02"), "")
	require.False(t, ok)
}

func TestEncodePropertiesRoundTrip(t *testing.T) {
	in := map[string]string{"b": "2", "a": "1", "": "x", "e": ""}
	enc := EncodeProperties(in)
	require.Equal(t, "a\x011\x02b\x012\x02", string(enc))
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, ParseProperties(enc))
	require.Nil(t, EncodeProperties(nil))
}

func TestPropertyValueDoesNotAllocate(t *testing.T) {
	props := EncodeProperties(map[string]string{"TAGS": "TagA", "KEYS": "a b", "UNIQ_KEY": "X", "WAIT": "true"})
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := PropertyValue(props, PropertyUniqClientMessageIDKeyIdx); !ok {
			t.Fatal("missing")
		}
	})
	require.Zero(t, allocs)
}

func FuzzParseProperties(f *testing.F) {
	f.Add([]byte("a\x011\x02b\x012\x02"), "a")
	f.Add([]byte("\x01\x02\x01\x02"), "")
	f.Add([]byte("k\x01a\x01b\x02k\x01c"), "k")
	f.Fuzz(func(t *testing.T, props []byte, key string) {
		m := ParseProperties(props)
		for k, v := range m {
			got, ok := PropertyValue(props, k)
			if !ok || string(got) != v {
				t.Fatalf("PropertyValue(%q)=%q,%v; map has %q", k, got, ok, v)
			}
		}
		got, ok := PropertyValue(props, key)
		want, inMap := m[key]
		if ok != inMap || string(got) != want {
			t.Fatalf("PropertyValue(%q)=%q,%v; map has %q,%v", key, got, ok, want, inMap)
		}
		// Re-encoding the map keeps it.
		if again := ParseProperties(EncodeProperties(m)); len(again) != len(m) {
			for k, v := range m {
				if again[k] != v {
					t.Fatalf("round trip lost %q", k)
				}
			}
		}
	})
}
