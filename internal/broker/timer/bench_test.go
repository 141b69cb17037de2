package timer

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
)

// synthStore serves a timer topic of n records made up on demand (none is
// kept in memory, so the heap measured is the timer's own): record i is due
// at due(i), and sits at commit-log offset i*size.
type synthStore struct {
	n    int64
	due  func(i int64) int64
	size int64
	puts atomic.Int64

	mu  sync.Mutex
	buf []byte
}

func newSynthStore(n int64, due func(int64) int64) *synthStore {
	s := &synthStore{n: n, due: due}
	s.size = int64(len(s.record(0, nil)))
	return s
}

// record encodes record i (fixed size: TIMER_OUT_MS has 13 digits).
func (s *synthStore) record(i int64, dst []byte) []byte {
	var props []byte
	props = message.AppendProperty(props, message.PropertyTimerOutMS, strconv.FormatInt(s.due(i), 10))
	props = message.AppendProperty(props, message.PropertyRealTopic, "Real")
	props = message.AppendProperty(props, message.PropertyRealQueueID, "0")
	m := &message.Inner{Topic: Topic, Body: []byte("0123456789abcdef"), Properties: props,
		BornHost: bornHost, StoreHost: storeHost, QueueOffset: i, CommitLogOffset: i * s.size}
	m.BodyCRC = message.BodyCRC(m.Body)
	size, _ := m.RecordSize()
	if cap(dst) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	_, _ = message.EncodeRecord(dst, m)
	return dst
}

func (s *synthStore) GetMessage(_ context.Context, _, _ string, _ int32, off int64, max, _ int, _ store.MessageFilter) (*store.GetResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := &store.GetResult{MaxOffset: s.n}
	if off >= s.n {
		res.Status, res.NextBeginOffset = store.GetOffsetOverflowOne, off
		return res, nil
	}
	// The records stay valid until the next call: the service is done
	// with them by then.
	need := int(min(int64(max), s.n-off)) * int(s.size)
	if cap(s.buf) < need {
		s.buf = make([]byte, need)
	}
	b := s.buf[:0]
	for i := off; i < s.n && len(res.Messages) < max; i++ {
		start := len(b)
		b = append(b, s.record(i, nil)...)
		res.Messages = append(res.Messages, b[start:])
		res.QueueOffsets = append(res.QueueOffsets, i)
	}
	res.Status, res.NextBeginOffset = store.GetFound, off+int64(len(res.Messages))
	return res, nil
}

func (s *synthStore) MaxOffsetInQueue(string, int32) int64 { return s.n }

func (s *synthStore) SelectOneMessageByOffset(off int64) (*store.SelectResult, error) {
	return &store.SelectResult{Offset: off, Bytes: s.record(off/s.size, nil)}, nil
}

func (s *synthStore) PutMessagesAsync(_ context.Context, _ []*message.Inner, done func(store.PutResult, error)) {
	n := s.puts.Add(1)
	done(store.PutResult{Status: store.PutOK, CommitLogOffset: n * 100, WroteBytes: 100, MsgCount: 1}, nil)
}

func (s *synthStore) CommitLogFlushedOffset() int64 { return 1 << 62 }

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkPendingTimers enqueues b.N timers spread over 30 days (none due
// during the run) and reports the enqueue rate and the heap the pending
// timers cost. go test -run - -bench PendingTimers -benchtime 1000000x
func BenchmarkPendingTimers(b *testing.B) {
	now := time.Now().UnixMilli()
	const spread = 30 * 24 * 3600 * 1000
	st := newSynthStore(int64(b.N), func(i int64) int64 { return now + 3_600_000 + (i*7919)%spread })
	o := DefaultOptions()
	o.Dir = b.TempDir()
	before := heapInuse()
	s, err := Open(o, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	for s.Stats().Enqueued < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	after := heapInuse()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "enqueued/s")
	b.ReportMetric(float64(int64(after)-int64(before))/(1<<20), "heap-MB")
	b.ReportMetric(float64(s.tlog.end-s.tlog.minPos())/(1<<20), "log-MB")
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDeliverTimers enqueues b.N timers due within the next second
// and reports how fast they are delivered (rebuilt and re-put to a store
// that only counts).
func BenchmarkDeliverTimers(b *testing.B) {
	now := time.Now().UnixMilli()
	st := newSynthStore(int64(b.N), func(i int64) int64 { return now + 1000 + i%1000 })
	o := DefaultOptions()
	o.Dir = b.TempDir()
	s, err := Open(o, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	for s.Stats().Enqueued < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	// Everything is due by now+2s; measure from the first due time.
	first := time.UnixMilli(now + 1000)
	b.ResetTimer()
	for s.Stats().Delivered < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	elapsed := time.Since(first)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "delivered/s")
	// The last timer was due at now+1999 ms.
	b.ReportMetric(float64(time.Since(time.UnixMilli(now+1999)).Milliseconds()), "last-late-ms")
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}
