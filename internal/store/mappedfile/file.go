package mappedfile

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorocket/gorocket/internal/store/vfs"
	"golang.org/x/sys/unix"
)

// Errors.
var (
	ErrClosed    = errors.New("mappedfile: closed")
	ErrBadName   = errors.New("mappedfile: file name is not a 20-digit offset")
	ErrBadSize   = errors.New("mappedfile: file has the wrong size")
	ErrNoRoom    = errors.New("mappedfile: not enough room in segment")
	ErrOutOfFile = errors.New("mappedfile: range outside segment")
)

// PageSize is the OS page size flushes and residency are counted in.
var PageSize = int64(os.Getpagesize())

// FileName returns the 20-digit name of a segment starting at offset.
func FileName(offset int64) string { return fmt.Sprintf("%020d", offset) }

// ParseFileName returns the start offset encoded in a segment's name.
func ParseFileName(name string) (int64, error) {
	if len(name) != 20 {
		return 0, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	v, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return v, nil
}

// File is one mapped segment.
type File struct {
	fs     vfs.FS
	path   string
	start  int64
	size   int64
	f      vfs.File
	data   []byte
	logger *slog.Logger

	wrote   atomic.Int64 // bytes readers may see
	flushed atomic.Int64 // bytes known durable
	flushMu sync.Mutex

	// refs is (references << 1) | closingBit. The owner holds one
	// reference from creation until Close or Destroy.
	refs    atomic.Int64
	remove  atomic.Bool
	cleaned chan struct{}

	// lastWrite is the unix-ms time of the last Publish, for retention.
	lastWrite atomic.Int64
}

const closingBit = 1

// CreateOptions say how a segment is prepared and mapped.
type CreateOptions struct {
	// Warm writes zeros over the whole segment and syncs them before it
	// is mapped (new segments only).
	Warm bool
	// ReadOnly maps the segment read-only; the writer then uses WriteAt
	// (pwrite) instead of WriteBuf.
	ReadOnly bool
}

// Create makes a new segment file of size bytes starting at offset in
// dir: fallocate, optionally warm, then map read-write. An existing file
// of that name is truncated first.
func Create(fs vfs.FS, dir string, offset, size int64, opts CreateOptions, logger *slog.Logger) (*File, error) {
	return CreatePath(fs, filepath.Join(dir, FileName(offset)), offset, size, opts, logger)
}

// CreatePath is Create for a file whose name is not its offset (the
// IndexFile names files by creation time).
//
// The file is prepared under path+".tmp" (allocated, warmed, synced) and
// renamed into place, then the directory is synced: a crash leaves either
// a complete segment or a temporary file that Load removes, never a
// short segment.
func CreatePath(fs vfs.FS, path string, offset, size int64, opts CreateOptions, logger *slog.Logger) (*File, error) {
	tmp := path + TempSuffix
	f, err := fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*File, error) {
		f.Close()
		fs.Remove(tmp)
		return nil, err
	}
	if err := f.Allocate(0, size); err != nil {
		return fail(err)
	}
	if opts.Warm {
		if err := warm(f, size); err != nil {
			return fail(err)
		}
	} else if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		fs.Remove(path)
		return nil, err
	}
	data, err := f.Map(int(size), !opts.ReadOnly)
	if err != nil {
		f.Close()
		fs.Remove(path)
		return nil, err
	}
	return newFile(fs, path, offset, size, f, data, logger), nil
}

// TempSuffix marks a segment being prepared.
const TempSuffix = ".tmp"

func warm(f vfs.File, size int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// Open maps an existing segment. Its size must be size. Wrote and Flushed
// start at 0; recovery sets them.
func Open(fs vfs.FS, path string, size int64, opts CreateOptions, logger *slog.Logger) (*File, error) {
	offset, err := ParseFileName(filepath.Base(path))
	if err != nil {
		return nil, err
	}
	return OpenPath(fs, path, offset, size, opts, logger)
}

// OpenPath is Open for a file whose name is not its offset.
func OpenPath(fs vfs.FS, path string, offset, size int64, opts CreateOptions, logger *slog.Logger) (*File, error) {
	f, err := fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() != size {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrBadSize, path, st.Size(), size)
	}
	// Reserve blocks a crash may have left unallocated (cheap if they exist).
	if err := f.Allocate(0, size); err != nil {
		f.Close()
		return nil, err
	}
	data, err := f.Map(int(size), !opts.ReadOnly)
	if err != nil {
		f.Close()
		return nil, err
	}
	m := newFile(fs, path, offset, size, f, data, logger)
	m.lastWrite.Store(st.ModTime().UnixMilli())
	return m, nil
}

