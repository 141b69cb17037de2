package broker

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/broker/timer"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

// shortLevels keeps the tests that are not about the default levels fast.
const shortLevels = "1s 2s 3s 1s 1s"

func withShortLevels(o *Options, so *store.Options) { so.MessageDelayLevel = shortLevels }

// readQueue returns every message of topic/queue, decoded.
func readQueue(t testing.TB, st *store.Store, topic string, qid int32) []*message.MessageExt {
	t.Helper()
	var out []*message.MessageExt
	for off := int64(0); ; {
		res, err := st.GetMessage(context.Background(), "test", topic, qid, off, 32, 0, nil)
		require.NoError(t, err)
		if res.Status != store.GetFound {
			res.Release()
			return out
		}
		for _, rec := range res.Messages {
			m, err := message.DecodeMessageExt(rec)
			require.NoError(t, err)
			out = append(out, m)
		}
		off = res.NextBeginOffset
		res.Release()
	}
}

// waitQueue waits until topic/queue holds n messages and returns them.
func waitQueue(t testing.TB, st *store.Store, topic string, qid int32, n int) []*message.MessageExt {
	t.Helper()
	waitFor(t, topic+" to hold messages", func() bool { return st.MaxOffsetInQueue(topic, qid) >= int64(n) })
	return readQueue(t, st, topic, qid)
}

// TestDelayLevelSendIsDelayed: a DELAY message waits in its level's
// schedule queue with its real topic and queue saved, and reaches that
// queue no earlier than its delay after it was stored, with DELAY gone,
// WAIT=false and everything else kept.
func TestDelayLevelSendIsDelayed(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	tb.createTopic(t, "Delayed", 4)
	rh := tb.mustSend(t, "Delayed", 3, "hello", "DELAY", "2", "TAGS", "tg", "KEYS", "k1 k2", "UNIQ_KEY", "ID-1", "p", "v")
	require.Equal(t, int32(3), rh.QueueID, "the answer names the queue the producer chose")

	held := waitQueue(t, tb.store, schedule.Topic, 1, 1)
	require.Len(t, held, 1)
	require.Equal(t, "Delayed", held[0].Property("REAL_TOPIC"))
	require.Equal(t, "3", held[0].Property("REAL_QID"))
	require.Equal(t, "2", held[0].Property("DELAY"))
	require.Equal(t, int64(0), tb.store.MaxOffsetInQueue("Delayed", 3), "not delivered at once")

	got := waitQueue(t, tb.store, "Delayed", 3, 1)
	require.Len(t, got, 1)
	m := got[0]
	require.GreaterOrEqual(t, m.StoreTimestamp, held[0].StoreTimestamp+2000, "delivered early")
	require.Equal(t, "hello", string(m.Body))
	require.Equal(t, "ID-1", m.MsgID)
	require.Equal(t, "tg", m.Tags())
	require.Equal(t, []string{"k1", "k2"}, m.Keys())
	require.Equal(t, "v", m.Property("p"))
	require.Equal(t, "false", m.Property("WAIT"))
	require.Empty(t, m.Property("DELAY"))
	require.NotEqual(t, held[0].CommitLogOffset, m.CommitLogOffset, "a new record")
	require.Equal(t, int64(1), tb.ScheduleStats().Delay.Delivered)
}

