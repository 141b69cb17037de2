package message

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

func sampleInner() *Inner {
	m := &Inner{
		Topic:                     "TopicTest",
		QueueID:                   3,
		Flag:                      7,
		Body:                      []byte("hello rocketmq"),
		Properties:                AppendProperty(AppendProperty(nil, PropertyTags, "TagA"), PropertyUniqClientMessageIDKeyIdx, "0A0B0C0D00010000000000000000ABCD"),
		SysFlag:                   SysFlagMultiTags,
		BornTimestamp:             1700000000123,
		BornHost:                  netip.MustParseAddrPort("10.0.0.9:51234"),
		StoreHost:                 netip.MustParseAddrPort("192.168.1.2:10911"),
		ReconsumeTimes:            2,
		PreparedTransactionOffset: 99,
		QueueOffset:               42,
		CommitLogOffset:           1 << 33,
		StoreTimestamp:            1700000000456,
	}
	m.BodyCRC = BodyCRC(m.Body)
	return m
}

func TestRecordSizeV1IPv4Overhead(t *testing.T) {
	m := &Inner{BornHost: netip.MustParseAddrPort("1.2.3.4:5"), StoreHost: netip.MustParseAddrPort("1.2.3.4:5")}
	n, err := m.RecordSize()
	require.NoError(t, err)
	require.Equal(t, MinRecordSize, n)

	m.Topic, m.Body, m.Properties = "abc", make([]byte, 10), []byte("k\x01v\x02")
	n, err = m.RecordSize()
	require.NoError(t, err)
	require.Equal(t, 91+3+10+4, n)
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		born, store string
		topic       string
		wantFlags   int32
		wantMagic   uint32
	}{
		{"v4", "10.0.0.9:1", "10.0.0.1:10911", "T", 0, MagicV1},
		{"born v6", "[2001:db8::1]:7", "10.0.0.1:10911", "T", SysFlagBornHostV6, MagicV1},
		{"store v6", "10.0.0.9:1", "[fe80::2]:10911", "T", SysFlagStoreHostV6, MagicV1},
		{"both v6", "[::1]:7", "[::2]:8", "T", SysFlagBornHostV6 | SysFlagStoreHostV6, MagicV1},
		{"mapped v4 is v4", "[::ffff:10.1.2.3]:7", "10.0.0.1:10911", "T", 0, MagicV1},
		{"long topic V2", "10.0.0.9:1", "10.0.0.1:10911", "%RETRY%" + strings.Repeat("g", 200), 0, MagicV2},
		{"127 is V1", "10.0.0.9:1", "10.0.0.1:10911", strings.Repeat("t", 127), 0, MagicV1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleInner()
			m.BornHost = netip.MustParseAddrPort(tc.born)
			m.StoreHost = netip.MustParseAddrPort(tc.store)
			m.Topic = tc.topic
			m.SysFlag = SysFlagMultiTags | SysFlagBornHostV6 // stale host bit must be recomputed
			size, err := m.RecordSize()
			require.NoError(t, err)
			buf := make([]byte, size+10)
			n, err := EncodeRecord(buf, m)
			require.NoError(t, err)
			require.Equal(t, size, n)

			r, err := DecodeRecord(buf)
			require.NoError(t, err)
			require.Equal(t, int32(size), r.TotalSize)
			require.Equal(t, tc.wantMagic, r.Magic)
			require.Equal(t, SysFlagMultiTags|tc.wantFlags, r.SysFlag)
			require.Equal(t, m.Topic, string(r.Topic))
			require.Equal(t, m.Body, r.Body)
			require.Equal(t, m.Properties, r.Properties)
			require.Equal(t, m.QueueID, r.QueueID)
			require.Equal(t, m.Flag, r.Flag)
			require.Equal(t, m.QueueOffset, r.QueueOffset)
			require.Equal(t, m.CommitLogOffset, r.PhysicalOffset)
			require.Equal(t, m.BornTimestamp, r.BornTimestamp)
			require.Equal(t, m.StoreTimestamp, r.StoreTimestamp)
			require.Equal(t, m.BornHost.Addr().Unmap(), r.BornHost.Addr().Unmap())
			require.Equal(t, m.BornHost.Port(), r.BornHost.Port())
			require.Equal(t, m.StoreHost, r.StoreHost)
			require.Equal(t, m.ReconsumeTimes, r.ReconsumeTimes)
			require.Equal(t, m.PreparedTransactionOffset, r.PreparedTransactionOffset)
			require.True(t, r.CheckBodyCRC())
		})
	}
}

