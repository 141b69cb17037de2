package schedule

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
)

var testLevels = Levels{1000, 5000, 10_000}

func testOptions(dir string) Options {
	o := DefaultOptions()
	o.Levels = testLevels
	o.Dir = dir
	return o
}

func startService(t *testing.T, o Options, st Store) *Service {
	t.Helper()
	s, err := New(o, st, nil)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestDeliversAtTheDueTimeNotBefore: a level-2 message (5 s) is re-put at
// its delivery time, not a millisecond earlier, to its real topic and
// queue with the delay properties removed and everything else kept.
func TestDeliversAtTheDueTimeNotBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		startService(t, testOptions(t.TempDir()), st)
		sent := time.Now()
		st.add(t, testLevels, 2, "Real", 3, "hello", "UNIQ_KEY", "ID1", "TAGS", "tg", "KEYS", "k1 k2", "TIMER_DELIVER_MS", "1")

		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		require.Empty(t, st.delivered(), "delivered early")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := st.delivered()
		require.Len(t, got, 1)
		require.Equal(t, sent.Add(5*time.Second), got[0].at, "delivered exactly at its time")
		m := got[0].m
		require.Equal(t, "Real", m.Topic)
		require.Equal(t, int32(3), m.QueueID)
		require.Equal(t, "hello", string(m.Body))
		require.Equal(t, int32(7), m.Flag)
		require.Equal(t, int32(2), m.ReconsumeTimes)
		require.Equal(t, bornHost, m.BornHost)
		p := message.ParseProperties(m.Properties)
		require.Equal(t, map[string]string{"UNIQ_KEY": "ID1", "TAGS": "tg", "KEYS": "k1 k2", "REAL_TOPIC": "Real",
			"REAL_QID": "3", "WAIT": "false"}, p)
	})
}

// TestNotifyWakesAnIdleLevel: with a poll far away, a message that lands
// in an idle level's queue is looked at when Notify says so, and still
// delivered exactly at its time; Notify never blocks, whatever the queue
// id and the service's state.
func TestNotifyWakesAnIdleLevel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		o := testOptions(t.TempDir())
		o.PollInterval = time.Hour
		s, err := New(o, st, nil)
		require.NoError(t, err)
		s.Notify(0) // before Start: a look at once, which finds nothing
		for range 3 {
			s.Notify(-1)
			s.Notify(int32(len(testLevels))) // no such level
		}
		require.NoError(t, s.Start())
		t.Cleanup(func() { _ = s.Close() })
		synctest.Wait() // every level idle

		time.Sleep(time.Minute)
		sent := time.Now()
		st.add(t, testLevels, 1, "Real", 0, "woken")
		s.Notify(QueueID(1))
		s.Notify(QueueID(1)) // coalesced
		time.Sleep(time.Second)
		synctest.Wait()
		got := st.delivered()
		require.Len(t, got, 1, "delivered without waiting for the poll")
		require.Equal(t, sent.Add(time.Second), got[0].at)

		// Without a notification the poll still finds it.
		st.add(t, testLevels, 2, "Real", 0, "polled")
		time.Sleep(time.Hour + 5*time.Second)
		synctest.Wait()
		require.Equal(t, []string{"woken", "polled"}, st.bodies())
		require.NoError(t, s.Close())
		s.Notify(QueueID(1)) // after Close
	})
}

// TestLevelsDeliverInOrderAndIndependently: each level keeps its own
// progress; messages of one level arrive in store order; a level whose
// appends fail does not hold back the others.
func TestLevelsDeliverInOrderAndIndependently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		st.setFail(func(m *message.Inner) error {
			if m.Topic == "Broken" {
				return errInjected
			}
			return nil
		})
		s := startService(t, testOptions(t.TempDir()), st)
		st.add(t, testLevels, 1, "Broken", 0, "b0")
		for i := range 100 {
			st.add(t, testLevels, 3, "T", 0, fmt.Sprintf("L3-%03d", i))
			st.add(t, testLevels, 2, "T", 0, fmt.Sprintf("L2-%03d", i))
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		var l2, l3 []string
		for _, b := range st.bodies() {
			switch b[:2] {
			case "L2":
				l2 = append(l2, b)
			case "L3":
				l3 = append(l3, b)
			}
		}
		require.Len(t, l2, 100)
		require.Len(t, l3, 100)
		require.IsIncreasing(t, l2)
		require.IsIncreasing(t, l3)
		require.Equal(t, map[int32]int64{2: 100, 3: 100}, s.Offsets(), "the broken level made no progress")
		require.Positive(t, s.Stats().Failures)

		// The broken level is retried after RetryInterval and gets through
		// once the store takes its message.
		st.setFail(nil)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Contains(t, st.bodies(), "b0")
		require.Equal(t, int64(1), s.Offsets()[1])
		require.Equal(t, int64(201), s.Stats().Delivered)
	})
}

// TestBadRecordsAreSkipped: a record without REAL_TOPIC is logged and
// skipped; the messages after it are delivered.
func TestBadRecordsAreSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		s := startService(t, testOptions(t.TempDir()), st)
		st.add(t, testLevels, 1, "T", 0, "a")
		st.addInner(t, &message.Inner{Topic: Topic, QueueID: 0, Body: []byte("bad"), BornHost: bornHost, StoreHost: storeHost,
			Properties: kv("DELAY", "1")}, time.Now().UnixMilli()+1000)
		st.add(t, testLevels, 1, "T", 0, "c")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"a", "c"}, st.bodies())
		require.Equal(t, int64(1), s.Stats().Skipped)
		require.Equal(t, int64(3), s.Offsets()[1])
	})
}

