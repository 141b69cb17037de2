package consumequeue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// UnitSize is the size of one unit.
const UnitSize = 20

// Blank unit values.
const (
	blankSize = math.MaxInt32
)

// Unit is one decoded unit.
type Unit struct {
	Offset   int64 // commit-log offset
	Size     int32
	TagsCode int64
}

// Blank reports whether u only fills a queue offset.
func (u Unit) Blank() bool { return u.Size == blankSize && u.Offset == 0 }

// Valid reports whether u was written (recovery's test).
func (u Unit) Valid() bool { return u.Offset >= 0 && u.Size > 0 }

// DecodeUnit decodes the unit at the start of b (len(b) >= UnitSize).
func DecodeUnit(b []byte) Unit {
	return Unit{
		Offset:   int64(binary.BigEndian.Uint64(b)),
		Size:     int32(binary.BigEndian.Uint32(b[8:])),
		TagsCode: int64(binary.BigEndian.Uint64(b[12:])),
	}
}

func putUnit(b []byte, u Unit) {
	binary.BigEndian.PutUint64(b, uint64(u.Offset))
	binary.BigEndian.PutUint32(b[8:], uint32(u.Size))
	binary.BigEndian.PutUint64(b[12:], uint64(u.TagsCode))
}

// ErrClosed is returned after Destroy or Close.
var ErrClosed = errors.New("consumequeue: closed")

// ConsumeQueue is one topic/queue.
type ConsumeQueue struct {
	topic    string
	queueID  int32
	segs     *mappedfile.Queue
	fileSize int64
	logger   *slog.Logger

	min     atomic.Int64 // first readable logical offset
	max     atomic.Int64 // next logical offset to write
	flushed atomic.Int64 // logical offset up to which units are durable
	maxPhy  atomic.Int64 // commit-log end of the last unit (offset+size)
	closed  atomic.Bool
}

