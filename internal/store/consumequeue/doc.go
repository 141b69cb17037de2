// Package consumequeue is RocketMQ's ConsumeQueue: per topic and queue,
// a dense array of 20-byte units on mapped segments, unit n describing
// the message with queue offset n.
//
//	0  int64 commit-log offset
//	8  int32 record size
//	12 int64 tagsCode
//
// Unit n lives at byte n*20 of the queue's segment sequence; segments are
// named by the byte offset of their first unit (20 digits). A unit of
// zeros has not been written; a unit (0, 0x7FFFFFFF, 0) is a blank that
// fills offsets a queue never had (it started above 0, or a gap).
//
// One goroutine (dispatch) writes; readers read units below MaxOffset,
// which is stored after the unit is in place. Segments are mapped
// read-write and written in place; they are small (6 MB by default), so
// they are created inline.
package consumequeue
