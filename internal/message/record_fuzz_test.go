package message

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func FuzzDecodeRecord(f *testing.F) {
	for _, born := range []string{"10.0.0.1:1", "[::1]:2"} {
		m := sampleInner()
		m.BornHost = netip.MustParseAddrPort(born)
		size, _ := m.RecordSize()
		b := make([]byte, size)
		if _, err := EncodeRecord(b, m); err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	blank := make([]byte, 16)
	PutBlankMarker(blank, 16)
	f.Add(blank)
	f.Add([]byte{0, 0, 0, 91, 0xDA, 0xA3, 0x20, 0xAB})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if errors.Is(err, ErrBlank) {
			return
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if int(r.TotalSize) > len(b) {
			t.Fatalf("size %d past %d bytes", r.TotalSize, len(b))
		}
		// A record that decodes re-encodes to the same bytes, unless a
		// 16-byte host holds an IPv4-mapped address (written back as IPv4).
		if r.BornHost.Addr().Is4In6() || r.StoreHost.Addr().Is4In6() {
			return
		}
		m := NewMessageExt(&r).Inner()
		m.SysFlag = r.SysFlag
		// V1 vs V2 is chosen by topic length when encoding.
		if (r.Magic == MagicV2) != (len(r.Topic) > MaxTopicLengthV1) {
			return
		}
		out := make([]byte, r.TotalSize)
		n, err := EncodeRecord(out, m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out[:n], b[:r.TotalSize]) {
			t.Fatalf("re-encode differs:\n%x\n%x", out[:n], b[:r.TotalSize])
		}
	})
}
