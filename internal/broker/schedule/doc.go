// Package schedule delivers delayed messages: RocketMQ's delay levels
// (ScheduleMessageService) through SCHEDULE_TOPIC_XXXX, and the message
// rewrites every delayed path shares — into the schedule topic (Transform),
// back to the real topic when due (Restore), and the property edits both
// need (EditProperties). Package timer reuses Restore for arbitrary
// delivery times.
//
// # Delay levels
//
// messageDelayLevel ("1s 5s 10s 30s 1m ... 2h") names the delay of each
// level; level n (1-based) waits in queue n-1 of SCHEDULE_TOPIC_XXXX.
// The send path (the broker's rewriter) calls Transform for a message whose
// DELAY property is above 0: the real topic and queue are saved as
// REAL_TOPIC and REAL_QID, a level above the highest is clamped to the
// highest (HookUtils.transformDelayLevelMessage), and the timer properties
// are removed, since a delay level wins over them.
//
// The store computes each schedule unit's ConsumeQueue tagsCode as the
// delivery time (store time plus the level's delay). Within one level
// queue, store times only grow, so delivery times are ordered: a queue's
// head is its earliest message.
//
// # Delivery
//
// One goroutine per level (not one loop over all levels: a burst due on
// one level then never delays another). Each reads its queue from the level's
// offset in batches of up to 32 units; the delivery time of each unit comes
// from the ConsumeQueue (through a filter that records tagsCode, so it is
// exactly what the store computed). Due messages are rebuilt by Restore
// and re-put as new records to their real topic and queue, a batch at a
// time with the appends in flight together; the first message not yet
// due sets a timer for its exact delivery time. A level whose queue is
// empty waits for Notify, which the broker calls from the store's dispatch
// when a message lands in the queue, and polls every PollInterval as a
// fallback (100 ms by default; the broker, which notifies, polls every
// second). Only an idle level waits for arrivals: a later message cannot
// be due before the head a level is waiting for. A message is never
// re-put before its delivery time: the loop compares the unit's delivery
// time with the clock after every wake-up.
//
// A clock that went back is Java's correctDeliverTimestamp case: a unit
// due later than now plus its level's delay is delivered now.
//
// A failed append (disk full, store closing) is retried from the same
// offset after RetryInterval (10 s, Java's DELAY_FOR_A_PERIOD); a record
// that cannot be rebuilt (no REAL_TOPIC, a bad REAL_QID) is logged and
// skipped, as Java does. Units whose records retention deleted are
// skipped with the store's next offset.
//
// # delayOffset.json
//
// {storePathRootDir}/config/delayOffset.json keeps, per level, the next
// schedule queue offset to deliver — RocketMQ's form, written through
// package configfile (temp file, fsync, rename, with a .bak):
//
//	{
//		"offsetTable":{
//			"1":0,
//			"3":12
//		}
//	}
//
// Java writes the keys bare ({1:0,3:12}); both forms are read. The same
// JSON answers GET_ALL_DELAY_OFFSET (a slave syncs it from its master).
// Levels with no entry start at 0.
//
// Progress is saved every FlushInterval (flushDelayOffsetInterval, 10 s)
// and at Close, and only when it changed. A saved offset never runs ahead
// of durable deliveries: each save takes a snapshot of the offsets and of
// the commit-log end of the last re-put, and the snapshot written is the
// newest one whose re-puts the commit log has flushed (the re-puts carry
// WAIT=false, as in Java, so under SYNC_FLUSH they are acknowledged
// before their fsync). Close writes the current offsets: the store closes
// after this service and flushes everything on the way.
//
// So delivery is at least once: after a crash, the messages delivered
// since the last save (about FlushInterval, plus the flush lag) are
// delivered again, with the same UNIQ_KEY; none is lost and none is
// delivered early.
package schedule
