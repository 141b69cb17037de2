// Package compat drives gorocket with the official RocketMQ Go client,
// github.com/apache/rocketmq-client-go/v2 v2.1.2, used unchanged: what an
// existing RocketMQ application does, gorocket must serve.
//
// Each test starts an in-process NameServer and Broker (internal/standalone)
// on 127.0.0.1 with free ports and a temporary data directory. The official
// client keeps process-wide state keyed by its instance name, so every
// producer and consumer here gets a unique one.
package compat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/standalone"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("error")
	os.Exit(m.Run())
}

// cluster is a NameServer and a Broker in this process.
type cluster struct {
	t    *testing.T
	opts standalone.Options
	s    *standalone.Standalone
}

// startCluster starts a NameServer and a Broker with the standalone
// defaults; they stop when the test ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	return startClusterWith(t, func(*standalone.Options) {})
}

// startClusterWith is startCluster with options changed before the start.
func startClusterWith(t *testing.T, mod func(*standalone.Options)) *cluster {
	t.Helper()
	opts := standalone.DefaultOptions()
	opts.DataDir = t.TempDir()
	opts.Namesrv.ListenPort = 0
	opts.Broker.ListenPort = 0
	// Small segments keep the temporary directory small.
	opts.Store.MappedFileSizeCommitLog = 64 << 20
	opts.Store.MappedFileSizeConsumeQueue = 20 * 30_000
	mod(&opts)
	c := &cluster{t: t, opts: opts}
	c.start()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *cluster) start() {
	c.t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := standalone.Start(context.Background(), c.opts, log)
	require.NoError(c.t, err)
	c.s = s
	// A restart binds the same ports, so clients find the broker where
	// their cached routes say it is.
	c.opts.Namesrv.ListenPort = portOf(c.t, s.NamesrvAddr())
	c.opts.Broker.ListenPort = portOf(c.t, s.BrokerAddr())
}

func (c *cluster) stop() {
	if c.s != nil {
		require.NoError(c.t, c.s.Close())
		c.s = nil
	}
}

// restart stops the NameServer and the Broker and starts them again on the
// same ports and data.
func (c *cluster) restart() {
	c.t.Helper()
	c.stop()
	c.start()
}

func (c *cluster) resolver() primitive.NsResolver {
	return primitive.NewPassthroughResolver([]string{c.s.NamesrvAddr()})
}

var instanceSeq atomic.Int64

// instance returns a client instance name unique to this process and run:
// the official client keys state by it, some of it on disk (broadcasting
// offsets).
func instance(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), instanceSeq.Add(1))
}

// localOffsetDir is where the official client keeps a broadcasting group's
// offsets: $HOME/.rocketmq_client_go/<group>, read from HOME when the client
// package initialises.
func localOffsetDir(group string) string {
	return filepath.Join(os.Getenv("HOME"), ".rocketmq_client_go", group)
}

func (c *cluster) producer(opts ...producer.Option) rocketmq.Producer {
	c.t.Helper()
	all := append([]producer.Option{
		producer.WithNsResolver(c.resolver()),
		producer.WithInstanceName(instance(c.t)),
		producer.WithGroupName("PG_" + strconv.FormatInt(instanceSeq.Add(1), 10)),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10 * time.Second),
	}, opts...)
	p, err := rocketmq.NewProducer(all...)
	require.NoError(c.t, err)
	require.NoError(c.t, p.Start())
	c.t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// pushConsumer starts a push consumer of group on topic with the selector
// expression (TAG; "*" for all) delivering into sink.
func (c *cluster) pushConsumer(group, topic, expr string, sink *sink, opts ...consumer.Option) rocketmq.PushConsumer {
	c.t.Helper()
	all := append([]consumer.Option{
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(c.t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	pc, err := rocketmq.NewPushConsumer(all...)
	require.NoError(c.t, err)
	require.NoError(c.t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr}, sink.handle))
	require.NoError(c.t, pc.Start())
	var once sync.Once
	c.t.Cleanup(func() { once.Do(func() { _ = pc.Shutdown() }) })
	return pc
}

// sink collects delivered messages by body.
type sink struct {
	mu    sync.Mutex
	count map[string]int // body -> deliveries
	msgs  []*primitive.MessageExt
}

func newSink() *sink { return &sink{count: map[string]int{}} }

func (s *sink) handle(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.count[string(m.Body)]++
		s.msgs = append(s.msgs, m)
	}
	return consumer.ConsumeSuccess, nil
}

// distinct is the number of different bodies delivered.
func (s *sink) distinct() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.count)
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

func (s *sink) bodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.count))
	for b := range s.count {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

func (s *sink) snapshot() []*primitive.MessageExt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*primitive.MessageExt(nil), s.msgs...)
}

// waitDistinct waits until n different bodies arrived.
func (s *sink) waitDistinct(t *testing.T, n int, within time.Duration) {
	t.Helper()
	eventually(t, within, func() error {
		if got := s.distinct(); got < n {
			return fmt.Errorf("%d of %d messages delivered", got, n)
		}
		return nil
	})
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet waits until the observed value stops changing for settle, so a test
// can assert that nothing more arrives. It returns the settled value.
func quiet(t *testing.T, settle, within time.Duration, value func() int) int {
	t.Helper()
	deadline := time.Now().Add(within)
	last, since := value(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if v := value(); v != last {
			last, since = v, time.Now()
			continue
		}
		if time.Since(since) >= settle {
			return last
		}
	}
	t.Fatalf("value kept changing for %v", within)
	return last
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return p
}

// sendN sends n messages with bodies prefix-0 .. prefix-(n-1) synchronously.
func sendN(t *testing.T, p rocketmq.Producer, topic, prefix string, n int, tag string) []*primitive.SendResult {
	t.Helper()
	out := make([]*primitive.SendResult, 0, n)
	for i := 0; i < n; i++ {
		m := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%d", prefix, i)))
		if tag != "" {
			m.WithTag(tag)
		}
		res, err := p.SendSync(context.Background(), m)
		require.NoError(t, err)
		require.Equal(t, primitive.SendOK, res.Status, "send %d: %v", i, res)
		out = append(out, res)
	}
	return out
}

type rocketmqPull = rocketmq.PullConsumer

func newRawPullConsumer(c *cluster, group string) (rocketmq.PullConsumer, error) {
	return rocketmq.NewPullConsumer(
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(c.t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
}
