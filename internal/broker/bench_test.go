package broker

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// The benchmarks run a broker in-process and drive it through a remoting
// client on loopback, so allocations per op count both sides; profile with
// -memprofile to see the broker's share (the hot paths are send.go and
// pull.go).

const benchBody = 128

// benchStoreOptions keeps segment creation out of the measurement: 64 MiB
// commit-log segments and full-size (300,000-unit) consume queues.
func benchStoreOptions(so *store.Options) {
	so.MappedFileSizeCommitLog = 64 << 20
	so.MappedFileSizeConsumeQueue = store.DefaultOptions().MappedFileSizeConsumeQueue
}

// benchSend pipelines b.N sends on one connection, window at a time.
func benchSend(b *testing.B, flush string, window int) {
	tb := startBroker(b, func(_ *Options, so *store.Options) {
		so.FlushDiskType = flush
		benchStoreOptions(so)
	})
	tb.createTopic(b, "Bench", 4)
	body := make([]byte, benchBody)
	h := sendHeader("Bench", 0, props(message.PropertyTags, "TagA", message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000000000000001AB"))
	ext := h.AppendExt(nil)
	conn, err := tb.rc.Conn(context.Background(), tb.addr)
	require.NoError(b, err)

	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	var failed sync.Once
	b.SetBytes(benchBody)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sem <- struct{}{}
		wg.Add(1)
		err := conn.InvokeAsync(context.Background(), remoting.NewRequest(protocol.SendMessage, ext, body), func(resp *remoting.Command, err error) {
			if err != nil || resp.ResponseCode() != protocol.Success {
				failed.Do(func() { b.Errorf("send: %v %v", err, resp) })
			}
			<-sem
			wg.Done()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSendAsyncFlush(b *testing.B) { benchSend(b, store.AsyncFlush, 256) }
func BenchmarkSendSyncFlush(b *testing.B)  { benchSend(b, store.SyncFlush, 256) }

// BenchmarkPull reads b.N messages, 32 per pull, from a filled queue.
func BenchmarkPull(b *testing.B) {
	tb := startBroker(b, func(_ *Options, so *store.Options) { benchStoreOptions(so) })
	tb.createTopic(b, "Bench", 1)
	const fill = 20_000
	body := make([]byte, benchBody)
	h := sendHeader("Bench", 0, props(message.PropertyTags, "TagA"))
	ext := h.AppendExt(nil)
	conn, err := tb.rc.Conn(context.Background(), tb.addr)
	require.NoError(b, err)
	var wg sync.WaitGroup
	for range fill {
		wg.Add(1)
		require.NoError(b, conn.InvokeAsync(context.Background(), remoting.NewRequest(protocol.SendMessage, ext, body),
			func(*remoting.Command, error) { wg.Done() }))
	}
	wg.Wait()
	tb.waitDispatched(b, "Bench", 0, fill)

	ph := pullHeader("cg", "Bench", 0, 0)
	ph.Subscription = "TagA"
	b.SetBytes(benchBody)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		ph.QueueOffset = int64(n % fill)
		resp, err := conn.InvokeSync(context.Background(), remoting.NewRequest(protocol.PullMessage, ph.AppendExt(nil), nil))
		if err != nil || resp.ResponseCode() != protocol.Success {
			b.Fatalf("pull: %v %v", err, resp)
		}
		n += 32
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchRecord is a stored record with a few properties.
func benchRecord(b *testing.B) []byte {
	m := &message.Inner{
		Topic: "Bench", Body: make([]byte, benchBody),
		Properties: []byte(props(message.PropertyTags, "red", "region", "eu", "a", "2",
			message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000000000000001AB")),
		BornHost: netip.MustParseAddrPort("10.0.0.2:5000"), StoreHost: netip.MustParseAddrPort("10.0.0.1:10911"),
	}
	n, err := m.RecordSize()
	require.NoError(b, err)
	rec := make([]byte, n)
	_, err = message.EncodeRecord(rec, m)
	require.NoError(b, err)
	return rec
}

// BenchmarkPullFilterSQL92 is the per-message cost of a SQL92 filter on
// the pull path: decode the record, look properties up, evaluate.
func BenchmarkPullFilterSQL92(b *testing.B) {
	rec := benchRecord(b)
	var f pullFilter
	require.NoError(b, f.fromHeader("region = 'eu' AND a BETWEEN 1 AND 3 AND TAGS = 'red'", protocol.ExpressionSQL92, filter.NewCache(8)))
	b.ReportAllocs()
	for b.Loop() {
		if !f.MatchByCommitLog(rec) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkPullFilterTags is the per-unit cost of a tag filter.
func BenchmarkPullFilterTags(b *testing.B) {
	var f pullFilter
	require.NoError(b, f.fromHeader("TagA || TagB || TagC", protocol.ExpressionTag, nil))
	code := message.TagsHashCode("TagC")
	b.ReportAllocs()
	for b.Loop() {
		if !f.MatchByConsumeQueue(code) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkBuildSingle is the broker's work to turn a send request into a
// record ready to append: properties with CLUSTER (and UNIQ_KEY when
// missing), hosts, flags.
func BenchmarkBuildSingle(b *testing.B) {
	for _, withKey := range []bool{true, false} {
		b.Run("uniqKey="+strconv.FormatBool(withKey), func(b *testing.B) {
			kv := []string{message.PropertyTags, "TagA", message.PropertyKeys, "order-1"}
			if withKey {
				kv = append(kv, message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000000000000001AB")
			}
			p := &sendProcessor{
				cfg:  sendConfig{clusterName: "DefaultCluster", maxMessageSize: 4 << 20},
				uniq: message.NewUniqIDGenerator(netip.MustParseAddr("10.0.0.1"), 1, 1, nil),
				bad:  newRateLog(slog.New(slog.DiscardHandler)),
			}
			var host atomic.Pointer[netip.AddrPort]
			ap := netip.MustParseAddrPort("10.0.0.1:10911")
			host.Store(&ap)
			p.storeHost = &host
			req := remoting.NewRequest(protocol.SendMessage, nil, make([]byte, benchBody))
			cfg := protocol.DefaultTopicConfig("Bench")
			hdr := sendHeader("Bench", 0, props(kv...))
			cs := &connState{}
			b.ReportAllocs()
			for b.Loop() {
				t := p.getTask()
				t.req, t.cs = req, cs
				t.hdr = hdr
				if err := p.buildSingle(t, cfg); err != nil {
					b.Fatal(err)
				}
				t.free()
			}
		})
	}
}
