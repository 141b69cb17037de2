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
// place through the mapping (WriteBuf, then Publish), and flushes with
// fdatasync on the file descriptor, which writes back the pages dirtied
// through the mapping. Publish is the visibility point: readers only look
// below Wrote, an atomic that is stored after the bytes are in place.
//
// # Lifetime
//
// Readers take a reference (Acquire) and return it (Release). Destroy and
// Close mark the segment closing and drop the owner's reference; the
// mapping is unmapped, the descriptor closed (and, for Destroy, the file
// removed) only when the last reference is gone. So a reader never touches
// unmapped memory, however retention, truncation or shutdown race with it.
package mappedfile