// TestArrivalsWakeDelayAndTimer: the delay-level and timer loops look at
// their queues when a message arrives there, not when their poll comes
// round: with the poll an hour away and one-minute timer slots, a level-1
// message is delivered after its second, and a timer due in 300 ms well
// before its slot ends.
func TestArrivalsWakeDelayAndTimer(t *testing.T) {
	t.Parallel()
	tb := startBrokerPrepared(t, testLog(), func(o *Options, so *store.Options) {
		so.MessageDelayLevel = shortLevels
		o.TimerPrecisionMs, o.TimerFlushIntervalMs = 60_000, 3_600_000
	}, func(b *Broker) { b.featurePoll = time.Hour })
	tb.createTopic(t, "Woken", 1)

	rh := tb.mustSend(t, "Woken", 0, "delayed", "DELAY", "1")
	require.Equal(t, int64(0), rh.QueueOffset)
	got := waitQueue(t, tb.store, "Woken", 0, 1)
	require.Equal(t, "delayed", string(got[0].Body))

	// The timer loop also wakes when a one-minute slot ends: send the
	// timer early enough in a minute that its slot cannot end first.
	minute := int64(60_000)
	if now := time.Now().UnixMilli(); minute-now%minute < 8_000 {
		next := now - now%minute + minute
		waitFor(t, "the next minute", func() bool { return time.Now().UnixMilli() > next })
	}
	slotEnd := time.UnixMilli(time.Now().UnixMilli()/minute*minute + minute)
	tb.mustSend(t, "Woken", 0, "timed", "TIMER_DELAY_MS", "300")
	for time.Now().Before(slotEnd) && tb.store.MaxOffsetInQueue("Woken", 0) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	require.Equal(t, int64(2), tb.store.MaxOffsetInQueue("Woken", 0), "the timer waited for its slot's end")
	timed := readQueue(t, tb.store, "Woken", 0)[1]
	require.Equal(t, "timed", string(timed.Body))
	require.GreaterOrEqual(t, timed.StoreTimestamp, timed.BornTimestamp+300, "delivered early")
}

// TestDelayLevelsClampAndBadInput: a level above the highest is clamped to
// it; 0 and negative levels deliver at once; a DELAY that is not a number
// is refused with MESSAGE_ILLEGAL and a remark.
func TestDelayLevelsClampAndBadInput(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	tb.createTopic(t, "Clamp", 1)
	tb.mustSend(t, "Clamp", 0, "high", "DELAY", "99")
	held := waitQueue(t, tb.store, schedule.Topic, 4, 1)
	require.Equal(t, "5", held[0].Property("DELAY"), "clamped to the highest of 5 levels")

	tb.mustSend(t, "Clamp", 0, "zero", "DELAY", "0")
	tb.mustSend(t, "Clamp", 0, "negative", "DELAY", "-3")
	got := waitQueue(t, tb.store, "Clamp", 0, 2)
	require.Equal(t, []string{"zero", "negative"}, bodies(got[:2]))

	resp := tb.send(t, sendHeader("Clamp", 0, props("DELAY", "soon")), "x")
	require.Equal(t, protocol.MessageIllegal, resp.ResponseCode())
	require.Contains(t, resp.Remark, "DELAY")
}

