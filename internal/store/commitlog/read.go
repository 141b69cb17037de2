package commitlog

import (
	"encoding/binary"
	"fmt"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
)

// Read returns the size bytes at offset, with a reference on their
// segment that the caller must Release. ok is false when the range is not
// (or no longer) in the log, or not yet published.
func (c *CommitLog) Read(offset int64, size int) (seg *mappedfile.File, b []byte, ok bool) {
	if size <= 0 || offset < 0 || offset+int64(size) > c.committed.Load() {
		return nil, nil, false
	}
	seg = c.segs.Acquire(offset)
	if seg == nil {
		return nil, nil, false
	}
	rel := offset - seg.Start()
	if rel+int64(size) > seg.Wrote() {
		seg.Release()
		return nil, nil, false
	}
	b, err := seg.Bytes(rel, int64(size))
	if err != nil {
		seg.Release()
		return nil, nil, false
	}
	return seg, b, true
}

// ReadRecord returns the whole record at offset (its size read from its
// first four bytes, checked against the segment), with a reference on its
// segment that the caller must Release.
func (c *CommitLog) ReadRecord(offset int64) (*mappedfile.File, []byte, error) {
	seg, hdr, ok := c.Read(offset, 4)
	if !ok {
		return nil, nil, fmt.Errorf("commitlog: no record at offset %d", offset)
	}
	size := int64(int32(binary.BigEndian.Uint32(hdr)))
	rel := offset - seg.Start()
	if size < message.MinRecordSize || rel+size > seg.Wrote() || offset+size > c.committed.Load() {
		seg.Release()
		return nil, nil, fmt.Errorf("%w: record at offset %d claims %d bytes", ErrCorrupt, offset, size)
	}
	b, err := seg.Bytes(rel, size)
	if err != nil {
		seg.Release()
		return nil, nil, err
	}
	return seg, b, nil
}

// ReadFrom returns the published bytes from offset to the end of its
// segment's published data, with a reference the caller must Release.
// Replication ships these; dispatch parses them.
func (c *CommitLog) ReadFrom(offset int64) (*mappedfile.File, []byte, bool) {
	limit := c.committed.Load()
	if offset < 0 || offset >= limit {
		return nil, nil, false
	}
	seg := c.segs.Acquire(offset)
	if seg == nil {
		return nil, nil, false
	}
	rel := offset - seg.Start()
	end := min(seg.Wrote(), limit-seg.Start())
	if rel >= end {
		seg.Release()
		return nil, nil, false
	}
	b, err := seg.Bytes(rel, end-rel)
	if err != nil {
		seg.Release()
		return nil, nil, false
	}
	return seg, b, true
}

// NextSegmentStart returns the start of the segment after the one holding
// offset: where a reader continues after a blank marker or a deleted
// segment.
func (c *CommitLog) NextSegmentStart(offset int64) int64 {
	return offset - offset%c.opts.SegmentSize + c.opts.SegmentSize
}

// StoreTimestampAt returns the store timestamp of the record at offset.
func (c *CommitLog) StoreTimestampAt(offset int64) (int64, bool) {
	seg, b, err := c.ReadRecord(offset)
	if err != nil {
		return 0, false
	}
	defer seg.Release()
	r, err := message.DecodeRecord(b)
	if err != nil {
		return 0, false
	}
	return r.StoreTimestamp, true
}
