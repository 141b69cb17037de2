package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// schedule hands out the messages of a run to the goroutines sending them
// and, when the run is paced, says when each message is due. Message i of
// a run at rate R is due at start + i/R whichever goroutine sends it, so
// the rate is the run's total and a goroutine that falls behind does not
// push the schedule back (open loop).
type schedule struct {
	count  int64   // messages in the run; 0: until halted
	perMsg float64 // nanoseconds between due times; 0: unpaced
	start  time.Time

	next     atomic.Int64
	stop     chan struct{} // closed by halt
	haltOnce sync.Once
}

// newSchedule returns a schedule of count messages (0: until halted) at
// rate messages per second (0: as fast as they can be sent).
func newSchedule(count int64, rate float64) *schedule {
	s := &schedule{count: count, stop: make(chan struct{})}
	if rate > 0 {
		s.perMsg = float64(time.Second) / rate
	}
	return s
}

// begin sets when message 0 is due. Call it once, before any claim.
func (s *schedule) begin(now time.Time) { s.start = now }

// halt stops handing out messages and wakes goroutines waiting for a due
// time. Idempotent.
func (s *schedule) halt() { s.haltOnce.Do(func() { close(s.stop) }) }

func (s *schedule) halted() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// claim takes the next n messages, or what is left of the count. It
// returns the first one's sequence number and how many it got: 0 once the
// run is over.
func (s *schedule) claim(n int) (seq int64, got int) {
	if s.halted() {
		return 0, 0
	}
	seq = s.next.Add(int64(n)) - int64(n)
	if s.count == 0 {
		return seq, n
	}
	if seq >= s.count {
		return 0, 0
	}
	return seq, int(min(int64(n), s.count-seq))
}

// due returns when message seq is due; only for a paced schedule.
func (s *schedule) due(seq int64) time.Time {
	return s.start.Add(time.Duration(float64(seq) * s.perMsg))
}

// wait blocks until message seq is due and returns the time latency counts
// from: its due time when paced, now when not. It returns false when the
// run was halted first. t is the caller's timer, created on first use.
func (s *schedule) wait(seq int64, t **time.Timer) (time.Time, bool) {
	if s.perMsg == 0 {
		return time.Now(), true
	}
	at := s.due(seq)
	d := time.Until(at)
	if d <= 0 {
		return at, true // behind schedule: send at once, latency counts from at
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-(*t).C:
		return at, true
	case <-s.stop:
		(*t).Stop()
		return at, false
	}
}

// run claims messages batch at a time until the run is over, calling send
// for each request when it is due. send is called from one goroutine (the
// caller's) and may block: that is how a sender keeps its window.
func (s *schedule) run(batch int, send func(seq int64, n int, from time.Time)) {
	var t *time.Timer
	for {
		seq, n := s.claim(batch)
		if n == 0 {
			return
		}
		from, ok := s.wait(seq, &t)
		if !ok {
			return
		}
		send(seq, n, from)
	}
}
