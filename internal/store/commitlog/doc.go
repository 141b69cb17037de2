// Package commitlog is RocketMQ's CommitLog: one append-only log of stored
// records (package message) for all topics, on fixed-size segments
// (package mappedfile).
//
// Appends are encoded under one lock into a write buffer; a committer
// goroutine writes buffers out with pwrite and publishes them; segments
// are mapped read-only for readers, who only look below the published
// offset. Two flush modes: AsyncFlush acknowledges once bytes are in the
// page cache and a flusher syncs on an interval (FlushInterval when at
// least FlushLeastPages pages are dirty, everything every
// FlushThoroughInterval); SyncFlush acknowledges after an fdatasync that
// covers the append (group commit: one sync, many acknowledgements). A
// failed write or sync breaks the log: it refuses appends until reopened.
//
// Records never span segments; the end of a segment that cannot take the
// next record is closed by a blank marker and counts as written up to the
// segment end (so replication ships whole segments).
//
// Invariants:
//   - reserved >= committed >= flushed (commit-log offsets).
//   - Bytes below committed are in the page cache and never change again,
//     except by truncation during recovery.
//   - A record's PHYSICALOFFSET equals its position.
//   - Every waiter is completed exactly once.
package commitlog
