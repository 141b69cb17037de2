package timer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
)

// testOptions: 1 s slots and a window of 8 slots, so that anything more
// than 7 s ahead rolls; small log segments.
func testOptions(dir string) Options {
	o := DefaultOptions()
	o.Dir = dir
	o.WindowSlots = 8
	o.LogFileSize = 64 * entrySize
	return o
}

func openService(t *testing.T, o Options, st Store) *Service {
	t.Helper()
	s, err := Open(o, st, nil)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// crash stops the service as a kill would: no final checkpoint.
func crash(s *Service) {
	close(s.stop)
	<-s.done
	s.closed = true
	s.tlog.close()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// requireOnTime checks that every timer was delivered exactly once (or at
// least once when dups), never before its time, and at most slack after
// the latest of its time, its send (sent, may be nil) and since.
func requireOnTime(t *testing.T, st *fakeStore, want, sent map[string]int64, dups bool, since time.Time, slack time.Duration) {
	t.Helper()
	seen := map[string]int{}
	for _, p := range st.delivered() {
		b := string(p.m.Body)
		at, ok := want[b]
		require.True(t, ok, "unexpected delivery %q", b)
		seen[b]++
		require.GreaterOrEqual(t, ms(p.at), at, "%s delivered %d ms early", b, at-ms(p.at))
		require.LessOrEqual(t, ms(p.at), max(at, sent[b], ms(since))+slack.Milliseconds(), "%s delivered late", b)
	}
	for b := range want {
		require.NotZero(t, seen[b], "%s never delivered", b)
		if !dups {
			require.Equal(t, 1, seen[b], "%s delivered %d times", b, seen[b])
		}
	}
}

// TestTimerDeliversAtItsMillisecond: a timed message is re-put at its
// delivery time — not rounded to its one-second slot, never before — to
// its real topic and queue with the timer properties removed.
func TestTimerDeliversAtItsMillisecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		openService(t, testOptions(t.TempDir()), st)
		now := ms(time.Now())
		want := map[string]int64{"a": now + 1234, "b": now + 2500, "c": now + 999, "d": now + 1000, "e": now + 6999}
		for b, at := range want {
			st.add(t, at, b)
		}
		time.Sleep(1233 * time.Millisecond)
		synctest.Wait()
		require.ElementsMatch(t, []string{"c", "d"}, st.bodies())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		requireOnTime(t, st, want, nil, false, time.Time{}, 0)
		m := st.delivered()[0].m
		require.Equal(t, "Real", m.Topic)
		require.Equal(t, int32(2), m.QueueID)
		require.Equal(t, map[string]string{"UNIQ_KEY": "U-c", "REAL_TOPIC": "Real", "REAL_QID": "2", "WAIT": "false"},
			message.ParseProperties(m.Properties))
	})
}

// TestTimerRollsBeyondTheWindow: a timer far beyond the wheel's window is
// rolled at the window's end until its slot is near, and delivered at its
// time.
func TestTimerRollsBeyondTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		s := openService(t, testOptions(t.TempDir()), st)
		at := ms(time.Now()) + 60_500
		st.add(t, at, "far")
		time.Sleep(60 * time.Second)
		synctest.Wait()
		require.Empty(t, st.bodies())
		time.Sleep(time.Second)
		synctest.Wait()
		requireOnTime(t, st, map[string]int64{"far": at}, nil, false, time.Time{}, 0)
		require.GreaterOrEqual(t, s.Stats().Rolled, int64(8))
		require.Equal(t, int64(1), s.Stats().Delivered)
	})
}

// TestTimerPastDueAndMalformed: a timer already due when it is enqueued
// is delivered at once; one without TIMER_OUT_MS is delivered at once
// rather than lost; one whose record is gone is counted and skipped.
func TestTimerPastDueAndMalformed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		s := openService(t, testOptions(t.TempDir()), st)
		now := ms(time.Now())
		st.add(t, now-5000, "past")
		st.add(t, -1, "noTime")
		gone := st.add(t, now+500, "gone")
		st.mu.Lock()
		st.gone[gone] = true
		st.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		require.ElementsMatch(t, []string{"past", "noTime"}, st.bodies())
		time.Sleep(time.Second)
		synctest.Wait()
		require.Len(t, st.bodies(), 2)
		require.Equal(t, int64(1), s.Stats().Skipped)
	})
}

