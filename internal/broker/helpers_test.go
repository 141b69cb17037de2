package broker

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The official Go client leaves goroutines behind: package-level
		// ones, and pulls still waiting for their answer (up to 30 s)
		// after Shutdown closed their connection.
		goleak.IgnoreAnyFunction("github.com/patrickmn/go-cache.(*janitor).Run"),
		goleak.IgnoreTopFunction("github.com/apache/rocketmq-client-go/v2/internal/remote.(*ResponseFuture).waitResponse"),
		goleak.IgnoreTopFunction("github.com/apache/rocketmq-client-go/v2/internal.(*traceDispatcher).process"),
		goleak.IgnoreAnyFunction("github.com/apache/rocketmq-client-go/v2/primitive.WithRecover"),
	)
}

// testLog logs to stderr when GOROCKET_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("GOROCKET_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// testStoreOptions are small and fast: 8 MiB commit-log segments (room
// for one 4 MiB message), 1000-unit queues, a small index.
func testStoreOptions(dir string) store.Options {
	o := store.DefaultOptions()
	o.StorePathRootDir = dir
	o.MappedFileSizeCommitLog = 8 << 20
	o.MappedFileSizeConsumeQueue = 1000 * 20
	o.MaxHashSlotNum = 1024
	o.MaxIndexNum = 4096
	o.FlushIntervalCommitLog = 10
	o.FlushIntervalConsumeQueue = 20
	o.CommitLogWriteBufferSize = 1 << 20
	return o
}

type testBroker struct {
	*Broker
	rc   *remoting.Client
	addr string
	dir  string
}

// startBroker starts a broker on 127.0.0.1:0 in a temporary directory and
// a remoting client to talk to it; both close when the test ends.
func startBroker(t testing.TB, mod func(*Options, *store.Options)) *testBroker {
	t.Helper()
	return startBrokerLog(t, testLog(), mod)
}

// startBrokerLog is startBroker logging to log.
func startBrokerLog(t testing.TB, log *slog.Logger, mod func(*Options, *store.Options)) *testBroker {
	t.Helper()
	return startBrokerPrepared(t, log, mod, nil)
}

// startBrokerPrepared is startBrokerLog with prepare, when not nil, called
// on the broker before it starts.
func startBrokerPrepared(t testing.TB, log *slog.Logger, mod func(*Options, *store.Options), prepare func(*Broker)) *testBroker {
	t.Helper()
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.BindAddress = "127.0.0.1"
	opts.ListenPort = 0
	opts.BrokerIP1 = "127.0.0.1"
	so := testStoreOptions(dir)
	if mod != nil {
		mod(&opts, &so)
	}
	b, err := New(opts, so, log)
	require.NoError(t, err)
	if prepare != nil {
		prepare(b)
	}
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return &testBroker{Broker: b, rc: newClient(t), addr: b.Addr(), dir: dir}
}

func newClient(t testing.TB) *remoting.Client {
	t.Helper()
	rc, err := remoting.NewClient(remoting.DefaultClientOptions(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func (tb *testBroker) invoke(t testing.TB, code protocol.RequestCode, ext protocol.ExtFields, body []byte) *remoting.Command {
	t.Helper()
	return invokeWith(t, tb.rc, tb.addr, code, ext, body)
}

func invokeWith(t testing.TB, rc *remoting.Client, addr string, code protocol.RequestCode, ext protocol.ExtFields, body []byte) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := rc.InvokeSync(ctx, addr, remoting.NewRequest(code, ext, body))
	require.NoError(t, err)
	return resp
}

// props encodes key/value pairs as a properties string.
func props(kv ...string) string {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = message.AppendProperty(b, kv[i], kv[i+1])
	}
	return string(b)
}

// sendHeader is what the Go client sends with SEND_MESSAGE.
func sendHeader(topic string, queueID int32, properties string) protocol.SendMessageRequestHeader {
	return protocol.SendMessageRequestHeader{
		ProducerGroup: "pg", Topic: topic, DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
		QueueID: queueID, BornTimestamp: time.Now().UnixMilli(), Properties: properties,
		HasMaxReconsumeTimes: true, MaxReconsumeTimes: 16,
	}
}

func (tb *testBroker) send(t testing.TB, h protocol.SendMessageRequestHeader, body string) *remoting.Command {
	t.Helper()
	return tb.invoke(t, protocol.SendMessage, h.AppendExt(nil), []byte(body))
}

// mustSend sends one message and requires success.
func (tb *testBroker) mustSend(t testing.TB, topic string, queueID int32, body string, kv ...string) protocol.SendMessageResponseHeader {
	t.Helper()
	resp := tb.send(t, sendHeader(topic, queueID, props(kv...)), body)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	var rh protocol.SendMessageResponseHeader
	require.NoError(t, rh.DecodeExt(resp.ExtFields))
	return rh
}

func pullHeader(group, topic string, queueID int32, offset int64) protocol.PullMessageRequestHeader {
	return protocol.PullMessageRequestHeader{
		ConsumerGroup: group, Topic: topic, QueueID: queueID, QueueOffset: offset,
		MaxMsgNums: 32, SysFlag: protocol.PullFlagSubscription, Subscription: "*",
		ExpressionType: protocol.ExpressionTag,
	}
}

type pullResult struct {
	code protocol.ResponseCode
	hdr  protocol.PullMessageResponseHeader
	msgs []*message.MessageExt
	resp *remoting.Command
}

func (tb *testBroker) pull(t testing.TB, h protocol.PullMessageRequestHeader) pullResult {
	t.Helper()
	return decodePull(t, tb.invoke(t, protocol.PullMessage, h.AppendExt(nil), nil))
}

func decodePull(t testing.TB, resp *remoting.Command) pullResult {
	t.Helper()
	r := pullResult{code: resp.ResponseCode(), resp: resp}
	if r.code == protocol.Success || r.code == protocol.PullNotFound || r.code == protocol.PullRetryImmediately || r.code == protocol.PullOffsetMoved {
		require.NoError(t, r.hdr.DecodeExt(resp.ExtFields))
	}
	if len(resp.Body) > 0 {
		msgs, err := message.DecodeMessageExts(resp.Body)
		require.NoError(t, err)
		r.msgs = msgs
	}
	return r
}

func bodies(ms []*message.MessageExt) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

func offsetOf(t testing.TB, resp *remoting.Command) int64 {
	t.Helper()
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	v, ok := resp.ExtFields.Get("offset")
	require.True(t, ok)
	n, err := strconv.ParseInt(v, 10, 64)
	require.NoError(t, err)
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDispatched waits until topic/queue holds n messages.
func (tb *testBroker) waitDispatched(t testing.TB, topic string, queueID int32, n int64) {
	t.Helper()
	waitFor(t, "dispatch", func() bool { return tb.store.MaxOffsetInQueue(topic, queueID) >= n })
}

func (tb *testBroker) createTopic(t testing.TB, name string, queues int32) {
	t.Helper()
	cfg := protocol.DefaultTopicConfig(name)
	cfg.ReadQueueNums, cfg.WriteQueueNums = queues, queues
	require.NoError(t, tb.topics.CreateOrUpdate(cfg))
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (*logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}

func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

// since returns the records logged at level or above from the n-th on.
func (l *logCapture) since(n int, level slog.Level) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.records[min(n, len(l.records)):] {
		if r.Level >= level {
			out = append(out, r)
		}
	}
	return out
}

func (l *logCapture) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records)
}
