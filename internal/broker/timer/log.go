package timer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"

	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// entrySize is the size of a timer log entry (package comment).
const entrySize = 40

// ErrCorrupt marks a timer log entry that fails its checks.
var ErrCorrupt = errors.New("timer: corrupt log entry")

// entry is one timer log entry.
type entry struct {
	slot      int64
	prev      int64
	deliverMs int64
	offset    int64
	size      int32
}

func (e *entry) encode(b []byte) {
	binary.BigEndian.PutUint64(b[0:], uint64(e.slot))
	binary.BigEndian.PutUint64(b[8:], uint64(e.prev))
	binary.BigEndian.PutUint64(b[16:], uint64(e.deliverMs))
	binary.BigEndian.PutUint64(b[24:], uint64(e.offset))
	binary.BigEndian.PutUint32(b[32:], uint32(e.size))
	binary.BigEndian.PutUint32(b[36:], crc32.ChecksumIEEE(b[:36]))
}

func decodeEntry(b []byte) (entry, error) {
	if len(b) < entrySize {
		return entry{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if crc32.ChecksumIEEE(b[:36]) != binary.BigEndian.Uint32(b[36:]) {
		return entry{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	e := entry{
		slot:      int64(binary.BigEndian.Uint64(b[0:])),
		prev:      int64(binary.BigEndian.Uint64(b[8:])),
		deliverMs: int64(binary.BigEndian.Uint64(b[16:])),
		offset:    int64(binary.BigEndian.Uint64(b[24:])),
		size:      int32(binary.BigEndian.Uint32(b[32:])),
	}
	if e.prev < -1 || e.offset < 0 || e.size <= 0 {
		return entry{}, fmt.Errorf("%w: prev %d, offset %d, size %d", ErrCorrupt, e.prev, e.offset, e.size)
	}
	return e, nil
}

// timerLog is the append-only entry log on mapped segments. One goroutine
// uses it.
type timerLog struct {
	q        *mappedfile.Queue
	fileSize int64
	end      int64           // next append position
	maxSlot  map[int64]int64 // segment start -> newest slot linked by its entries
	logger   *slog.Logger
}

// openLog loads the segments in dir (entries-aligned fileSize).
func openLog(fs vfs.FS, dir string, fileSize int64, logger *slog.Logger) (*timerLog, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fileSize -= fileSize % entrySize
	if fileSize < entrySize {
		return nil, fmt.Errorf("timer: log file size %d holds no entry", fileSize)
	}
	q, err := mappedfile.NewQueue(fs, dir, fileSize, mappedfile.CreateOptions{}, logger)
	if err != nil {
		return nil, err
	}
	if err := q.Load(); err != nil {
		q.Close()
		return nil, err
	}
	return &timerLog{q: q, fileSize: fileSize, maxSlot: map[int64]int64{}, logger: logger}, nil
}

// recover cuts the log at end (what the checkpoint covers) and calls fn
// for every entry below it, in order. An entry that fails its checks
// below end ends the log there, with an error log line: what follows is
// not trusted. It returns the end actually kept.
func (l *timerLog) recover(end int64, fn func(pos int64, e entry)) (int64, error) {
	if end < 0 {
		end = 0
	}
	min := l.q.MinOffset()
	if end < min || l.q.Last() == nil {
		if end > 0 {
			l.logger.Error("timer log does not reach its checkpoint; starting it empty", "logEnd", end, "logStart", min)
		}
		l.q.ResetTo()
		l.end = 0
		return 0, nil
	}
	pos := min
scan:
	for _, f := range l.q.Files() {
		data := f.Data()
		for rel := int64(0); rel+entrySize <= l.fileSize; rel += entrySize {
			p := f.Start() + rel
			if p >= end {
				break scan
			}
			e, err := decodeEntry(data[rel:])
			if err != nil {
				l.logger.Error("timer log cut at a bad entry", "pos", p, "checkpoint", end, "err", err)
				break scan
			}
			l.noteSlot(p, e.slot)
			fn(p, e)
			pos = p + entrySize
		}
	}
	if pos < end {
		l.logger.Error("timer log ends before its checkpoint; entries after it are lost", "logEnd", end, "kept", pos)
	}
	if err := l.q.TruncateFrom(pos); err != nil {
		return 0, fmt.Errorf("timer: cut log at %d: %w", pos, err)
	}
	for _, f := range l.q.Files() {
		if f.End() <= pos {
			f.SetPositions(l.fileSize, l.fileSize)
		} else {
			f.SetPositions(pos-f.Start(), pos-f.Start())
		}
	}
	l.end = pos
	return pos, nil
}

func (l *timerLog) noteSlot(pos, slot int64) {
	start := pos - pos%l.fileSize
	if s, ok := l.maxSlot[start]; !ok || slot > s {
		l.maxSlot[start] = slot
	}
}

// append writes e at l.end and returns its position.
func (l *timerLog) append(e entry) (int64, error) {
	pos := l.end
	f := l.q.Last()
	if f == nil || pos >= f.End() {
		var err error
		if f, err = l.q.EnsureNext(pos - pos%l.fileSize); err != nil {
			return 0, fmt.Errorf("timer: new log segment: %w", err)
		}
	}
	if rel := pos - f.Start(); rel != f.Wrote() {
		return 0, fmt.Errorf("timer: log entry at %d, segment written to %d", rel, f.Wrote())
	}
	b, err := f.WriteBuf(entrySize)
	if err != nil {
		return 0, err
	}
	e.encode(b)
	f.Publish(entrySize)
	l.noteSlot(pos, e.slot)
	l.end = pos + entrySize
	return pos, nil
}

// read returns the entry at pos.
func (l *timerLog) read(pos int64) (entry, error) {
	f := l.q.Acquire(pos)
	if f == nil {
		return entry{}, fmt.Errorf("%w: position %d is not in the log", ErrCorrupt, pos)
	}
	defer f.Release()
	b, err := f.Bytes(pos-f.Start(), entrySize)
	if err != nil {
		return entry{}, err
	}
	return decodeEntry(b)
}

// minPos is the first position still in the log.
func (l *timerLog) minPos() int64 { return l.q.MinOffset() }

// flush makes every appended entry durable.
func (l *timerLog) flush() error { return l.q.Flush() }

// deleteBefore removes the oldest segments (never the last) whose entries
// are all linked into slots before slot, and returns how many it removed.
func (l *timerLog) deleteBefore(slot int64) int {
	files := l.q.Files()
	n := 0
	for n < len(files)-1 {
		s, ok := l.maxSlot[files[n].Start()]
		if ok && s >= slot {
			break
		}
		n++
	}
	for _, f := range l.q.RemoveFirst(n) {
		delete(l.maxSlot, f.Start())
	}
	return n
}

func (l *timerLog) close() { l.q.Close() }
