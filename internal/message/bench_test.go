package message

import "testing"

func BenchmarkEncodeRecord1KiB(b *testing.B) {
	m := sampleInner()
	m.Body = make([]byte, 1024)
	size, _ := m.RecordSize()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		m.BodyCRC = BodyCRC(m.Body)
		if _, err := EncodeRecord(buf, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecord1KiB(b *testing.B) {
	m := sampleInner()
	m.Body = make([]byte, 1024)
	size, _ := m.RecordSize()
	buf := make([]byte, size)
	if _, err := EncodeRecord(buf, m); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		r, err := DecodeRecord(buf)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := PropertyValue(r.Properties, PropertyTags); !ok {
			b.Fatal("no tag")
		}
	}
}