// TestClockWentBack: a unit due later than now plus its level's delay
// (the clock was set back) is delivered now, as Java corrects it.
func TestClockWentBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		startService(t, testOptions(t.TempDir()), st)
		m := &message.Inner{Topic: "T", Body: []byte("x"), BornHost: bornHost, StoreHost: storeHost}
		testLevels.Transform(m, 1)
		st.addInner(t, m, time.Now().Add(time.Hour).UnixMilli())
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"x"}, st.bodies())
	})
}

// TestDeletedUnitsAreSkipped: when retention removed the head of a level
// queue, delivery goes on from the first unit left.
func TestDeletedUnitsAreSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newFakeStore()
		for i := range 5 {
			st.add(t, testLevels, 1, "T", 0, fmt.Sprint(i))
		}
		st.min[0] = 3
		s := startService(t, testOptions(t.TempDir()), st)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, []string{"3", "4"}, st.bodies())
		require.Equal(t, int64(5), s.Offsets()[1])
	})
}

// TestOffsetPastTheEndIsReset: an offset beyond the queue (a store wiped
// under its config) restarts at the end instead of stalling.
func TestOffsetPastTheEndIsReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		writeOffsets(t, dir, `{"offsetTable":{1:50}}`)
		st := newFakeStore()
		st.add(t, testLevels, 1, "T", 0, "old")
		s := startService(t, testOptions(dir), st)
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, int64(1), s.Offsets()[1])
		st.add(t, testLevels, 1, "T", 0, "new")
		time.Sleep(1200 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"new"}, st.bodies())
	})
}

func writeOffsets(t *testing.T, dir, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, OffsetFile), []byte(content), 0o644))
}

func readOffsets(t *testing.T, dir string) map[int32]int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, OffsetFile))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	got, err := decodeOffsets(data)
	require.NoError(t, err)
	return got
}

// TestProgressIsSavedOnlyWhenFlushed: the periodic save never records an
// offset whose re-puts the commit log has not flushed; Close saves the
// current progress.
func TestProgressIsSavedOnlyWhenFlushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s, err := New(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s.Start())
		st.add(t, testLevels, 1, "T", 0, "a")
		st.add(t, testLevels, 1, "T", 0, "b")
		time.Sleep(10*time.Second + time.Millisecond) // one save: nothing flushed yet
		synctest.Wait()
		require.Len(t, st.delivered(), 2)
		require.Nil(t, readOffsets(t, dir), "saved before the re-puts were flushed")

		st.flushAll()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		require.Equal(t, map[int32]int64{1: 2}, readOffsets(t, dir))

		st.add(t, testLevels, 1, "T", 0, "c")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "idempotent")
		require.Equal(t, map[int32]int64{1: 3}, readOffsets(t, dir))
		data, err := s.Encode()
		require.NoError(t, err)
		require.JSONEq(t, `{"offsetTable":{"1":3}}`, string(data))
	})
}

// TestRestartResumesWithoutLossOrEarlyDelivery: messages pending when
// the service stops are delivered by the next one at their time; those
// delivered before are not delivered again after a clean stop.
func TestRestartResumesWithoutLossOrEarlyDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s1, err := New(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		t0 := time.Now()
		st.add(t, testLevels, 1, "T", 0, "early")
		st.add(t, testLevels, 3, "T", 0, "late")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.NoError(t, s1.Close())
		require.Equal(t, []string{"early"}, st.bodies())

		time.Sleep(3 * time.Second) // the broker is down for a while
		st.add(t, testLevels, 2, "T", 0, "after")
		s2, err := New(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s2.Start())
		defer s2.Close()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		got := st.delivered()
		require.ElementsMatch(t, []string{"early", "late", "after"}, st.bodies())
		// "late" was stored at t0 with 10 s, "after" at t0+5s with 5 s.
		require.Equal(t, t0.Add(10*time.Second), got[1].at)
		require.Equal(t, t0.Add(10*time.Second), got[2].at)
	})
}

// TestCrashRedeliversAtLeastOnce: a service that dies without Close
// loses nothing: what was delivered after the last save is delivered
// again.
func TestCrashRedeliversAtLeastOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		st := newFakeStore()
		s1, err := New(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s1.Start())
		st.add(t, testLevels, 1, "T", 0, "a")
		time.Sleep(1100 * time.Millisecond)
		st.flushAll()
		time.Sleep(10 * time.Second) // saved {1:1}
		st.add(t, testLevels, 1, "T", 0, "b")
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"a", "b"}, st.bodies())
		// A crash: the loops stop, nothing is saved.
		close(s1.stop)
		s1.wg.Wait()

		s2, err := New(testOptions(dir), st, nil)
		require.NoError(t, err)
		require.NoError(t, s2.Start())
		defer s2.Close()
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"a", "b", "b"}, st.bodies())
	})
}

// TestCorruptOffsetsFileRefusesToStart: a delayOffset.json that does not
// parse (and no good backup) stops the service from starting rather than
// re-delivering every level from 0.
func TestCorruptOffsetsFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	writeOffsets(t, dir, `{"offsetTable":{1:-5}}`)
	_, err := New(testOptions(dir), newFakeStore(), nil)
	require.Error(t, err)
	// The backup is used when the main file is bad.
	require.NoError(t, os.WriteFile(filepath.Join(dir, OffsetFile+".bak"), []byte(`{"offsetTable":{2:9}}`), 0o644))
	s, err := New(testOptions(dir), newFakeStore(), nil)
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{2: 9}, s.Offsets())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Start(), ErrClosed)
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	require.Error(t, o.Validate())
	o = testOptions("d")
	require.NoError(t, o.Validate())
	o.BatchSize = 0
	require.Error(t, o.Validate())
}
