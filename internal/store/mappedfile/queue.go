package mappedfile

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Queue is the ordered list of same-size segments in one directory. The
// segments are contiguous: segment i starts where segment i-1 ends.
// Lookups are lock-free (a copy-on-write snapshot); changes are rare
// (roll, retention, truncation) and serialised by a mutex.
type Queue struct {
	fs       vfs.FS
	dir      string
	fileSize int64
	opts     CreateOptions
	logger   *slog.Logger

	mu    sync.Mutex // serialises changes of files
	files atomic.Pointer[[]*File]

	prep *preallocator // nil: segments are created inline
}

// NewQueue returns an empty queue over dir (created if missing).
func NewQueue(fs vfs.FS, dir string, fileSize int64, opts CreateOptions, logger *slog.Logger) (*Queue, error) {
	if fileSize <= 0 {
		return nil, fmt.Errorf("mappedfile: file size %d", fileSize)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	q := &Queue{fs: fs, dir: dir, fileSize: fileSize, opts: opts, logger: logger}
	q.files.Store(&[]*File{})
	return q, nil
}

// Dir returns the directory.
func (q *Queue) Dir() string { return q.dir }

// Load opens every segment in the directory. Files whose names are not 20
// digits are ignored with a warning; a wrong size or a gap between
// segments is an error (the directory is not ours, or was tampered with).
func (q *Queue) Load() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	entries, err := q.fs.ReadDir(q.dir)
	if err != nil {
		return err
	}
	var files []*File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if name, ok := strings.CutSuffix(e.Name(), TempSuffix); ok {
			if _, err := ParseFileName(name); err == nil {
				// A segment whose preparation a crash interrupted.
				q.logger.Info("removing unfinished segment", "dir", q.dir, "name", e.Name())
				if err := q.fs.Remove(filepath.Join(q.dir, e.Name())); err != nil {
					return err
				}
				continue
			}
		}
		if _, err := ParseFileName(e.Name()); err != nil {
			q.logger.Warn("ignoring file that is not a segment", "dir", q.dir, "name", e.Name())
			continue
		}
		f, err := Open(q.fs, filepath.Join(q.dir, e.Name()), q.fileSize, q.opts, q.logger)
		if err != nil {
			closeAll()
			return err
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *File) int { return cmp.Compare(a.start, b.start) })
	for i, f := range files {
		if f.start%q.fileSize != 0 || (i > 0 && files[i-1].End() != f.start) {
			closeAll()
			return fmt.Errorf("mappedfile: %s: segment %s does not follow the previous one", q.dir, filepath.Base(f.path))
		}
	}
	q.files.Store(&files)
	return nil
}

// Files returns a snapshot of the segments, oldest first. The caller must
// not modify it; its segments may be closing.
func (q *Queue) Files() []*File { return *q.files.Load() }

// First returns the oldest segment, or nil.
func (q *Queue) First() *File {
	fs := q.Files()
	if len(fs) == 0 {
		return nil
	}
	return fs[0]
}

// Last returns the newest segment, or nil.
func (q *Queue) Last() *File {
	fs := q.Files()
	if len(fs) == 0 {
		return nil
	}
	return fs[len(fs)-1]
}

// MinOffset returns the start of the oldest segment (0 when empty).
func (q *Queue) MinOffset() int64 {
	if f := q.First(); f != nil {
		return f.start
	}
	return 0
}

// Find returns the segment holding offset, without taking a reference.
func (q *Queue) Find(offset int64) *File {
	fs := q.Files()
	if len(fs) == 0 || offset < fs[0].start {
		return nil
	}
	i := (offset - fs[0].start) / q.fileSize
	if i >= int64(len(fs)) {
		return nil
	}
	return fs[i]
}

// Acquire returns the segment holding offset with a reference taken, or
// nil if there is none (or it is being deleted). It does not allocate.
func (q *Queue) Acquire(offset int64) *File {
	f := q.Find(offset)
	if f == nil || !f.Acquire() {
		return nil
	}
	return f
}

// Create appends a new segment starting at offset, which must be the end
// of the last segment (or aligned to the file size when the queue is
// empty). With a preallocator running, a segment prepared for offset is
// taken from it.
func (q *Queue) Create(offset int64) (*File, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.createLocked(offset)
}

func (q *Queue) createLocked(offset int64) (*File, error) {
	fs := q.Files()
	if n := len(fs); n > 0 && fs[n-1].End() != offset {
		return nil, fmt.Errorf("mappedfile: %s: new segment at %d does not follow %d", q.dir, offset, fs[n-1].End())
	}
	if offset%q.fileSize != 0 {
		return nil, fmt.Errorf("mappedfile: %s: segment offset %d not aligned to %d", q.dir, offset, q.fileSize)
	}
	var (
		f   *File
		err error
	)
	if q.prep != nil {
		f, err = q.prep.take(offset)
	} else {
		f, err = Create(q.fs, q.dir, offset, q.fileSize, q.opts, q.logger)
	}
	if err != nil {
		return nil, err
	}
	next := append(slices.Clip(fs), f)
	q.files.Store(&next)
	if q.prep != nil {
		q.prep.request(offset + q.fileSize)
	}
	return f, nil
}

// EnsureNext returns the segment starting at offset, creating it if the
// queue ends there. Used by the writer at a roll.
func (q *Queue) EnsureNext(offset int64) (*File, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if f := q.Find(offset); f != nil && f.start == offset {
		return f, nil
	}
	return q.createLocked(offset)
}

// TruncateFrom cuts the queue at offset: segments starting at or after it
// are destroyed, and the segment holding it is zeroed from there on.
func (q *Queue) TruncateFrom(offset int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	fs := q.Files()
	keep := fs[:0:0]
	for _, f := range fs {
		switch {
		case f.start >= offset:
			f.Destroy()
		case f.End() > offset:
			if err := f.ZeroFrom(offset - f.start); err != nil {
				return err
			}
			keep = append(keep, f)
		default:
			keep = append(keep, f)
		}
	}
	q.files.Store(&keep)
	if q.prep != nil {
		q.prep.discard()
	}
	return nil
}

// RemoveFirst destroys the n oldest segments (never the last one).
func (q *Queue) RemoveFirst(n int) []*File {
	q.mu.Lock()
	defer q.mu.Unlock()
	fs := q.Files()
	n = min(n, len(fs)-1)
	if n <= 0 {
		return nil
	}
	removed := slices.Clone(fs[:n])
	rest := slices.Clone(fs[n:])
	q.files.Store(&rest)
	for _, f := range removed {
		f.Destroy()
	}
	return removed
}

// ResetTo destroys every segment and makes the queue start empty, so the
// next Create may use any aligned offset (a ConsumeQueue whose units all
// expired, or a slave that starts from the master's offset).
func (q *Queue) ResetTo() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range q.Files() {
		f.Destroy()
	}
	q.files.Store(&[]*File{})
	if q.prep != nil {
		q.prep.discard()
	}
}

// Close closes every segment (unmapped when their readers are done) and
// stops the preallocator.
func (q *Queue) Close() {
	if q.prep != nil {
		q.prep.stop()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range q.Files() {
		f.Close()
	}
	q.files.Store(&[]*File{})
}

// Flush flushes every segment that has unflushed bytes.
func (q *Queue) Flush() error {
	var errs []error
	for _, f := range q.Files() {
		if f.Wrote() > f.Flushed() {
			if _, err := f.Flush(); err != nil && !errors.Is(err, ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
