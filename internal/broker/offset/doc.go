// Package offset keeps consumer offsets: RocketMQ's ConsumerOffsetManager.
// For every (topic, consumer group) it holds, per queue id, the next
// logical offset the group will consume, as clients commit it
// (UPDATE_CONSUMER_OFFSET, the commit-offset flag of PULL_MESSAGE) or
// tools reset it.
//
// # File
//
// {storePathRootDir}/config/consumerOffset.json, Java's form (see package
// configfile for the save and load procedure). Keys are "topic@group";
// queue ids are map keys, which fastjson writes bare and we write quoted
// (fastjson reads both):
//
//	{
//		"offsetTable":{
//			"TopicTest@cg":{0:12,1:7},
//			"%RETRY%cg@cg":{0:0}
//		},
//		"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000}
//	}
//
// dataVersion is RocketMQ 5's; 4.x files lack it and 4.x brokers ignore
// it. Keys that do not split into a non-empty topic and group at the one
// '@', negative queue ids and negative offsets are skipped with a warning.
//
// # Durability
//
// Commit only updates memory: it is called on every pull and must stay
// cheap. The table reaches the disk when Persist runs — every
// flushConsumerOffsetInterval (5 s) while the Manager is started, and on
// Close — and only if something changed since the last save. A crash
// therefore loses at most the commits of the last interval; the clients
// then re-consume from the older offsets (RocketMQ's at-least-once
// promise, exactly as with Java's broker). Structural changes (reset,
// clone, delete) are also only in memory until the next Persist; they
// bump the DataVersion that slaves compare.
//
// # Concurrency
//
// All methods are safe for concurrent use. Commits to different
// (topic, group) entries only share a read lock; a new entry takes the
// write lock once.
package offset
