// Package mappedfile owns fixed-size segment files mapped into memory: one
// File per segment, and a Queue of consecutive segments named by their
// 20-digit start offset (RocketMQ's MappedFile and MappedFileQueue).
//
// # Writes
//
// A segment is created with fallocate(2), so its blocks exist before any
// byte is written through the mapping: a write can never raise SIGBUS on a
// full disk, and a full disk shows up as an error when a segment is
// created. Optionally it is warmed: zeros are written and synced so its
// extents are no longer "unwritten" and later fdatasyncs need no metadata
// update (docs/benchmarks.md, Store, has the measurement).
//
// The single writer (the caller holds its own lock) fills the segment in
// one of two ways: through a writable mapping (WriteBuf, then Publish),
// or, for a segment created with CreateOptions.ReadOnly (the commit log),
// with pwrite (WriteAt, then Publish) while the mapping serves readers
// only. Either way it flushes with fdatasync on the
// file descriptor. Publish is the visibility point: readers only look
// below Wrote, an atomic that is stored after the bytes are in place.
//
// # Lifetime
//
// Readers take a reference (Acquire) and return it (Release). Destroy and
// Close mark the segment closing and drop the owner's reference; the
// mapping is unmapped and the descriptor closed only when the last
// reference is gone. Destroy unlinks the file at once (the open descriptor
// keeps its pages), so that a segment of the same name created meanwhile
// is never removed by a late cleanup. So a reader never touches
// unmapped memory, however retention, truncation or shutdown race with it.
package mappedfile
