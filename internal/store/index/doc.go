// Package index is RocketMQ's IndexFile: a hash index from message keys to
// commit-log offsets, in files of a fixed number of slots and entries
// named by their creation time (yyyyMMddHHmmssSSS, local time).
//
//	header (40 bytes, big-endian)
//	  0 int64 beginTimestamp   8 int64 endTimestamp
//	 16 int64 beginPhyOffset  24 int64 endPhyOffset
//	 32 int32 hashSlotCount   36 int32 indexCount (starts at 1: entry 0 means none)
//	slots: slotNum x int32, the newest entry number whose key hashes there
//	entries: indexNum x 20 bytes
//	  0 int32 keyHash = abs(String.hashCode(key))
//	  4 int64 commit-log offset
//	 12 int32 seconds between the message's store time and beginTimestamp
//	 16 int32 previous entry number in the slot's chain (0 ends it)
//
// Keys are "topic#UNIQ_KEY" and "topic#k" for each space-separated token
// k of KEYS. A lookup walks the chain of the key's slot, newest first,
// and returns the offsets whose hash and time match; hash collisions are
// possible, so callers check the records. Chains are only followed
// towards strictly smaller entry numbers, so a damaged file cannot loop.
//
// One goroutine (dispatch) writes; queries take a read lock per file.
package index
