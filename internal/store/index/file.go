package index

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Layout sizes.
const (
	HeaderSize = 40
	SlotSize   = 4
	EntrySize  = 20
)

// Header is the decoded 40-byte header.
type Header struct {
	BeginTimestamp int64
	EndTimestamp   int64
	BeginPhyOffset int64
	EndPhyOffset   int64
	HashSlotCount  int32
	IndexCount     int32
}

// DecodeHeader decodes a header (len(b) >= HeaderSize).
func DecodeHeader(b []byte) Header {
	be := binary.BigEndian
	return Header{
		BeginTimestamp: int64(be.Uint64(b)),
		EndTimestamp:   int64(be.Uint64(b[8:])),
		BeginPhyOffset: int64(be.Uint64(b[16:])),
		EndPhyOffset:   int64(be.Uint64(b[24:])),
		HashSlotCount:  int32(be.Uint32(b[32:])),
		IndexCount:     int32(be.Uint32(b[36:])),
	}
}

func (h *Header) put(b []byte) {
	be := binary.BigEndian
	be.PutUint64(b, uint64(h.BeginTimestamp))
	be.PutUint64(b[8:], uint64(h.EndTimestamp))
	be.PutUint64(b[16:], uint64(h.BeginPhyOffset))
	be.PutUint64(b[24:], uint64(h.EndPhyOffset))
	be.PutUint32(b[32:], uint32(h.HashSlotCount))
	be.PutUint32(b[36:], uint32(h.IndexCount))
}

// FileSize returns the size of a file with these dimensions.
func FileSize(slotNum, indexNum int) int64 {
	return HeaderSize + int64(slotNum)*SlotSize + int64(indexNum)*EntrySize
}

// KeyHash is Java's indexKeyHashMethod: abs(String.hashCode), 0 for
// Integer.MIN_VALUE.
func KeyHash(h int32) int32 {
	if h < 0 {
		h = -h
	}
	if h < 0 {
		return 0
	}
	return h
}

// File is one IndexFile.
type File struct {
	mf       *mappedfile.File
	slotNum  int
	indexNum int

	mu sync.RWMutex
	h  Header
	// nextPhy: records below it are indexed already (dedupe on
	// re-dispatch). Lowered by Truncate.
	nextPhy int64

	gen     atomic.Int64 // bumped by every Put
	flushed atomic.Int64 // gen covered by the last Flush
}

// CreateFile makes a new file at path.
func CreateFile(fs vfs.FS, path string, slotNum, indexNum int, logger *slog.Logger) (*File, error) {
	mf, err := mappedfile.CreatePath(fs, path, 0, FileSize(slotNum, indexNum), mappedfile.CreateOptions{}, logger)
	if err != nil {
		return nil, err
	}
	f := &File{mf: mf, slotNum: slotNum, indexNum: indexNum, h: Header{IndexCount: 1}}
	f.h.put(mf.Data())
	f.gen.Store(1)
	return f, nil
}

// OpenFile opens an existing file; a header that does not fit the file's
// dimensions is an error.
func OpenFile(fs vfs.FS, path string, slotNum, indexNum int, logger *slog.Logger) (*File, error) {
	mf, err := mappedfile.OpenPath(fs, path, 0, FileSize(slotNum, indexNum), mappedfile.CreateOptions{}, logger)
	if err != nil {
		return nil, err
	}
	h := DecodeHeader(mf.Data())
	if h.IndexCount == 0 {
		h.IndexCount = 1 // never written (a crash right after creation)
	}
	if h.IndexCount < 1 || int(h.IndexCount) > indexNum || h.HashSlotCount < 0 || int(h.HashSlotCount) > slotNum {
		mf.Close()
		return nil, fmt.Errorf("index: %s: header %+v does not fit %d slots and %d entries", path, h, slotNum, indexNum)
	}
	f := &File{mf: mf, slotNum: slotNum, indexNum: indexNum, h: h}
	if h.IndexCount > 1 {
		f.nextPhy = h.EndPhyOffset + 1
	}
	return f, nil
}

// Path returns the file path.
func (f *File) Path() string { return f.mf.Path() }

// Header returns a copy of the header.
func (f *File) Header() Header {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.h
}

// Full reports whether no entry is left.
func (f *File) Full() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return int(f.h.IndexCount) >= f.indexNum
}

// Indexed reports whether the record at phy was indexed already.
func (f *File) Indexed(phy int64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return phy < f.nextPhy
}

