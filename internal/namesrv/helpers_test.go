package namesrv

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testOptions listen on a free loopback port and keep the KV
// configuration in dir.
func testOptions(t *testing.T) Options {
	opts := DefaultOptions()
	opts.BindAddress = "127.0.0.1"
	opts.ListenPort = 0
	opts.KVConfigPath = t.TempDir() + "/kvConfig.json"
	opts.CloseTimeout = time.Second
	return opts
}

// startServer starts a NameServer; it is closed when the test ends.
func startServer(t *testing.T, opts Options, log *slog.Logger) *Server {
	t.Helper()
	if log == nil {
		log = discard
	}
	s, err := New(opts, log)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// newClient returns a remoting client closed when the test ends.
func newClient(t *testing.T) *remoting.Client {
	t.Helper()
	cl, err := remoting.NewClient(remoting.DefaultClientOptions(), discard)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cl.Close()) })
	return cl
}

// request builds a request as the Go client sends it: version 317.
func request(code protocol.RequestCode, h any, body []byte) *remoting.Command {
	var ext protocol.ExtFields
	if h != nil {
		ext = protocol.EncodeHeader(nil, h)
	}
	req := remoting.NewRequest(code, ext, body)
	req.Version = int32(protocol.V4_5_2)
	return req
}

func invoke(t *testing.T, cl *remoting.Client, addr string, req *remoting.Command) *remoting.Command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.InvokeSync(ctx, addr, req)
	require.NoError(t, err)
	return resp
}

// route asks addr for topic's route as the Go client does.
func route(t *testing.T, cl *remoting.Client, addr, topic string) *remoting.Command {
	t.Helper()
	return invoke(t, cl, addr, request(protocol.GetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeBroker registers with NameServers the way a RocketMQ broker does,
// over a connection of its own.
type fakeBroker struct {
	cl      *remoting.Client
	cluster string
	name    string
	id      int64
	addr    string
	topics  map[string]protocol.TopicConfig
	version protocol.DataVersion
}

var nextBrokerPort atomic.Int32

func newFakeBroker(t *testing.T, cluster, name string, id int64, topics ...string) *fakeBroker {
	b := brokerSpec(cluster, name, id, topics...)
	b.cl = newClient(t)
	return b
}

// brokerSpec describes a broker without connecting it anywhere.
func brokerSpec(cluster, name string, id int64, topics ...string) *fakeBroker {
	b := &fakeBroker{
		cluster: cluster, name: name, id: id,
		addr:    "127.0.0.1:" + strconv.Itoa(20000+int(nextBrokerPort.Add(1))),
		topics:  map[string]protocol.TopicConfig{},
		version: protocol.DataVersion{Timestamp: 1_700_000_000_000, Counter: 1},
	}
	for _, topic := range topics {
		tc := protocol.DefaultTopicConfig(topic)
		tc.ReadQueueNums, tc.WriteQueueNums = 4, 4
		b.topics[topic] = tc
	}
	return b
}

func (b *fakeBroker) registerRequest() *remoting.Command {
	body, err := protocol.EncodeBody(protocol.RegisterBrokerBody{
		TopicConfigSerializeWrapper: protocol.TopicConfigSerializeWrapper{TopicConfigTable: b.topics, DataVersion: b.version},
		FilterServerList:            []string{},
	})
	if err != nil {
		panic(err)
	}
	req := remoting.NewRequest(protocol.RegisterBroker, protocol.EncodeHeader(nil, &protocol.RegisterBrokerRequestHeader{
		BrokerName: b.name, BrokerAddr: b.addr, ClusterName: b.cluster,
		HAServerAddr: b.haAddr(), BrokerID: b.id, BodyCrc32: bodyCRC32(body),
	}), body)
	return req
}

func (b *fakeBroker) haAddr() string { return b.addr[:len(b.addr)-1] + "2" }

// register registers with the NameServer at ns and requires success.
func (b *fakeBroker) register(t *testing.T, ns string) *remoting.Command {
	t.Helper()
	resp := invoke(t, b.cl, ns, b.registerRequest())
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	return resp
}

// countingHandler counts records by message, for checking rate limits.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func newCountingLogger() (*slog.Logger, *countingHandler) {
	h := &countingHandler{counts: map[string]int{}}
	return slog.New(h), h
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o644)
}
