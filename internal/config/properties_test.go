package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// parseMap parses text and returns its keys and values.
func parseMap(t *testing.T, text string) map[string]string {
	t.Helper()
	p, err := Parse([]byte(text), "test.conf")
	require.NoError(t, err)
	m := map[string]string{}
	for _, k := range p.Keys() {
		m[k], _ = p.Get(k)
	}
	return m
}

// The cases follow the rules of java.util.Properties.load.
func TestParseJavaProperties(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=1\nb = 2\nc\t=\t3", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"colon", "a:1\nb : 2", map[string]string{"a": "1", "b": "2"}},
		{"blank separator", "a 1\nb\t\t2\nc\f3", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"only one separator", "a = = 1\nb := 2\nc  :  :3", map[string]string{"a": "= 1", "b": "= 2", "c": ":3"}},
		{"separator inside value", "url=http://x:80/a=b", map[string]string{"url": "http://x:80/a=b"}},
		{"leading blanks", "   a=1\n\t\fb=2", map[string]string{"a": "1", "b": "2"}},
		{"trailing blanks kept", "a=1  \nb=x\t", map[string]string{"a": "1  ", "b": "x\t"}},
		{"blanks after separator skipped", "a=\t\f x", map[string]string{"a": "x"}},
		{"key only", "a\nb=\nc :", map[string]string{"a": "", "b": "", "c": ""}},
		{"empty key", "=1\n:2", map[string]string{"": "2"}},
		{"comments", "# c\n! c\n  # indented\na=1 # not a comment\n#b=2", map[string]string{"a": "1 # not a comment"}},
		{"comment at end without newline", "a=1\n# last", map[string]string{"a": "1"}},
		{"blank lines", "\n\n  \n\t\na=1\n\n", map[string]string{"a": "1"}},
		{"duplicate keys: last wins", "a=1\na=2\nb=3\na=4", map[string]string{"a": "4", "b": "3"}},
		{"continuation", "a=one \\\n    two\\\n three", map[string]string{"a": "one twothree"}},
		{"continuation with CRLF", "a=1\\\r\n   2\r\nb=3\r\n", map[string]string{"a": "12", "b": "3"}},
		{"continuation with CR", "a=1\\\r   2\rb=3", map[string]string{"a": "12", "b": "3"}},
		{"continuation in a key", "ke\\\n  y=v", map[string]string{"key": "v"}},
		{"continuation line is not a comment", "a=1\\\n  #2", map[string]string{"a": "1#2"}},
		{"comment does not continue", "# c \\\na=1", map[string]string{"a": "1"}},
		{"empty line ends a continuation", "a=1\\\n\nb=2", map[string]string{"a": "1", "b": "2"}},
		{"blank line ends a continuation", "a=1\\\n   \nb=2", map[string]string{"a": "1", "b": "2"}},
		{"escaped backslash does not continue", "a=1\\\\\nb=2", map[string]string{"a": `1\`, "b": "2"}},
		{"three backslashes continue", "a=1\\\\\\\n2", map[string]string{"a": `1\2`}},
		{"backslash at end of input", "a=x\\", map[string]string{"a": "x"}},
		{"escapes", `a=\t\n\r\f\\\=\:\#\!\ \q`, map[string]string{"a": "\t\n\r\f\\=:#! q"}},
		{"escaped separators in key", `my\ key\:x\=y = v`, map[string]string{"my key:x=y": "v"}},
		{"escaped leading blank in value", `a=\  x`, map[string]string{"a": "  x"}},
		{"unicode escapes", `a=\u0041\u00e9\u4e2D`, map[string]string{"a": "Aé中"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"lone surrogates", `a=\uD83Dx\uDE00`, map[string]string{"a": "\uFFFDx\uFFFD"}},
		{"unicode escape in key", `\u0061=1`, map[string]string{"a": "1"}},
		{"UTF-8", "name=café ✓\nkéy=1", map[string]string{"name": "café ✓", "kéy": "1"}},
		{"escaped UTF-8", "a=\\é", map[string]string{"a": "é"}},
		{"byte order mark", "\uFEFFbrokerName=a", map[string]string{"brokerName": "a"}},
		{"ISO-8859-1 fallback", "name=caf\xe9\nx=\xff", map[string]string{"name": "café", "x": "ÿ"}},
		{"expansion stays literal", "a=${b}\nb=2", map[string]string{"a": "${b}", "b": "2"}},
		{"empty input", "", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, parseMap(t, tc.in))
		})
	}
}

func TestParseRefusesMalformedUnicodeEscapes(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\u12G4`, "a=1\nb=\\uXYZW\n", `\u00=1`} {
		_, err := Parse([]byte(in), "bad.conf")
		require.ErrorIs(t, err, ErrSyntax, in)
		require.ErrorContains(t, err, `malformed \uXXXX escape`, in)
	}
	_, err := Parse([]byte("a=1\n\n  b=\\\n  \\u12"), "bad.conf")
	require.EqualError(t, err, `config: malformed properties: bad.conf:3: malformed \uXXXX escape`)
}

func TestOriginsNameFileAndLine(t *testing.T) {
	p, err := Parse([]byte("# header\na=1\n\nb=2\\\n  3\nc=4\r\na=5"), "broker.conf")
	require.NoError(t, err)
	require.Equal(t, "broker.conf:7", p.Origin("a"))
	require.Equal(t, "broker.conf:4", p.Origin("b"))
	require.Equal(t, "broker.conf:6", p.Origin("c"))
	require.Equal(t, "", p.Origin("missing"))
}

func TestLoadFile(t *testing.T) {
	p, err := Load("testdata/broker.conf")
	require.NoError(t, err)
	v, ok := p.Get("brokerName")
	require.True(t, ok)
	require.Equal(t, "broker-a", v)
	require.Equal(t, "testdata/broker.conf:16", p.Origin("brokerName"))

	_, err = Load(filepath.Join(t.TempDir(), "missing.conf"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadReaderLimitsAndErrors(t *testing.T) {
	big := strings.NewReader(strings.Repeat("#", MaxFileSize+1))
	_, err := LoadReader(big, "big.conf")
	require.ErrorIs(t, err, ErrTooLarge)

	boom := errors.New("disk on fire")
	_, err = LoadReader(iotest.ErrReader(boom), "broken.conf")
	require.ErrorIs(t, err, boom)
}

func TestOverride(t *testing.T) {
	p, err := Parse([]byte("listenPort=10911\nbrokerName=a"), "broker.conf")
	require.NoError(t, err)
	require.NoError(t, p.Override("command line", "listenPort=10921", " namesrvAddr = 127.0.0.1:9876", "empty="))
	v, _ := p.Get("listenPort")
	require.Equal(t, "10921", v)
	require.Equal(t, "command line", p.Origin("listenPort"))
	v, _ = p.Get("namesrvAddr")
	require.Equal(t, " 127.0.0.1:9876", v, "the value is taken as is; Apply trims it")
	require.Equal(t, "broker.conf:2", p.Origin("brokerName"))
	require.Equal(t, []string{"brokerName", "empty", "listenPort", "namesrvAddr"}, p.Keys())

	for _, bad := range []string{"noequals", "=1", " =1"} {
		require.ErrorIs(t, p.Override("command line", bad), ErrSyntax, bad)
	}
}

func TestZeroProperties(t *testing.T) {
	var p Properties
	_, ok := p.Get("a")
	require.False(t, ok)
	require.Zero(t, p.Len())
	p.Set("a", "1", "test")
	require.Equal(t, 1, p.Len())
}
