// Package longpoll holds pull requests that found nothing until a message
// they want arrives or their time is up: RocketMQ's long polling
// (PullRequestHoldService).
//
// A consumer pulls with the SUSPEND flag and a suspend timeout (20 s for
// the Go client). When the queue has nothing at the requested offset the
// broker does not answer PULL_NOT_FOUND at once: it holds the request and
// re-runs it (without suspending again) when
//
//   - a message lands in the queue at or past the requested offset and
//     passes the request's filter (tag hash codes, SQL92 on the stored
//     properties), so that a message the consumer does not want does not
//     wake it;
//   - the periodic re-check (every 5 s, as Java; shortPollingTimeMills when
//     long polling is off) finds the queue past the requested offset, which
//     covers arrivals whose filter information was unknown;
//   - its deadline passes: the re-run then answers PULL_NOT_FOUND (or
//     whatever has arrived meanwhile);
//   - the service closes: every held request is re-run, so that clients
//     get an answer instead of a timeout.
//
// # Shape
//
// Core is the decision logic and nothing else: Hold, Arrive, Recheck and
// Tick take inputs (a held request, a message arrival, the queue heads, the
// time) and return the requests to re-run. It has no clock, no goroutines
// and no locks, and its tests run without either.
//
// Service is the thin driver: it guards a Core with a mutex, feeds it the
// store's arrival hook (which must never block, so re-runs are handed to a
// few worker goroutines), a timer for deadlines and the re-check, and
// closes a race the core cannot see: a message that lands between the
// pull's empty read and its Hold is caught by reading the queue head once
// the request is held.
//
// # Invariants
//
//   - A held request is returned exactly once by the core, by whichever of
//     Arrive, Recheck, Tick or Drain comes first; the service runs it
//     exactly once.
//   - Arrive wakes a request only for an arrival at an offset at or past the
//     one it pulls from, and only if its Matcher accepts the arrival.
//   - The arrival path takes no lock when nothing is held.
package longpoll
