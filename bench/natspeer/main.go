// Command natspeer is the NATS JetStream side of gorocket's benchmark
// comparison (bench/compare.sh). It runs the phases `gorocket bench` runs,
// measured the same way, against a JetStream stream, and prints the same
// summary keys, so that the two can be put side by side.
//
//	natspeer setup    delete and recreate the stream (file storage, 1 replica)
//	natspeer produce  P publishers, one connection each: async with W
//	                  un-acked publishes each, or -sync one at a time
//	natspeer consume  a durable pull consumer: Fetch(-pull-batch), then
//	                  AckAll on the batch's last message (the offset commit
//	                  of the RocketMQ side)
//	natspeer startup  start nats-server, time it until JetStream answers,
//	                  read its RSS after idling, stop it
//
// Measurement, matching internal/bench: latency in an HDR histogram (1 µs
// to 60 s, 3 significant digits) with the percentiles capped at the exact
// maximum; async latency counts from when the publish got its window slot
// to its ack; throughput is acknowledged messages over the time from the
// first publish to the last ack; MB/s is 10^6 body bytes per second; CPU is
// sampled around the measured phase (getrusage for this process,
// /proc/PID/stat for -server-pid, /proc/stat for the machine).
//
// It is its own module so that gorocket's module does not depend on
// nats.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	switch os.Args[1] {
	case "setup":
		err = runSetup(os.Args[2:])
	case "produce":
		err = runProduce(ctx, os.Args[2:])
	case "consume":
		err = runConsume(ctx, os.Args[2:])
	case "startup":
		err = runStartup(ctx, os.Args[2:])
	default:
		usage()
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natspeer:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: natspeer setup|produce|consume|startup [flags]  (natspeer CMD -h for the flags)")
	os.Exit(2)
}

// common are the flags of every phase.
type common struct {
	url, stream, subject string
	count                int64
	duration             time.Duration
	serverPID            int
	json, quiet          bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "nats://127.0.0.1:4222", "server URL")
	fs.StringVar(&c.stream, "stream", "BENCH", "stream name")
	fs.StringVar(&c.subject, "subject", "bench.1k", "subject")
	fs.Int64Var(&c.count, "count", 0, "stop after this many messages")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long (with -count: whichever comes first)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "report this process's CPU time per message")
	fs.BoolVar(&c.json, "json", false, "print the summary as one JSON object")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines")
}

func (c *common) bounded() error {
	if c.count < 0 || c.duration < 0 || (c.count == 0 && c.duration == 0) {
		return errors.New("give a positive -count, -duration or both")
	}
	return nil
}

func connect(url, name string) (*nats.Conn, nats.JetStreamContext, error) {
	nc, err := nats.Connect(url, nats.Name(name))
	if err != nil {
		return nil, nil, err
	}
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(1 << 16))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

func runSetup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	var c common
	c.register(fs)
	storage := fs.String("storage", "file", "file or memory")
	_ = fs.Parse(args)
	nc, js, err := connect(c.url, "natspeer-setup")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := js.DeleteStream(c.stream); err != nil && !errors.Is(err, nats.ErrStreamNotFound) {
		return err
	}
	st := nats.FileStorage
	if *storage == "memory" {
		st = nats.MemoryStorage
	}
	_, err = js.AddStream(&nats.StreamConfig{
		Name: c.stream, Subjects: []string{c.subject}, Storage: st, Replicas: 1,
		Retention: nats.LimitsPolicy, Discard: nats.DiscardOld,
	})
	return err
}

// stopper ends a run at its duration or on a signal.
type stopper struct {
	ch          chan struct{}
	once        sync.Once
	interrupted bool
	mu          sync.Mutex
}

func newStopper(ctx context.Context, d time.Duration) (*stopper, func()) {
	s := &stopper{ch: make(chan struct{})}
	var t *time.Timer
	if d > 0 {
		t = time.AfterFunc(d, s.stop)
	}
	unwatch := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.interrupted = true
		s.mu.Unlock()
		s.stop()
	})
	return s, func() {
		if t != nil {
			t.Stop()
		}
		unwatch()
	}
}