// Open opens (creating the directory if needed) the queue in dir with
// segments of unitsPerFile units. Call Recover before use.
func Open(fs vfs.FS, dir, topic string, queueID int32, unitsPerFile int64, logger *slog.Logger) (*ConsumeQueue, error) {
	if unitsPerFile <= 0 {
		return nil, fmt.Errorf("consumequeue: %d units per file", unitsPerFile)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	segs, err := mappedfile.NewQueue(fs, dir, unitsPerFile*UnitSize, mappedfile.CreateOptions{}, logger)
	if err != nil {
		return nil, err
	}
	if err := segs.Load(); err != nil {
		return nil, err
	}
	return &ConsumeQueue{topic: topic, queueID: queueID, segs: segs, fileSize: unitsPerFile * UnitSize, logger: logger}, nil
}

// Topic returns the topic.
func (q *ConsumeQueue) Topic() string { return q.topic }

// QueueID returns the queue id.
func (q *ConsumeQueue) QueueID() int32 { return q.queueID }

// MinOffset returns the first readable logical offset.
func (q *ConsumeQueue) MinOffset() int64 { return q.min.Load() }

// MaxOffset returns the next logical offset to be written.
func (q *ConsumeQueue) MaxOffset() int64 { return q.max.Load() }

// MaxPhyOffset returns the commit-log offset after the last unit's record.
func (q *ConsumeQueue) MaxPhyOffset() int64 { return q.maxPhy.Load() }

// Segments exposes the segment queue (retention, tests).
func (q *ConsumeQueue) Segments() *mappedfile.Queue { return q.segs }

// Recover finds the last written unit by scanning the last three
// segments, as Java does, cuts anything after it and sets MinOffset from
// the first segment. It returns an error only if the cut fails.
//
// afterCrash says the store was not shut down cleanly: then stray bytes
// may lie past the last valid unit (a unit torn in its middle, a page
// written back before the one ahead of it), so the rest of the segment is
// read and zeroed where needed. After a clean shutdown nothing lies past
// the last unit, and the rest of the segment, which is mostly never
// written (a fresh segment is 6 MB of zeros at the default size), is left
// unread: a broker with thousands of queues starts without paging them
// all in.
func (q *ConsumeQueue) Recover(afterCrash bool) error {
	files := q.segs.Files()
	if len(files) == 0 {
		q.min.Store(0)
		q.max.Store(0)
		q.flushed.Store(0)
		return nil
	}
	from := max(0, len(files)-3)
	end := files[from].Start() // byte position after the last valid unit
	var last Unit
	// The scan reads a page or two per segment (more only after a crash,
	// to find stray bytes): no read-ahead of whole segments meanwhile.
	for _, f := range files[from:] {
		f.AdviseRandom(true)
		defer f.AdviseRandom(false)
	}
scan:
	for _, f := range files[from:] {
		data := f.Data()
		for rel := int64(0); rel < q.fileSize; rel += UnitSize {
			u := DecodeUnit(data[rel:])
			if !u.Valid() {
				break scan
			}
			last = u
			end = f.Start() + rel + UnitSize
		}
	}
	dirty := end // clean: nothing written past the last unit
	if afterCrash {
		dirty = files[len(files)-1].End()
	}
	if err := q.cutAt(end, dirty); err != nil {
		return err
	}
	if !last.Blank() && last.Valid() {
		q.maxPhy.Store(last.Offset + int64(last.Size))
	}
	if first := q.segs.First(); first != nil {
		q.min.Store(first.Start() / UnitSize)
	} else {
		q.min.Store(end / UnitSize)
	}
	q.skipLeadingBlanks()
	return nil
}

// cutAt makes end (a byte position) the end of the queue: positions are
// set, non-zero bytes after it in its segment (looked for up to dirty, the
// furthest position anything may have been written to) are zeroed, and
// later segments are removed.
func (q *ConsumeQueue) cutAt(end, dirty int64) error {
	for _, f := range q.segs.Files() {
		switch {
		case f.End() <= end:
			f.SetPositions(q.fileSize, q.fileSize)
		case f.Start() <= end:
			rel := end - f.Start()
			upTo := min(max(dirty, end), f.End()) - f.Start()
			if hasNonZero(f.Data()[rel:upTo]) {
				if err := f.ZeroFrom(rel); err != nil {
					return err
				}
			}
			f.SetPositions(rel, rel)
		}
	}
	// Keep the segment end falls in; an empty first segment stays too.
	cut := end - end%q.fileSize + q.fileSize
	if end%q.fileSize == 0 && end > q.segs.MinOffset() {
		cut = end
	}
	if err := q.segs.TruncateFrom(cut); err != nil {
		return err
	}
	q.max.Store(end / UnitSize)
	q.flushed.Store(min(q.flushed.Load(), end/UnitSize))
	return nil
}

func hasNonZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return true
		}
	}
	return false
}

// skipLeadingBlanks moves MinOffset past blank units at the start.
func (q *ConsumeQueue) skipLeadingBlanks() {
	for off := q.min.Load(); off < q.max.Load(); off++ {
		u, ok := q.Unit(off)
		if !ok || !u.Blank() {
			q.min.Store(off)
			return
		}
	}
	q.min.Store(q.max.Load())
}

// Unit returns unit off.
func (q *ConsumeQueue) Unit(off int64) (Unit, bool) {
	if off < 0 || off >= q.max.Load() {
		return Unit{}, false
	}
	pos := off * UnitSize
	f := q.segs.Acquire(pos)
	if f == nil {
		return Unit{}, false
	}
	defer f.Release()
	b, err := f.Bytes(pos-f.Start(), UnitSize)
	if err != nil {
		return Unit{}, false
	}
	return DecodeUnit(b), true
}

// Units returns the raw units from logical offset off up to the end of its
// segment or MaxOffset, at most max of them, with a reference on the
// segment that the caller must Release. ok is false when off is not
// readable (below the first segment: deleted).
func (q *ConsumeQueue) Units(off int64, max int) (f *mappedfile.File, units []byte, ok bool) {
	hi := q.max.Load()
	if off < 0 || off >= hi || max <= 0 {
		return nil, nil, false
	}
	pos := off * UnitSize
	f = q.segs.Acquire(pos)
	if f == nil {
		return nil, nil, false
	}
	rel := pos - f.Start()
	end := min(q.fileSize, hi*UnitSize-f.Start(), rel+int64(max)*UnitSize)
	b, err := f.Bytes(rel, end-rel)
	if err != nil {
		f.Release()
		return nil, nil, false
	}
	return f, b, true
}