// TestTimerSendIsDelayed: each timer property delays the message to its
// time; a time already past delivers at once; a time beyond
// timerMaxDelaySec, a value that is not a number, and a timer while the
// wheel is off are refused with MESSAGE_ILLEGAL and a clear remark.
func TestTimerSendIsDelayed(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, func(o *Options, so *store.Options) { o.TimerMaxDelaySec = 3600 })
	tb.createTopic(t, "Timed", 1)
	now := time.Now().UnixMilli()
	tb.mustSend(t, "Timed", 0, "sec", "TIMER_DELAY_SEC", "1")
	tb.mustSend(t, "Timed", 0, "ms", "TIMER_DELAY_MS", "1200")
	tb.mustSend(t, "Timed", 0, "abs", "TIMER_DELIVER_MS", strconv.FormatInt(now+1500, 10))
	tb.mustSend(t, "Timed", 0, "legacy", "__STARTDELIVERTIME", strconv.FormatInt(now+1500, 10))
	tb.mustSend(t, "Timed", 0, "past", "TIMER_DELIVER_MS", strconv.FormatInt(now-1000, 10))

	held := waitQueue(t, tb.store, timer.Topic, 0, 4)
	for _, h := range held {
		require.Equal(t, "Timed", h.Property("REAL_TOPIC"))
		require.NotEmpty(t, h.Property("TIMER_OUT_MS"))
	}
	got := waitQueue(t, tb.store, "Timed", 0, 5)
	require.Equal(t, "past", string(got[0].Body), "a past time delivers at once")
	for _, m := range got[1:] {
		out, err := strconv.ParseInt(heldBy(t, held, string(m.Body)).Property("TIMER_OUT_MS"), 10, 64)
		require.NoError(t, err)
		require.GreaterOrEqual(t, m.StoreTimestamp, out, "%s delivered early", m.Body)
		require.Empty(t, m.Property("TIMER_OUT_MS"))
		require.Empty(t, m.Property("TIMER_DELAY_SEC"))
		require.Empty(t, m.Property("TIMER_DELAY_MS"))
		require.Empty(t, m.Property("TIMER_DELIVER_MS"))
		require.Empty(t, m.Property("__STARTDELIVERTIME"))
	}

	for kv, want := range map[[2]string]string{
		{"TIMER_DELAY_SEC", "3601"}:                                      "timerMaxDelaySec=3600",
		{"TIMER_DELAY_SEC", "9223372036854775807"}:                       "timerMaxDelaySec=3600",
		{"TIMER_DELAY_MS", "3600001"}:                                    "timerMaxDelaySec=3600",
		{"TIMER_DELIVER_MS", strconv.FormatInt(now+3_700_000, 10)}:       "timerMaxDelaySec=3600",
		{"TIMER_DELIVER_MS", "tomorrow"}:                                 "not a number",
		{"__STARTDELIVERTIME", strconv.FormatInt(now+3_700_000_000, 10)}: "timerMaxDelaySec",
		{"TIMER_DELAY_SEC", "1.5"}:                                       "not a number",
	} {
		resp := tb.send(t, sendHeader("Timed", 0, props(kv[0], kv[1])), "bad")
		require.Equal(t, protocol.MessageIllegal, resp.ResponseCode(), "%v", kv)
		require.Contains(t, resp.Remark, want, "%v", kv)
	}

	off := startBroker(t, func(o *Options, so *store.Options) { o.TimerWheelEnable = false })
	off.createTopic(t, "Timed", 1)
	resp := off.send(t, sendHeader("Timed", 0, props("TIMER_DELAY_SEC", "5")), "x")
	require.Equal(t, protocol.MessageIllegal, resp.ResponseCode())
	require.Contains(t, resp.Remark, "timerWheelEnable")
}

func heldBy(t *testing.T, held []*message.MessageExt, body string) *message.MessageExt {
	t.Helper()
	for _, h := range held {
		if string(h.Body) == body {
			return h
		}
	}
	t.Fatalf("no held message %q", body)
	return nil
}

// TestDelayLevelWinsOverTimer: with both DELAY and a timer property the
// level applies and the timer properties are dropped, as in Java.
func TestDelayLevelWinsOverTimer(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	tb.createTopic(t, "Both", 1)
	tb.mustSend(t, "Both", 0, "x", "DELAY", "1", "TIMER_DELAY_SEC", "600")
	held := waitQueue(t, tb.store, schedule.Topic, 0, 1)
	require.Empty(t, held[0].Property("TIMER_DELAY_SEC"))
	waitQueue(t, tb.store, "Both", 0, 1)
}

