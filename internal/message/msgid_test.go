package message

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

func TestOffsetMsgIDMatchesOfficialClient(t *testing.T) {
	host := netip.MustParseAddrPort("192.168.1.2:10911")
	id := OffsetMsgID(host, 123456789)
	require.Len(t, id, OffsetMsgIDLenV4)
	require.Equal(t, primitive.CreateMessageId([]byte{192, 168, 1, 2}, 10911, 123456789), id)

	parsed, err := primitive.UnmarshalMsgID([]byte(id))
	require.NoError(t, err)
	require.Equal(t, int64(123456789), parsed.Offset)
	require.Equal(t, 10911, parsed.Port)

	h, off, err := ParseOffsetMsgID(id)
	require.NoError(t, err)
	require.Equal(t, host, h)
	require.Equal(t, int64(123456789), off)

	h, off, err = ParseOffsetMsgID(strings.ToLower(id))
	require.NoError(t, err)
	require.Equal(t, host, h)
	require.Equal(t, int64(123456789), off)
}

func TestOffsetMsgIDv6(t *testing.T) {
	host := netip.MustParseAddrPort("[2001:db8::7]:10911")
	id := OffsetMsgID(host, 1<<40)
	require.Len(t, id, OffsetMsgIDLenV6)
	h, off, err := ParseOffsetMsgID(id)
	require.NoError(t, err)
	require.Equal(t, host, h)
	require.Equal(t, int64(1<<40), off)

	for _, bad := range []string{"", "ABC", strings.Repeat("G", 32), strings.Repeat("0", 33), strings.Repeat("F", 8) + "FFFFFFFF" + strings.Repeat("0", 16)} {
		_, _, err := ParseOffsetMsgID(bad)
		require.ErrorIs(t, err, ErrMalformed, bad)
	}
}

func TestUniqIDGeneratorFormat(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 11, 21, 6, 0, 0, 500_000_000, loc)
	clock := func() time.Time { return now }
	g := NewUniqIDGenerator(netip.MustParseAddr("10.1.2.3"), 0x12345, 0xCAFEBABE, clock)
	id1, id2 := g.Next(), g.Next()
	require.Len(t, id1, UniqIDLen)
	require.Equal(t, strings.ToUpper(id1), id1)
	// IP, low 16 bits of the pid, instance id.
	require.Equal(t, "0A010203"+"2345"+"CAFEBABE", id1[:20])
	// Milliseconds since 2026-11-01 00:00 local.
	ms := now.Sub(time.Date(2026, 11, 1, 0, 0, 0, 0, loc)).Milliseconds()
	require.Equal(t, strings.ToUpper(strings.TrimPrefix(hexU32(uint32(ms)), "")), id1[20:28])
	require.Equal(t, "0000", id1[28:])
	require.Equal(t, "0001", id2[28:])

	at, err := UniqIDTime(id1, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, now.UnixMilli(), at.UnixMilli())

	// A new month restarts the span.
	now = time.Date(2026, 12, 1, 0, 0, 1, 0, loc)
	require.Equal(t, "000003E8", g.Next()[20:28])
}

func hexU32(v uint32) string {
	const h = "0123456789ABCDEF"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = h[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

func FuzzParseOffsetMsgID(f *testing.F) {
	f.Add(OffsetMsgID(netip.MustParseAddrPort("1.2.3.4:5"), 6))
	f.Add(OffsetMsgID(netip.MustParseAddrPort("[::1]:5"), 6))
	f.Add("zz")
	f.Fuzz(func(t *testing.T, id string) {
		h, off, err := ParseOffsetMsgID(id)
		if err != nil {
			return
		}
		if got := OffsetMsgID(h, off); !strings.EqualFold(got, id) {
			// IPv4-mapped IPv6 bytes re-encode as IPv4; everything else must round-trip.
			if !h.Addr().Is4In6() {
				t.Fatalf("round trip %q -> %q", id, got)
			}
		}
	})
}
