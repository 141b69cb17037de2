package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/gorocket/gorocket/internal/store/vfs"
)

// File names inside the config directory (Java's BrokerPathConfigHelper).
const (
	TopicsFile            = "topics.json"
	ConsumerOffsetFile    = "consumerOffset.json"
	SubscriptionGroupFile = "subscriptionGroup.json"
)

// Suffixes of the backup and the save in progress.
const (
	BakSuffix = ".bak"
	TmpSuffix = ".tmp"
)

var (
	// ErrCorrupt marks a file whose content cannot be used: it does not
	// parse, or is too large. Load wraps it with the file's path.
	ErrCorrupt = errors.New("configfile: corrupt file")
	// ErrTooLarge is wrapped by ErrCorrupt for files over Options.MaxSize.
	ErrTooLarge = errors.New("configfile: file too large")
)

// Dir returns the broker's config directory under storePathRootDir.
func Dir(storePathRootDir string) string {
	return filepath.Join(storePathRootDir, "config")
}

// Options configure a File.
type Options struct {
	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS
	// MaxSize bounds the bytes Load reads from one file; a larger file is
	// treated as corrupt.
	MaxSize int64
}

// DefaultOptions returns the defaults: the OS file system and a 256 MiB
// limit (a table of 100,000 topics is about 25 MiB).
func DefaultOptions() Options {
	return Options{FS: vfs.Default, MaxSize: 256 << 20}
}

// Validate reports invalid settings.
func (o *Options) Validate() error {
	if o.MaxSize <= 0 {
		return fmt.Errorf("configfile: MaxSize %d must be positive", o.MaxSize)
	}
	return nil
}

// File is one persisted table.
type File struct {
	path string
	fs   vfs.FS
	max  int64
	log  *slog.Logger

	mu sync.Mutex // serializes Save
}

// New returns the File at path. A nil opts.FS means the OS; a nil log
// discards.
func New(path string, opts Options, log *slog.Logger) (*File, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &File{path: path, fs: opts.FS, max: opts.MaxSize, log: log.With("file", path)}, nil
}

// Open returns the File named name (TopicsFile, ...) in the broker's
// config directory dir, with the default options on fsys (nil: the OS).
func Open(dir, name string, fsys vfs.FS, log *slog.Logger) (*File, error) {
	opts := DefaultOptions()
	opts.FS = fsys
	return New(filepath.Join(dir, name), opts, log)
}

// Path returns the path of the main file.
func (f *File) Path() string { return f.path }

// Load reads the table into the caller through decode, following the
// fallback rules of the package comment. decode must leave its target
// untouched when it returns an error (decode into a fresh value and adopt
// it at the end). found is false when neither file holds any data.
func (f *File) Load(decode func([]byte) error) (found bool, err error) {
	mainErr := f.loadOne(f.path, decode)
	if mainErr == nil {
		return true, nil
	}
	if !isRecoverable(mainErr) {
		return false, mainErr
	}
	if !errors.Is(mainErr, fs.ErrNotExist) {
		f.log.Warn("config file unusable, trying the backup", "err", mainErr)
	}

	bak := f.path + BakSuffix
	bakErr := f.loadOne(bak, decode)
	switch {
	case bakErr == nil:
		if errors.Is(mainErr, fs.ErrNotExist) {
			f.log.Warn("config file missing, loaded the backup (a save was interrupted)", "backup", bak)
		} else {
			f.log.Warn("loaded the backup; changes of the last save are lost", "backup", bak)
		}
		return true, nil
	case !isRecoverable(bakErr):
		if errors.Is(mainErr, ErrCorrupt) {
			return false, errors.Join(mainErr, bakErr)
		}
		return false, bakErr
	case errors.Is(bakErr, fs.ErrNotExist) || errors.Is(bakErr, errEmpty):
		if errors.Is(mainErr, ErrCorrupt) {
			return false, fmt.Errorf("%w (no usable backup %s; remove the file to start empty)", mainErr, bak)
		}
		return false, nil
	default:
		if errors.Is(mainErr, ErrCorrupt) {
			return false, errors.Join(mainErr, bakErr)
		}
		return false, bakErr
	}
}