// The official Go client must read what we write: pull responses hand
// these bytes to it unchanged.
func TestOfficialGoClientDecodesRecords(t *testing.T) {
	var body []byte
	var want []*Inner
	for i := range 3 {
		m := sampleInner()
		m.QueueOffset = int64(i)
		m.CommitLogOffset = int64(1000 + i*500)
		m.Body = bytes.Repeat([]byte{byte('a' + i)}, 10*i+1)
		m.BodyCRC = BodyCRC(m.Body)
		size, err := m.RecordSize()
		require.NoError(t, err)
		rec := make([]byte, size)
		_, err = EncodeRecord(rec, m)
		require.NoError(t, err)
		body = append(body, rec...)
		want = append(want, m)
	}
	got := primitive.DecodeMessage(body)
	require.Len(t, got, 3)
	for i, g := range got {
		w := want[i]
		require.Equal(t, w.Topic, g.Topic)
		require.Equal(t, w.Body, g.Body)
		require.Equal(t, int(w.QueueID), g.Queue.QueueId)
		require.Equal(t, w.QueueOffset, g.QueueOffset)
		require.Equal(t, w.CommitLogOffset, g.CommitLogOffset)
		require.Equal(t, w.StoreTimestamp, g.StoreTimestamp)
		require.Equal(t, w.BornTimestamp, g.BornTimestamp)
		require.Equal(t, int32(w.BodyCRC), g.BodyCRC)
		require.Equal(t, "TagA", g.GetTags())
		require.Equal(t, "0A0B0C0D00010000000000000000ABCD", g.MsgId)
		require.Equal(t, OffsetMsgID(w.StoreHost, w.CommitLogOffset), g.OffsetMsgId)
		require.Equal(t, "192.168.1.2:10911", g.StoreHost)
	}
}

func TestDecodeMessageExtsMatchesRecords(t *testing.T) {
	m := sampleInner()
	size, _ := m.RecordSize()
	rec := make([]byte, size)
	_, err := EncodeRecord(rec, m)
	require.NoError(t, err)
	exts, err := DecodeMessageExts(append(append([]byte(nil), rec...), rec...))
	require.NoError(t, err)
	require.Len(t, exts, 2)
	e := exts[0]
	require.Equal(t, "TagA", e.Tags())
	require.Equal(t, "0A0B0C0D00010000000000000000ABCD", e.MsgID)
	require.Equal(t, OffsetMsgID(m.StoreHost, m.CommitLogOffset), e.OffsetMsgID)

	// Re-encoding the decoded message gives the same bytes.
	again := make([]byte, size)
	_, err = EncodeRecord(again, e.Inner())
	require.NoError(t, err)
	require.Equal(t, rec, again)

	// No aliasing of the input.
	rec[len(rec)-3] = 'X'
	require.Equal(t, "TagA", e.Tags())
}

func TestBodyCRCMatchesJava(t *testing.T) {
	// java: UtilAll.crc32("hello".getBytes()) == 907060870
	require.Equal(t, uint32(907060870), BodyCRC([]byte("hello")))
	// A CRC with the top bit set is masked (crc32("a") = 0xE8B7BE43).
	require.Equal(t, uint32(0xE8B7BE43&0x7FFFFFFF), BodyCRC([]byte("a")))
}

