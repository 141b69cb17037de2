package broker

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sampling of the messages groups get, for consumeTps: RocketMQ's stats
// manager samples GROUP_GET_NUMS every 10 s and reports the rate over the
// last minute.
const (
	pullSampleInterval = 10 * time.Second
	pullSamples        = 6 // the last minute at one sample per interval
	// minTPSWindow keeps a group that just started from reporting its
	// first batch over a few milliseconds as thousands per second.
	minTPSWindow = time.Second
)

// pullStats keeps, per topic and consumer group, what GET_CONSUME_STATS
// reports besides the committed offsets: the offset each queue has been
// pulled to (Java's pull offset table in ConsumerOffsetManager, updated by
// every pull with the store's next begin offset) and the messages pulls
// got, for consumeTps. Memory only.
//
// The pull path pays a lock-free map lookup, an atomic store and an atomic
// add; the first pull of a topic by a group allocates its entry once. The
// rate is sampled by Broker.samplePullStats every pullSampleInterval.
type pullStats struct {
	m sync.Map // topicGroup -> *pullEntry
}

type topicGroup struct{ topic, group string }

// pullEntry is one group's pulls on one topic.
type pullEntry struct {
	// pulled holds, by queue id, the next offset to pull (0: none yet);
	// it is replaced by a longer copy when a higher queue id shows up.
	pulled atomic.Pointer[[]atomic.Int64]
	got    atomic.Int64 // messages got, in total

	mu      sync.Mutex
	grow    sync.Mutex
	samples [pullSamples]pullSample // ring, oldest at next once full
	next, n int
}

type pullSample struct {
	at  time.Time
	got int64
}

// record notes a pull of topic's queue queueID by group: the store's next
// begin offset and how many messages it got.
func (s *pullStats) record(topic, group string, queueID int32, next int64, got int) {
	if queueID < 0 {
		return
	}
	v, ok := s.m.Load(topicGroup{topic, group})
	if !ok {
		v = s.add(topic, group, time.Now())
	}
	e := v.(*pullEntry)
	qs := *e.pulled.Load()
	if int(queueID) >= len(qs) {
		qs = e.widen(int(queueID) + 1)
	}
	qs[queueID].Store(next)
	if got > 0 {
		e.got.Add(int64(got))
	}
}

// add creates the entry of topic and group (the names are copied: the
// caller's may alias a request).
func (s *pullStats) add(topic, group string, now time.Time) any {
	e := &pullEntry{}
	qs := make([]atomic.Int64, 8)
	e.pulled.Store(&qs)
	e.samples[0], e.next, e.n = pullSample{at: now}, 1, 1
	v, _ := s.m.LoadOrStore(topicGroup{strings.Clone(topic), strings.Clone(group)}, e)
	return v
}

// widen makes room for n queues and returns the queues. Offsets stored in
// the old slice meanwhile may be lost: the next pull of the queue puts
// them back.
func (e *pullEntry) widen(n int) []atomic.Int64 {
	e.grow.Lock()
	defer e.grow.Unlock()
	old := *e.pulled.Load()
	if n <= len(old) {
		return old
	}
	qs := make([]atomic.Int64, max(n, 2*len(old)))
	for i := range old {
		qs[i].Store(old[i].Load())
	}
	e.pulled.Store(&qs)
	return qs
}

// pulledOffset returns the next offset group will pull from topic's queue
// queueID, 0 if it has pulled none.
func (s *pullStats) pulledOffset(group, topic string, queueID int32) int64 {
	v, ok := s.m.Load(topicGroup{topic, group})
	if !ok || queueID < 0 {
		return 0
	}
	qs := *v.(*pullEntry).pulled.Load()
	if int(queueID) >= len(qs) {
		return 0
	}
	return qs[queueID].Load()
}

// tps returns the messages per second group got from topic over the last
// minute (since its first pull, if that is more recent).
func (s *pullStats) tps(group, topic string, now time.Time) float64 {
	v, ok := s.m.Load(topicGroup{topic, group})
	if !ok {
		return 0
	}
	e := v.(*pullEntry)
	got := e.got.Load()
	e.mu.Lock()
	oldest := e.samples[0]
	if e.n == pullSamples {
		oldest = e.samples[e.next]
	}
	e.mu.Unlock()
	window := max(now.Sub(oldest.at), minTPSWindow)
	return float64(got-oldest.got) / window.Seconds()
}

// sample records every entry's total, dropping the oldest sample.
func (s *pullStats) sample(now time.Time) {
	s.m.Range(func(_, v any) bool {
		e := v.(*pullEntry)
		got := e.got.Load()
		e.mu.Lock()
		e.samples[e.next] = pullSample{at: now, got: got}
		e.next = (e.next + 1) % pullSamples
		e.n = min(e.n+1, pullSamples)
		e.mu.Unlock()
		return true
	})
}

// deleteGroup forgets group's pulls (its offsets were cleaned).
func (s *pullStats) deleteGroup(group string) {
	s.m.Range(func(k, _ any) bool {
		if k.(topicGroup).group == group {
			s.m.Delete(k)
		}
		return true
	})
}

// deleteTopic forgets every group's pulls of topic (it was deleted).
func (s *pullStats) deleteTopic(topic string) {
	s.m.Range(func(k, _ any) bool {
		if k.(topicGroup).topic == topic {
			s.m.Delete(k)
		}
		return true
	})
}
