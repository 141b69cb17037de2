// Package topic is the broker's topic table: RocketMQ's TopicConfigManager
// and TopicValidator. It owns which topics exist on this broker, their
// queue counts, permissions, filter type, flags and attributes, the
// table's DataVersion, and the rules by which topics come into being
// (admin requests, automatic creation through TBW102 on send, retry and
// dead-letter topics on send-back).
//
// # File
//
// {storePathRootDir}/config/topics.json, Java's form (see package
// configfile for the save and load procedure):
//
//	{
//		"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},
//		"topicConfigTable":{
//			"TopicTest":{"order":false,"perm":6,"readQueueNums":4,
//				"topicFilterType":"SINGLE_TAG","topicName":"TopicTest",
//				"topicSysFlag":0,"writeQueueNums":4,"attributes":{}},
//			...
//		}
//	}
//
// A field missing from an entry takes Java's default (16 queues, perm 6,
// SINGLE_TAG), as fastjson would leave the constructor's value. An entry
// that fails validation (bad name, queue count outside 0..MaxQueueNums,
// unknown perm bits or filter type, not an object) is skipped with a
// warning naming it; the rest of the table loads.
//
// # System topics
//
// Open first puts the topics Java's TopicConfigManager creates at start,
// then the file's entries over them (so an operator's change to a system
// topic survives a restart, as in Java):
//
//	SELF_TEST_TOPIC                 1 queue    RW
//	TBW102                          DefaultTopicQueueNums, RW+INHERIT; only with AutoCreateTopicEnable
//	BenchmarkTest                   1024       RW
//	<ClusterName>                   16         INHERIT (+RW if ClusterTopicEnable)
//	<BrokerName>                    1          INHERIT (+RW if BrokerTopicEnable)
//	OFFSET_MOVED_EVENT              1          RW
//	SCHEDULE_TOPIC_XXXX             18         RW (one queue per delay level)
//	<TraceTopicName>                1          RW (always; Java only with traceTopicEnable)
//	<ClusterName>_REPLY_TOPIC       1          RW
//	RMQ_SYS_TRANS_HALF_TOPIC        1          RW
//	RMQ_SYS_TRANS_OP_HALF_TOPIC     1          RW
//
// Not created: the POP revive topic and rmq_sys_SYNC_BROKER_MEMBER_<broker>
// (features gorocket does not have yet).
//
// # Automatic creation (createTopicInSendMessageMethod)
//
// A send to an unknown topic names a default topic (TBW102 from every
// official client). The topic is created when the default topic exists,
// has the INHERIT permission, and — for TBW102 — AutoCreateTopicEnable is
// on. It gets min(client's defaultTopicQueueNums, default topic's write
// queues) read and write queues, the default topic's permission without
// INHERIT, its filter type, and the sender's topicSysFlag. Otherwise the
// send is refused with ErrAutoCreateDisabled, ErrDefaultTopicNotFound or
// ErrDefaultTopicNotInheritable.
//
// # Changes, versions and listeners
//
// Every change (create, update, delete, automatic creation, broker
// permission) bumps the DataVersion, is saved to disk before it becomes
// visible, and then calls the OnChange listeners so the broker registers
// with the NameServers at once (a NameServer only reloads a broker's
// topics when its DataVersion moved). A change whose save fails is not
// applied and returns the error. Writers are serialized; readers (Get on
// every send) never wait for a writer: the table is an immutable snapshot
// swapped atomically.
package topic
