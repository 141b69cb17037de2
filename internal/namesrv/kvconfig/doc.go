// Package kvconfig is the NameServer's KV configuration (RocketMQ's
// KVConfigManager): string values by namespace and key, persisted to one
// JSON file.
//
// Clients and tools use it for settings that outlive any broker:
// ORDER_TOPIC_CONFIG holds, per topic, the "brokerName:queueNums;..." list
// that makes a topic globally ordered; the MQTT gateway keeps its first
// topics under LMQ. The NameServer serves it through PUT_KV_CONFIG,
// GET_KV_CONFIG, DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE.
//
// # File format (kvConfig.json)
//
// RocketMQ's KVConfigSerializeWrapper:
//
//	{
//		"configTable": {
//			"ORDER_TOPIC_CONFIG": {
//				"TopicTest": "broker-a:4;broker-b:4"
//			}
//		}
//	}
//
// Written indented, keys sorted. Read leniently: whatever Java's fastjson
// wrote (bare keys included) is accepted, null namespaces are skipped, and
// a file that does not parse is refused with ErrCorrupt rather than
// silently replaced by an empty table, so a damaged file is noticed before
// the next write would overwrite it. A missing file is an empty table.
//
// # Durability
//
// Every change is written to a temporary file in the same directory,
// fsynced, renamed over the old file, and the directory fsynced: after a
// crash the file holds either the old table or the new one, never a mix.
// A change returns only once it is on disk; when writing fails the change
// is undone in memory too, so what a client reads always matches the
// file. Writers are serialized; readers never wait for the disk.
//
// An empty path keeps the table in memory only.
package kvconfig