// Put writes the unit for queue offset off. An offset below MaxOffset is
// already present (re-dispatch after recovery) and skipped, unless the
// unit there differs, which is then rewritten (see rewrite); an offset
// above it is a gap, filled with blank units (a queue that starts above
// 0, e.g. on a new slave, starts its first segment there). It returns
// whether a unit was appended.
func (q *ConsumeQueue) Put(off int64, u Unit) (bool, error) {
	if q.closed.Load() {
		return false, ErrClosed
	}
	cur := q.max.Load()
	if off < cur {
		if have, ok := q.Unit(off); ok && have != u {
			return false, q.rewrite(off, have, u)
		}
		return false, nil
	}
	if off > cur {
		if q.segs.Last() == nil {
			// Empty queue: start at the segment holding off.
			start := off * UnitSize
			start -= start % q.fileSize
			q.max.Store(start / UnitSize)
			q.min.Store(off)
			cur = start / UnitSize
		} else {
			q.logger.Error("consume queue gap filled with blanks", "topic", q.topic, "queue", q.queueID, "expected", cur, "got", off)
		}
		for ; cur < off; cur++ {
			if err := q.write(cur, Unit{Offset: 0, Size: blankSize}); err != nil {
				return false, err
			}
		}
	}
	if err := q.write(off, u); err != nil {
		return false, err
	}
	if !u.Blank() {
		q.maxPhy.Store(u.Offset + int64(u.Size))
	}
	return true, nil
}

func (q *ConsumeQueue) write(off int64, u Unit) error {
	pos := off * UnitSize
	f := q.segs.Last()
	if f == nil || pos >= f.End() {
		var err error
		if f, err = q.segs.EnsureNext(pos - pos%q.fileSize); err != nil {
			return err
		}
	}
	if !f.Acquire() {
		return ErrClosed // destroyed by DeleteTopics meanwhile
	}
	defer f.Release()
	rel := pos - f.Start()
	if rel != f.Wrote() {
		return fmt.Errorf("consumequeue: %s/%d: unit at byte %d, segment written to %d", q.topic, q.queueID, rel, f.Wrote())
	}
	b, err := f.WriteBuf(UnitSize)
	if err != nil {
		return err
	}
	putUnit(b, u)
	f.Publish(UnitSize)
	q.max.Store(off + 1)
	return nil
}

