package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/client"
)

// pullSuspend is how long the broker may hold a pull that finds nothing
// (long polling), so that an idle queue costs one request per this long.
const pullSuspend = time.Second

// pullRetryBackoff spaces pulls after a failed one.
const pullRetryBackoff = 100 * time.Millisecond

// quota tracks a message count shared by concurrent pullers. It does not
// reserve: each puller asks for what is left, so the pullers together can
// pass the count by less than one batch per queue. (Reserving would stall
// a queue whose share another puller holds for messages its own queue
// does not have.)
type quota struct {
	count int64 // 0: unbounded
	got   atomic.Int64
}

func newQuota(count int64) *quota { return &quota{count: count} }

// want returns how many of n messages to ask for; 0 when the count is
// reached.
func (q *quota) want(n int) int {
	if q.count == 0 {
		return n
	}
	return int(max(0, min(int64(n), q.count-q.got.Load())))
}

// add counts n received messages.
func (q *quota) add(n int) { q.got.Add(int64(n)) }

func (q *quota) done() bool { return q.count > 0 && q.got.Load() >= q.count }

// puller drains one queue.
type puller struct {
	pc     *client.PullConsumer
	queue  client.MessageQueue
	offset int64 // the next offset to pull; after the run, what was consumed
	batch  int
	rec    *recorder
	// onMessages handles a pulled batch; nil records the pull's round
	// trip once, with the batch's size.
	onMessages func(msgs []client.MessageExt, rtt time.Duration)
}

// pullRun is the consuming side of Consume and E2E.
type pullRun struct {
	pullers []*puller
	quota   *quota
	stop    chan struct{} // closed by halt
	once    sync.Once
	ctx     context.Context // pulls; cancelled by halt so held pulls return
	cancel  context.CancelFunc
	lastMsg atomic.Int64 // Unix nanoseconds of the last message received
}

func newPullRun(q *quota) *pullRun {
	r := &pullRun{quota: q, stop: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

func (r *pullRun) halt() {
	r.once.Do(func() {
		close(r.stop)
		r.cancel()
	})
}

func (r *pullRun) halted() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// openPullers finds topic's queues and where group left each of them: its
// committed offset, or the queue's first offset (fromMax: its last) when
// it has none.
func openPullers(ctx context.Context, pc *client.PullConsumer, topic string, batch int, m func(i int) *recorder, fromMax bool) ([]*puller, error) {
	queues, err := pc.Queues(ctx, topic)
	if err != nil {
		return nil, err
	}
	ps := make([]*puller, len(queues))
	for i, q := range queues {
		var off int64
		if fromMax {
			off, err = pc.MaxOffset(ctx, q)
		} else if off, err = pc.QueryOffset(ctx, q); errors.Is(err, client.ErrOffsetNotFound) {
			off, err = pc.MinOffset(ctx, q)
		}
		if err != nil {
			return nil, err
		}
		ps[i] = &puller{pc: pc, queue: q, offset: off, batch: batch}
		if m != nil {
			ps[i].rec = m(i)
		}
	}
	return ps, nil
}

// start starts one goroutine per queue; wait returns when all stopped.
func (r *pullRun) start(idle time.Duration) (wait func()) {
	var wg sync.WaitGroup
	r.lastMsg.Store(time.Now().UnixNano())
	for _, p := range r.pullers {
		wg.Go(func() { r.drain(p, idle) })
	}
	return wg.Wait
}

// drain pulls one queue until the quota is used up, the run is halted, or
// no message arrived anywhere for idle (when positive). The offset
// consumed so far is committed with every pull.
func (r *pullRun) drain(p *puller, idle time.Duration) {
	committed := int64(0)
	for !r.halted() {
		n := r.quota.want(p.batch)
		if n == 0 {
			r.halt()
			return
		}
		t0 := time.Now()
		res, err := p.pc.Pull(r.ctx, client.PullRequest{
			Queue: p.queue, Offset: p.offset, MaxNums: n, Suspend: pullSuspend, CommitOffset: committed,
		})
		rtt := time.Since(t0)
		got := 0
		switch {
		case err != nil:
			if r.halted() {
				return
			}
			p.rec.fail(1, err)
		case res.Status == client.PullFound:
			got = len(res.Messages)
			r.quota.add(got)
			r.lastMsg.Store(time.Now().UnixNano())
			if p.onMessages != nil {
				p.onMessages(res.Messages, rtt)
			} else {
				var bytes int64
				for i := range res.Messages {
					bytes += int64(len(res.Messages[i].Body))
				}
				p.rec.record(got, bytes, rtt, 1)
			}
			p.offset, committed = res.NextBeginOffset, res.NextBeginOffset
		default:
			p.offset = res.NextBeginOffset
		}
		if got > 0 {
			continue
		}
		if idle > 0 && time.Since(time.Unix(0, r.lastMsg.Load())) > idle {
			r.halt()
			return
		}
		if err != nil {
			select {
			case <-r.stop:
			case <-time.After(pullRetryBackoff):
			}
		}
	}
}

// commit stores every puller's offset as the group's.
func (r *pullRun) commit() error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	var errs []error
	for _, p := range r.pullers {
		if p.offset > 0 {
			errs = append(errs, p.pc.UpdateOffset(ctx, p.queue, p.offset))
		}
	}
	return errors.Join(errs...)
}

// Consume drains cfg.Topic as cfg.Group from the group's committed offsets
// (the first offsets for a new group) and returns the summary; its
// latency is the pulls' round trip. A cancelled ctx ends the run early.
func Consume(ctx context.Context, cfg ConsumeConfig) (Summary, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	setup, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	c, err := client.New(cfg.clientOptions())
	if err != nil {
		return Summary{}, err
	}
	defer c.Close()
	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: cfg.Group})
	if err != nil {
		return Summary{}, err
	}
	defer pc.Close()

	var m *meter
	pullers, err := openPullers(setup, pc, cfg.Topic, cfg.PullBatch, nil, false)
	if err != nil {
		return Summary{}, err
	}
	m = newMeter(len(pullers))
	for i, p := range pullers {
		p.rec = m.recs[i]
	}
	run := newPullRun(newQuota(cfg.Count))
	run.pullers = pullers
	ph, err := startPhase(ctx, "consume", &cfg.Common, m, nil, run.halt)
	if err != nil {
		return Summary{}, err
	}
	run.start(cfg.IdleTimeout)()
	end := time.Now()
	// A run that stopped because nothing more came ends at its last
	// message, not after the idle wait.
	if last := time.Unix(0, run.lastMsg.Load()); last.After(ph.start) && !run.quota.done() && !ph.wasInterrupted() {
		end = last
	}
	elapsed := end.Sub(ph.start)
	cpu0, cpu1, perr := ph.end()
	run.halt()
	cerr := run.commit()

	h := newHistogram()
	s := newSummary("consume", LatencyPullRTT, m.snapshot(h), h, elapsed)
	s.setCPU(cpu0, cpu1, elapsed)
	s.Interrupted = ph.wasInterrupted()
	s.Config = cfg.info(len(pullers))
	return s, errors.Join(perr, cerr)
}
