// Package rebalance holds the broker's queue locks for orderly
// consumption: RocketMQ's RebalanceLockManager, behind LOCK_BATCH_MQ and
// UNLOCK_BATCH_MQ.
//
// An orderly consumer locks each queue it is assigned before consuming it,
// so that one member of a group at a time consumes a queue, in order. A
// lock belongs to (group, queue) and names the client id that holds it; it
// lives LockMaxLiveTime (60 s) after the holder last locked it. Clients
// re-lock every 20 s (the Go client), so a live holder never loses its
// queues, and a crashed one loses them a minute after its last renewal —
// across a consumer restart the queue is held, so nobody else consumes it
// out of order while the old instance might still be working.
//
// # Rules
//
// TryLockBatch grants a queue to clientID when the queue is unlocked, is
// already held by clientID and not expired, or is held by anyone but
// expired; each grant (re)starts the lock's life at now. A queue held by
// another client whose lock is alive is refused. UnlockBatch releases only
// the queues clientID holds (expired or not); the others are left alone.
// A lock is expired when now - last renewal > LockMaxLiveTime.
//
// Invariant: at any instant, a (group, queue) has at most one client
// whose lock is alive.
//
// # Core without a clock
//
// Every method takes now; the manager never reads the time and starts no
// goroutine, so it is tested without clocks. Expired entries are only
// removed by Prune (or taken over by a new grant); call it now and then to
// bound memory after consumers went away.
package rebalance