// rewrite replaces the unit at off, below MaxOffset, with u. Only
// re-dispatch after a crash meets a unit that differs from the commit
// log's record: one torn by a power loss (a unit can straddle two disk
// sectors, and only one reached the platter) yet still plausible enough
// for Recover's scan. The commit log is the truth. The rewrite is synced
// at once: the queue's flush position is already past it, so no later
// flush would know to.
func (q *ConsumeQueue) rewrite(off int64, have, u Unit) error {
	pos := off * UnitSize
	f := q.segs.Acquire(pos)
	if f == nil {
		return nil // deleted by retention meanwhile
	}
	defer f.Release()
	var b [UnitSize]byte
	putUnit(b[:], u)
	if err := f.WriteAt(b[:], pos-f.Start()); err != nil {
		return fmt.Errorf("consumequeue: %s/%d: rewrite unit %d: %w", q.topic, q.queueID, off, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("consumequeue: %s/%d: rewrite unit %d: %w", q.topic, q.queueID, off, err)
	}
	if off == q.max.Load()-1 && !u.Blank() {
		q.maxPhy.Store(u.Offset + int64(u.Size))
	}
	q.logger.Warn("consume queue unit disagreed with the commit log and was rewritten",
		"topic", q.topic, "queue", q.queueID, "offset", off,
		"had", fmt.Sprintf("%d/%d/%d", have.Offset, have.Size, have.TagsCode),
		"now", fmt.Sprintf("%d/%d/%d", u.Offset, u.Size, u.TagsCode))
	return nil
}

// TruncateAfterPhy drops the units whose record ends past phyEnd (the
// commit log was cut there). Recovery calls it after re-dispatch, with the
// end of the recovered log.
func (q *ConsumeQueue) TruncateAfterPhy(phyEnd int64) error {
	end := q.max.Load()
	for end > q.min.Load() {
		u, ok := q.Unit(end - 1)
		if !ok {
			break
		}
		if u.Blank() || u.Offset+int64(u.Size) <= phyEnd {
			break
		}
		end--
	}
	if end == q.max.Load() {
		return nil
	}
	q.logger.Info("consume queue truncated", "topic", q.topic, "queue", q.queueID, "from", q.max.Load(), "to", end)
	if err := q.cutAt(end*UnitSize, q.max.Load()*UnitSize); err != nil {
		return err
	}
	q.maxPhy.Store(0)
	if u, ok := q.Unit(end - 1); ok && !u.Blank() {
		q.maxPhy.Store(u.Offset + int64(u.Size))
	}
	if q.min.Load() > end {
		q.min.Store(end)
	}
	return nil
}

// DeleteExpired removes the segments (never the last) whose units all
// point below minPhy, and moves MinOffset to the first unit at or above
// it. It returns how many segments it removed.
func (q *ConsumeQueue) DeleteExpired(minPhy int64) int {
	files := q.segs.Files()
	n := 0
	for n < len(files)-1 {
		f := files[n]
		if f.Wrote() < q.fileSize || !f.Acquire() {
			break
		}
		u := DecodeUnit(f.Data()[q.fileSize-UnitSize:])
		f.Release()
		if u.Blank() || u.Offset+int64(u.Size) > minPhy {
			break
		}
		n++
	}
	if n > 0 {
		q.segs.RemoveFirst(n)
	}
	q.CorrectMinOffset(minPhy)
	return n
}

// CorrectMinOffset moves MinOffset to the first unit whose record is at
// or above minPhy (records below it were deleted).
func (q *ConsumeQueue) CorrectMinOffset(minPhy int64) {
	first := q.segs.First()
	if first == nil {
		return
	}
	lo := max(q.min.Load(), first.Start()/UnitSize)
	hi := q.max.Load()
	// Units are ordered by commit-log offset (blanks only lead): binary
	// search for the first unit at or above minPhy.
	for lo < hi {
		mid := lo + (hi-lo)/2
		u, ok := q.Unit(mid)
		if !ok {
			break
		}
		if u.Blank() || u.Offset < minPhy {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > q.min.Load() {
		q.min.Store(lo)
	}
}

// OffsetByTime returns the first logical offset whose message was stored
// at or after ts (MaxOffset if none; MinOffset if all are). storeTime
// returns a record's store timestamp from the commit log.
func (q *ConsumeQueue) OffsetByTime(ts int64, storeTime func(phy int64) (int64, bool)) int64 {
	lo, hi := q.min.Load(), q.max.Load()
	for lo < hi {
		mid := lo + (hi-lo)/2
		u, ok := q.Unit(mid)
		if !ok {
			return lo
		}
		t, ok := int64(0), false
		if !u.Blank() {
			t, ok = storeTime(u.Offset)
		}
		if !ok || t < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Dirty returns how many units are not yet flushed.
func (q *ConsumeQueue) Dirty() int64 { return q.max.Load() - q.flushed.Load() }

// Flush makes every written unit durable.
func (q *ConsumeQueue) Flush() error {
	target := q.max.Load()
	if target <= q.flushed.Load() {
		return nil
	}
	if err := q.segs.Flush(); err != nil {
		return err
	}
	q.flushed.Store(target)
	return nil
}

// Close closes the segments (they are unmapped when readers are done).
func (q *ConsumeQueue) Close() {
	q.closed.Store(true)
	q.segs.Close()
}

// Destroy closes the queue and removes its directory.
func (q *ConsumeQueue) Destroy(fs vfs.FS) error {
	q.closed.Store(true)
	for _, f := range q.segs.Files() {
		f.Destroy()
	}
	q.segs.Close()
	return fs.RemoveAll(q.segs.Dir())
}
