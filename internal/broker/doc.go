// Package broker is the RocketMQ broker: it serves the remoting protocol
// to producers, consumers and admin tools on top of the message store, and
// keeps itself registered with the NameServers.
//
// It owns the request processors, grouped by family as Java's are (send,
// pull, client management, consumer offsets, admin, query), the broker's
// Options, its lifecycle, and the wiring between the store and the
// metadata managers in its sub-packages. The messaging features built on
// that core — delay levels and timers, retries and dead letters,
// transactions, ordered-consumption locks, request-reply and consumer
// management — are wired through one seam (features.go), each in a file of
// its own (wire_*.go). Processors never reach into each other or into a
// "broker controller": each declares, beside itself, the narrow interfaces
// it needs, so each can be tested alone.
//
// # Packages
//
//	broker               processors, Options, lifecycle, the feature seam
//	broker/topic         the topic table, creation through TBW102, system topics
//	broker/offset        consumer offsets (consumerOffset.json)
//	broker/subscription  consumer group configs (subscriptionGroup.json)
//	broker/clients       producer and consumer registries, fed by heartbeats
//	broker/longpoll      held pulls, re-run when a matching message lands
//	broker/nsclient      registration with the NameServers
//	broker/configfile    saving and loading the JSON metadata files
//	broker/schedule      delay levels (SCHEDULE_TOPIC_XXXX, delayOffset.json)
//	broker/timer         delivery at any time (rmq_sys_wheel_timer, wheel and log)
//	broker/txn           transactional messages: half and op records, check-backs
//	broker/rebalance     ordered-consumption queue locks
//
// # Lifecycle
//
// New checks the options. Start opens the store and the managers, starts
// the features, listens, registers the processors (the core's, then each
// feature's) and starts the loops (NameServer registration, offset
// persistence, client expiry, long polling, pull statistics); like Java's
// start, it registers with the NameServers before it returns (waiting at
// most 3 s for one that does not answer), so the broker's topics are
// routable once it is up. Close stops accepting, answers every held pull,
// drains the requests in flight (including sends waiting for a group
// commit), unregisters from the NameServers, closes the features (which
// save their state), persists offsets and closes the store, in that order
// (topics and groups are saved on every change); it is idempotent. Addr is
// brokerIP1 and the port actually bound (so a test listening on port 0
// announces the real one).
//
// The store calls one hook when a message becomes readable in a
// ConsumeQueue: it wakes the held pulls of that queue, then the features
// that listen to the queue's topic (onArrival; one atomic load when none
// does).
//
// # Features
//
// A feature (features.go) gets the broker once the store and the metadata
// are open, may add rewriters to the send path and listen to arrivals,
// registers its processors after the core's (it may replace one), may
// add figures to GET_BROKER_RUNTIME_INFO (an optional runtimeInfo), and is
// closed after the server has drained and before the store closes. They
// start in this order and close in reverse:
//
// Delay levels, timers, retries and dead letters (wire_schedule.go,
// schedule_rewrite.go, sendback.go; packages schedule and timer). A single
// send with DELAY above 0 is moved to SCHEDULE_TOPIC_XXXX, queue level-1
// (a level above the highest is clamped), and re-put to its real topic
// when the level's delay has passed; one with TIMER_DELAY_SEC,
// TIMER_DELAY_MS, TIMER_DELIVER_MS or __STARTDELIVERTIME in the future is
// moved to rmq_sys_wheel_timer and re-put at its millisecond, at most
// timerMaxDelaySec ahead (beyond: MESSAGE_ILLEGAL). Both loops wake when a
// message arrives in their queues and poll every second as a fallback;
// they run on a master only. CONSUMER_SEND_MSG_BACK stores a failed
// message again on %RETRY%<group> after the delay of its level (3 +
// reconsume times by default), or on %DLQ%<group> once it was consumed
// maxReconsumeTimes (the header's, else the group's retryMaxTimes) or when
// the client asks; a producer's direct send to %RETRY%<group> follows the
// same rule, and a group holding live orderly locks gets its failures
// dead-lettered at once. GET_ALL_DELAY_OFFSET answers delayOffset.json.
//
// Transactions (wire_transaction.go, endtxn.go; package txn). A send with
// TRAN_MSG=true is stored as a half message in RMQ_SYS_TRANS_HALF_TOPIC,
// invisible to consumers (refused NO_PERMISSION under
// rejectTransactionMessage). END_TRANSACTION commits it — the message is
// stored to its real topic through the other rewriters, so a delay or a
// timer applies then — or rolls it back; either way an op record marks it
// done. Half messages older than transactionTimeOut are checked every
// transactionCheckInterval with CHECK_TRANSACTION_STATE to a producer of
// the group, at most transactionCheckMax times, after which they are
// discarded to TRANS_CHECK_MAX_TIME_TOPIC. A slave answers END_TRANSACTION
// SLAVE_NOT_AVAILABLE and checks nothing.
//
// Ordered-consumption locks (wire_order.go, lock.go; package rebalance).
// LOCK_BATCH_MQ grants a group's member the queues no other live member
// holds, for rebalanceLockMaxLiveTime (60 s) after its last renewal;
// UNLOCK_BATCH_MQ releases the caller's own. Requests for another group's
// queues, queues not here or topics the group does not subscribe to are
// refused per queue; expired locks are pruned once per lifetime.
//
// Request-reply and message trace (wire_reply.go, reply.go).
// SEND_REPLY_MESSAGE(_V2) (324/325) checks and stores a reply with the
// send processor's configuration and pushes it to the requesting client
// (PUSH_REPLY_MESSAGE_TO_CLIENT on its producer connection, or the
// connection its request came from); the replier is answered with the
// outcome of the push, as in Java. Message trace needs nothing more: the
// trace topic is created at start and trace records are sent and indexed
// like any message.
//
// Consumer management (wire_consumeradmin.go, consumeradmin.go).
// Offsets reset by time for live groups (pushed to every member) and
// offline ones (written here), consumer status, and the running-info and
// consume-directly relays to a named member. Consume progress
// (GET_CONSUME_STATS) is the core's, below.
//
// # Send
//
// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310, one-letter header names) and
// SEND_BATCH_MESSAGE (320) run inline on the connection's reader: decode
// the header, check it (topic name, topics clients may not write, broker
// and topic write permission, queue id, body and properties sizes), find
// or auto-create the topic through its default topic (TBW102; a send may
// write an existing system topic such as rmq_sys_TRACE_DATA_*, never
// create one), build the record (born host from the connection, store
// host from Addr, CLUSTER property on single sends, UNIQ_KEY generated
// when a single send has none), pass a single send through the rewriter
// chain (the features' seam: half messages first, then delay levels,
// timers and the retry rule, then the requester table of request-reply;
// each sees the message, its topic's configuration and a SendContext with
// the header's producer group and maxReconsumeTimes) and append it
// asynchronously. A batch skips the rewriters, so one that is a
// transaction or would be delayed is refused. The answer is written when
// the store reports the record durable per flushDiskType: under SYNC_FLUSH
// one connection can have hundreds of sends waiting on one fdatasync, with
// no goroutine per send. The answer carries msgId (the offset message id;
// comma-joined for a batch), queueId, queueOffset, MSG_REGION=regionId and
// TRACE_ON=traceOn.
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
//	batch with transaction bits in sysFlag     MESSAGE_ILLEGAL (13)
//	batch or batch entry with DELAY > 0 or a   MESSAGE_ILLEGAL (13)
//	  timer property
//	DELAY or timer value not a number, timer   MESSAGE_ILLEGAL (13)
//	  beyond timerMaxDelaySec or wheel off
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
// on a master. Every pull also records, in memory, the offset the group
// has pulled the queue to and how many messages it got (pullstats.go: a
// lock-free lookup and two atomics), which GET_CONSUME_STATS reports.
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
// connection, push NOTIFY_CONSUMER_IDS_CHANGED (40) to every member;
// clients silent for channelExpiredTimeout are dropped. CHECK_CLIENT_CONFIG
// (Java clients ask it when they subscribe) refuses a SQL92 expression
// that does not compile. The heartbeat registers such a subscription with
// a warning and answers SUCCESS (its pulls get SUBSCRIPTION_PARSE_FAILED):
// the Go client records a broker's version only from a successful
// heartbeat, and its pull consumers refuse to pull from a broker whose
// version it does not know.
//
// UPDATE_CONSUMER_OFFSET commits an offset for a group and topic that
// exist; -1, which the Go client sends on shutdown for queues it never
// learned an offset for, is answered SUCCESS and stores nothing.
// QUERY_CONSUMER_OFFSET has Java's "young queue" quirk (0 for a queue
// whose first message is still in memory). GET_CONSUME_STATS answers, per
// queue, the broker's max offset, the group's committed offset, the offset
// it has pulled to (at least the committed one) and the store time of the
// last consumed message, and consumeTps, the messages per second the group
// got over the last minute. GET_BROKER_RUNTIME_INFO answers the store's
// figures under Java's keys, held pulls, and each feature's figures.
// Min/max offsets, search by time, the other admin codes and the query
// codes follow Java's processors; see each processor for the details
// clients notice.
//
// # Bad input
//
// Every header field is checked before use; a missing or malformed field,
// an invalid topic or group name, an oversized body or a malformed batch
// gets an error response whose remark says what is wrong, and a
// rate-limited log line. Nothing partial is stored: a batch is validated
// whole before its first record is appended.
package broker