var errEmpty = errors.New("configfile: empty file")

// isRecoverable reports whether the backup may stand in for a file that
// failed with err: a missing, empty or corrupt file, but not an I/O error.
func isRecoverable(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errEmpty) || errors.Is(err, ErrCorrupt)
}

func (f *File) loadOne(path string, decode func([]byte) error) error {
	data, err := f.read(path)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%s: %w", path, errEmpty)
	}
	if err := decode(data); err != nil {
		return fmt.Errorf("%w %s: %w", ErrCorrupt, path, err)
	}
	return nil
}

func (f *File) read(path string) ([]byte, error) {
	h, err := f.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size > f.max {
		return nil, fmt.Errorf("%w %s: %w: %d bytes, limit %d", ErrCorrupt, path, ErrTooLarge, size, f.max)
	}
	// Read one byte past the size seen, in case the file grew.
	buf := make([]byte, size+1)
	n, err := h.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if int64(n) > size {
		return nil, fmt.Errorf("%s: changed while being read", path)
	}
	return buf[:n], nil
}

// Save replaces the file with data, keeping the previous file as the
// backup (see the package comment for the steps and what a failure at
// each leaves behind).
func (f *File) Save(data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()

	dir := filepath.Dir(f.path)
	if err := f.ensureDir(dir); err != nil {
		return fmt.Errorf("configfile: save %s: %w", f.path, err)
	}
	tmp := f.path + TmpSuffix
	if err := f.writeSynced(tmp, data); err != nil {
		_ = f.fs.Remove(tmp)
		return fmt.Errorf("configfile: save %s: %w", f.path, err)
	}
	bak := f.path + BakSuffix
	if _, err := f.fs.Stat(f.path); err == nil {
		if err := f.fs.Rename(f.path, bak); err != nil {
			_ = f.fs.Remove(tmp)
			return fmt.Errorf("configfile: save %s: keep backup: %w", f.path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = f.fs.Remove(tmp)
		return fmt.Errorf("configfile: save %s: %w", f.path, err)
	}
	if err := f.fs.Rename(tmp, f.path); err != nil {
		// The backup holds the previous table and Load falls back to it;
		// try to put it back anyway so the directory looks as before.
		if rerr := f.fs.Rename(bak, f.path); rerr != nil {
			f.log.Error("config file left as backup only", "err", rerr)
		}
		return fmt.Errorf("configfile: save %s: %w", f.path, err)
	}
	// The new file is in place and is what a restart reads unless the
	// machine crashes before the rename reaches the disk. Failing the save
	// now would have the caller keep the old table in memory while the
	// file holds the new one; the next save's sync makes it durable.
	if err := f.fs.SyncDir(dir); err != nil {
		f.log.Error("config file saved but its directory entry not synced: the change may not survive a crash until the next save", "err", err)
	}
	return nil
}

// ensureDir creates dir if needed and makes its entry durable in its
// parent, so that a crash cannot lose the directory with the file.
func (f *File) ensureDir(dir string) error {
	if _, err := f.fs.Stat(dir); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := f.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return f.fs.SyncDir(filepath.Dir(dir))
}

func (f *File) writeSynced(path string, data []byte) error {
	h, err := f.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := h.WriteAt(data, 0); err != nil {
		h.Close()
		return err
	}
	if err := h.Sync(); err != nil {
		h.Close()
		return err
	}
	return h.Close()
}

// Marshal encodes v as the files are written: standard JSON, indented
// with tabs as fastjson's pretty format is, ending in a newline.
func Marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("configfile: encode: %w", err)
	}
	return append(b, '\n'), nil
}
