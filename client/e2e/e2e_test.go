// Package e2e drives gorocket's own NameServer and Broker with the client
// package: what the client's unit tests check against fakes, checked
// against the real thing. It is a package of its own so that the client's
// unit tests never depend on the broker compiling.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/standalone"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startCluster starts a NameServer and a Broker on free loopback ports
// with a temporary store, stopped when the test ends.
func startCluster(t *testing.T) *standalone.Standalone {
	t.Helper()
	opts := standalone.DefaultOptions()
	opts.DataDir = t.TempDir()
	opts.Namesrv.ListenPort = 0
	opts.Broker.ListenPort = 0
	opts.Store.MappedFileSizeCommitLog = 64 << 20
	opts.Store.MappedFileSizeConsumeQueue = 20 * 30_000
	s, err := standalone.Start(context.Background(), opts, logger())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func newClient(t *testing.T, s *standalone.Standalone) *client.Client {
	t.Helper()
	opts := client.DefaultOptions(s.NamesrvAddr())
	opts.Logger = logger()
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func newProducer(t *testing.T, c *client.Client) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(c, client.ProducerOptions{Group: "e2e-producer"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pullAll pulls every message of topic's queues from offset 0.
func pullAll(t *testing.T, pc *client.PullConsumer, topic string, f client.Filter) []client.MessageExt {
	t.Helper()
	qs, err := pc.Queues(ctx(t), topic)
	require.NoError(t, err)
	var out []client.MessageExt
	for _, q := range qs {
		var offset int64
		for {
			res, err := pc.Pull(ctx(t), client.PullRequest{Queue: q, Offset: offset, MaxNums: 32, Filter: f})
			require.NoError(t, err)
			out = append(out, res.Messages...)
			if res.Status != client.PullFound && res.Status != client.PullNoMatchedMsg {
				break
			}
			offset = res.NextBeginOffset
		}
	}
	return out
}

func TestProduceEveryWayThenPull(t *testing.T) {
	s := startCluster(t)
	c := newClient(t, s)
	p := newProducer(t, c)
	const topic = "E2ETopic" // auto-created through TBW102

	res, err := p.Send(ctx(t), &client.Message{Topic: topic, Body: []byte("sync"), Tags: "A", Keys: []string{"k1"},
		Properties: map[string]string{"color": "blue"}})
	require.NoError(t, err)
	require.Equal(t, client.SendOK, res.Status)
	require.Equal(t, s.Broker().Addr(), s.BrokerAddr())

	var wg sync.WaitGroup
	var asyncErrs atomic.Int64
	for i := range 50 {
		wg.Add(1)
		require.NoError(t, p.SendAsync(ctx(t), &client.Message{Topic: topic, Body: fmt.Appendf(nil, "async-%d", i), Tags: "B"},
			func(_ client.SendResult, err error) {
				if err != nil {
					asyncErrs.Add(1)
				}
				wg.Done()
			}))
	}
	wg.Wait()
	require.Zero(t, asyncErrs.Load())

	var batch []*client.Message
	for i := range 10 {
		batch = append(batch, &client.Message{Topic: topic, Body: fmt.Appendf(nil, "batch-%d", i), Tags: "C"})
	}
	bres, err := p.SendBatch(ctx(t), batch...)
	require.NoError(t, err)
	require.Len(t, strings.Split(bres.MsgID, ","), 10)

	for i := range 5 {
		require.NoError(t, p.SendOneway(ctx(t), &client.Message{Topic: topic, Body: fmt.Appendf(nil, "oneway-%d", i), Tags: "D"}))
	}

	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: "e2e-pull"})
	require.NoError(t, err)
	defer pc.Close()
	eventually(t, "all 66 messages stored", func() bool { return len(pullAll(t, pc, topic, client.Filter{})) == 66 })

	msgs := pullAll(t, pc, topic, client.Filter{})
	byBody := map[string]*client.MessageExt{}
	for i := range msgs {
		byBody[string(msgs[i].Body)] = &msgs[i]
	}
	first := byBody["sync"]
	require.Equal(t, res.MsgID, first.MsgID())
	require.Equal(t, res.OffsetMsgID, first.OffsetMsgID())
	require.Equal(t, "A", first.Tags())
	require.Equal(t, []string{"k1"}, first.Keys())
	require.Equal(t, "blue", first.Property("color"))
	ids := strings.Split(bres.MsgID, ",")
	for i := range 10 {
		require.Equal(t, ids[i], byBody[fmt.Sprintf("batch-%d", i)].MsgID(), "batch messages keep their ids")
	}

	tagged := pullAll(t, pc, topic, client.TagFilter("A || C"))
	require.Len(t, tagged, 11)
	sql := pullAll(t, pc, topic, client.SQLFilter("color = 'blue'"))
	require.Len(t, sql, 1)
}

func TestOffsetsAndLongPolling(t *testing.T) {
	s := startCluster(t)
	c := newClient(t, s)
	admin := client.NewAdmin(c)
	require.NoError(t, admin.CreateTopic(ctx(t), s.BrokerAddr(), client.TopicConfig{Name: "Offsets", ReadQueueNums: 1, WriteQueueNums: 1}))
	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: "e2e-offsets"})
	require.NoError(t, err)
	defer pc.Close()
	var qs []client.MessageQueue
	eventually(t, "the topic's route", func() bool {
		qs, err = pc.Queues(ctx(t), "Offsets")
		return err == nil
	})
	q := qs[0]

	// Nothing stored: the broker holds a long poll until its suspend ends.
	held := time.Now()
	res, err := pc.Pull(ctx(t), client.PullRequest{Queue: q, Suspend: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, client.PullNoNewMsg, res.Status)
	require.GreaterOrEqual(t, time.Since(held), 250*time.Millisecond, "held by the broker")

	// A message ends a long poll at once.
	got := make(chan client.PullResult, 1)
	go func() {
		res, err := pc.Pull(context.Background(), client.PullRequest{Queue: q, Suspend: 15 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	p := newProducer(t, c)
	start := time.Now()
	_, err = p.Send(ctx(t), &client.Message{Topic: "Offsets", Body: []byte("wake")})
	require.NoError(t, err)
	res = <-got
	require.Equal(t, client.PullFound, res.Status)
	require.Equal(t, "wake", string(res.Messages[0].Body))
	require.Less(t, time.Since(start), 10*time.Second, "woken by the message, not by the timeout")

	for range 4 {
		_, err = p.Send(ctx(t), &client.Message{Topic: "Offsets", Body: []byte("x")})
		require.NoError(t, err)
	}
	// The consume queue is built from the commit log after the send is
	// acknowledged: wait for it.
	eventually(t, "five messages in the queue", func() bool {
		at, err := pc.SearchOffset(ctx(t), q, time.Now().Add(time.Hour))
		return err == nil && at == 5
	})
	max, err := pc.MaxOffset(ctx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(5), max)
	min, err := pc.MinOffset(ctx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(0), min)
	at, err := pc.SearchOffset(ctx(t), q, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(0), at)

	require.NoError(t, pc.UpdateOffset(ctx(t), q, 3))
	off, err := pc.QueryOffset(ctx(t), q)
	require.NoError(t, err)
	require.Equal(t, int64(3), off)

	stats, err := admin.ConsumeStats(ctx(t), "e2e-offsets", "Offsets")
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.Lag())
}

func TestPushConsumersSplitQueues(t *testing.T) {
	s := startCluster(t)
	c1 := newClient(t, s)
	c2 := newClient(t, s)
	admin := client.NewAdmin(c1)
	require.NoError(t, admin.CreateTopic(ctx(t), s.BrokerAddr(), client.TopicConfig{Name: "Split", ReadQueueNums: 8, WriteQueueNums: 8}))
	eventually(t, "the topic's route", func() bool {
		_, err := admin.TopicRoute(ctx(t), "Split")
		return err == nil
	})

	var mu sync.Mutex
	seen := map[string]int{}
	handler := func(_ context.Context, msgs []client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen[string(m.Body)]++
		}
		return nil
	}
	opts := client.DefaultPushConsumerOptions("e2e-split")
	opts.ConsumeFrom = client.ConsumeFromFirstOffset
	opts.CommitInterval = 100 * time.Millisecond
	start := func(c *client.Client) *client.PushConsumer {
		pc, err := client.NewPushConsumer(c, opts, handler)
		require.NoError(t, err)
		require.NoError(t, pc.Subscribe("Split", client.Filter{}))
		require.NoError(t, pc.Start(ctx(t)))
		return pc
	}
	a := start(c1)
	defer a.Close()
	require.Len(t, a.Assigned(), 8)
	b := start(c2)
	eventually(t, "four queues each", func() bool { return len(a.Assigned()) == 4 && len(b.Assigned()) == 4 })
	both := append(a.Assigned(), b.Assigned()...)
	slices.SortFunc(both, func(x, y client.MessageQueue) int { return x.QueueID - y.QueueID })
	require.Len(t, slices.CompactFunc(both, func(x, y client.MessageQueue) bool { return x == y }), 8)

	p := newProducer(t, c1)
	for i := range 200 {
		_, err := p.Send(ctx(t), &client.Message{Topic: "Split", Body: fmt.Appendf(nil, "m%d", i)})
		require.NoError(t, err)
	}
	eventually(t, "200 messages consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 200
	})
	mu.Lock()
	for body, n := range seen {
		require.Equal(t, 1, n, body)
	}
	mu.Unlock()
	eventually(t, "offsets committed", func() bool {
		st, err := admin.ConsumeStats(ctx(t), "e2e-split", "Split")
		return err == nil && len(st.Queues) == 8 && st.Lag() == 0
	})

	require.NoError(t, b.Close())
	eventually(t, "a owning every queue again", func() bool { return len(a.Assigned()) == 8 })
}

func TestAdmin(t *testing.T) {
	s := startCluster(t)
	admin := client.NewAdmin(newClient(t, s))
	var ci client.ClusterInfo
	eventually(t, "the broker registered", func() bool {
		var err error
		ci, err = admin.ClusterInfo(ctx(t))
		return err == nil && len(ci.Clusters) == 1
	})
	var cluster string
	for name := range ci.Clusters {
		cluster = name
	}
	require.NoError(t, admin.CreateTopicInCluster(ctx(t), cluster, client.TopicConfig{Name: "AdminTopic", ReadQueueNums: 2, WriteQueueNums: 2}))
	eventually(t, "the topic listed", func() bool {
		topics, err := admin.TopicList(ctx(t))
		return err == nil && slices.Contains(topics, "AdminTopic")
	})
	r, err := admin.TopicRoute(ctx(t), "AdminTopic")
	require.NoError(t, err)
	require.Equal(t, 2, r.Queues[0].WriteQueueNums)
	require.Equal(t, s.BrokerAddr(), r.Brokers[0].MasterAddr())

	require.NoError(t, admin.DeleteTopic(ctx(t), "AdminTopic"))
	_, err = admin.TopicRoute(ctx(t), "AdminTopic")
	require.ErrorIs(t, err, client.ErrTopicNotExist)
}
