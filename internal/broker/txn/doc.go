// Package txn is the broker's transactional messages: half messages,
// END_TRANSACTION's commit and rollback, and the check-backs that ask a
// producer for the state of a transaction it did not end (RocketMQ's
// TransactionalMessageBridge, TransactionalMessageServiceImpl,
// TransactionalMessageCheckService and EndTransactionProcessor's logic).
//
// # Records
//
// A half message is what a producer sends with TRAN_MSG=true. PrepareHalf
// turns it, on the send path, into a record of RMQ_SYS_TRANS_HALF_TOPIC
// queue 0: UNIQ_KEY copied into __transactionId__, REAL_TOPIC and REAL_QID
// saved, the transaction bits of sysFlag cleared. No consumer of the real
// topic sees it. The send's answer is the half record's (msgId its offset
// message id, queueOffset its half-queue offset): the producer names the
// record by both in its END_TRANSACTION.
//
// Every decision is written as a record too, so that the state is the
// queues' content:
//
//	record            topic / queue                         written when
//	committed message REAL_TOPIC / REAL_QID, sysFlag COMMIT an END commits
//	op record         RMQ_SYS_TRANS_OP_HALF_TOPIC / 0,      an END commits or rolls back,
//	                  tag "d", body "o1,o2,..."             or a half message is discarded
//	copy              RMQ_SYS_TRANS_HALF_TOPIC / 0,         a check-back (TRANSACTION_CHECK_TIMES+1)
//	                  same properties                       or a renewal (TRAN_PREPARED_QUEUE_OFFSET)
//	discarded message TRANS_CHECK_MAX_TIME_TOPIC / 0        transactionCheckMax checks went unanswered
//
// The op body lists half-queue offsets in decimal, comma-separated: one
// for RocketMQ 4's form, several for an END that resolves several copies.
// The committed message keeps the half record's properties but REAL_TOPIC,
// REAL_QID, TRAN_MSG, TRANSACTION_CHECK_TIMES and TRAN_PREPARED_QUEUE_OFFSET,
// and carries the half record's commit-log offset in
// PreparedTransactionOffset. Records the broker writes for itself carry
// WAIT=false, as RocketMQ's do.
//
// # Transactions and copies
//
// A transaction is named by its producer group (PGROUP) and UNIQ_KEY: its
// Key. A check-back writes a copy of the half record at the tail of the
// half queue and asks about the copy; a producer whose send timed out and
// was retried leaves two half records. All of them are copies of one
// transaction, and the core treats them so: a copy supersedes the older
// pending copies (only the newest is checked), and an END resolves every
// pending copy at once, naming them all in one op record. So an END that
// names an old copy (the producer's own END arriving after a check-back
// wrote a newer one) still ends the transaction, and a transaction is
// committed once however many copies it has. RocketMQ matches op records
// to half offsets only and can commit such a transaction twice.
//
// # Persisted state and restart
//
// Two consume offsets of the internal group CID_SYS_RMQ_TRANS, kept in
// consumerOffset.json as RocketMQ keeps them:
//
//	RMQ_SYS_TRANS_HALF_TOPIC@CID_SYS_RMQ_TRANS  H: every half record below is finished
//	                                             (ended, discarded or superseded by a copy)
//	RMQ_SYS_TRANS_OP_HALF_TOPIC@CID_SYS_RMQ_TRANS O: every op record below names only offsets below H
//
// Load reads the op records from O (what was ended), then the half records
// from H: those not named by an op record and not superseded by a newer
// copy are pending, with the check count their newest copy carries. H is
// committed before O, and O only after the table holding H was saved, so a
// crash can leave O behind (more op records read) but never ahead. After a
// crash, H may be behind the last round: superseded copies come back and are
// superseded again as they are fed; ended ones are named by their op records.
// A committed message is therefore never stored twice by the broker across
// a restart, a rolled-back one never at all, and a pending one is checked
// again with its check count. One window remains, as in RocketMQ: a crash
// between storing a committed message and its op record leaves the half
// pending, and the producer's answer to the next check commits it again.
//
// # Check-backs
//
// Every transactionCheckInterval the service reads what is new in the op
// and half queues and asks the core what to do with each pending half
// record that has been read:
//
//   - checked transactionCheckMax times (TRANSACTION_CHECK_TIMES): discard it
//     to TRANS_CHECK_MAX_TIME_TOPIC, with an op record, a log line and the
//     Discarded counter;
//   - born longer ago than the commit log's retention (fileReservedTime):
//     discard it the same way, as RocketMQ's isNeedSkip does;
//   - older than transactionTimeOut since its birth, or than
//     CHECK_IMMUNITY_TIME_IN_SECONDS when the producer set it (or born in
//     the future, as RocketMQ treats a producer clock that runs ahead):
//     write a copy with TRANSACTION_CHECK_TIMES+1 (so the count survives a
//     restart), then send CHECK_TRANSACTION_STATE (39) oneway to one live
//     producer channel of the PGROUP group, about the copy: ext topic (the
//     real one), tranStateTableOffset and commitLogOffset (the copy's),
//     msgId and transactionId (UNIQ_KEY), offsetMsgId (the copy's),
//     brokerName; body the copy as a stored record with the real topic and
//     queue id (what the official Go client decodes);
//   - in its immunity and at the head of the queue for an interval: renew
//     it (a copy, not counted, not checked), so that H can move on, as
//     RocketMQ's putImmunityMsgBackToHalfQueue does;
//   - otherwise wait.
//
// A check counts even when no producer of the group is connected (the
// copy is written and a warning logged), as in RocketMQ: a group whose
// producers are gone is given up after transactionCheckMax rounds.
//
// # END_TRANSACTION
//
// End checks in RocketMQ's order: the record at commitLogOffset exists and
// is a half message, its PGROUP equals producerGroup, its queue offset
// equals tranStateTableOffset, its commit-log offset equals commitLogOffset.
// Any mismatch is an error and nothing changes. It then claims the
// transaction: an END waits (at most 10 s) while a check-back of the same
// transaction is being written, and changes nothing if no copy is pending
// any more (a duplicate END, or one after a discard). Commit stores the
// rebuilt message, passed through the send path's other rewriters (delay
// levels and timers apply to committed messages, as RocketMQ's store hook
// applies them to COMMIT records), then the op record; rollback stores
// only the op record. The appends are not abandoned when the producer's
// connection drops, so the state never disagrees with the log.
//
// # Differences from RocketMQ, and why
//
//   - Copies of one transaction are matched by Key (above), not only by
//     half offset: RocketMQ can commit a transaction twice when an END
//     names a record a check-back had already copied, or when a producer's
//     retry stored the half message twice.
//   - A duplicate END, or one for a transaction already discarded, changes
//     nothing; RocketMQ would store the committed message again. (An END
//     that arrives after the discard therefore does not deliver: the
//     message stays in TRANS_CHECK_MAX_TIME_TOPIC, where an operator finds
//     it.)
//   - A discard also writes an op record, so that the op log alone says
//     what is finished and a restart from older offsets does not discard
//     it again.
//   - END checks that the record it names is a half message; RocketMQ
//     accepts any record whose PGROUP matches.
//   - The consume offsets are committed half first and op second, with the
//     table saved in between (above); RocketMQ commits both at the end of a
//     round and a crash between can leave the op offset ahead.
//   - END_TRANSACTION with commitOrRollback 0 is answered (see the broker's
//     processor): the transport cannot drop a request not flagged oneway.
//
// # What the official Go client does with a check-back
//
// rocketmq-client-go v2.1.2 decodes the body (1-byte topic length: a real
// topic longer than 127 bytes would need a V2 record it cannot read),
// drops the check unless the PGROUP property is its own group, and
// answers END_TRANSACTION with fromTransactionCheck=true, the header's
// tranStateTableOffset and commitLogOffset, msgId = UNIQ_KEY and
// transactionId = __transactionId__ from the body. Its header decoder
// overwrites MsgId with transactionId and then offsetMsgId, which it never
// uses otherwise. The client keeps one check channel per client instance,
// and only a TransactionProducer reads it: a check that reaches a plain
// producer of the group (or a TransactionProducer sharing a plain
// producer's instance) blocks a goroutine of that client and is never
// answered; the transaction is checked again next round, on the next
// producer of the group.
//
// # Shape
//
// Core is the bookkeeping and the decisions, fed records, ENDs and ticks;
// it has no clock, no I/O and no lock, and is tested alone. It keeps the
// window of the half queue from H to what has been read (an entry per
// record, finished ones until H passes them), the records ENDs named
// before they were read, and the op offsets from O. The window is what a
// check interval plus transactionTimeOut hold, since every older pending
// record is copied to the tail each round; the records named early are
// what arrives in a second, since the service reads the queues every
// second (or every interval, if shorter) besides its rounds. Service is
// the driver: it reads the queues, carries the decisions out against the
// store and the producers, serves End, persists the offsets after each
// round and at Close.
//
// One transaction through the store (half append; END: look-up, commit
// append, op append) takes about 25 µs on the project's 2-core machine,
// sequentially, ASYNC_FLUSH (BenchmarkTransaction).
package txn