// Put adds an entry; it returns false when the file is full.
func (f *File) Put(keyHash int32, phy, storeTs int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if int(f.h.IndexCount) >= f.indexNum { // entry 0 is never used, as in Java
		return false
	}
	if !f.mf.Acquire() {
		return false
	}
	defer f.mf.Release()
	data := f.mf.Data()
	be := binary.BigEndian
	slotAt := HeaderSize + int64(keyHash%int32(f.slotNum))*SlotSize
	prev := int32(be.Uint32(data[slotAt:]))
	if prev <= 0 || prev >= f.h.IndexCount {
		prev = 0
	}
	var diff int64
	if f.h.BeginTimestamp > 0 {
		diff = (storeTs - f.h.BeginTimestamp) / 1000
		diff = max(0, min(diff, math.MaxInt32))
	}
	n := f.h.IndexCount
	at := HeaderSize + int64(f.slotNum)*SlotSize + int64(n)*EntrySize
	be.PutUint32(data[at:], uint32(keyHash))
	be.PutUint64(data[at+4:], uint64(phy))
	be.PutUint32(data[at+12:], uint32(diff))
	be.PutUint32(data[at+16:], uint32(prev))
	be.PutUint32(data[slotAt:], uint32(n))
	if n <= 1 {
		f.h.BeginPhyOffset = phy
		f.h.BeginTimestamp = storeTs
	}
	if prev == 0 {
		f.h.HashSlotCount++
	}
	f.h.IndexCount++
	f.h.EndPhyOffset = phy
	f.h.EndTimestamp = storeTs
	f.nextPhy = max(f.nextPhy, phy+1)
	f.h.put(data)
	f.gen.Add(1)
	return true
}

// MarkIndexed records that every record below phy has been indexed (so a
// record with no keys also moves the dedupe mark).
func (f *File) MarkIndexed(phy int64) {
	f.mu.Lock()
	f.nextPhy = max(f.nextPhy, phy)
	f.mu.Unlock()
}

// Truncate forgets that records at or above phy were indexed: the
// commit log was cut there (or recovery re-dispatches from there).
// Entries for them stay in the chains; lookups check the records.
func (f *File) Truncate(phy int64) {
	f.mu.Lock()
	f.nextPhy = min(f.nextPhy, phy)
	f.mu.Unlock()
}

// Select appends to out the commit-log offsets of entries with keyHash
// stored within [begin, end] (ms), newest first, until out holds maxNum.
func (f *File) Select(out []int64, keyHash int32, maxNum int, begin, end int64) []int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return selectEntries(f.mf.Data(), f.h, f.slotNum, out, keyHash, maxNum, begin, end)
}

// selectEntries walks a slot's chain in data; every number read is
// bounds-checked, so arbitrary bytes are safe.
func selectEntries(data []byte, h Header, slotNum int, out []int64, keyHash int32, maxNum int, begin, end int64) []int64 {
	if slotNum <= 0 || keyHash < 0 {
		return out
	}
	be := binary.BigEndian
	slotAt := HeaderSize + int64(keyHash%int32(slotNum))*SlotSize
	if slotAt+SlotSize > int64(len(data)) {
		return out
	}
	cur := int32(be.Uint32(data[slotAt:]))
	entries := HeaderSize + int64(slotNum)*SlotSize
	for cur > 0 && cur < h.IndexCount && len(out) < maxNum {
		at := entries + int64(cur)*EntrySize
		if at+EntrySize > int64(len(data)) {
			break
		}
		hash := int32(be.Uint32(data[at:]))
		phy := int64(be.Uint64(data[at+4:]))
		diff := int32(be.Uint32(data[at+12:]))
		prev := int32(be.Uint32(data[at+16:]))
		if diff < 0 {
			break
		}
		t := h.BeginTimestamp + int64(diff)*1000
		if hash == keyHash && begin <= t && t <= end {
			out = append(out, phy)
		}
		if prev >= cur || t < begin {
			break // chains only go back in time
		}
		cur = prev
	}
	return out
}

// Dirty reports whether entries were added since the last Flush.
func (f *File) Dirty() bool { return f.gen.Load() != f.flushed.Load() }

// Flush syncs the file if it is dirty. Only one goroutine flushes.
func (f *File) Flush() error {
	g := f.gen.Load()
	if g == f.flushed.Load() {
		return nil
	}
	if err := f.mf.Sync(); err != nil {
		return err
	}
	f.flushed.Store(g)
	return nil
}

// Close unmaps the file once its readers are done.
func (f *File) Close() { f.mf.Close() }

// Destroy is Close that removes the file.
func (f *File) Destroy() { f.mf.Destroy() }

// TimeMatched reports whether the file may hold entries stored in
// [begin, end].
func (f *File) TimeMatched(begin, end int64) bool {
	h := f.Header()
	return h.IndexCount > 1 && h.BeginTimestamp <= end && h.EndTimestamp >= begin
}