// TestTimerManyRandomTimes: timers spread over past, window and rolled
// times, sent over a while, are each delivered once at their time.
func TestTimerManyRandomTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		s := openService(t, testOptions(t.TempDir()), st)
		rng := rand.New(rand.NewPCG(1, 2))
		want, sent := map[string]int64{}, map[string]int64{}
		for i := range 2000 {
			at := ms(time.Now()) + rng.Int64N(42_000) - 2000
			b := fmt.Sprint(i)
			want[b], sent[b] = at, ms(time.Now())
			st.add(t, at, b)
			if i%100 == 0 {
				time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
			}
		}
		time.Sleep(45 * time.Second)
		synctest.Wait()
		// Sent in the past: delivered within the poll interval.
		requireOnTime(t, st, want, sent, false, time.Time{}, 100*time.Millisecond)
		require.Equal(t, int64(2000), s.Stats().Enqueued)
		require.Len(t, s.hold, 0)
	})
}

// TestTimerRestartDeliversPendingNoneTwice: after a clean Close and a
// while down, the timers still pending are delivered at their time (those
// due while down, at once), and none delivered before the stop comes
// again.
func TestTimerRestartDeliversPendingNoneTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s1, err := Open(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		want := map[string]int64{}
		for i := range 60 {
			at := ms(time.Now()) + int64(i)*500 + 250
			want[fmt.Sprint(i)] = at
			st.add(t, at, fmt.Sprint(i))
		}
		time.Sleep(10 * time.Second)
		require.NoError(t, s1.Close())
		before := len(st.bodies())
		require.Equal(t, 20, before)

		time.Sleep(5 * time.Second) // down
		up := time.Now()
		s2 := openService(t, testOptions(dir), st)
		time.Sleep(21 * time.Second)
		synctest.Wait()
		requireOnTime(t, st, want, nil, false, up, 0)
		require.Equal(t, int64(40), s2.Stats().Delivered)
	})
}

// TestTimerCrashLosesNothing: a service killed without its final
// checkpoint loses no pending timer and delivers none early; what it
// delivered in its last second may come again.
func TestTimerCrashLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s1, err := Open(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		want := map[string]int64{}
		for i := range 60 {
			at := ms(time.Now()) + int64(i)*500 + 250
			want[fmt.Sprint(i)] = at
			st.add(t, at, fmt.Sprint(i))
		}
		time.Sleep(10*time.Second + 600*time.Millisecond)
		crash(s1)
		time.Sleep(3 * time.Second)
		up := time.Now()
		openService(t, testOptions(dir), st)
		time.Sleep(21 * time.Second)
		synctest.Wait()
		requireOnTime(t, st, want, nil, true, up, 0)
		require.LessOrEqual(t, len(st.bodies()), 60+3, "re-delivers at most the last second's")
	})
}

// TestTimerCrashBeforeAnyCheckpoint: with no checkpoint at all the log is
// rebuilt from the timer topic: everything pending arrives on time.
func TestTimerCrashBeforeAnyCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		o := testOptions(dir)
		o.FlushInterval = time.Hour
		s1, err := Open(o, st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		want := map[string]int64{}
		for i := range 20 {
			at := ms(time.Now()) + int64(i)*1000 + 3000
			want[fmt.Sprint(i)] = at
			st.add(t, at, fmt.Sprint(i))
		}
		time.Sleep(2 * time.Second)
		crash(s1)
		_, err = os.Stat(filepath.Join(dir, CheckpointFile))
		require.True(t, os.IsNotExist(err))
		openService(t, o, st)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		requireOnTime(t, st, want, nil, false, time.Time{}, 0)
	})
}

// TestTimerCheckpointWaitsForTheFlush: the saved checkpoint never counts
// a delivery whose re-put the commit log has not flushed.
func TestTimerCheckpointWaitsForTheFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		st.lagFlush = true
		s1, err := Open(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		at := ms(time.Now()) + 1500
		st.add(t, at, "x")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Len(t, st.bodies(), 1)
		crash(s1) // its checkpoints predate the delivery's flush
		s2 := openService(t, testOptions(dir), st)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, []string{"x", "x"}, st.bodies(), "redelivered: the first re-put was never flushed")

		st.flushAll()
		time.Sleep(2 * time.Second)
		require.NoError(t, s2.Close())
		openService(t, testOptions(dir), st)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Len(t, st.bodies(), 2)
	})
}

