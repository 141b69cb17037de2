package broker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/broker/rebalance"
	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/broker/timer"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// scheduleFeature wires delayed and timed messages, retry and dead letters
// (issue 4 items 1-2): the send rewriter (schedule_rewrite.go) that routes
// DELAY and timer messages and applies the dead-letter rule to direct
// sends to %RETRY% topics; the delay-level service (package schedule) and
// the timer (package timer), which run on a master only; and the
// CONSUMER_SEND_MSG_BACK (sendback.go) and GET_ALL_DELAY_OFFSET
// processors.
type scheduleFeature struct {
	b      *Broker
	levels schedule.Levels
	delay  *schedule.Service
	timer  *timer.Service // nil on a slave or with timerWheelEnable=false
	// locks are the orderly-consumption locks (wire_order.go), found at
	// register: the order feature starts after this one.
	locks *rebalance.LockManager

	sendBacks   atomic.Int64 // messages sent back for a retry
	deadLetters atomic.Int64 // messages moved to a %DLQ% topic
}

func (*scheduleFeature) name() string { return "schedule" }

func (f *scheduleFeature) start(_ context.Context, b *Broker) (err error) {
	f.b = b
	levels, err := schedule.ParseLevels(b.storeOpts.MessageDelayLevel)
	if err != nil {
		return err
	}
	f.levels = levels
	defer func() {
		if err != nil {
			err = errors.Join(err, f.close())
		}
	}()
	st := scheduleStore{b.store}
	so := schedule.DefaultOptions()
	so.Levels = levels
	so.Dir = configfile.Dir(b.storeOpts.StorePathRootDir)
	so.FS = b.storeOpts.FS
	so.FlushInterval = time.Duration(b.opts.FlushDelayOffsetInterval) * time.Millisecond
	so.PollInterval = b.featurePoll // woken by arrivals: polling is a fallback
	if f.delay, err = schedule.New(so, st, b.log.With("component", "schedule")); err != nil {
		return err
	}
	if !b.opts.isSlave() {
		// Listen before the loops start, so that no arrival falls between
		// a loop's first look and its first wait.
		b.onArrival(schedule.Topic, f.delay.Notify)
		if err := f.delay.Start(); err != nil {
			return err
		}
		if b.opts.TimerWheelEnable {
			if f.timer, err = timer.Open(f.timerOptions(), st, b.log.With("component", "timer")); err != nil {
				return err
			}
			tm := f.timer
			b.onArrival(timer.Topic, func(int32) { tm.Notify() })
			if err := f.timer.Start(); err != nil {
				return err
			}
		}
	}
	b.AddRewriter(&scheduleRewriter{f: f, now: time.Now})
	return nil
}

func (f *scheduleFeature) timerOptions() timer.Options {
	o := timer.DefaultOptions()
	o.Dir = filepath.Join(f.b.storeOpts.StorePathRootDir, "timer")
	o.FS = f.b.storeOpts.FS
	o.PrecisionMs = f.b.opts.TimerPrecisionMs
	o.WindowSlots = f.b.opts.TimerRollWindowSlot
	o.LogFileSize = f.b.opts.MappedFileSizeTimerLog
	o.FlushInterval = time.Duration(f.b.opts.TimerFlushIntervalMs) * time.Millisecond
	o.PollInterval = f.b.featurePoll
	return o
}

func (f *scheduleFeature) register(s *remoting.Server) {
	f.locks = f.b.orderLocks()
	s.Register(protocol.ConsumerSendMsgBack, remoting.Spawn, remoting.ProcessorFunc(f.sendBack))
	s.Register(protocol.GetAllDelayOffset, remoting.Spawn, remoting.ProcessorFunc(f.getAllDelayOffset))
}

func (f *scheduleFeature) close() error {
	var errs []error
	if f.timer != nil {
		errs = append(errs, f.timer.Close())
	}
	if f.delay != nil {
		errs = append(errs, f.delay.Close())
	}
	return errors.Join(errs...)
}

