package bench

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacedScheduleSendsEachMessageWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSchedule(10, 1000) // one message a millisecond
		start := time.Now()
		s.begin(start)
		var froms, sent []time.Duration
		s.run(1, func(seq int64, n int, from time.Time) {
			require.Equal(t, 1, n)
			froms = append(froms, from.Sub(start))
			sent = append(sent, time.Since(start))
		})
		require.Len(t, froms, 10)
		for i := range froms {
			require.Equal(t, time.Duration(i)*time.Millisecond, froms[i])
			require.Equal(t, froms[i], sent[i], "a sender on time sends when due")
		}
	})
}

// A sender slower than the rate falls behind; its latency counts from when
// each message was due, so the backlog shows (no coordinated omission).
func TestPacedLatencyCountsFromDueTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSchedule(10, 1000)
		s.begin(time.Now())
		rec := newRecorder()
		s.run(1, func(_ int64, n int, from time.Time) {
			time.Sleep(5 * time.Millisecond) // each send takes 5 ms, 5× the interval
			rec.ok(n, 0, time.Since(from))
		})
		// Message i is due at i ms and acknowledged at 5(i+1) ms.
		h := newHistogram()
		tot := (&meter{recs: []*recorder{rec}}).snapshot(h)
		require.Equal(t, int64(10), tot.msgs)
		require.Equal(t, 41*time.Millisecond, tot.max)        // message 9: 50 ms - 9 ms
		require.InDelta(t, 5000, h.ValueAtQuantile(10), 5)    // message 0: 5 ms - 0
		require.InDelta(t, 21_000, h.ValueAtQuantile(50), 25) // the 5th of 10: message 4, 25 ms - 4 ms
	})
}

func TestPacedRateIsTheTotalOfAllSenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSchedule(4000, 4000)
		start := time.Now()
		s.begin(start)
		var sent atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				s.run(1, func(_ int64, n int, _ time.Time) {
					time.Sleep(200 * time.Microsecond) // each sender alone could do 5000/s
					sent.Add(int64(n))
				})
			})
		}
		wg.Wait()
		require.Equal(t, int64(4000), sent.Load())
		// The last message is due at 3999/4000 s; it takes 200 µs.
		require.Equal(t, 999750*time.Microsecond+200*time.Microsecond, time.Since(start))
	})
}

func TestUnpacedClaimsStopAtTheCount(t *testing.T) {
	s := newSchedule(10, 0)
	s.begin(time.Now())
	var got []int
	s.run(4, func(seq int64, n int, _ time.Time) {
		require.Equal(t, int64(len(got)*4), seq)
		got = append(got, n)
	})
	require.Equal(t, []int{4, 4, 2}, got)

	s = newSchedule(1000, 0)
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { s.run(3, func(_ int64, n int, _ time.Time) { total.Add(int64(n)) }) })
	}
	wg.Wait()
	require.Equal(t, int64(1000), total.Load())
}

func TestHaltWakesASenderWaitingForItsDueTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSchedule(0, 1) // one message a second, no count
		start := time.Now()
		s.begin(start)
		time.AfterFunc(100*time.Millisecond, s.halt)
		sends := 0
		s.run(1, func(int64, int, time.Time) { sends++ })
		require.Equal(t, 1, sends, "message 0 is due at once, message 1 after the halt")
		require.Equal(t, 100*time.Millisecond, time.Since(start))
		s.halt() // idempotent
	})
}

func TestQuota(t *testing.T) {
	q := newQuota(100)
	require.Equal(t, 32, q.want(32))
	q.add(90)
	require.Equal(t, 10, q.want(32))
	require.False(t, q.done())
	q.add(12) // concurrent pullers may pass the count
	require.Equal(t, 0, q.want(32))
	require.True(t, q.done())

	unbounded := newQuota(0)
	unbounded.add(1 << 40)
	require.Equal(t, 32, unbounded.want(32))
	require.False(t, unbounded.done())
}
