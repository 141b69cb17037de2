package index

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("index: closed")

// Service owns the IndexFiles of a store.
type Service struct {
	fs       vfs.FS
	dir      string
	slotNum  int
	indexNum int
	logger   *slog.Logger
	now      func() time.Time

	mu     sync.RWMutex // guards files
	files  []*File
	closed bool

	key []byte // dispatch's scratch buffer for topic#key
}

// OpenService loads the IndexFiles in dir (created if missing). Files whose
// names are not 17-digit timestamps are ignored.
func OpenService(fs vfs.FS, dir string, slotNum, indexNum int, logger *slog.Logger) (*Service, error) {
	if slotNum <= 0 || indexNum <= 0 {
		return nil, fmt.Errorf("index: %d slots, %d entries", slotNum, indexNum)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Service{fs: fs, dir: dir, slotNum: slotNum, indexNum: indexNum, logger: logger, now: time.Now}
	entries, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), mappedfile.TempSuffix); ok && isTimestampName(name) {
			logger.Info("removing unfinished index file", "name", e.Name())
			if err := fs.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
			continue
		}
		if !e.IsDir() && isTimestampName(e.Name()) {
			names = append(names, e.Name())
		} else {
			logger.Warn("ignoring file that is not an index file", "dir", dir, "name", e.Name())
		}
	}
	slices.Sort(names)
	for _, n := range names {
		f, err := OpenFile(fs, filepath.Join(dir, n), slotNum, indexNum, logger)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
	}
	return s, nil
}

func isTimestampName(n string) bool {
	if len(n) != 17 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// Files returns a snapshot of the files, oldest first.
func (s *Service) Files() []*File {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.files)
}

func (s *Service) last() *File {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.files) == 0 {
		return nil
	}
	return s.files[len(s.files)-1]
}

// writable returns the file to add entries to, starting a new one when
// the last is full.
func (s *Service) writable() (*File, error) {
	if f := s.last(); f != nil && !f.Full() {
		return f, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	name := s.now().Format("20060102150405.000")
	name = name[:14] + name[15:]
	if n := len(s.files); n > 0 {
		// Names must grow even within one millisecond.
		if prev := filepath.Base(s.files[n-1].Path()); name <= prev {
			name = nextName(prev)
		}
	}
	f, err := CreateFile(s.fs, filepath.Join(s.dir, name), s.slotNum, s.indexNum, s.logger)
	if err != nil {
		return nil, err
	}
	if n := len(s.files); n > 0 {
		// The new file continues where the full one stopped.
		f.nextPhy = s.files[n-1].nextPhyLocked()
	}
	s.files = append(s.files, f)
	return f, nil
}

func (f *File) nextPhyLocked() int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.nextPhy
}

// nextName returns the 17-digit number after n.
func nextName(n string) string {
	b := []byte(n)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			break
		}
		b[i] = '0'
	}
	return string(b)
}

// BuildIndex indexes one record: topic#UNIQ_KEY and topic#k for each KEYS
// token. ROLLBACK records and records already indexed are skipped. Only
// the dispatch goroutine calls it.
func (s *Service) BuildIndex(r *message.Record) error {
	if message.TransactionType(r.SysFlag) == message.TransactionRollbackType {
		return nil
	}
	f, err := s.writable()
	if err != nil {
		return err
	}
	if f.Indexed(r.PhysicalOffset) {
		return nil
	}
	if uniq, ok := message.PropertyValue(r.Properties, message.PropertyUniqClientMessageIDKeyIdx); ok {
		if f, err = s.put(f, r, uniq); err != nil {
			return err
		}
	}
	if keys, ok := message.PropertyValue(r.Properties, message.PropertyKeys); ok {
		for len(keys) > 0 {
			i := bytes.IndexByte(keys, ' ')
			k := keys
			if i >= 0 {
				k, keys = keys[:i], keys[i+1:]
			} else {
				keys = nil
			}
			if len(k) == 0 {
				continue
			}
			if f, err = s.put(f, r, k); err != nil {
				return err
			}
		}
	}
	f.MarkIndexed(r.PhysicalOffset + int64(r.TotalSize))
	return nil
}

func (s *Service) put(f *File, r *message.Record, key []byte) (*File, error) {
	s.key = append(append(append(s.key[:0], r.Topic...), '#'), key...)
	h := KeyHash(message.JavaHashCodeBytes(s.key))
	for !f.Put(h, r.PhysicalOffset, r.StoreTimestamp) {
		if !f.Full() {
			return f, ErrClosed // the file is being closed
		}
		var err error
		if f, err = s.writable(); err != nil {
			return f, err
		}
	}
	return f, nil
}

// Query returns the commit-log offsets of messages whose key (a UNIQ_KEY
// or a KEYS token) of topic matches, stored within [begin, end] ms, at
// most maxNum, newest files first. Offsets may be hash collisions or
// stale: callers check the records. It also returns the end timestamp and
// offset of the newest file.
func (s *Service) Query(topic, key string, maxNum int, begin, end int64) (offsets []int64, lastTs, lastPhy int64) {
	files := s.Files()
	if len(files) == 0 || maxNum <= 0 {
		return nil, 0, 0
	}
	h := files[len(files)-1].Header()
	lastTs, lastPhy = h.EndTimestamp, h.EndPhyOffset
	hash := KeyHash(message.JavaHashCode(topic + "#" + key))
	for i := len(files) - 1; i >= 0 && len(offsets) < maxNum; i-- {
		f := files[i]
		if !f.TimeMatched(begin, end) {
			continue
		}
		if !f.mf.Acquire() {
			continue // deleted meanwhile
		}
		offsets = f.Select(offsets, hash, maxNum, begin, end)
		f.mf.Release()
	}
	return offsets, lastTs, lastPhy
}

// Truncate forgets that records at or above phy were indexed, in every
// file, and removes files that begin at or above it.
func (s *Service) Truncate(phy int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.files[:0]
	for _, f := range s.files {
		h := f.Header()
		if h.IndexCount > 1 && h.BeginPhyOffset >= phy {
			s.logger.Info("removing index file past the commit log end", "path", f.Path())
			f.Destroy()
			continue
		}
		f.Truncate(phy)
		keep = append(keep, f)
	}
	clear(s.files[len(keep):])
	s.files = keep
}

// DeleteExpired removes files (never the last) whose entries all point
// below minPhy. It returns how many it removed.
func (s *Service) DeleteExpired(minPhy int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.files)-1 && s.files[n].Header().EndPhyOffset < minPhy {
		s.logger.Info("deleted expired index file", "path", s.files[n].Path())
		s.files[n].Destroy()
		n++
	}
	if n > 0 {
		s.files = slices.Delete(s.files, 0, n)
	}
	return n
}

// Flush syncs the dirty files.
func (s *Service) Flush() error {
	var errs []error
	for _, f := range s.Files() {
		if f.Dirty() {
			if err := f.Flush(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close closes every file.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, f := range s.files {
		f.Close()
	}
	s.files = nil
}
