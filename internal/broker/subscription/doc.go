// Package subscription is the broker's table of consumer groups and their
// settings: RocketMQ's SubscriptionGroupManager. A group's entry says
// whether it may consume, how many retry queues and retries it gets,
// which broker it reads from, and whether its members are told when the
// group changes. (Who is subscribed to what right now is package
// clients; this table is the group's durable configuration.)
//
// # File
//
// {storePathRootDir}/config/subscriptionGroup.json, Java's form (see
// package configfile for the save and load procedure):
//
//	{
//		"dataVersion":{"counter":1,"stateVersion":0,"timestamp":1700000000000},
//		"forbiddenTable":{},
//		"subscriptionGroupTable":{
//			"cg":{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,
//				"consumeFromMinEnable":true,"consumeMessageOrderly":false,
//				"consumeTimeoutMinute":15,"groupName":"cg","groupSysFlag":0,
//				"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,
//				"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1},
//			...
//		}
//	}
//
// A field missing from an entry takes Java's default (as fastjson leaves
// the constructor's value). An entry that fails validation is skipped with
// a warning. forbiddenTable (group -> topic -> bits, 5.x) is kept as read
// and written back; nothing here interprets it. Java 5's per-group
// subscriptionDataSet is not kept (protocol.SubscriptionGroupConfig has no
// field for it).
//
// # Groups created at start
//
// TOOLS_CONSUMER, FILTERSRV_CONSUMER, SELF_TEST_C_GROUP, CID_ONS-HTTP-PROXY,
// CID_ONSAPI_PULL, CID_ONSAPI_PERMISSION, CID_ONSAPI_OWNER and
// CID_RMQ_SYS_TRANS, with the defaults, under the file's entries (as
// Java's SubscriptionGroupManager.init).
//
// # Automatic creation
//
// FindOrCreate creates an unknown group with the defaults when
// AutoCreateSubscriptionGroup is on (the default) or the group is a
// system group (prefix CID_RMQ_SYS_). The new entry is saved at once; if
// the save fails it is still used (it is the default and would be created
// the same way again) and the failure is logged. Every other change is
// saved before it becomes visible and is not applied if the save fails.
// Each change bumps the DataVersion.
package subscription