func (s *stopper) stop() { s.once.Do(func() { close(s.ch) }) }

func (s *stopper) stopped() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

func (s *stopper) wasInterrupted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interrupted
}

// claims hands out a message count to concurrent publishers.
type claims struct {
	count int64 // 0: until stopped
	next  atomic.Int64
}

func (c *claims) take() bool { return c.count == 0 || c.next.Add(1) <= c.count }

func runProduce(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	var c common
	c.register(fs)
	size := fs.Int("size", 1024, "message body size in bytes")
	producers := fs.Int("producers", 1, "publishers, each with its own connection")
	inflight := fs.Int("inflight", 256, "un-acked publishes per publisher (async)")
	syncPub := fs.Bool("sync", false, "publish one message at a time per publisher")
	_ = fs.Parse(args)
	if err := c.bounded(); err != nil {
		return err
	}
	if *size < 1 || *producers < 1 || *inflight < 1 {
		return errors.New("-size, -producers and -inflight must be positive")
	}
	if *syncPub {
		*inflight = 1
	}
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	conns := make([]*nats.Conn, *producers)
	jss := make([]nats.JetStreamContext, *producers)
	for i := range conns {
		var err error
		if conns[i], jss[i], err = connect(c.url, fmt.Sprintf("natspeer-pub-%d", i)); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	m := newMeter(*producers)
	cl := &claims{count: c.count}
	stop, unwatch := newStopper(ctx, c.duration)
	ph := startPhase("produce", &c, m)
	var wg sync.WaitGroup
	for i, js := range jss {
		rec := m.recs[i]
		if *syncPub {
			wg.Go(func() {
				for !stop.stopped() && cl.take() {
					t0 := time.Now()
					if _, err := js.Publish(c.subject, payload); err != nil {
						rec.fail(1, err)
						continue
					}
					rec.ok(1, int64(*size), time.Since(t0))
				}
			})
			continue
		}
		wg.Go(func() { publishAsync(js, c.subject, payload, *inflight, rec, stop, cl) })
	}
	wg.Wait()
	elapsed := time.Since(ph.start)
	unwatch()
	s := ph.end("produce", "send_to_ack", elapsed)
	s.Interrupted = stop.wasInterrupted()
	s.Config = runInfo{Topic: c.subject, Size: *size, Producers: *producers, Inflight: *inflight, Sync: *syncPub, Batch: 1,
		Count: c.count, DurationSec: c.duration.Seconds()}
	return s.write(os.Stdout, c.json)
}

type pending struct {
	f  nats.PubAckFuture
	t0 time.Time
}

// publishAsync keeps up to window publishes un-acked. Acks of one
// connection come in publish order, so one goroutine reads them in order
// and frees a window slot per ack. Latency counts from when a publish got
// its slot, as gorocket bench counts it.
func publishAsync(js nats.JetStreamContext, subject string, payload []byte, window int, rec *recorder, stop *stopper, cl *claims) {
	slots := make(chan struct{}, window)
	q := make(chan pending, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range q {
			select {
			case <-p.f.Ok():
				rec.ok(1, int64(len(payload)), time.Since(p.t0))
			case err := <-p.f.Err():
				rec.fail(1, err)
			}
			<-slots
		}
	}()
	for !stop.stopped() && cl.take() {
		slots <- struct{}{}
		t0 := time.Now()
		f, err := js.PublishAsync(subject, payload)
		if err != nil {
			rec.fail(1, err)
			<-slots
			continue
		}
		q <- pending{f, t0}
	}
	close(q)
	<-done
}

func runConsume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	var c common
	c.register(fs)
	durable := fs.String("group", "natspeer", "durable consumer name (deleted and recreated)")
	batch := fs.Int("pull-batch", 256, "messages per Fetch")
	idle := fs.Duration("idle-timeout", 5*time.Second, "stop when no message arrived for this long")
	_ = fs.Parse(args)
	if err := c.bounded(); err != nil {
		return err
	}
	nc, js, err := connect(c.url, "natspeer-consume")
	if err != nil {
		return err
	}
	defer nc.Close()
	_ = js.DeleteConsumer(c.stream, *durable)
	sub, err := js.PullSubscribe(c.subject, *durable,
		nats.BindStream(c.stream), nats.AckAll(), nats.DeliverAll(), nats.MaxAckPending(-1))
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()

	m := newMeter(1)
	rec := m.recs[0]
	stop, unwatch := newStopper(ctx, c.duration)
	ph := startPhase("consume", &c, m)
	var got int64
	lastMsg := time.Now()
	for !stop.stopped() && (c.count == 0 || got < c.count) {
		n := *batch
		if c.count > 0 {
			n = int(min(int64(n), c.count-got))
		}
		t0 := time.Now()
		msgs, err := sub.Fetch(n, nats.MaxWait(time.Second))
		rtt := time.Since(t0)
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			rec.fail(1, err)
		}
		if len(msgs) == 0 {
			if time.Since(lastMsg) > *idle {
				break
			}
			continue
		}
		var bytes int64
		for _, msg := range msgs {
			bytes += int64(len(msg.Data))
		}
		if err := msgs[len(msgs)-1].Ack(); err != nil { // AckAll: everything up to here
			rec.fail(1, err)
		}
		got += int64(len(msgs))
		lastMsg = time.Now()
		rec.record(len(msgs), bytes, rtt, 1)
	}
	end := time.Now()
	if c.count > 0 && got < c.count && !stop.wasInterrupted() {
		end = lastMsg // stopped idle: the run ended with its last message
	}
	unwatch()
	s := ph.end("consume", "pull_round_trip", end.Sub(ph.start))
	s.Interrupted = stop.wasInterrupted()
	s.Config = runInfo{Topic: c.subject, Group: *durable, PullBatch: *batch, Queues: 1, Count: c.count, DurationSec: c.duration.Seconds()}
	return s.write(os.Stdout, c.json)
}

