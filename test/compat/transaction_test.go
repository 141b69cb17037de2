package compat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/standalone"
)

// Transactional messages with the official client's TransactionProducer.
// The brokers here check every 200 ms for half messages older than 1 s, so
// that check-backs come within a couple of seconds.

// fastChecks makes check-backs quick: transactionTimeOut 1 s, every 200
// ms, at most max times.
func fastChecks(max int) func(*standalone.Options) {
	return func(o *standalone.Options) {
		o.Broker.TransactionTimeOut = 1000
		o.Broker.TransactionCheckInterval = 200
		o.Broker.TransactionCheckMax = max
	}
}

// txnListener decides each transaction by the prefix of its body:
//
//	commit-     commit at once
//	rollback-   roll back at once
//	unknown-    answer unknown, then whatever resolve says on check-backs
type txnListener struct {
	mu      sync.Mutex
	resolve func(body string, checks int) primitive.LocalTransactionState
	checks  map[string]int // body -> check-backs answered
}

func newTxnListener(resolve func(body string, checks int) primitive.LocalTransactionState) *txnListener {
	return &txnListener{resolve: resolve, checks: map[string]int{}}
}

func (l *txnListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch body := string(m.Body); {
	case strings.HasPrefix(body, "commit-"):
		return primitive.CommitMessageState
	case strings.HasPrefix(body, "rollback-"):
		return primitive.RollbackMessageState
	}
	return primitive.UnknowState
}

func (l *txnListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	body := string(m.Body)
	l.checks[body]++
	return l.resolve(body, l.checks[body])
}

func (l *txnListener) checked(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checks[body]
}

func (l *txnListener) checkedBodies() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for b := range l.checks {
		out = append(out, b)
	}
	return out
}

// txnProducer starts a TransactionProducer of group; like c.producer, it
// has an instance of its own (the client keeps its check-back channel per
// instance: a check that reaches a plain producer's instance blocks there).
func (c *cluster) txnProducer(group string, l primitive.TransactionListener) rocketmq.TransactionProducer {
	c.t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(c.resolver()),
		producer.WithInstanceName(instance(c.t)),
		producer.WithGroupName(group),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(10*time.Second),
	)
	require.NoError(c.t, err)
	require.NoError(c.t, p.Start())
	var once sync.Once
	c.t.Cleanup(func() { once.Do(func() { _ = p.Shutdown() }) })
	return p
}

// sendTxn sends one transactional message and requires the half message
// stored.
func sendTxn(t *testing.T, p rocketmq.TransactionProducer, topic, body string) *primitive.TransactionSendResult {
	t.Helper()
	res, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte(body)))
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status, "%s: %v", body, res)
	return res
}

// waitProducerOnline waits until the broker knows a producer of group:
// the Go client heartbeats 1 s after it starts, to the brokers it has a
// route to, then every 30 s; check-backs need the broker to know it.
func (c *cluster) waitProducerOnline(group string) {
	c.t.Helper()
	rc, err := remoting.NewClient(remoting.DefaultClientOptions(), nil)
	require.NoError(c.t, err)
	defer rc.Close()
	h := protocol.GetProducerConnectionListRequestHeader{ProducerGroup: group}
	eventually(c.t, 40*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		resp, err := rc.InvokeSync(ctx, c.s.BrokerAddr(),
			remoting.NewRequest(protocol.GetProducerConnectionList, protocol.EncodeHeader(nil, &h), nil))
		if err != nil {
			return err
		}
		if resp.ResponseCode() != protocol.Success {
			return fmt.Errorf("producer group %s not online: %s", group, resp.Remark)
		}
		return nil
	})
}

// exactly waits until the sink settles and requires every body in want
// delivered exactly once and nothing else.
func exactly(t *testing.T, s *sink, want []string) {
	t.Helper()
	s.waitDistinct(t, len(want), 30*time.Second)
	quiet(t, 1500*time.Millisecond, 30*time.Second, s.total)
	require.ElementsMatch(t, want, s.bodies())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range want {
		require.Equal(t, 1, s.count[b], "%s delivered %d times", b, s.count[b])
	}
}

// TestTransactionOutcomes: a TransactionProducer whose listener commits,
// rolls back, or answers unknown and decides on a check-back, delivers
// exactly the committed messages, once each; the ones it decided at once
// are never checked back.
func TestTransactionOutcomes(t *testing.T) {
	c := startClusterWith(t, fastChecks(1000))
	const topic, group = "TxnOutcomes", "PG_TxnOutcomes"
	sendN(t, c.producer(), topic, "plain", 1, "") // creates the topic

	l := newTxnListener(func(body string, checks int) primitive.LocalTransactionState {
		switch {
		case strings.HasPrefix(body, "unknown-commit-"):
			return primitive.CommitMessageState
		case strings.HasPrefix(body, "unknown-rollback-"):
			return primitive.RollbackMessageState
		case strings.HasPrefix(body, "unknown-twice-") && checks >= 3:
			return primitive.CommitMessageState
		}
		return primitive.UnknowState
	})
	p := c.txnProducer(group, l)
	sendTxn(t, p, topic, "commit-first")
	c.waitProducerOnline(group)

	s := newSink()
	c.pushConsumer("CG_TxnOutcomes", topic, "*", s)

	want := []string{"plain-0", "commit-first"}
	for i := range 5 {
		for _, kind := range []string{"commit", "rollback", "unknown-commit", "unknown-rollback", "unknown-twice"} {
			body := fmt.Sprintf("%s-%d", kind, i)
			res := sendTxn(t, p, topic, body)
			require.NotEmpty(t, res.OffsetMsgID)
			if kind == "commit" || kind == "unknown-commit" || kind == "unknown-twice" {
				want = append(want, body)
			}
		}
	}
	exactly(t, s, want)

	for _, b := range l.checkedBodies() {
		require.True(t, strings.HasPrefix(b, "unknown-"), "%s was decided at once, yet checked back", b)
	}
	// A check may be asked once more while the producer's answer is on
	// its way (a round every 200 ms): at least, not exactly.
	for i := range 5 {
		require.GreaterOrEqual(t, l.checked(fmt.Sprintf("unknown-commit-%d", i)), 1)
		require.GreaterOrEqual(t, l.checked(fmt.Sprintf("unknown-rollback-%d", i)), 1)
		require.GreaterOrEqual(t, l.checked(fmt.Sprintf("unknown-twice-%d", i)), 3)
	}
	for _, m := range s.snapshot() {
		require.Equal(t, topic, m.Topic)
		require.Empty(t, m.GetProperty("TRAN_MSG"), "the committed message keeps no half-message flag")
		require.Empty(t, m.GetProperty("REAL_TOPIC"))
	}
	st, ok := c.s.Broker().TransactionStats()
	require.True(t, ok)
	require.Equal(t, 0, st.Pending)
	require.Equal(t, int64(0), st.Discarded)
}

