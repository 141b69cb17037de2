// Package bench is the logic of `gorocket bench`: a load generator and
// latency meter for RocketMQ's remoting protocol, built on the public client
// package, so that what it measures is what an application using client/
// would get.
//
// # Runs
//
// Produce sends fixed-size messages from Producers producers, each with its
// own client (its own client id and TCP connection). Asynchronous sends keep
// up to Inflight requests outstanding per producer (pipelined on the
// connection); Sync sends one at a time. Batch > 1 sends SEND_BATCH_MESSAGE
// requests of Batch messages; Inflight batches are kept outstanding by
// Inflight goroutines per producer, each sending synchronously
// (Producer.SendBatch; the tool predates Producer.SendBatchAsync).
//
// Consume drains a topic's queues with a PullConsumer: one goroutine per
// queue, PullBatch messages per request, the consumed offset committed with
// every pull (the commit-offset flag) and once more at the end.
//
// E2E produces at a fixed rate while consuming in the same process and
// measures born to consume: the producer writes the time the message was
// due into the first 8 bytes of its body (Unix nanoseconds, big endian) and
// the consumer records now minus that stamp. Both sides share one clock.
//
// Every run is bounded: by Count messages, by Duration, or by both (whichever
// comes first). A run also ends when its context is cancelled (SIGINT); the
// summary then covers what completed and says Interrupted.
//
// # What is measured
//
// Latency goes into HDR histograms (1 µs to 60 s, 3 significant digits),
// one per producer or queue, merged for the progress line and the summary.
// For sends it is the time from the send's start to its acknowledgement.
// With Rate set, sends are paced open-loop: message i is due at
// start + i/Rate, and its latency counts from when it was due, not from when
// it was actually sent. A stalled broker therefore shows up in the
// percentiles instead of silently slowing the sender (coordinated
// omission). For pulls it is the round trip of one pull request; for E2E the
// born-to-consume time above.
//
// Throughput counts acknowledged (or consumed) messages over the elapsed
// time, from the first request to the last response. MB/s is 10^6 bytes of
// message body per second (headers and properties not counted), as the
// peer benchmarks report it.
//
// CPU is read around the measured phase only: the tool's own (getrusage),
// the server's when its pid is given (utime+stime from /proc/PID/stat, in
// USER_HZ ticks of 10 ms), and the whole machine's (/proc/stat), from which
// OtherCPUCores is what neither used: load from other processes that makes
// a figure suspect on a shared machine.
//
// # Summary
//
// Summary is printed as text or as one JSON object whose keys are stable:
// msgs_per_sec, mb_per_sec, p50_us, p90_us, p99_us, p999_us, max_us,
// mean_us, errors, count, bytes, elapsed_sec, plus the CPU figures and the
// run's configuration (see Summary's field tags).
package bench
