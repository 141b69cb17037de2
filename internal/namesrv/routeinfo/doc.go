// Package routeinfo is the NameServer's route table, RocketMQ's
// RouteInfoManager: which broker groups exist, where their members listen,
// which topics each group serves, and which brokers are alive.
//
// It is a pure, concurrency-safe data structure. It does no I/O, starts no
// goroutines and reads time only through an injected clock; the NameServer
// (package namesrv) feeds it registrations, connection closes and scan
// ticks, and answers requests from its queries. Connections are named by an
// opaque ConnID, so nothing here depends on the transport.
//
// # Tables
//
//	topicQueueTable   topic → brokerName → QueueData
//	brokerAddrTable   brokerName → broker group (cluster, brokerId → address)
//	clusterAddrTable  clusterName → set of brokerName
//	brokerLiveTable   (clusterName, brokerAddr) → last heartbeat, timeout,
//	                  topic-config DataVersion, ConnID, HA address
//	filterServerTable (clusterName, brokerAddr) → filter servers (legacy)
//
// brokerId 0 is the master of its group; other ids are slaves.
//
// # Registration (REGISTER_BROKER)
//
// A registration adds the broker name to its cluster, puts brokerId →
// address into the group (first removing the same address under another
// id: a slave promoted to master re-registers as id 0), and records the
// broker as alive. Topic configs are taken from the master, and from the
// "prime slave" (the lowest id when the master is absent) of brokers new
// enough to send enableActingMaster; the prime slave's queues lose their
// write permission. A topic's queue data is rewritten only when the
// broker's topic-config DataVersion changed since its last registration,
// when the broker is registering for the first time, or when the topic has
// no queue data for this broker name (so a topic deleted from the
// NameServer reappears if the broker still has it). Re-registering with an
// unchanged DataVersion only refreshes liveness.
//
// A registration is refused when another address already holds the same
// brokerId with a newer stateVersion (a stale broker coming back).
//
// # Liveness
//
// A broker stays alive while it registers (or refreshes through
// QUERY_DATA_VERSION / BROKER_HEARTBEAT) at least once per its heartbeat
// timeout: 120 s unless the broker asks for another one. Scan removes the
// brokers past their timeout and returns their connections for the caller
// to close. ConnClosed removes at once every broker registered over a
// connection that went away, unless the broker has re-registered over
// another connection since. Removal drops the address from its group; an
// empty group is dropped with all its queue data and its name leaves the
// cluster.
//
// Invariants, checked by a property test after every operation: every
// group has at least one address and is in a cluster; every address of a
// group has a live entry; every topic has queue data, on known groups
// only; routes never list a group without addresses; once every
// connection has closed, every table is empty. When a group loses its master but keeps slaves, routes still
// list the slaves (consumers may read from them) but no id-0 address, so
// clients stop publishing to it; a group that enabled acting master also
// has the write permission of its queues wiped, as Java does.
//
// # Differences from Java
//
//   - Removing a broker (unregistration, closed connection, expiry, or a
//     refused stale registration) drops its live entry and its address
//     from every group of its cluster. Liveness is kept per address, so an
//     address left in a group without a live entry would never expire;
//     Java leaves such addresses behind in a few corner cases (a stale
//     registration of a listed slave, an address that changed groups) and
//     also leaks live entries of addresses in no group.
//   - Lists (all topics, topics by cluster, unit topics) and route contents
//     are sorted, so answers are deterministic.
//   - Unregistration is applied at once rather than through a batching
//     queue.
//   - A broker not registered yet may register with a single topic. Java
//     refuses that, taking one topic for 5.x's incremental single-topic
//     registration; but a registration is a registration, and the broker's
//     next full one (same DataVersion) adds its other topics anyway.
package routeinfo
