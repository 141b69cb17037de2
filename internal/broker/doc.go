// Package broker is the RocketMQ broker: it serves the remoting protocol
// to producers, consumers and admin tools on top of the message store, and
// keeps itself registered with the NameServers.
//
// It owns the request processors, grouped by family as Java's are (send,
// pull, client management, consumer offsets, admin, query), the broker's
// Options, its lifecycle, and the wiring between the store and the
// metadata managers in its sub-packages: topic (topic table and automatic
// creation), offset (consumer offsets), subscription (consumer group
// configs), clients (producer and consumer registries), longpoll (held
// pulls) and nsclient (NameServer registration). Processors never reach
// into each other or into a "broker controller": each declares, beside
// itself, the narrow interfaces it needs, so each can be tested alone.
//
// # Lifecycle
//
// New checks the options. Start opens the store and the managers, listens,
// registers the processors and starts the loops (NameServer registration,
// offset persistence, client expiry, long polling); like Java's start, it
// registers with the NameServers before it returns (waiting at most 3 s
// for one that does not answer), so the broker's topics are routable once
// it is up. Close stops accepting, answers every held pull, drains the
// requests in flight (including sends waiting for a group commit),
// unregisters from the NameServers, persists offsets and closes the store,
// in that order (topics and groups are saved on every change); it is
// idempotent. Addr is brokerIP1 and the port actually bound (so a test
// listening on port 0 announces the real one).
//
// # Send
//
// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310, one-letter header names),
// SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE(_V2) (324/325, stored
// like a send for now) run inline on the connection's reader: decode the
// header, check it (topic name, topics clients may not write, broker and
// topic write permission, queue id, body and properties sizes), find or
// auto-create the topic through its default topic (TBW102; a send may
// write an existing system topic such as rmq_sys_TRACE_DATA_*, never
// create one), build the record (born host from the connection, store host from Addr, CLUSTER
// property on single sends, UNIQ_KEY generated when a single send has
// none), pass it through the rewriter chain (the seam for delay levels,
// retry/DLQ, half messages and timers) and append it asynchronously. The
// answer is written when the store reports the record durable per
// flushDiskType: under SYNC_FLUSH one connection can have hundreds of
// sends waiting on one fdatasync, with no goroutine per send. The answer
// carries msgId (the offset message id; comma-joined for a batch), queueId,
// queueOffset, MSG_REGION=DefaultRegion and TRACE_ON=true.
//
//	refusal                                   code
//	invalid topic name, reserved words         SYSTEM_ERROR (1)
//	topic clients may not send to              NO_PERMISSION (16)
//	broker or topic not writable               NO_PERMISSION (16)
//	transactions refused (rejectTransaction…)  NO_PERMISSION (16)
//	topic missing, auto-create impossible      TOPIC_NOT_EXIST (17)
//	queueId >= max(read, write) queues         SYSTEM_ERROR (1)
//	body > maxMessageSize, properties > 32767  MESSAGE_ILLEGAL (13)
//	malformed batch, retry topic in a batch    MESSAGE_ILLEGAL (13)
//	store: flush timeout                       FLUSH_DISK_TIMEOUT (10)
//	store: disk full, slave, closed            SERVICE_NOT_AVAILABLE (14)
//
// A connection owes at most maxOwedAnswers asynchronous answers (sends
// waiting for the store, pulls held); past that its reader waits, which
// pushes back on that client alone.
//
// # Pull
//
// PULL_MESSAGE (11) runs inline as well. The subscription comes from the
// header when the SUBSCRIPTION flag is set (the pull consumer), otherwise
// from the consumer registry (the push consumer, which never sends it; a
// pull that beats the first heartbeat gets SUBSCRIPTION_NOT_EXIST 24).
// Tag subscriptions filter on the ConsumeQueue's tag hash codes; SQL92
// ones (enablePropertyFilter, on by default here) on the stored
// properties, compiled once through a filter.Cache; an expression that
// does not compile is answered SUBSCRIPTION_PARSE_FAILED (23) with the
// parser's message. Store statuses map to codes as Java's
// PullMessageProcessor does:
//
//	FOUND                              SUCCESS (0), body = the records
//	NO_MATCHED_MESSAGE, WAS_REMOVING   PULL_RETRY_IMMEDIATELY (20)
//	OFFSET_OVERFLOW_ONE, FOUND_NULL    PULL_NOT_FOUND (19)
//	NO_MATCHED_LOGIC_QUEUE, NO_MESSAGE PULL_NOT_FOUND (19) at offset 0, else PULL_OFFSET_MOVED (21)
//	OFFSET_TOO_SMALL, OVERFLOW_BADLY   PULL_OFFSET_MOVED (21); on a slave without offsetCheckInSlave 20
//
// The body is the store's record slices, written with writev and released
// after the write: no copy. A PULL_NOT_FOUND with the SUSPEND flag is held
// by the longpoll service (suspendTimeoutMillis, or shortPollingTimeMills
// without longPollingEnable, at most maxSuspend) and re-run when a
// matching message lands. COMMIT_OFFSET commits the header's commitOffset
// on a master.
//
// # NameServers
//
// The broker registers with every NameServer of namesrvAddr at start,
// every registerNameServerPeriod, and at once after any topic change; each
// NameServer has its own worker, so one that is down delays nobody. A
// request that creates a topic (a send through TBW102, a heartbeat that
// creates %RETRY%<group>, UPDATE_AND_CREATE_TOPIC) is answered only once
// the NameServers that answer have the new table (at most 1 s), as Java
// registers synchronously then: a client that created a topic can use its
// route as soon as it has the answer. Close unregisters.
//
// # Clients, offsets, admin
//
// HEART_BEAT registers producer and consumer groups (creating the
// subscription group and, for clustering consumers, %RETRY%<group>, which
// the NameServers learn at once); membership changes, including a closed
// connection, push NOTIFY_CONSUMER_IDS_CHANGED (40) to every member; clients
// silent for channelExpiredTimeout are dropped. CHECK_CLIENT_CONFIG (Java
// clients ask it when they subscribe) refuses a SQL92 expression that does
// not compile. CHECK_CLIENT_CONFIG (Java
// clients, on subscribe) refuses a SQL92 expression that does not compile.
// Offsets, min/max offsets,
// search by time, admin and query codes follow Java's processors; see each
// processor for the details that clients notice (QUERY_CONSUMER_OFFSET's
// "young queue" quirk, for one).
//
// # Bad input
//
// Every header field is checked before use; a missing or malformed field,
// an invalid topic or group name, an oversized body or a malformed batch
// gets an error response whose remark says what is wrong, and a
// rate-limited log line. Nothing partial is stored: a batch is validated
// whole before its first record is appended.
package broker