func TestDecodeRecordRejectsBadInput(t *testing.T) {
	m := sampleInner()
	size, _ := m.RecordSize()
	good := make([]byte, size)
	_, err := EncodeRecord(good, m)
	require.NoError(t, err)

	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	bodyLenAt := OffsetBornHost + 8 + 8 + 8 + 4 + 8
	cases := map[string][]byte{
		"short":          good[:7],
		"truncated":      good[:size-1],
		"bad magic":      mutate(func(b []byte) []byte { b[4] = 0; return b }),
		"size too small": mutate(func(b []byte) []byte { b[3] = 10; b[0], b[1], b[2] = 0, 0, 0; return b }),
		"size negative":  mutate(func(b []byte) []byte { b[0] = 0xFF; return b }),
		"body too long":  mutate(func(b []byte) []byte { b[bodyLenAt] = 0x7F; return b }),
		"body negative":  mutate(func(b []byte) []byte { b[bodyLenAt] = 0xFF; return b }),
		"props mismatch": mutate(func(b []byte) []byte { b[size-len(m.Properties)-1]++; return b }),
		"v6 flag without room": mutate(func(b []byte) []byte {
			b[OffsetSysFlag+3] |= byte(SysFlagBornHostV6)
			return b
		}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRecord(b)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}

	blank := make([]byte, 64)
	PutBlankMarker(blank, 64)
	r, err := DecodeRecord(blank)
	require.ErrorIs(t, err, ErrBlank)
	require.Equal(t, int32(64), r.TotalSize)
}

func TestEncodeRecordLimits(t *testing.T) {
	m := sampleInner()
	_, err := EncodeRecord(make([]byte, 10), m)
	require.ErrorIs(t, err, ErrShortBuffer)

	m.Properties = make([]byte, MaxPropertiesLength+1)
	_, err = m.RecordSize()
	require.ErrorIs(t, err, ErrPropertiesTooLong)

	m = sampleInner()
	m.Topic = strings.Repeat("x", MaxTopicLengthV2+1)
	_, err = m.RecordSize()
	require.ErrorIs(t, err, ErrTopicTooLong)
}

func TestEncodeDecodeDoNotAllocate(t *testing.T) {
	m := sampleInner()
	size, _ := m.RecordSize()
	buf := make([]byte, size)
	allocs := testing.AllocsPerRun(100, func() {
		m.BodyCRC = BodyCRC(m.Body)
		if _, err := EncodeRecord(buf, m); err != nil {
			t.Fatal(err)
		}
		r, err := DecodeRecord(buf)
		if err != nil || !r.CheckBodyCRC() {
			t.Fatal(err)
		}
		if v, ok := PropertyValue(r.Properties, PropertyTags); !ok || TagsHashCodeBytes(v) == 0 {
			t.Fatal("no tag")
		}
	})
	require.Zero(t, allocs)
}

// A V1 record assembled by hand from protocol.md §5.4's field table
// (topic "T", body "B", TAGS=a, IPv4 hosts) decodes field by field.
func TestDecodeGoldenRecord(t *testing.T) {
	golden := "00000064" + "daa320a7" + "4ad0cf31" + "00000001" + "00000000" +
		"0000000000000005" + "0000000000000400" + "00000000" + "0000018bcfe56800" +
		"7f000001" + "0000d431" + "0000018bcfe56801" + "0a000001" + "00002a9f" +
		"00000000" + "0000000000000000" + "00000001" + "42" + "01" + "54" + "0007" + "54414753016102"
	b, err := hex.DecodeString(golden)
	require.NoError(t, err)
	r, err := DecodeRecord(b)
	require.NoError(t, err)
	require.Equal(t, int32(100), r.TotalSize)
	require.Equal(t, "T", string(r.Topic))
	require.Equal(t, "B", string(r.Body))
	require.Equal(t, int64(5), r.QueueOffset)
	require.Equal(t, int64(1024), r.PhysicalOffset)
	require.Equal(t, netip.MustParseAddrPort("127.0.0.1:54321"), r.BornHost)
	require.Equal(t, netip.MustParseAddrPort("10.0.0.1:10911"), r.StoreHost)
	require.Equal(t, "a", PropertyString(r.Properties, PropertyTags))
	require.Equal(t, BodyCRC([]byte("B")), r.BodyCRC)
	require.True(t, errors.Is(func() error { _, err := DecodeRecord(b[:99]); return err }(), ErrMalformed))
}