// getAllDelayOffset answers delayOffset.json (what a slave syncs).
func (f *scheduleFeature) getAllDelayOffset(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	body, err := f.delay.Encode()
	if err != nil {
		return nil, f.b.bad.refuse(c, req, protocol.SystemError, "cannot encode the delay offsets: %v", err)
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = body
	return resp, nil
}

// ScheduleStats counts what delayed delivery, timers and retries did.
type ScheduleStats struct {
	Delay       schedule.Stats
	Timer       timer.Stats
	SendBacks   int64
	DeadLetters int64
}

// scheduleStats returns the feature's counters (for runtime info and
// metrics).
func (f *scheduleFeature) stats() ScheduleStats {
	st := ScheduleStats{SendBacks: f.sendBacks.Load(), DeadLetters: f.deadLetters.Load()}
	if f.delay != nil {
		st.Delay = f.delay.Stats()
	}
	if f.timer != nil {
		st.Timer = f.timer.Stats()
	}
	return st
}

// runtimeInfo adds the counters to GET_BROKER_RUNTIME_INFO's table
// (runtimeInfoSource).
func (f *scheduleFeature) runtimeInfo(t map[string]string) {
	st := f.stats()
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	t["scheduleMessageDelivered"] = i(st.Delay.Delivered)
	t["timerEnqueued"] = i(st.Timer.Enqueued)
	t["timerDelivered"] = i(st.Timer.Delivered)
	t["timerRolled"] = i(st.Timer.Rolled)
	t["sendBackNums"] = i(st.SendBacks)
	t["dlqPutNums"] = i(st.DeadLetters)
	if f.delay != nil {
		// Java's form: delivered offset, then the level queue's end.
		offsets := f.delay.Offsets()
		for level := int32(1); level <= f.levels.Max(); level++ {
			end := f.b.store.MaxOffsetInQueue(schedule.Topic, schedule.QueueID(level))
			t["scheduleMessageOffset_"+strconv.Itoa(int(level))] = i(offsets[level]) + "," + i(end)
		}
	}
}

// ScheduleStats returns the counters of delayed and timed delivery,
// retries and dead letters.
func (b *Broker) ScheduleStats() ScheduleStats {
	for _, f := range b.features {
		if sf, ok := f.(*scheduleFeature); ok {
			return sf.stats()
		}
	}
	return ScheduleStats{}
}

// scheduleStore is the store as the delay and timer services see it.
type scheduleStore struct{ *store.Store }

func (s scheduleStore) CommitLogFlushedOffset() int64 { return s.Stats().CommitLogFlushedOffset }

// ScheduleOptions configure delayed and timed messages, retries and dead
// letters (BrokerConfig / MessageStoreConfig keys; the delay levels
// themselves are the store's messageDelayLevel).
type ScheduleOptions struct {
	// TimerMaxDelaySec bounds an arbitrary delivery time, in seconds from
	// now; a send beyond it is refused. RocketMQ defaults to 3 days;
	// gorocket to 30.
	TimerMaxDelaySec int64 `prop:"timerMaxDelaySec"`
	// TimerWheelEnable turns timed messages on; off, they are refused.
	TimerWheelEnable bool `prop:"timerWheelEnable"`
	// TimerPrecisionMs is the length of a timer wheel slot. Delivery is
	// at the message's millisecond whatever the slot length; the slot
	// only sets the granularity of the files.
	TimerPrecisionMs int64 `prop:"timerPrecisionMs"`
	// TimerRollWindowSlot is how many slots ahead a timer is placed
	// directly; later ones are rolled forward (package timer).
	TimerRollWindowSlot int64 `prop:"timerRollWindowSlot"`
	// MappedFileSizeTimerLog is the size of a timer log segment.
	MappedFileSizeTimerLog int64 `prop:"mappedFileSizeTimerLog"`
	// TimerFlushIntervalMs is how often the timer checkpoint is saved.
	TimerFlushIntervalMs int64 `prop:"timerFlushIntervalMs"`
	// FlushDelayOffsetInterval is how often delayOffset.json is saved, ms.
	FlushDelayOffsetInterval int64 `prop:"flushDelayOffsetInterval"`
}

// maxTimerDelaySec bounds timerMaxDelaySec (100 years: ms stay far from
// overflowing).
const maxTimerDelaySec = 100 * 365 * 24 * 3600

func defaultScheduleOptions() ScheduleOptions {
	t := timer.DefaultOptions()
	return ScheduleOptions{
		TimerMaxDelaySec:         30 * 24 * 3600,
		TimerWheelEnable:         true,
		TimerPrecisionMs:         t.PrecisionMs,
		TimerRollWindowSlot:      t.WindowSlots,
		MappedFileSizeTimerLog:   t.LogFileSize,
		TimerFlushIntervalMs:     t.FlushInterval.Milliseconds(),
		FlushDelayOffsetInterval: 10_000,
	}
}

func (o *ScheduleOptions) validate() error {
	var errs []error
	if o.TimerMaxDelaySec <= 0 || o.TimerMaxDelaySec > maxTimerDelaySec {
		errs = append(errs, fmt.Errorf("timerMaxDelaySec %d outside 1..%d", o.TimerMaxDelaySec, maxTimerDelaySec))
	}
	if o.FlushDelayOffsetInterval <= 0 {
		errs = append(errs, fmt.Errorf("flushDelayOffsetInterval %d must be positive", o.FlushDelayOffsetInterval))
	}
	if o.TimerFlushIntervalMs <= 0 {
		errs = append(errs, fmt.Errorf("timerFlushIntervalMs %d must be positive", o.TimerFlushIntervalMs))
	}
	t := timer.DefaultOptions()
	t.Dir = "-"
	t.PrecisionMs, t.WindowSlots, t.LogFileSize = o.TimerPrecisionMs, o.TimerRollWindowSlot, o.MappedFileSizeTimerLog
	if err := t.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
