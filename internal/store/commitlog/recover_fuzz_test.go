package commitlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// FuzzRecover runs recovery over arbitrary bytes at the start of a
// segment: it must never panic, never read past the segment, and end the
// log at a record boundary it validated.
func FuzzRecover(f *testing.F) {
	seed := make([]byte, 0, 4096)
	for i := range 3 {
		m := newMsg("T", int32(i), "seed body")
		m.CommitLogOffset = int64(len(seed))
		m.BodyCRC = message.BodyCRC(m.Body)
		size, _ := m.RecordSize()
		rec := make([]byte, size)
		if _, err := message.EncodeRecord(rec, m); err != nil {
			f.Fatal(err)
		}
		seed = append(seed, rec...)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-5])
	blank := make([]byte, 16)
	message.PutBlankMarker(blank, 16)
	f.Add(blank)
	f.Fuzz(fuzzRecoverBody)
}

func fuzzRecoverBody(t *testing.T, data []byte) {
	{
		const segSize = 16 << 10
		if len(data) > segSize {
			data = data[:segSize]
		}
		dir := t.TempDir()
		seg := make([]byte, segSize)
		copy(seg, data)
		if err := os.WriteFile(filepath.Join(dir, mappedfile.FileName(0)), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := testOptions(dir, AsyncFlush)
		opts.SegmentSize = segSize
		opts.MaxMessageSize = 4 << 10
		c, err := Open(vfs.Default, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var dispatched int64
		// Read-only: truncation is covered by the other tests and would
		// cost an fsync per input.
		res, err := c.Recover(RecoverOptions{CheckCRC: true,
			Dispatch: func(r *message.Record) error {
				if r.PhysicalOffset != dispatched || !r.CheckBodyCRC() {
					t.Fatalf("dispatched a record at %d claiming %d", dispatched, r.PhysicalOffset)
				}
				dispatched += int64(r.TotalSize)
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		if res.End != dispatched && res.End != segSize {
			t.Fatalf("log ends at %d after records up to %d", res.End, dispatched)
		}
	}
}