// phase samples CPU and prints progress around the measured part of a run.
type phase struct {
	c     *common
	m     *meter
	start time.Time
	cpu0  cpuSample
	stop  chan struct{}
	done  sync.WaitGroup
}

func startPhase(mode string, c *common, m *meter) *phase {
	p := &phase{c: c, m: m, cpu0: sampleCPU(c.serverPID), stop: make(chan struct{})}
	p.start = time.Now()
	if !c.quiet {
		p.done.Go(func() { p.progress(mode) })
	}
	return p
}

func (p *phase) progress(mode string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	h := newHistogram()
	var last int64
	lastAt := p.start
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			tot := p.m.snapshot(h)
			rate := float64(tot.msgs-last) / now.Sub(lastAt).Seconds()
			fmt.Fprintf(os.Stderr, "%s %5.0fs  %.0f msgs/s  p99 %d µs  errors %d  total %d\n",
				mode, now.Sub(p.start).Seconds(), rate, h.ValueAtQuantile(99), tot.errors, tot.msgs)
			last, lastAt = tot.msgs, now
		}
	}
}

func (p *phase) end(mode, latency string, elapsed time.Duration) summary {
	cpu1 := sampleCPU(p.c.serverPID)
	close(p.stop)
	p.done.Wait()
	h := newHistogram()
	s := newSummary(mode, latency, p.m.snapshot(h), h, elapsed)
	s.setCPU(p.cpu0, cpu1, elapsed)
	return s
}

func (s summary) write(w io.Writer, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %d msgs in %.2f s, %d errors\n  %.0f msgs/s  %.1f MB/s\n  p50 %d µs  p90 %d µs  p99 %d µs  p99.9 %d µs  max %d µs (%s)\n",
		s.Mode, s.Count, s.ElapsedSec, s.Errors, s.MsgsPerSec, s.MBPerSec, s.P50US, s.P90US, s.P99US, s.P999US, s.MaxUS, s.Latency)
	return err
}
