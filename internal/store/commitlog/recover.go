package commitlog

import (
	"encoding/binary"
	"fmt"

	"github.com/gorocket/gorocket/internal/message"
)

// RecoverOptions say where recovery scans and what it does with records.
type RecoverOptions struct {
	// ScanFrom is where validation starts; records before it are trusted.
	ScanFrom int64
	// DispatchFrom is the first offset whose records are handed to
	// Dispatch (records between ScanFrom and it are validated only).
	DispatchFrom int64
	// CheckCRC verifies body checksums.
	CheckCRC bool
	// Truncate cuts the log at the first invalid record (zeroing the rest
	// of its segment and removing later ones). When false, recovery
	// stops there but changes nothing on disk (tools and tests).
	Truncate bool
	// ZeroTail zeroes the rest of the last segment even when the log
	// ended cleanly (a run of zeros): after a crash, pages written later
	// may have reached the disk while earlier ones did not, and stale
	// records behind the end must never be found by a later recovery.
	ZeroTail bool
	// Dispatch, if set, receives every valid record at or after
	// DispatchFrom, in order. r aliases mapped memory valid only during
	// the call. An error stops recovery.
	Dispatch func(r *message.Record) error
}

// RecoverResult tells what recovery found.
type RecoverResult struct {
	End         int64  // the log ends here
	Records     int64  // records validated
	Dispatched  int64  // records handed to Dispatch
	Cut         bool   // an invalid record ended the log before its data did
	CutReason   string // why, when Cut
	CutBytes    int64  // bytes of apparently written data discarded after End
	CutSegments int    // whole segments removed after End
}

// Recover validates the log from opts.ScanFrom and sets the log's end:
// the end of the last valid record. Call it once, before Start.
func (c *CommitLog) Recover(opts RecoverOptions) (RecoverResult, error) {
	var res RecoverResult
	files := c.segs.Files()
	if len(files) == 0 {
		c.setEnd(opts.ScanFrom - opts.ScanFrom%c.opts.SegmentSize)
		res.End = c.reserved
		return res, nil
	}
	pos := max(opts.ScanFrom, files[0].Start())
	if pos > files[len(files)-1].End() {
		pos = files[len(files)-1].End()
	}
	i := int((pos - files[0].Start()) / c.opts.SegmentSize)
	if i >= len(files) {
		// The scan starts exactly at the end of the last segment.
		res.End = pos
		c.setEnd(pos)
		return res, nil
	}
scan:
	for ; i < len(files); i++ {
		seg := files[i]
		data := seg.Data()
		rel := pos - seg.Start()
		for {
			if rel == seg.Size() {
				pos = seg.End()
				continue scan
			}
			if seg.Size()-rel < message.BlankMarkerSize {
				res.Cut, res.CutReason = true, fmt.Sprintf("%d bytes left in segment %d, less than a blank marker", seg.Size()-rel, seg.Start())
				break scan
			}
			size, magic, _ := message.PeekRecordHeader(data[rel:])
			if size == 0 && magic == 0 {
				break scan // end of data
			}
			if magic == message.MagicBlank {
				if int64(size) != seg.Size()-rel {
					res.Cut, res.CutReason = true, fmt.Sprintf("blank marker of %d bytes at %d, segment has %d left", size, pos, seg.Size()-rel)
					break scan
				}
				pos = seg.End()
				continue scan
			}
			if size < message.MinRecordSize || int64(size) > seg.Size()-rel {
				res.Cut, res.CutReason = true, fmt.Sprintf("record at %d claims %d bytes, %d left in segment", pos, size, seg.Size()-rel)
				break scan
			}
			rec := data[rel : rel+int64(size)]
			r, err := message.DecodeRecord(rec)
			if err != nil {
				res.Cut, res.CutReason = true, fmt.Sprintf("record at %d: %v", pos, err)
				break scan
			}
			if r.PhysicalOffset != pos {
				res.Cut, res.CutReason = true, fmt.Sprintf("record at %d says it is at %d", pos, r.PhysicalOffset)
				break scan
			}
			if opts.CheckCRC && !r.CheckBodyCRC() {
				res.Cut, res.CutReason = true, fmt.Sprintf("record at %d: body CRC %#x, computed %#x", pos, r.BodyCRC, message.BodyCRC(r.Body))
				break scan
			}
			res.Records++
			if opts.Dispatch != nil && pos >= opts.DispatchFrom {
				if err := opts.Dispatch(&r); err != nil {
					return res, err
				}
				res.Dispatched++
			}
			rel += int64(size)
			pos += int64(size)
		}
	}
	res.End = pos
	if res.Cut {
		res.CutBytes = c.measureGarbage(pos)
	}
	// Segments after the one holding the end hold no valid data.
	cut := pos - pos%c.opts.SegmentSize + c.opts.SegmentSize
	for _, f := range files {
		if f.Start() >= cut {
			res.CutSegments++
		}
	}
	if opts.Truncate {
		if err := c.truncateAt(pos, res.Cut || opts.ZeroTail); err != nil {
			return res, err
		}
	}
	c.setEnd(pos)
	return res, nil
}

// measureGarbage walks plausible record headers after a cut to estimate
// how much written-looking data is discarded (for the log line).
func (c *CommitLog) measureGarbage(pos int64) int64 {
	seg := c.segs.Find(pos)
	if seg == nil {
		return 0
	}
	data := seg.Data()
	rel := pos - seg.Start()
	start := rel
	for rel+8 <= seg.Size() {
		size := int64(int32(binary.BigEndian.Uint32(data[rel:])))
		magic := binary.BigEndian.Uint32(data[rel+4:])
		if size <= 0 || rel+size > seg.Size() || (magic != message.MagicV1 && magic != message.MagicV2 && magic != message.MagicBlank) {
			if rel == start {
				// Not even the first header is plausible: count the
				// non-zero bytes of the torn record's page.
				end := min(seg.Size(), rel+4096)
				for end > rel && data[end-1] == 0 {
					end--
				}
				return end - rel
			}
			break
		}
		rel += size
	}
	return rel - start
}

// truncateAt cuts the log at pos: the segment holding pos is zeroed from
// pos when the bytes after it may be non-zero (zero), later segments are
// removed.
func (c *CommitLog) truncateAt(pos int64, zero bool) error {
	if f := c.segs.Find(pos); f != nil && zero {
		if err := f.ZeroFrom(pos - f.Start()); err != nil {
			return err
		}
	}
	return c.segs.TruncateFrom(pos - pos%c.opts.SegmentSize + c.opts.SegmentSize)
}

// setEnd positions every segment and the log offsets at end.
func (c *CommitLog) setEnd(end int64) {
	for _, f := range c.segs.Files() {
		switch {
		case f.End() <= end:
			f.SetPositions(f.Size(), f.Size())
		case f.Start() <= end:
			f.SetPositions(end-f.Start(), end-f.Start())
		default:
			f.SetPositions(0, 0)
		}
	}
	c.mu.Lock()
	c.reserved = end
	c.mu.Unlock()
	c.committed.Store(end)
	c.flushed.Store(end)
}
