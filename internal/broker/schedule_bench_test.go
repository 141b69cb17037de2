package broker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/schedule"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

// busyStore keeps the store busy with 1 KiB appends from two goroutines
// until stop is closed, and returns how many it made.
func busyStore(b *testing.B, st *store.Store, stop <-chan struct{}) func() int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := make([]byte, 1024)
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := st.PutMessage(context.Background(), &message.Inner{Topic: "Load", QueueID: int32(g), Body: body,
					Properties: message.AppendProperty(nil, "WAIT", "false")})
				if err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	return func() int64 { wg.Wait(); return n.Load() }
}

// putRewritten sends msgs as the send path does: through the broker's
// rewriters, then the store.
func putRewritten(b *testing.B, tb *testBroker, msgs []*message.Inner) {
	b.Helper()
	for _, m := range msgs {
		for _, rw := range tb.rewriters {
			require.NoError(b, rw.RewriteSend(m, protocol.TopicConfig{}, SendContext{ProducerGroup: "pg", MaxReconsumeTimes: 16}))
		}
	}
	for chunk := range slices.Chunk(msgs, 256) {
		errs, _ := schedule.PutAll(context.Background(), tb.store, chunk)
		for _, err := range errs {
			require.NoError(b, err)
		}
	}
}

// lateness reports how late (ms) each delivered message of topic was
// against due(m); it fails on an early one.
func lateness(b *testing.B, tb *testBroker, topic string, n int, due func(*message.MessageExt) int64) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for tb.store.MaxOffsetInQueue(topic, 0) < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered", tb.store.MaxOffsetInQueue(topic, 0), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var late []int64
	for _, m := range readQueue(b, tb.store, topic, 0) {
		d := m.StoreTimestamp - due(m)
		if d < 0 {
			b.Fatalf("%s delivered %d ms early", m.MsgID, -d)
		}
		late = append(late, d)
	}
	slices.Sort(late)
	b.ReportMetric(float64(late[len(late)/2]), "p50-late-ms")
	b.ReportMetric(float64(late[len(late)*99/100]), "p99-late-ms")
	b.ReportMetric(float64(late[len(late)-1]), "max-late-ms")
}

// BenchmarkTimerLatenessUnderLoad: b.N timers due within one second, two
// seconds ahead, while two writers keep the store busy; reports how late
// the deliveries were (store time of the re-put against TIMER_OUT_MS).
// go test -run - -bench TimerLatenessUnderLoad -benchtime 50000x ./internal/broker/
func BenchmarkTimerLatenessUnderLoad(b *testing.B) {
	tb := startBroker(b, func(o *Options, so *store.Options) { so.MappedFileSizeCommitLog = 256 << 20 })
	stop := make(chan struct{})
	loaded := busyStore(b, tb.store, stop)
	base := time.Now().UnixMilli() + 2000
	msgs := make([]*message.Inner, b.N)
	for i := range msgs {
		props := message.AppendProperty(nil, message.PropertyTimerDeliverMS, strconv.FormatInt(base+int64(i%1000), 10))
		props = message.AppendProperty(props, message.PropertyUniqClientMessageIDKeyIdx, fmt.Sprint(i))
		msgs[i] = &message.Inner{Topic: "TimedLoad", Body: make([]byte, 256), Properties: props}
	}
	b.ResetTimer()
	putRewritten(b, tb, msgs)
	lateness(b, tb, "TimedLoad", b.N, func(m *message.MessageExt) int64 {
		i, _ := strconv.Atoi(m.MsgID)
		return base + int64(i%1000)
	})
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(loaded()), "load-msgs")
}

// BenchmarkDelayLatenessUnderLoad: b.N level-1 (1 s) messages sent at once
// while two writers keep the store busy; reports how late the deliveries
// were against store time + 1 s.
func BenchmarkDelayLatenessUnderLoad(b *testing.B) {
	tb := startBroker(b, func(o *Options, so *store.Options) { so.MappedFileSizeCommitLog = 256 << 20 })
	stop := make(chan struct{})
	loaded := busyStore(b, tb.store, stop)
	msgs := make([]*message.Inner, b.N)
	for i := range msgs {
		props := message.AppendProperty(nil, message.PropertyDelayTimeLevel, "1")
		props = message.AppendProperty(props, message.PropertyUniqClientMessageIDKeyIdx, fmt.Sprint(i))
		msgs[i] = &message.Inner{Topic: "DelayLoad", Body: make([]byte, 256), Properties: props}
	}
	b.ResetTimer()
	putRewritten(b, tb, msgs)
	stored := map[string]int64{}
	for _, m := range waitQueue(b, tb.store, schedule.Topic, 0, b.N) {
		stored[m.MsgID] = m.StoreTimestamp
	}
	lateness(b, tb, "DelayLoad", b.N, func(m *message.MessageExt) int64 { return stored[m.MsgID] + 1000 })
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(loaded()), "load-msgs")
}