// TestTransactionCheckMax: a transaction whose producer never decides is
// checked transactionCheckMax times, then discarded to
// TRANS_CHECK_MAX_TIME_TOPIC and never delivered.
func TestTransactionCheckMax(t *testing.T) {
	c := startClusterWith(t, fastChecks(3))
	const topic, group = "TxnCheckMax", "PG_TxnCheckMax"
	sendN(t, c.producer(), topic, "plain", 1, "")
	l := newTxnListener(func(string, int) primitive.LocalTransactionState { return primitive.UnknowState })
	p := c.txnProducer(group, l)
	sendTxn(t, p, topic, "commit-first")
	c.waitProducerOnline(group)

	s := newSink()
	c.pushConsumer("CG_TxnCheckMax", topic, "*", s)
	sendTxn(t, p, topic, "unknown-forever")

	eventually(t, 30*time.Second, func() error {
		if st, _ := c.s.Broker().TransactionStats(); st.Discarded != 1 || l.checked("unknown-forever") != 3 {
			return fmt.Errorf("%d discarded after %d checks", st.Discarded, l.checked("unknown-forever"))
		}
		return nil
	})
	st, _ := c.s.Broker().TransactionStats()
	require.Equal(t, int64(3), st.Checks)
	dropped := newSink()
	c.pushConsumer("CG_TxnCheckMaxDropped", "TRANS_CHECK_MAX_TIME_TOPIC", "*", dropped)
	dropped.waitDistinct(t, 1, 30*time.Second)
	require.Equal(t, []string{"unknown-forever"}, dropped.bodies())
	exactly(t, s, []string{"plain-0", "commit-first"})
	require.Equal(t, 3, l.checked("unknown-forever"), "no check after the discard")
}

// TestTransactionRestart: half messages pending when the broker restarts
// are still checked back afterwards, with the outcome the producer gives;
// messages committed before the restart are not stored again.
func TestTransactionRestart(t *testing.T) {
	c := startClusterWith(t, fastChecks(1000))
	const topic, group = "TxnRestart", "PG_TxnRestart"
	sendN(t, c.producer(), topic, "plain", 1, "")

	var (
		mu      sync.Mutex
		decided bool // after the restart the producer knows its outcomes
	)
	resolve := func(body string, _ int) primitive.LocalTransactionState {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !decided:
			return primitive.UnknowState
		case strings.HasPrefix(body, "unknown-commit-"):
			return primitive.CommitMessageState
		}
		return primitive.RollbackMessageState
	}
	l := newTxnListener(resolve)
	p := c.txnProducer(group, l)
	sendTxn(t, p, topic, "commit-first")
	c.waitProducerOnline(group)
	var want []string
	for i := range 4 {
		sendTxn(t, p, topic, fmt.Sprintf("commit-%d", i))
		sendTxn(t, p, topic, fmt.Sprintf("unknown-commit-%d", i))
		sendTxn(t, p, topic, fmt.Sprintf("unknown-rollback-%d", i))
		want = append(want, fmt.Sprintf("commit-%d", i), fmt.Sprintf("unknown-commit-%d", i))
	}
	// Every undecided transaction is checked at least once before the
	// restart, so its check count is on disk.
	eventually(t, 30*time.Second, func() error {
		for i := range 4 {
			for _, b := range []string{"unknown-commit-%d", "unknown-rollback-%d"} {
				if l.checked(fmt.Sprintf(b, i)) == 0 {
					return fmt.Errorf("%s not checked yet", fmt.Sprintf(b, i))
				}
			}
		}
		return nil
	})
	require.NoError(t, p.Shutdown())
	c.restart()

	mu.Lock()
	decided = true
	mu.Unlock()
	// The producer application comes back: another producer of the group.
	p2 := c.txnProducer(group, l)
	sendTxn(t, p2, topic, "commit-after")
	c.waitProducerOnline(group)

	s := newSink()
	c.pushConsumer("CG_TxnRestart", topic, "*", s)
	exactly(t, s, append(want, "plain-0", "commit-first", "commit-after"))
	st, _ := c.s.Broker().TransactionStats()
	require.Equal(t, 0, st.Pending)
}
