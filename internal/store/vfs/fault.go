package vfs

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// Op names a file-system operation FaultFS can fail.
type Op int

// Operations FaultFS can fail.
const (
	OpOpen Op = iota
	OpWrite
	OpSync
	OpAllocate
	OpZeroRange
	OpMap
	OpRemove
	OpRename
	OpTruncate
	OpSyncDir
)

func (o Op) String() string {
	return [...]string{"open", "write", "sync", "allocate", "zero-range", "map", "remove", "rename", "truncate", "sync-dir"}[o]
}

// ErrInjected is the default error FaultFS returns.
var ErrInjected = errors.New("vfs: injected fault")

// ErrNoSpace is what a full disk returns (ENOSPC).
var ErrNoSpace error = syscall.ENOSPC

// FaultFS wraps an FS and fails operations chosen by a rule. The rule and
// the disk usage can be changed while the FS is in use.
type FaultFS struct {
	base FS

	mu    sync.Mutex
	rule  func(op Op, path string) error
	usage func(path string) (Usage, error)
	count [OpSyncDir + 1]int
}

// NewFaultFS returns a FaultFS over base with no faults.
func NewFaultFS(base FS) *FaultFS { return &FaultFS{base: base} }

// SetRule installs rule: it is called before every operation and a
// non-nil result fails the operation with that error. nil removes it.
func (fs *FaultFS) SetRule(rule func(op Op, path string) error) {
	fs.mu.Lock()
	fs.rule = rule
	fs.mu.Unlock()
}

// SetUsage overrides DiskUsage; nil restores the base FS's answer.
func (fs *FaultFS) SetUsage(usage func(path string) (Usage, error)) {
	fs.mu.Lock()
	fs.usage = usage
	fs.mu.Unlock()
}

// Count returns how many times op was attempted.
func (fs *FaultFS) Count(op Op) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.count[op]
}

func (fs *FaultFS) check(op Op, path string) error {
	fs.mu.Lock()
	fs.count[op]++
	rule := fs.rule
	fs.mu.Unlock()
	if rule == nil {
		return nil
	}
	if err := rule(op, path); err != nil {
		return &os.PathError{Op: op.String(), Path: path, Err: err}
	}
	return nil
}

// OpenFile implements FS.
func (fs *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := fs.check(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := fs.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fs: fs}, nil
}

// Remove implements FS.
func (fs *FaultFS) Remove(name string) error {
	if err := fs.check(OpRemove, name); err != nil {
		return err
	}
	return fs.base.Remove(name)
}

// RemoveAll implements FS.
func (fs *FaultFS) RemoveAll(path string) error {
	if err := fs.check(OpRemove, path); err != nil {
		return err
	}
	return fs.base.RemoveAll(path)
}

// Rename implements FS.
func (fs *FaultFS) Rename(oldpath, newpath string) error {
	if err := fs.check(OpRename, newpath); err != nil {
		return err
	}
	return fs.base.Rename(oldpath, newpath)
}

// MkdirAll implements FS.
func (fs *FaultFS) MkdirAll(dir string, perm os.FileMode) error { return fs.base.MkdirAll(dir, perm) }

// ReadDir implements FS.
func (fs *FaultFS) ReadDir(dir string) ([]os.DirEntry, error) { return fs.base.ReadDir(dir) }

// Stat implements FS.
func (fs *FaultFS) Stat(name string) (os.FileInfo, error) { return fs.base.Stat(name) }

// SyncDir implements FS.
func (fs *FaultFS) SyncDir(dir string) error {
	if err := fs.check(OpSyncDir, dir); err != nil {
		return err
	}
	return fs.base.SyncDir(dir)
}

// DiskUsage implements FS.
func (fs *FaultFS) DiskUsage(path string) (Usage, error) {
	fs.mu.Lock()
	usage := fs.usage
	fs.mu.Unlock()
	if usage != nil {
		return usage(path)
	}
	return fs.base.DiskUsage(path)
}

type faultFile struct {
	File
	fs *FaultFS
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(OpWrite, f.Name()); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(OpSync, f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Allocate(off, n int64) error {
	if err := f.fs.check(OpAllocate, f.Name()); err != nil {
		return err
	}
	return f.File.Allocate(off, n)
}

func (f *faultFile) ZeroRange(off, n int64) error {
	if err := f.fs.check(OpZeroRange, f.Name()); err != nil {
		return err
	}
	return f.File.ZeroRange(off, n)
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Map(size int, writable bool) ([]byte, error) {
	if err := f.fs.check(OpMap, f.Name()); err != nil {
		return nil, err
	}
	return f.File.Map(size, writable)
}