func newFile(fs vfs.FS, path string, offset, size int64, f vfs.File, data []byte, logger *slog.Logger) *File {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &File{fs: fs, path: path, start: offset, size: size, f: f, data: data, logger: logger, cleaned: make(chan struct{})}
	m.refs.Store(2) // the owner's reference
	m.lastWrite.Store(time.Now().UnixMilli())
	return m
}

// Path returns the file path.
func (m *File) Path() string { return m.path }

// Start returns the offset of the segment's first byte.
func (m *File) Start() int64 { return m.start }

// Size returns the segment size.
func (m *File) Size() int64 { return m.size }

// End returns Start()+Size().
func (m *File) End() int64 { return m.start + m.size }

// Wrote returns how many bytes are published.
func (m *File) Wrote() int64 { return m.wrote.Load() }

// Flushed returns how many bytes are durable.
func (m *File) Flushed() int64 { return m.flushed.Load() }

// LastWrite returns the time of the last Publish (or the file's
// modification time for a segment opened from disk).
func (m *File) LastWrite() time.Time { return time.UnixMilli(m.lastWrite.Load()) }

// SetPositions sets Wrote and Flushed, for recovery.
func (m *File) SetPositions(wrote, flushed int64) {
	m.wrote.Store(wrote)
	m.flushed.Store(min(flushed, wrote))
}

// WriteBuf returns the n bytes after Wrote for the writer to fill in
// place. The caller must be the only writer and must Publish afterwards.
func (m *File) WriteBuf(n int64) ([]byte, error) {
	w := m.wrote.Load()
	if n < 0 || w+n > m.size {
		return nil, ErrNoRoom
	}
	return m.data[w : w+n : w+n], nil
}

// WriteAt writes p at segment position pos with pwrite(2), without
// publishing it. The caller must hold a reference or be the owner.
func (m *File) WriteAt(p []byte, pos int64) error {
	if pos < 0 || pos+int64(len(p)) > m.size {
		return ErrNoRoom
	}
	for len(p) > 0 {
		n, err := m.f.WriteAt(p, pos)
		if err != nil {
			return err
		}
		p, pos = p[n:], pos+int64(n)
	}
	return nil
}

// Publish makes n more bytes visible to readers.
func (m *File) Publish(n int64) { m.wrote.Add(n) }

// Touch records now as the time of the last write (retention age).
func (m *File) Touch(now time.Time) { m.lastWrite.Store(now.UnixMilli()) }

// Append copies p after Wrote and publishes it.
func (m *File) Append(p []byte) error {
	b, err := m.WriteBuf(int64(len(p)))
	if err != nil {
		return err
	}
	copy(b, p)
	m.Publish(int64(len(p)))
	return nil
}

// Flush makes everything published durable; it returns the flushed
// position. Safe for concurrent use.
func (m *File) Flush() (int64, error) {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	w := m.wrote.Load()
	if w <= m.flushed.Load() {
		return m.flushed.Load(), nil
	}
	if !m.Acquire() {
		return m.flushed.Load(), ErrClosed
	}
	defer m.Release()
	if err := m.f.Sync(); err != nil {
		return m.flushed.Load(), err
	}
	m.flushed.Store(w)
	return w, nil
}

// Sync fdatasyncs the file whatever Wrote and Flushed say (files written
// in place at random positions, like IndexFiles, track dirtiness
// themselves).
func (m *File) Sync() error {
	if !m.Acquire() {
		return ErrClosed
	}
	defer m.Release()
	return m.f.Sync()
}

// Acquire takes a reference; it fails once the file is closing.
func (m *File) Acquire() bool {
	for {
		v := m.refs.Load()
		if v&closingBit != 0 {
			return false
		}
		if m.refs.CompareAndSwap(v, v+2) {
			return true
		}
	}
}

// Release returns a reference taken with Acquire.
func (m *File) Release() {
	if m.refs.Add(-2) == closingBit {
		m.cleanup()
	}
}

// Bytes returns the segment-relative range [pos, pos+n). The caller must
// hold a reference while it uses the bytes.
func (m *File) Bytes(pos, n int64) ([]byte, error) {
	if pos < 0 || n < 0 || pos+n > m.size {
		return nil, ErrOutOfFile
	}
	return m.data[pos : pos+n : pos+n], nil
}

