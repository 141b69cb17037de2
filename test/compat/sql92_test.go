package compat

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/stretchr/testify/require"
)

// SQL92 filtering with the official client: the push consumer registers
// its expression by heartbeat (and pulls without it); the pull consumer
// sends it with every pull.

const sqlExpr = "(a BETWEEN 0 AND 3) AND region = 'eu' AND TAGS = 'red'"

// sendSQLGrid sends one message per (a, region, tag) combination and
// returns the bodies sqlExpr matches.
func sendSQLGrid(t *testing.T, c *cluster, topic string) map[string]bool {
	t.Helper()
	p := c.producer()
	want := map[string]bool{}
	for a := -1; a <= 5; a++ {
		for _, region := range []string{"eu", "us", ""} {
			for _, tag := range []string{"red", "blue"} {
				body := fmt.Sprintf("a=%d region=%s tag=%s", a, region, tag)
				m := primitive.NewMessage(topic, []byte(body)).WithTag(tag)
				m.WithProperty("a", strconv.Itoa(a))
				if region != "" { // no property at all: NULL, which never matches
					m.WithProperty("region", region)
				}
				res, err := p.SendSync(context.Background(), m)
				require.NoError(t, err)
				require.Equal(t, primitive.SendOK, res.Status)
				if a >= 0 && a <= 3 && region == "eu" && tag == "red" {
					want[body] = true
				}
			}
		}
	}
	require.Len(t, want, 4)
	return want
}

func (c *cluster) sqlConsumer(group, topic, expr string, s *sink) rocketmq.PushConsumer {
	c.t.Helper()
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(c.t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	require.NoError(c.t, err)
	require.NoError(c.t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: expr}, s.handle))
	require.NoError(c.t, pc.Start(), "the client does not ask the broker when it starts")
	var once sync.Once
	c.t.Cleanup(func() { once.Do(func() { _ = pc.Shutdown() }) })
	return pc
}

func bodySet(s *sink) map[string]bool {
	out := map[string]bool{}
	for _, b := range s.bodies() {
		out[b] = true
	}
	return out
}

// TestSQL92PushAndPull: a push consumer and a pull consumer subscribed
// with a SQL92 expression receive exactly the matching messages.
func TestSQL92PushAndPull(t *testing.T) {
	c := startCluster(t)
	const topic = "SQL92"
	want := sendSQLGrid(t, c, topic)

	t.Run("push", func(t *testing.T) {
		s := newSink()
		c.sqlConsumer("CG_SQL92_Push", topic, sqlExpr, s)
		s.waitDistinct(t, len(want), 30*time.Second)
		quiet(t, 500*time.Millisecond, 10*time.Second, s.total)
		require.Equal(t, want, bodySet(s))
		require.Equal(t, len(want), s.total(), "each delivered once")
	})

	t.Run("pull", func(t *testing.T) {
		pc, err := newRawPullConsumer(c, "CG_SQL92_Pull")
		require.NoError(t, err)
		require.NoError(t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: sqlExpr}))
		require.NoError(t, pc.Start())
		t.Cleanup(func() { _ = pc.Shutdown() })
		got := map[string]bool{}
		for q := range 4 {
			mq := &primitive.MessageQueue{Topic: topic, BrokerName: c.opts.Broker.BrokerName, QueueId: q}
			res, err := pc.PullFrom(context.Background(), mq, 0, 64)
			require.NoError(t, err)
			for _, m := range res.GetMessageExts() {
				got[string(m.Body)] = true
			}
		}
		require.Equal(t, want, got)
	})
}

// clientLog captures the official client's warnings (rlog is global; the
// harness leaves only errors on). Restore puts back a logger that prints
// errors, as the harness's.
type clientLog struct {
	mu       sync.Mutex
	warnings []string
}

func captureClientLog(t *testing.T) *clientLog {
	l := &clientLog{}
	rlog.SetLogger(l)
	t.Cleanup(func() { rlog.SetLogger(&clientLog{}) })
	return l
}

func (l *clientLog) Debug(string, map[string]interface{}) {}
func (l *clientLog) Info(string, map[string]interface{})  {}
func (l *clientLog) Warning(msg string, fields map[string]interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warnings = append(l.warnings, fmt.Sprint(msg, " ", fields))
}
func (l *clientLog) Error(msg string, fields map[string]interface{}) {
	fmt.Fprintln(os.Stderr, "rocketmq client:", msg, fields)
}
func (l *clientLog) Fatal(msg string, fields map[string]interface{}) { l.Error(msg, fields) }
func (l *clientLog) Level(string)                                    {}
func (l *clientLog) OutputPath(string) error                         { return nil }

// containing returns the captured warnings that contain s.
func (l *clientLog) containing(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, w := range l.warnings {
		if strings.Contains(w, s) {
			out = append(out, w)
		}
	}
	return out
}

// TestSQL92InvalidExpression: an expression the broker cannot parse is
// refused with the parser's message; other groups on the same topic are
// served as usual.
//
// Where the official client shows it: Subscribe and Start succeed (it never
// asks the broker, CheckClientInBroker is empty); the push consumer's pulls
// are answered SUBSCRIPTION_PARSE_FAILED (23) with the parser's message,
// which the client logs as a warning ("pull message from broker error ...
// unknown Response Code: 23, remark: ...") every 3 s; the pull consumer's
// Pull returns that error to the application.
func TestSQL92InvalidExpression(t *testing.T) {
	c := startCluster(t)
	const topic = "SQL92Invalid"
	want := sendSQLGrid(t, c, topic)
	const bad = "(a BETWEEN 0 AND) OR region = 'eu"
	log := captureClientLog(t)

	refused, good, tags := newSink(), newSink(), newSink()
	c.sqlConsumer("CG_SQL92_Bad", topic, bad, refused)
	c.sqlConsumer("CG_SQL92_Good", topic, sqlExpr, good)
	c.pushConsumer("CG_SQL92_Tags", topic, "red", tags)

	good.waitDistinct(t, len(want), 30*time.Second)
	tags.waitDistinct(t, 7*3, 30*time.Second)
	eventually(t, 30*time.Second, func() error {
		if len(log.containing("Response Code: 23")) == 0 {
			return fmt.Errorf("the client logged no refused pull")
		}
		return nil
	})
	w := log.containing("Response Code: 23")[0]
	require.Contains(t, w, "parse the consumer's subscription failed", "the remark reaches the client's log: %s", w)
	require.Equal(t, 0, refused.total(), "nothing is delivered under an expression that does not parse")
	require.Equal(t, want, bodySet(good))

	pc, err := newRawPullConsumer(c, "CG_SQL92_BadPull")
	require.NoError(t, err)
	require.NoError(t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.SQL92, Expression: bad}))
	require.NoError(t, pc.Start())
	t.Cleanup(func() { _ = pc.Shutdown() })
	_, err = pc.PullFrom(context.Background(), &primitive.MessageQueue{Topic: topic, BrokerName: c.opts.Broker.BrokerName}, 0, 32)
	require.Error(t, err)
	require.Contains(t, err.Error(), "Response Code: 23")
	require.Contains(t, err.Error(), "parse the consumer's subscription failed")
	t.Logf("what the application sees: %v", err)
}
