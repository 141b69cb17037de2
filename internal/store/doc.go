// Package store is the message store: RocketMQ's CommitLog, ConsumeQueue
// and IndexFile on mapped segment files, with synchronous (group commit)
// and asynchronous flush, crash recovery, retention and the reads the
// broker serves pulls and queries from. It is usable on its own: the
// broker talks to it only through *Store.
//
// # API
//
//	Open(opts, logger, hooks) (*Store, error)   recover; Start(ctx); Close()
//	PutMessage / PutMessages                    append one / a batch, wait until durable
//	PutMessageAsync / PutMessagesAsync          append, call back when durable (the broker's form)
//	GetMessage(ctx, group, topic, q, offset, maxMsgNums, maxBytes, filter) (*GetResult, error)
//	                                            record slices of the mapped log; Release when written
//	MinOffsetInQueue, MaxOffsetInQueue, AssignedOffsetInQueue, OffsetInQueueByTime,
//	EarliestMessageTime, MessageStoreTimestamp  per-queue positions and times
//	LookMessageByOffset, SelectOneMessageByOffset, QueryMessage (index: topic#UNIQ_KEY, topic#KEYS token)
//	MinPhyOffset, MaxPhyOffset, CommitLogData, AppendToCommitLog   replication
//	DeleteTopics, Topics, QueueResident, Stats, CleanNow
//	Hooks.OnMessageArrival                      called by dispatch when a unit is readable
//
// Options carries Java's MessageStoreConfig names as prop tags
// (storePathRootDir, flushDiskType, mappedFileSizeCommitLog, ...);
// DefaultOptions has Java's defaults. Errors map to Java's
// PutMessageStatus with PutStatusOf; GetStatus is Java's GetMessageStatus.
//
// Sub-packages: vfs (file-system seam, fault injection), mappedfile
// (segments and segment queues), commitlog, consumequeue, index and
// checkpoint. This package is the facade and the background services
// that tie them together (dispatch, flush of the logical files, cleanup,
// disk check).
//
// # Files (compatible with Java RocketMQ in name and layout)
//
//	{storePathRootDir}/commitlog/{20-digit start offset}        CommitLog segments
//	{storePathRootDir}/consumequeue/{topic}/{queueId}/{20-digit} ConsumeQueue segments
//	{storePathRootDir}/index/{yyyyMMddHHmmssSSS}                IndexFiles
//	{storePathRootDir}/checkpoint                               4 KiB checkpoint
//	{storePathRootDir}/abort                                    present while running
//	{storePathRootDir}/lock                                     flock(2) against a second process
//
// storePathCommitLog overrides the commitlog directory. Segment names are
// the offset of their first byte, zero-padded to 20 digits; all segments
// of a queue have the same size (mappedFileSizeCommitLog, 1 GiB; and
// mappedFileSizeConsumeQueue, 300,000 units of 20 bytes).
//
// # CommitLog record
//
// One log for all topics; each record is the stored-message layout of
// package message (91 bytes + body + topic + properties for V1 with IPv4
// hosts). Records never span segments: when a record plus the 8-byte
// minimum blank does not fit in what is left of a segment, the writer
// puts a blank marker (int32 remaining, int32 0xCBD43194) and continues at
// the next segment. A record's PHYSICALOFFSET field equals its position in
// the log, which recovery checks.
//
// # ConsumeQueue unit (20 bytes, big-endian)
//
//	0  int64 commit-log offset
//	8  int32 record size
//	12 int64 tagsCode
//
// Unit n of a queue (its logical offset) is at byte n*20 of the queue's
// segment sequence. tagsCode is the Java String.hashCode of the TAGS
// property (0 without tags); in SCHEDULE_TOPIC_XXXX it is the delivery
// time in ms: TIMER_DELIVER_MS if present, else store time plus the delay
// of the DELAY level (messageDelayLevel). A unit of zeros is "not written";
// a unit (0, 0x7FFFFFFF, 0) is a blank that fills queue offsets below the
// first real unit of a queue that starts above 0.
//
// # IndexFile
//
//	header (40 bytes)
//	  0 int64 beginTimestamp   8 int64 endTimestamp
//	 16 int64 beginPhyOffset  24 int64 endPhyOffset
//	 32 int32 hashSlotCount   36 int32 indexCount (starts at 1)
//	slots: maxHashSlotNum x int32, the newest entry number of the slot (0 empty)
//	entries: maxIndexNum x 20 bytes
//	  0 int32 keyHash (abs(String.hashCode(key)))   4 int64 commit-log offset
//	 12 int32 seconds since beginTimestamp          16 int32 previous entry number
//
// Keys are topic#UNIQ_KEY and topic#token for each space-separated token
// of KEYS; ROLLBACK records are not indexed. A file is named by its
// creation time (local, yyyyMMddHHmmssSSS) and a new one is started when
// the current one is full.
//
// # Checkpoint (4 KiB, big-endian)
//
//	 0 int64 physicMsgTimestamp   store time of the last flushed record
//	 8 int64 logicsMsgTimestamp   store time of the last record whose units are flushed
//	16 int64 indexMsgTimestamp    store time of the last record whose index entries are flushed
//	24 int64 masterFlushedOffset  32 int64 confirmPhyOffset      (Java; 0 here)
//	40 int64 logicsSafeOffset     commit-log offset below which CommitLog,
//	                              ConsumeQueues and the index are all durable
//	48 int64 commitLogFlushedOffset
//	56 uint32 magic 0x47524B31 ("GRK1")   60 uint32 crc32 IEEE of bytes 0..59
//
// Bytes 0..39 are what Java writes and reads; 40..63 are ours (Java
// ignores them). The checkpoint is written with pwrite and fdatasync after
// every flush round of the logical files.
//
// # Write path
//
// An append validates and checksums outside the lock, then under the
// append lock assigns the commit-log offset, the queue offset (a
// per-topic/queue counter; PREPARED and ROLLBACK records get 0 and do not
// advance it) and the store timestamp, and encodes the record into the
// commit log's write buffer (one copy of the body). A committer goroutine
// swaps the buffer out and writes it with pwrite(2) in whatever batch has
// accumulated, then publishes it; readers map segments read-only and only
// look below the published offset.
//
// Why pwrite and not memcpy into a writable shared mapping: measured on
// this machine (docs/benchmarks.md, Store), with an fdatasync every
// 64 KiB (a SYNC_FLUSH group commit), 1 KiB records cost about three
// times as much written through the mapping as written with 64 KiB
// pwrites (5.3 against 1.8 µs): every
// page the sync cleans is write-protected again (one TLB shootdown per
// sync) and the next write to the mapping faults on it (0.24 faults per
// record measured, none with pwrite). With large, rare flushes
// (ASYNC_FLUSH) the mapping is about 15% cheaper per record in the write
// step alone, a small share of an append's cost. pwrite also turns write
// errors into errors instead of SIGBUS and keeps the mapped log
// read-only.
//
// Segments are preallocated with fallocate(2) by a background goroutine,
// one ahead of the writer, under a temporary name that is renamed into
// place (and the directory synced) once complete. Under SYNC_FLUSH (or
// warmMapedFileEnable) they are also zero-filled and synced, so that
// later fdatasyncs overwrite written extents and need no journal commit
// (2.5 times cheaper per sync on this disk). The first segment is created by
// Start. So an append never waits for a file, a crash never leaves a
// short segment, and a full disk shows up as an error when a segment is
// prepared, never as SIGBUS.
//
// An append is acknowledged (its callback runs, PutMessage returns) when
// it is durable per flushDiskType: under ASYNC_FLUSH once its bytes are in
// the page cache (they survive kill -9), under SYNC_FLUSH once an
// fdatasync covering it returned. SYNC_FLUSH is a group commit run by the
// committer itself: write out the buffer, fdatasync, complete every
// waiter at or below the flushed offset; appends that arrive meanwhile
// form the next group. After completing a group the committer lingers
// (at most 50 µs, yielding) while the writers it just woke append again,
// so synchronous writers share one sync instead of alternating between
// two half-size groups. A flush that fails or exceeds syncFlushTimeout
// returns an error (FLUSH_DISK_TIMEOUT), never OK: a watchdog goroutine
// times waiters out syncFlushTimeout after their append even while
// fdatasync hangs, both those written out and those appended meanwhile,
// which wait in the write buffer until the committer is back (they stay
// appended, as Java's do). A failed pwrite or
// fdatasync (the ASYNC_FLUSH flusher's too, and a slave's
// AppendToCommitLog) makes the commit log refuse further writes until
// restart (the page cache can no longer be trusted): it is logged and
// shown in Stats.WriteError, and appends fail at once with
// SERVICE_NOT_AVAILABLE; reads keep working, and appends acknowledged
// before it stay in the log.
//
// PutMessageAsync is the form the broker should use on its connection
// readers: it returns at once and calls back when the append is durable,
// so one connection can have any number of appends in one group commit.
// PutMessage wraps it and blocks. Neither allocates per message.
//
// # Dispatch
//
// A dispatch goroutine ("reput") reads records behind the committer and
// appends ConsumeQueue units and IndexFile entries, then calls
// Hooks.OnMessageArrival (outside every lock readers take). Under
// SYNC_FLUSH it dispatches only flushed records, so a consumer never sees
// a message that a crash could take back. A record whose ConsumeQueue
// unit cannot be written (a new segment on a full disk) stops dispatch
// there, never skipped: the error is logged and shown in
// Stats.DispatchError, and dispatch retries until it gets through. A
// failed flush of the logical files or of the checkpoint is logged and
// retried; logicsSafeOffset does not move while one fails, and after a
// failed sync of a ConsumeQueue or IndexFile not until restart either (a
// failed fdatasync may drop pages that a later successful one does not
// bring back: recovery rebuilds past the old safe point instead).
//
// # Recovery
//
// Open takes the lock file, reads the checkpoint and the abort marker,
// loads the segments, then scans the commit log from the last safe point
// (logicsSafeOffset; the start of its segment after a crash, so a
// corrupted record in the last segments is found): every record must
// have a known magic, sane sizes, a PHYSICALOFFSET equal to its position
// and (checkCRCOnRecover) a matching body CRC. The first bad record ends
// the log: the tail is cut (zeroed, later segments removed) with a log
// line giving the offset and the number of bytes cut. Every valid record
// past the safe point is dispatched again as the scan meets it
// (idempotently: a ConsumeQueue keeps a unit it already holds, and
// rewrites, with a warning, one that disagrees with the record, as a unit
// torn by a power loss can), so ConsumeQueue and IndexFile are rebuilt
// past their checkpoint; then both are truncated to entries that point
// inside the log. The per-queue offset
// counters are the ConsumeQueue maxima. After a clean shutdown the safe
// point is the end of the log and Open reads almost nothing.
//
// # Retention and disk space
//
// A cleanup service deletes commit-log segments older than
// fileReservedTime hours at the deleteWhen hours, and at any time when
// disk use passes diskMaxUsedSpaceRatio (forcibly, ignoring age, past
// diskSpaceCleanForciblyRatio), then the ConsumeQueue segments and
// IndexFiles that point only below the new minimum. Above
// diskSpaceWarningLevelRatio appends fail with ErrDiskFull until space
// returns. Readers asking below a queue's minimum get OFFSET_TOO_SMALL
// with the new minimum.
//
// # Reads and memory
//
// GetMessage returns sub-slices of the mapped commit log and holds a
// reference on each segment until Release, so bytes handed to writev are
// never unmapped underneath. Message data and indexes live in the page
// cache, not the Go heap; the heap holds per-queue bookkeeping only.
// QueueResident reports with mincore(2) how much of a queue's unread range
// is in memory; GetMessage sets SuggestPullingFromSlave when the unread
// distance exceeds accessMessageInMemoryMaxRatio percent of RAM.
package store