// Data returns the whole mapping; the caller must hold a reference.
func (m *File) Data() []byte { return m.data }

// Close marks the segment closing; it is unmapped and closed when the last
// reader releases it. Idempotent.
func (m *File) Close() { m.shutdown(false) }

// Destroy is Close that also removes the file.
func (m *File) Destroy() { m.shutdown(true) }

// Done is closed once the mapping is gone.
func (m *File) Done() <-chan struct{} { return m.cleaned }

func (m *File) shutdown(remove bool) {
	for {
		v := m.refs.Load()
		if v&closingBit != 0 {
			if remove {
				m.remove.Store(true) // closed earlier: removed at cleanup
			}
			return
		}
		if m.refs.CompareAndSwap(v, v|closingBit) {
			break
		}
	}
	if remove {
		// Unlink now, not when the last reader lets go: a file of the
		// same name may be created meanwhile (a queue deleted and
		// recreated), and a late unlink would remove that one. The
		// open descriptor and the mapping stay valid until cleanup.
		if err := m.fs.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.logger.Error("remove segment", "path", m.path, "err", err)
		}
	}
	m.Release() // the owner's reference
}

func (m *File) cleanup() {
	if err := vfs.Unmap(m.data); err != nil {
		m.logger.Error("unmap segment", "path", m.path, "err", err)
	}
	m.data = nil
	if err := m.f.Close(); err != nil {
		m.logger.Error("close segment", "path", m.path, "err", err)
	}
	if m.remove.Load() {
		if err := m.fs.Remove(m.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.logger.Error("remove segment", "path", m.path, "err", err)
		}
	}
	close(m.cleaned)
}

// ZeroFrom makes [pos, Size) read as zeros and sets Wrote and Flushed to
// pos; recovery uses it to cut a torn or corrupt tail so that stale bytes
// can never be taken for records later.
func (m *File) ZeroFrom(pos int64) error {
	if pos < 0 || pos > m.size {
		return ErrOutOfFile
	}
	// Clear the partial page with pwrite (the mapping may be read-only),
	// then zero whole pages in the file.
	pageEnd := min((pos+PageSize-1)/PageSize*PageSize, m.size)
	if pageEnd > pos {
		if _, err := m.f.WriteAt(make([]byte, pageEnd-pos), pos); err != nil {
			return err
		}
	}
	if pageEnd < m.size {
		if err := m.f.ZeroRange(pageEnd, m.size-pageEnd); err != nil {
			return err
		}
	}
	if err := m.f.Sync(); err != nil {
		return err
	}
	m.wrote.Store(pos)
	m.flushed.Store(pos)
	return nil
}

// AdviseRandom turns the kernel's read-ahead for the mapping off (true)
// or back to normal (false). A recovery scan that touches a page or two of
// each of thousands of segments sets it first: with read-ahead, every
// first touch reads megabytes (the device's read_ahead_kb, 8 MiB on some
// virtual disks) into the page cache. It is advice: failures are ignored.
func (m *File) AdviseRandom(random bool) {
	advice := unix.MADV_NORMAL
	if random {
		advice = unix.MADV_RANDOM
	}
	if len(m.data) > 0 {
		_ = unix.Madvise(m.data, advice)
	}
}

// Resident returns how many bytes of [pos, pos+n) are in the page cache.
// The caller must hold a reference.
func (m *File) Resident(pos, n int64, vec []byte) (int64, error) {
	if pos < 0 || n <= 0 || pos+n > m.size {
		return 0, ErrOutOfFile
	}
	first := pos / PageSize * PageSize
	end := pos + n
	var resident int64
	for first < end {
		chunkEnd := min(end, first+int64(len(vec))*PageSize)
		chunkEnd = min((chunkEnd+PageSize-1)/PageSize*PageSize, m.size)
		pages := (chunkEnd - first + PageSize - 1) / PageSize
		if err := mincore(m.data[first:chunkEnd], vec[:pages]); err != nil {
			return 0, &os.PathError{Op: "mincore", Path: m.path, Err: err}
		}
		for i := int64(0); i < pages; i++ {
			if vec[i]&1 == 0 {
				continue
			}
			lo, hi := max(first+i*PageSize, pos), min(first+(i+1)*PageSize, end)
			if hi > lo {
				resident += hi - lo
			}
		}
		first = chunkEnd
	}
	return resident, nil
}

// mincore wraps mincore(2), which x/sys/unix does not export on Linux.
func mincore(b, vec []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return errno
	}
	return nil
}
