// Package vfs is the store's file-system seam: every file the store
// creates, syncs, allocates, maps or removes goes through an FS, so tests
// can inject faults (write, fsync and allocation errors, a full disk)
// with FaultFS instead of needing a broken disk.
//
// Default is the operating system. Files are opened with the usual flags;
// Sync is fdatasync(2); Allocate is fallocate(2) mode 0, so blocks are
// reserved and a write through a shared mapping of the range can never
// raise SIGBUS on a full disk; Map is mmap(2) MAP_SHARED of the whole file.
package vfs
