package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorocket/gorocket/client"
)

// producers are the clients and producers of a run, one client each.
type producers struct {
	clients []*client.Client
	ps      []*client.Producer
}

// openProducers creates n producers, each on its own client, and connects
// them to the masters.
func openProducers(ctx context.Context, cfg *ProduceConfig, masters []string) (*producers, error) {
	var all producers
	for range cfg.Producers {
		c, err := client.New(cfg.clientOptions())
		if err != nil {
			return &all, err
		}
		all.clients = append(all.clients, c)
		p, err := client.NewProducer(c, client.ProducerOptions{
			Group: cfg.Group,
			// A benchmark counts failures instead of hiding them in
			// retries, as the peer's publish does.
			MaxAttempts: 1,
			// The run keeps its own window of Inflight (see sendAsync);
			// one more slot covers a callback that has returned but
			// not yet released the producer's.
			MaxInFlight:          cfg.Inflight + 1,
			DisableTopicFallback: true,
		})
		if err != nil {
			return &all, err
		}
		all.ps = append(all.ps, p)
		if err := dial(ctx, c, cfg.Topic, masters); err != nil {
			return &all, err
		}
	}
	return &all, nil
}

// Close closes the producers, waiting for their sends in flight, then
// their clients.
func (a *producers) Close() error {
	var errs []error
	for _, p := range a.ps {
		errs = append(errs, p.Close())
	}
	for _, c := range a.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// sendResult turns a send's outcome into an error: a result that is not
// SEND_OK (flush or replication timed out) is not an acknowledgement.
func sendResult(res client.SendResult, err error) error {
	if err == nil && res.Status != client.SendOK {
		err = fmt.Errorf("bench: send stored but %s", res.Status)
	}
	return err
}

// sendLoop runs the requests of one sending goroutine.
type sendLoop struct {
	p        *client.Producer
	rec      *recorder
	sched    *schedule
	size     int
	batch    int
	window   chan struct{}   // async: a token per request in flight
	inflight *sync.WaitGroup // async: requests whose callback has not run
	// body returns the body of message seq and a function to call once
	// the send completed; nil uses msg as it is.
	body func(seq int64, due time.Time) ([]byte, func())
	msg  client.Message
}

// sendCtx bounds each send by the client's request timeout only: a run
// that is interrupted lets its sends in flight finish, so they count.
var sendCtx = context.Background()

func (l *sendLoop) message(seq int64, due time.Time) (*client.Message, func()) {
	if l.body == nil {
		return &l.msg, nil
	}
	m := l.msg
	var release func()
	m.Body, release = l.body(seq, due)
	return &m, release
}

// runAsync keeps up to cap(window) single sends in flight. Unpaced,
// latency counts from when the send got a window slot, as the peer's
// benchmark measures it; paced, from when the message was due.
func (l *sendLoop) runAsync() {
	paced := l.sched.perMsg > 0
	l.sched.run(1, func(seq int64, _ int, from time.Time) {
		l.window <- struct{}{}
		if !paced {
			from = time.Now()
		}
		msg, release := l.message(seq, from)
		l.inflight.Add(1)
		err := l.p.SendAsync(sendCtx, msg, func(res client.SendResult, err error) {
			if err = sendResult(res, err); err != nil {
				l.rec.fail(1, err)
			} else {
				l.rec.ok(1, int64(l.size), time.Since(from))
			}
			if release != nil {
				release()
			}
			<-l.window
			l.inflight.Done()
		})
		if err != nil {
			l.rec.fail(1, err)
			if release != nil {
				release()
			}
			<-l.window
			l.inflight.Done()
		}
	})
}

// runSync sends one request at a time: a message, or a batch.
func (l *sendLoop) runSync() {
	msgs := make([]*client.Message, 0, l.batch)
	var releases []func()
	l.sched.run(l.batch, func(seq int64, n int, from time.Time) {
		msgs, releases = msgs[:0], releases[:0]
		for i := range n {
			m, release := l.message(seq+int64(i), from)
			msgs = append(msgs, m)
			if release != nil {
				releases = append(releases, release)
			}
		}
		var err error
		if l.batch == 1 {
			var res client.SendResult
			res, err = l.p.Send(sendCtx, msgs[0])
			err = sendResult(res, err)
		} else {
			var res client.SendResult
			res, err = l.p.SendBatch(sendCtx, msgs...)
			err = sendResult(res, err)
		}
		if err != nil {
			l.rec.fail(n, err)
		} else {
			l.rec.ok(n, int64(n*l.size), time.Since(from))
		}
		for _, r := range releases {
			r()
		}
	})
}

// produceRun is the sending side of Produce and E2E.
type produceRun struct {
	cfg   *ProduceConfig
	all   *producers
	m     *meter
	sched *schedule
	body  func(seq int64, due time.Time) ([]byte, func())
}

// start starts the sending goroutines; wait returns when every message was
// sent and acknowledged (or failed).
func (r *produceRun) start() (wait func()) {
	cfg := r.cfg
	payload := make([]byte, cfg.Size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var lanes, inflight sync.WaitGroup
	r.sched.begin(time.Now())
	for i, p := range r.all.ps {
		base := sendLoop{
			p: p, rec: r.m.recs[i], sched: r.sched, size: cfg.Size, batch: cfg.Batch,
			inflight: &inflight, body: r.body,
			msg: client.Message{Topic: cfg.Topic, Body: payload},
		}
		switch {
		case cfg.Batch == 1 && !cfg.Sync:
			l := base
			l.window = make(chan struct{}, cfg.Inflight)
			lanes.Go(l.runAsync)
		default:
			// Sync sends, or batches, of which the client has no
			// asynchronous form: Inflight goroutines each sending one
			// request at a time keep Inflight requests outstanding.
			for range cfg.Inflight {
				l := base
				lanes.Go(l.runSync)
			}
		}
	}
	return func() {
		lanes.Wait()
		inflight.Wait()
	}
}

// Produce runs a produce benchmark and returns its summary. A cancelled ctx
// ends the run early; the summary then covers what completed.
func Produce(ctx context.Context, cfg ProduceConfig) (Summary, error) {
	cfg.withDefaults()
	if err := cfg.validate(1); err != nil {
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
	all, err := openProducers(setup, &cfg, masters)
	defer all.Close()
	if err != nil {
		return Summary{}, err
	}

	run := &produceRun{cfg: &cfg, all: all, m: newMeter(cfg.Producers), sched: newSchedule(cfg.Count, cfg.Rate)}
	ph, err := startPhase(ctx, "produce", &cfg.Common, run.m, nil, run.sched.halt)
	if err != nil {
		return Summary{}, err
	}
	run.start()()
	elapsed := time.Since(ph.start)
	cpu0, cpu1, perr := ph.end()

	h := newHistogram()
	latency := LatencySendAck
	if cfg.Rate > 0 {
		latency = LatencyScheduledAck
	}
	s := newSummary("produce", latency, run.m.snapshot(h), h, elapsed)
	s.setCPU(cpu0, cpu1, elapsed)
	s.Interrupted = ph.wasInterrupted()
	s.Config = cfg.info()
	return s, perr
}