// TestTimerFailedAppendsAreRetried: while the store refuses appends, due
// timers wait; they are delivered once it takes them again.
func TestTimerFailedAppendsAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		s := openService(t, testOptions(t.TempDir()), st)
		st.setFail(errInjected)
		at := ms(time.Now()) + 1000
		st.add(t, at, "a")
		st.add(t, at+3000, "b")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Empty(t, st.bodies())
		require.Positive(t, s.Stats().Failures)
		st.setFail(nil)
		healed := time.Now()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		requireOnTime(t, st, map[string]int64{"a": at, "b": at + 3000}, nil, false, healed, s.opts.RetryInterval)
	})
}

// TestTimerLogSegmentsAreDeleted: once every entry of a segment is
// delivered the segment goes; the log does not grow with the traffic.
func TestTimerLogSegmentsAreDeleted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s := openService(t, testOptions(dir), st)
		for range 10 {
			for j := range 64 {
				st.add(t, ms(time.Now())+int64(j)*10+500, "m")
			}
			time.Sleep(2 * time.Second)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Len(t, st.bodies(), 640)
		files, err := os.ReadDir(filepath.Join(dir, "log"))
		require.NoError(t, err)
		require.LessOrEqual(t, len(files), 2, "%d segments left", len(files))
		require.Equal(t, int64(640), s.Stats().Delivered)
	})
}

// TestTimerRefusesOtherSettings: the slot numbers in the log depend on
// the precision and the window; a checkpoint made with others is refused.
func TestTimerRefusesOtherSettings(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(testOptions(dir), newFakeStore(), nil)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Start(), ErrClosed)
	o := testOptions(dir)
	o.PrecisionMs = 500
	_, err = Open(o, newFakeStore(), nil)
	require.ErrorIs(t, err, ErrIncompatible)
	o = testOptions(dir)
	o.WindowSlots = 9
	_, err = Open(o, newFakeStore(), nil)
	require.ErrorIs(t, err, ErrIncompatible)
	s, err = Open(testOptions(dir), newFakeStore(), nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestTimerOptionsValidate(t *testing.T) {
	o := testOptions("d")
	require.NoError(t, o.Validate())
	for _, mod := range []func(*Options){
		func(o *Options) { o.Dir = "" },
		func(o *Options) { o.PrecisionMs = 0 },
		func(o *Options) { o.WindowSlots = 1 },
		func(o *Options) { o.WindowSlots = maxWindowSlots + 1 },
		func(o *Options) { o.LogFileSize = 39 },
		func(o *Options) { o.DeliverBatch = 0 },
	} {
		o := testOptions("d")
		mod(&o)
		require.Error(t, o.Validate())
	}
}

// TestTimerIdleWritesNothing: once everything is delivered, passing empty
// slots do not rewrite the checkpoint every second.
func TestTimerIdleWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		openService(t, testOptions(dir), st)
		st.add(t, ms(time.Now())+500, "x")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		require.Len(t, st.bodies(), 1)
		before, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
		require.NoError(t, err)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		after, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
		require.NoError(t, err)
		require.Equal(t, string(before), string(after))
	})
}

// TestTimerNotifyEnqueuesAtOnce: with one-minute slots and a poll far
// away, a timer due in half a second is enqueued when Notify says it
// arrived, and delivered at its millisecond rather than at the next slot;
// Notify never blocks, whatever the service's state.
func TestTimerNotifyEnqueuesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		o := testOptions(t.TempDir())
		o.PrecisionMs, o.PollInterval, o.FlushInterval = 60_000, time.Hour, time.Hour
		s, err := Open(o, st, nil)
		require.NoError(t, err)
		s.Notify() // before Start: a look at once, which finds nothing
		s.Notify()
		require.NoError(t, s.Start())
		t.Cleanup(func() { _ = s.Close() })
		time.Sleep(10 * time.Second) // the next slot is 50 s away
		synctest.Wait()

		at := ms(time.Now()) + 500
		st.add(t, at, "woken")
		s.Notify()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		got := st.delivered()
		require.Len(t, got, 1, "delivered without waiting for the next slot")
		require.Equal(t, at, ms(got[0].at))

		require.NoError(t, s.Close())
		s.Notify() // after Close
	})
}
