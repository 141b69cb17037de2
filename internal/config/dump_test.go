package config

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestDumpListsEveryTaggedFieldSorted(t *testing.T) {
	broker := brokerOptions{BrokerName: "broker-a", ListenPort: 10911, NamesrvAddr: []string{"a:9876", "b:9876"}}
	server := serverOptions{ListenPort: 10911, SendMessageThreadPoolNums: 4}
	entries, err := Dump(&broker, &server)
	require.NoError(t, err)
	require.Equal(t, []Entry{
		{"autoCreateTopicEnable", "false"},
		{"brokerClusterName", ""},
		{"brokerIP1", ""},
		{"brokerId", "0"},
		{"brokerName", "broker-a"},
		{"defaultTopicQueueNums", "0"},
		{"enableAcl", "false"},
		{"listenPort", "10911"}, // claimed twice with the same value: listed once
		{"namesrvAddr", "a:9876;b:9876"},
		{"sendMessageThreadPoolNums", "4"},
	}, entries)

	server.ListenPort = 10921
	entries, err = Dump(&broker, &server)
	require.NoError(t, err)
	require.Contains(t, entries, Entry{"listenPort", "10911"})
	require.Contains(t, entries, Entry{"listenPort", "10921"}, "targets that disagree are both shown")
}

func TestPrint(t *testing.T) {
	type odd struct {
		Plain   string   `prop:"plain"`
		Spaces  string   `prop:"spaces"`
		Special string   `prop:"special"`
		Key     string   `prop:"#odd key=:"`
		Float   float64  `prop:"ratio"`
		List    []string `prop:"list"`
	}
	o := odd{
		Plain:   "127.0.0.1:9876",
		Spaces:  "  two leading",
		Special: "tab\there\nnewline \\ back\x01",
		Key:     "v",
		Float:   0.75,
		List:    []string{"x", "y"},
	}
	var b bytes.Buffer
	require.NoError(t, Print(&b, &o))
	require.Equal(t, strings.Join([]string{
		`\#odd\ key\=\:=v`,
		`list=x,y`,
		`plain=127.0.0.1:9876`,
		`ratio=0.75`,
		`spaces=\  two leading`,
		`special=tab\there\nnewline \\ back\u0001`,
		``,
	}, "\n"), b.String())

	// The output is a properties file with the same values.
	p, err := Parse(b.Bytes(), "printed")
	require.NoError(t, err)
	for _, e := range must(Dump(&o)) {
		v, ok := p.Get(e.Key)
		require.True(t, ok, e.Key)
		require.Equal(t, e.Value, v, e.Key)
	}
}

func TestPrintReportsWriteErrors(t *testing.T) {
	boom := errors.New("closed pipe")
	err := Print(errWriter{boom}, &brokerOptions{})
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, Print(&bytes.Buffer{}, 42), ErrTarget)
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type roundTrip struct {
	S   string   `prop:"s"`
	B   bool     `prop:"b"`
	I   int      `prop:"i"`
	I32 int32    `prop:"i32"`
	I64 int64    `prop:"i64"`
	F   float64  `prop:"f"`
	L   []string `prop:"l,sep=;"`
}

// Print, then Load, then Apply gives back the same options, for any
// values that survive Java's trimming.
func TestPrintLoadApplyRoundTrip(t *testing.T) {
	// Values without blanks or control characters at either end, which
	// Apply would trim; list elements without the separator.
	trimmed := rapid.StringMatching(`[^\x00-\x20]([^\p{C}]|[\t\n])*[^\x00-\x20]|[^\x00-\x20]`)
	element := rapid.StringMatching(`[^\x00-\x20;]([^\p{C};]|\t)*[^\x00-\x20;]|[^\x00-\x20;]`)
	rapid.Check(t, func(t *rapid.T) {
		want := roundTrip{
			S:   rapid.OneOf(rapid.Just(""), trimmed).Draw(t, "s"),
			B:   rapid.Bool().Draw(t, "b"),
			I:   rapid.Int().Draw(t, "i"),
			I32: rapid.Int32().Draw(t, "i32"),
			I64: rapid.Int64().Draw(t, "i64"),
			F:   rapid.Float64().Filter(func(f float64) bool { return f == f && f-f == 0 }).Draw(t, "f"),
			L:   rapid.SliceOf(element).Draw(t, "l"),
		}
		if len(want.L) == 0 {
			want.L = nil
		}
		var b bytes.Buffer
		if err := Print(&b, &want); err != nil {
			t.Fatal(err)
		}
		p, err := Parse(b.Bytes(), "printed")
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		var got roundTrip
		if _, err := Apply(p, &got); err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("printed:\n%s\ngot %#v\nwant %#v", b.String(), got, want)
		}
	})
}
