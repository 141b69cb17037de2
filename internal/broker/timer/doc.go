// Package timer delivers messages at an arbitrary time: RocketMQ 5's
// TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS and the legacy
// __STARTDELIVERTIME, with no 24-hour cap. Pending timers live in files,
// not in the Go heap: millions of them cost a fixed-size slot table in
// memory and 40 bytes each on disk.
//
// # Path of a timed message
//
// The send path (the broker's rewriter) computes the delivery time, refuses
// one beyond timerMaxDelaySec, and stores the message in queue 0 of
// rmq_sys_wheel_timer with TIMER_OUT_MS (the delivery time, ms), REAL_TOPIC
// and REAL_QID. The message itself stays in the commit log until it is
// delivered; this package only keeps where it is and when it is due.
//
// One goroutine owns everything below. It reads the timer topic's
// ConsumeQueue from the enqueue offset and appends an entry per message to
// the timer log, linked into its slot of the wheel ("enqueue"). When a
// slot's time comes it walks the slot's entries and re-puts each due
// message, rebuilt for its real topic and queue (schedule.Restore: delay
// and timer properties removed, WAIT=false, UNIQ_KEY kept), as a new
// record ("dequeue"). It sleeps until the next held entry or slot comes
// due, until Notify says a message arrived in the timer topic (the broker
// calls it from the store's dispatch), and at most PollInterval (100 ms by
// default; the broker, which notifies, polls every second as a fallback).
//
// # Wheel (in memory; the pure core, wheel.go)
//
// Time is cut into slots of precision ms (timerPrecisionMs, 1000): slot
// number s covers [s*precision, (s+1)*precision). The wheel has 2*N
// heads, N = timerRollWindowSlot (2 days of 1 s slots); slot s uses head
// s mod 2N, which holds the log position of the slot's newest entry and
// the slot's entry count (16 bytes per head: 5.5 MB by default, whatever
// the number of timers).
//
// base is the next slot to read; cur = base-1 is the slot being delivered.
// An entry for delivery time d goes to:
//
//	slot(d) <  base         late: logged in slot cur and delivered at once
//	slot(d) <  base+N-1     its own slot, slot(d)
//	otherwise               rolled: logged in slot base+N-2, the last of the
//	                        window; when that slot is read, the entry is
//	                        placed again (its time is nearer by N-1 slots)
//
// So live entries always lie in slots cur..cur+N-1, and two live slots
// never share a head. A 30-day timer with the defaults rolls 15 times; a
// roll appends a 40-byte entry, never the message.
//
// Reading slot base (once now >= base*precision and everything due in cur
// is delivered): cur's head is cleared, base's entries are collected by
// walking the chain, and base advances. Entries whose time lies in the
// slot are kept, in order of time, until due — delivery is at the exact
// millisecond, not rounded to the slot, and never early: an entry is
// re-put only once the clock reads at least its time. Rolled entries are
// placed again at once. Slots with no entries cost one look at their head.
//
// # Timer log (disk)
//
// {storePathRootDir}/timer/log/{20-digit start offset}: segments of
// mappedFileSizeTimerLog bytes (rounded down to whole entries; 100 MiB,
// 2,621,440 entries), named by the log position of their first byte.
// Each entry is 40 bytes, big-endian:
//
//	0  int64  slot       the slot it is linked into (not always slot(deliverMs))
//	8  int64  prev       log position of the previous entry of the same slot, -1: none
//	16 int64  deliverMs  delivery time (TIMER_OUT_MS)
//	24 int64  offset     commit-log offset of the timer-topic message
//	32 int32  size       its record size
//	36 uint32 crc        CRC-32 (IEEE) of bytes 0..35
//
// A slot's entries form a chain from its head back through prev. An entry
// is live while its slot is at or after the checkpoint's dequeue slot.
// A segment is deleted once the newest slot any of its entries is linked
// into is before the saved dequeue slot (never the segment being written).
//
// # Checkpoint
//
// {storePathRootDir}/timer/checkpoint.json, saved through package
// configfile (temp file, fsync, rename, with a .bak), every
// timerFlushIntervalMs (1 s) when a message was enqueued, rolled or
// delivered since the last one (empty slots passing are not worth a
// write), and at Close:
//
//	{
//		"enqueueOffset": 1234,      next timer-topic queue offset to enqueue
//		"logEnd": 49360,            timer log bytes the wheel is built from
//		"dequeueSlot": 1700000000,  cur: every slot before it is delivered
//		"dequeueMs": 1700000000350, entries of that slot due at or before it are delivered
//		"precisionMs": 1000,
//		"windowSlots": 172800
//	}
//
// The goroutine takes a snapshot between two steps (so the four positions
// agree), after an fdatasync of the log up to logEnd. The snapshot written
// is the newest whose re-puts the commit log has flushed (re-puts carry
// WAIT=false), as for delayOffset.json; Close writes the current one.
//
// # Recovery
//
// Open loads the checkpoint, cuts the log at logEnd (entries after it are
// re-created from the ConsumeQueue, from enqueueOffset) and rebuilds the
// heads by scanning the remaining log once: every entry with a CRC that
// matches and a slot at or after dequeueSlot becomes its slot's newest
// entry (prev pointers were written against the same sequence, so the
// chains are whole). base starts at dequeueSlot: that slot is read again,
// skipping its entries due at or before dequeueMs, which were delivered.
// A checkpoint whose precision or window differs from the options is
// refused: the slot numbers in the log would mean something else.
//
// Delivery is therefore at least once: after a crash, what was delivered
// after the last saved checkpoint (about a second, plus the commit-log
// flush lag) is delivered again; nothing pending is lost, and nothing is
// delivered early. After a clean Close nothing is delivered twice.
//
// # Limits
//
// Memory is the head table plus the entries of the one slot being
// delivered (24 bytes each, transient: a million timers due in the same
// second hold 24 MB for that second). The log holds about a window's worth
// of enqueues and rolls. One goroutine delivers, a batch of up to 64 due
// messages at a time with their appends in flight together.
//
// Measured on the 2-core development machine (go test -run - -bench
// 'PendingTimers|DeliverTimers' -benchtime 1000000x, a store that serves
// made-up records and only counts appends, so the figures are the
// timer's own): a million timers spread over 30 days cost 5.3 MB of heap
// (the head table) and 38 MB of log, enqueued at 1.6 million/s; a million
// due within one second are delivered at 0.8 million/s, the last 0.2 s
// late. With the real store under two busy writers (BenchmarkTimerLateness
// UnderLoad in package broker), 100,000 timers due within one second were
// re-put at most 36 ms late (p99 31 ms), none early.
package timer
