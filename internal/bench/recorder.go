package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds, in microseconds: 1 µs to 60 s at 3 significant digits
// (about 140 KB per histogram).
const (
	histLowest  = 1
	histHighest = 60_000_000
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recorder collects the results of one worker: a producer, or a queue's
// puller. Its methods are safe for concurrent use, since a producer's
// acknowledgements arrive on its connection's reader goroutine while the
// progress line reads.
type recorder struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	max      time.Duration // exact, where the histogram's is rounded
	msgs     int64
	bytes    int64
	errors   int64
	firstErr error
}

func newRecorder() *recorder { return &recorder{hist: newHistogram()} }

// ok records n messages of bytes body bytes in total, each acknowledged
// after lat.
func (r *recorder) ok(n int, bytes int64, lat time.Duration) { r.record(n, bytes, lat, n) }

// record counts msgs messages of bytes body bytes and records lat samples
// times: once per message for sends, once per request for pulls.
func (r *recorder) record(msgs int, bytes int64, lat time.Duration, samples int) {
	us := min(max(lat.Microseconds(), histLowest), histHighest)
	r.mu.Lock()
	if samples > 0 {
		_ = r.hist.RecordValues(us, int64(samples)) // us is within the bounds
		r.max = max(r.max, lat)
	}
	r.msgs += int64(msgs)
	r.bytes += bytes
	r.mu.Unlock()
}

// fail records n messages that failed with err.
func (r *recorder) fail(n int, err error) {
	r.mu.Lock()
	r.errors += int64(n)
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

// totals are the counters of a set of recorders at one moment.
type totals struct {
	msgs, bytes, errors int64
	max                 time.Duration
	firstErr            error
}

// meter is the set of recorders of one run.
type meter struct {
	recs []*recorder
}

func newMeter(n int) *meter {
	m := &meter{recs: make([]*recorder, n)}
	for i := range m.recs {
		m.recs[i] = newRecorder()
	}
	return m
}

// snapshot returns the totals and, when into is not nil, merges every
// histogram into it (after resetting it).
func (m *meter) snapshot(into *hdrhistogram.Histogram) totals {
	var t totals
	if into != nil {
		into.Reset()
	}
	for _, r := range m.recs {
		r.mu.Lock()
		t.msgs += r.msgs
		t.bytes += r.bytes
		t.errors += r.errors
		t.max = max(t.max, r.max)
		if t.firstErr == nil {
			t.firstErr = r.firstErr
		}
		if into != nil {
			into.Merge(r.hist)
		}
		r.mu.Unlock()
	}
	return t
}