// TestGetAllDelayOffset: GET_ALL_DELAY_OFFSET answers delayOffset.json's
// table with each level's progress.
func TestGetAllDelayOffset(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withShortLevels)
	tb.createTopic(t, "Off", 1)
	tb.mustSend(t, "Off", 0, "a", "DELAY", "1")
	tb.mustSend(t, "Off", 0, "b", "DELAY", "1")
	waitQueue(t, tb.store, "Off", 0, 2)
	resp := tb.invoke(t, protocol.GetAllDelayOffset, nil, nil)
	require.Equal(t, protocol.Success, resp.ResponseCode())
	var body struct {
		OffsetTable map[string]int64 `json:"offsetTable"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &body))
	require.Equal(t, int64(2), body.OffsetTable["1"])

	info := map[string]string{}
	tb.schedule().runtimeInfo(info)
	require.Equal(t, "2,2", info["scheduleMessageOffset_1"])
	require.Equal(t, "0,0", info["scheduleMessageOffset_5"])
	require.Equal(t, "2", info["scheduleMessageDelivered"])
}

// TestDelayedAndTimedSurviveRestart: messages waiting for their level or
// their time when the broker stops are delivered by the next start, none
// early, none twice.
func TestDelayedAndTimedSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mod := func(o *Options, so *store.Options) { so.MessageDelayLevel = "2s 3s" }
	tb := startBrokerAt(t, dir, mod)
	tb.createTopic(t, "R", 1)
	sent := time.Now().UnixMilli()
	tb.mustSend(t, "R", 0, "level", "DELAY", "2")
	tb.mustSend(t, "R", 0, "timer", "TIMER_DELAY_MS", "2500")
	tb.mustSend(t, "R", 0, "done", "DELAY", "1")
	waitQueue(t, tb.store, "R", 0, 1)
	require.NoError(t, tb.Close())

	tb = startBrokerAt(t, dir, mod)
	got := waitQueue(t, tb.store, "R", 0, 3)
	require.Equal(t, "done", string(got[0].Body))
	require.ElementsMatch(t, []string{"level", "timer"}, bodies(got[1:]))
	for _, m := range got[1:] {
		require.GreaterOrEqual(t, m.StoreTimestamp, sent+2500, "%s delivered early", m.Body)
	}
	// Each level's progress covers exactly what was delivered, before and
	// after another restart: nothing comes twice.
	require.Equal(t, map[int32]int64{1: 1, 2: 1}, tb.schedule().delay.Offsets())
	require.NoError(t, tb.Close())
	tb = startBrokerAt(t, dir, mod)
	require.Equal(t, map[int32]int64{1: 1, 2: 1}, tb.schedule().delay.Offsets())
	require.Len(t, readQueue(t, tb.store, "R", 0), 3)
}

// startBrokerAt starts a broker on dir (which outlives it, for restarts);
// the caller closes it (Close is idempotent, the cleanup closes it too).
func startBrokerAt(t *testing.T, dir string, mod func(*Options, *store.Options)) *testBroker {
	t.Helper()
	opts := DefaultOptions()
	opts.BindAddress = "127.0.0.1"
	opts.ListenPort = 0
	opts.BrokerIP1 = "127.0.0.1"
	so := testStoreOptions(dir)
	if mod != nil {
		mod(&opts, &so)
	}
	b, err := New(opts, so, testLog())
	require.NoError(t, err)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { _ = b.Close() })
	return &testBroker{Broker: b, rc: newClient(t), addr: b.Addr(), dir: dir}
}

func (tb *testBroker) schedule() *scheduleFeature {
	for _, f := range tb.features {
		if sf, ok := f.(*scheduleFeature); ok {
			return sf
		}
	}
	return nil
}

func TestScheduleOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	for _, mod := range []func(*ScheduleOptions){
		func(o *ScheduleOptions) { o.TimerMaxDelaySec = 0 },
		func(o *ScheduleOptions) { o.TimerMaxDelaySec = maxTimerDelaySec + 1 },
		func(o *ScheduleOptions) { o.TimerPrecisionMs = 0 },
		func(o *ScheduleOptions) { o.TimerRollWindowSlot = 1 },
		func(o *ScheduleOptions) { o.MappedFileSizeTimerLog = 10 },
		func(o *ScheduleOptions) { o.TimerFlushIntervalMs = 0 },
		func(o *ScheduleOptions) { o.FlushDelayOffsetInterval = -1 },
	} {
		o := DefaultOptions()
		mod(&o.ScheduleOptions)
		require.Error(t, o.Validate())
	}
}
