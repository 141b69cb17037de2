package schedule

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
)

func kv(pairs ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = message.AppendProperty(b, pairs[i], pairs[i+1])
	}
	return b
}

func TestEditProperties(t *testing.T) {
	in := kv("A", "1", "DELAY", "3", "B", "2", "C", "x\x01y")
	out := EditProperties(in, []string{"DELAY"}, "B", "20", "D", "4")
	require.Equal(t, string(kv("A", "1", "C", "x\x01y", "B", "20", "D", "4")), string(out))
	require.Equal(t, map[string]string{"A": "1", "B": "20", "C": "x\x01y", "D": "4"}, message.ParseProperties(out))

	// Pairs Java drops are dropped; the input is not touched.
	bad := []byte("\x01v\x02k\x01\x02noSep\x02K\x01V")
	require.Equal(t, string(kv("K", "V")), string(EditProperties(bad, nil)))
	require.Equal(t, "\x01v\x02k\x01\x02noSep\x02K\x01V", string(bad))
	require.Empty(t, EditProperties(nil, []string{"X"}))
}

func TestLevels(t *testing.T) {
	l, err := ParseLevels("1s 5s 10s 2m")
	require.NoError(t, err)
	require.Equal(t, int32(4), l.Max())
	require.Equal(t, int64(10_000), l.Delay(3))
	require.Equal(t, int64(120_000), l.Delay(99), "above the highest level: the highest")
	require.Equal(t, int64(0), l.Delay(0))
	require.Equal(t, int64(0), l.Delay(-1))
	require.Equal(t, int32(4), l.Clamp(18))
	_, err = ParseLevels("1x")
	require.Error(t, err)
}

func TestTransformClampsAndSavesTheRealQueue(t *testing.T) {
	l, err := ParseLevels("1s 5s 10s")
	require.NoError(t, err)
	m := &message.Inner{Topic: "T", QueueID: 5,
		Properties: kv("DELAY", "40", "TIMER_DELIVER_MS", "99", "TIMER_DELAY_SEC", "1", "TIMER_DELAY_MS", "1", "KEYS", "k")}
	orig := m.Properties
	l.Transform(m, 40)
	require.Equal(t, Topic, m.Topic)
	require.Equal(t, int32(2), m.QueueID, "level 40 is clamped to 3, queue 2")
	p := message.ParseProperties(m.Properties)
	require.Equal(t, map[string]string{"KEYS": "k", "REAL_TOPIC": "T", "REAL_QID": "5", "DELAY": "3"}, p)
	require.Contains(t, string(orig), "TIMER_DELIVER_MS", "the original properties are not modified")
}

func TestRestore(t *testing.T) {
	r := message.Record{
		Topic: []byte(Topic), QueueID: 2, Flag: 9, Body: []byte("b"), SysFlag: message.SysFlagMultiTags,
		BornTimestamp: 11, BornHost: bornHost, StoreHost: storeHost, ReconsumeTimes: 3, StoreTimestamp: 12,
		Properties: kv("REAL_TOPIC", "T", "REAL_QID", "4", "DELAY", "3", "UNIQ_KEY", "U", "TAGS", "t",
			"TIMER_OUT_MS", "5", "__STARTDELIVERTIME", "5", "WAIT", "true", "RETRY_TOPIC", "R"),
	}
	m, err := Restore(&r)
	require.NoError(t, err)
	require.Equal(t, "T", m.Topic)
	require.Equal(t, int32(4), m.QueueID)
	require.Equal(t, int32(9), m.Flag)
	require.Equal(t, "b", string(m.Body))
	require.Equal(t, message.SysFlagMultiTags, m.SysFlag)
	require.Equal(t, int64(11), m.BornTimestamp)
	require.Equal(t, bornHost, m.BornHost)
	require.Equal(t, storeHost, m.StoreHost)
	require.Equal(t, int32(3), m.ReconsumeTimes)
	require.Equal(t, map[string]string{"REAL_TOPIC": "T", "REAL_QID": "4", "UNIQ_KEY": "U", "TAGS": "t",
		"WAIT": "false", "RETRY_TOPIC": "R"}, message.ParseProperties(m.Properties))

	for name, props := range map[string][]byte{
		"no real topic":  kv("REAL_QID", "1"),
		"empty topic":    []byte("REAL_TOPIC\x01\x02REAL_QID\x011\x02"),
		"no real queue":  kv("REAL_TOPIC", "T"),
		"bad real queue": kv("REAL_TOPIC", "T", "REAL_QID", "x"),
		"negative queue": kv("REAL_TOPIC", "T", "REAL_QID", "-1"),
		"huge queue":     kv("REAL_TOPIC", "T", "REAL_QID", "99999999999"),
	} {
		r := message.Record{Properties: props}
		_, err := Restore(&r)
		require.ErrorIs(t, err, ErrNotRestorable, name)
	}
	half := message.Record{SysFlag: message.TransactionPreparedType, Properties: kv("REAL_TOPIC", "T", "REAL_QID", "0")}
	_, err = Restore(&half)
	require.ErrorIs(t, err, ErrNotRestorable)
}

func TestOffsetsFile(t *testing.T) {
	got, err := decodeOffsets([]byte(`{"offsetTable":{1:0,2:5,"18":7},"dataVersion":{"counter":3}}`))
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{1: 0, 2: 5, 18: 7}, got)
	for _, bad := range []string{`{"offsetTable":{"x":1}}`, `{"offsetTable":{0:1}}`, `{"offsetTable":{1:-1}}`, `[`} {
		_, err := decodeOffsets([]byte(bad))
		require.Error(t, err, bad)
	}
	data, err := encodeOffsets(map[int32]int64{3: 4, 1: 2})
	require.NoError(t, err)
	require.JSONEq(t, `{"offsetTable":{"1":2,"3":4}}`, string(data))
	back, err := decodeOffsets(data)
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{1: 2, 3: 4}, back)
}

// FuzzEditProperties: whatever the input, EditProperties never panics and
// its output decodes (with Java's rules) to the input's pairs without the
// deleted and re-set keys, plus the set pairs.
func FuzzEditProperties(f *testing.F) {
	f.Add([]byte("A\x011\x02DELAY\x013\x02"), "DELAY", "B", "2")
	f.Add([]byte("\x01\x02\x02x\x01"), "x", "y", "z")
	f.Add([]byte{}, "", "k", "v")
	f.Fuzz(func(t *testing.T, props []byte, del, key, value string) {
		valid := func(s string) bool { return s != "" && !strings.ContainsAny(s, "\x01\x02") }
		var set []string
		if valid(key) && valid(value) {
			set = []string{key, value}
		}
		out := EditProperties(props, []string{del}, set...)
		want := message.ParseProperties(props)
		delete(want, del)
		if set != nil {
			want[key] = value
		}
		got := message.ParseProperties(out)
		if len(want) == 0 {
			want = map[string]string{}
		}
		if len(got) == 0 {
			got = map[string]string{}
		}
		require.Equal(t, want, got)
	})
}

func FuzzDecodeOffsets(f *testing.F) {
	f.Add([]byte(`{"offsetTable":{1:0,2:5}}`))
	f.Add([]byte(`{"offsetTable":{"3":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := decodeOffsets(data)
		if err != nil {
			return
		}
		for level, off := range table {
			require.Positive(t, level)
			require.GreaterOrEqual(t, off, int64(0))
		}
		out, err := encodeOffsets(table)
		require.NoError(t, err)
		back, err := decodeOffsets(out)
		require.NoError(t, err)
		require.Equal(t, len(table), len(back))
	})
}
