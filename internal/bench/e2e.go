package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gorocket/gorocket/client"
)

// stamp writes an E2E body header: when the message was due (Unix
// nanoseconds) and the run's id, both big endian.
func stamp(body []byte, due time.Time, run uint64) {
	binary.BigEndian.PutUint64(body[0:8], uint64(due.UnixNano()))
	binary.BigEndian.PutUint64(body[8:16], run)
}

// readStamp returns the due time of a body stamped by run, false for a
// body of another run or producer.
func readStamp(body []byte, run uint64) (time.Time, bool) {
	if len(body) < stampSize || binary.BigEndian.Uint64(body[8:16]) != run {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(body[0:8]))), true
}

// E2E produces cfg.Count messages (or for cfg.Duration) at cfg.Rate while
// consuming the topic in the same process, and returns the summary of the
// born-to-consume latency; the send acknowledgements are in its Send…
// fields. The consumer starts at the queues' ends, so it sees this run's
// messages only (others are skipped by their stamp). A cancelled ctx ends
// the run early.
func E2E(ctx context.Context, cfg E2EConfig) (Summary, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	setup, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	admin, err := client.New(cfg.clientOptions())
	if err != nil {
		return Summary{}, err
	}
	defer admin.Close()
	masters, err := ensureTopic(setup, admin, cfg.Topic, cfg.Queues)
	if err != nil {
		return Summary{}, err
	}

	cc, err := client.New(cfg.clientOptions())
	if err != nil {
		return Summary{}, err
	}
	defer cc.Close()
	pc, err := client.NewPullConsumer(cc, client.PullConsumerOptions{Group: cfg.ConsumerGroup})
	if err != nil {
		return Summary{}, err
	}
	defer pc.Close()
	pullers, err := openPullers(setup, pc, cfg.Topic, cfg.PullBatch, nil, true)
	if err != nil {
		return Summary{}, err
	}
	all, err := openProducers(setup, &cfg.ProduceConfig, masters)
	defer all.Close()
	if err != nil {
		return Summary{}, err
	}

	runID := rand.Uint64()
	bodies := sync.Pool{New: func() any { b := make([]byte, cfg.Size); return &b }}
	recv := newMeter(len(pullers))
	for i, p := range pullers {
		rec := recv.recs[i]
		p.rec = rec
		p.onMessages = func(msgs []client.MessageExt, _ time.Duration) {
			now := time.Now()
			for i := range msgs {
				due, ok := readStamp(msgs[i].Body, runID)
				if !ok {
					continue
				}
				rec.ok(1, int64(len(msgs[i].Body)), now.Sub(due))
			}
		}
	}
	send := &produceRun{
		cfg: &cfg.ProduceConfig, all: all, m: newMeter(cfg.Producers), sched: newSchedule(cfg.Count, cfg.Rate),
		body: func(_ int64, due time.Time) ([]byte, func()) {
			bp := bodies.Get().(*[]byte)
			stamp(*bp, due, runID)
			return *bp, func() { bodies.Put(bp) }
		},
	}
	pull := newPullRun(newQuota(0))
	pull.pullers = pullers

	halt := func() { send.sched.halt() }
	ph, err := startPhase(ctx, "e2e", &cfg.Common, recv, send.m, halt)
	if err != nil {
		return Summary{}, err
	}
	pulled := pull.start(-1)
	send.start()()
	sentOK := send.m.snapshot(nil).msgs
	// Wait for the consumer to see every acknowledged message, for at
	// most DrainTimeout after the last one arrived, or for an interrupt.
	drained := false
	for !drained && !ph.wasInterrupted() {
		got := recv.snapshot(nil).msgs
		idle := time.Since(time.Unix(0, pull.lastMsg.Load()))
		drained = got >= sentOK || idle > cfg.DrainTimeout
		if !drained {
			time.Sleep(pollEvery)
		}
	}
	elapsed := time.Since(ph.start)
	pull.halt()
	pulled()
	cpu0, cpu1, perr := ph.end()
	cerr := pull.commit()

	h := newHistogram()
	s := newSummary("e2e", LatencyBornConsume, recv.snapshot(h), h, elapsed)
	sh := newHistogram()
	st := send.m.snapshot(sh)
	sl := percentiles(sh, st.max)
	s.Sent, s.SendP50US, s.SendP99US, s.SendP999US, s.SendMaxUS = st.msgs, sl.p50, sl.p99, sl.p999, sl.max
	s.Errors += st.errors
	if s.FirstError == "" && st.firstErr != nil {
		s.FirstError = st.firstErr.Error()
	}
	s.setCPU(cpu0, cpu1, elapsed)
	s.Interrupted = ph.wasInterrupted()
	s.Config = cfg.info()
	s.Config.PullBatch = cfg.PullBatch
	return s, errors.Join(perr, cerr)
}
