package broker

import (
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/rebalance"
	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

func lockBody(t *testing.T, group, clientID string, mqs ...protocol.MessageQueue) []byte {
	t.Helper()
	b, err := protocol.EncodeBody(&protocol.LockBatchRequestBody{ConsumerGroup: group, ClientID: clientID, MQSet: mqs})
	require.NoError(t, err)
	return b
}

// lockAs sends LOCK_BATCH_MQ on cc's connection and returns the answer
// and the queue ids granted.
func (cc *consumerClient) lock(t *testing.T, tb *testBroker, group string, mqs ...protocol.MessageQueue) (*remoting.Command, []int32) {
	t.Helper()
	resp := invokeWith(t, cc.rc, tb.addr, protocol.LockBatchMQ, nil, lockBody(t, group, cc.id, mqs...))
	if resp.ResponseCode() != protocol.Success {
		return resp, nil
	}
	var got protocol.LockBatchResponseBody
	require.NoError(t, protocol.DecodeBody(resp.Body, &got))
	ids := []int32{}
	for _, mq := range got.LockOKMQSet {
		ids = append(ids, mq.QueueID)
	}
	return resp, ids
}

func (cc *consumerClient) unlock(t *testing.T, tb *testBroker, group string, mqs ...protocol.MessageQueue) {
	t.Helper()
	resp := invokeWith(t, cc.rc, tb.addr, protocol.UnlockBatchMQ, nil, lockBody(t, group, cc.id, mqs...))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
}

// TestLockBatchMQ: one member of a group at a time holds a queue; a lock
// is released only by its holder; the group's other topics and other
// groups are untouched.
func TestLockBatchMQ(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "Orders", 4)
	tb.createTopic(t, "Other", 4)
	q := func(id int32) protocol.MessageQueue {
		return protocol.MessageQueue{Topic: "Orders", BrokerName: tb.opts.BrokerName, QueueID: id}
	}
	a, b := newConsumerClient(t, "10.0.0.1@a"), newConsumerClient(t, "10.0.0.2@b")
	for _, cc := range []*consumerClient{a, b} {
		resp := cc.heartbeat(t, tb.addr, heartbeat(cc.id, "og", protocol.Clustering, tagSub("Orders")))
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}

	resp, got := a.lock(t, tb, "og", q(0), q(1))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	require.Equal(t, []int32{0, 1}, got)
	require.Empty(t, resp.Remark)

	_, got = b.lock(t, tb, "og", q(1), q(2))
	require.Equal(t, []int32{2}, got, "queue 1 is a's")

	_, got = a.lock(t, tb, "og", q(0), q(1)) // the 20-second renewal
	require.Equal(t, []int32{0, 1}, got)

	b.unlock(t, tb, "og", q(0), q(1)) // not b's: nothing happens
	_, got = b.lock(t, tb, "og", q(1))
	require.Empty(t, got)

	a.unlock(t, tb, "og", q(1)) // a consumer shutting down, or rebalanced away
	_, got = b.lock(t, tb, "og", q(1))
	require.Equal(t, []int32{1}, got)

	locks := tb.orderLocks()
	require.NotNil(t, locks)
	require.True(t, locks.IsLocked("og", q(0), a.id, time.Now()))
	require.True(t, locks.IsLocked("og", q(1), b.id, time.Now()))
	require.True(t, locks.HasLiveLocks("og", time.Now()))
	require.False(t, locks.HasLiveLocks("nobody", time.Now()))
}

// TestLockBatchMQRefusals: what a lock cannot be taken for gets a clear
// answer, and nothing else changes.
func TestLockBatchMQRefusals(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "Orders", 4)
	tb.createTopic(t, "Other", 4)
	broker := tb.opts.BrokerName
	q := func(topic string, id int32) protocol.MessageQueue {
		return protocol.MessageQueue{Topic: topic, BrokerName: broker, QueueID: id}
	}
	a := newConsumerClient(t, "10.0.0.1@a")
	a.heartbeat(t, tb.addr, heartbeat(a.id, "og", protocol.Clustering, tagSub("Orders")))
	other := newConsumerClient(t, "10.0.0.9@other")
	other.heartbeat(t, tb.addr, heartbeat(other.id, "othergroup", protocol.Clustering, tagSub("Orders")))

	t.Run("a queue of another group", func(t *testing.T) {
		// a is no member of othergroup: locking its queues would stall
		// that group's consumers for a minute.
		resp, _ := a.lock(t, tb, "othergroup", q("Orders", 0))
		require.Equal(t, protocol.ConsumerNotOnline, resp.ResponseCode())
		require.Contains(t, resp.Remark, "not a member of consumer group othergroup")
		_, got := other.lock(t, tb, "othergroup", q("Orders", 0))
		require.Equal(t, []int32{0}, got, "othergroup's own member still gets it")
	})

	t.Run("queues that cannot be locked here", func(t *testing.T) {
		resp, got := a.lock(t, tb, "og",
			q("Orders", 3),
			protocol.MessageQueue{Topic: "Orders", BrokerName: "broker-z", QueueID: 0},
			q("NoSuchTopic", 0),
			q("Orders", 4),
			q("Other", 0),
		)
		require.Equal(t, protocol.Success, resp.ResponseCode())
		require.Equal(t, []int32{3}, got, "the lockable queue is locked")
		for _, why := range []string{"another broker", "no such topic", "no such queue", "does not subscribe", "and 0 more"} {
			if why == "and 0 more" {
				require.NotContains(t, resp.Remark, why)
				continue
			}
			require.Contains(t, resp.Remark, why)
		}
		locks := tb.orderLocks()
		require.False(t, locks.IsLocked("og", q("Other", 0), a.id, time.Now()))
		require.False(t, locks.IsLocked("og", protocol.MessageQueue{Topic: "Orders", BrokerName: "broker-z"}, a.id, time.Now()))
	})

	t.Run("bad bodies", func(t *testing.T) {
		for name, body := range map[string][]byte{
			"empty":        nil,
			"not json":     []byte("{"),
			"no client id": lockBody(t, "og", "", q("Orders", 0)),
			"bad group":    lockBody(t, "o g", a.id, q("Orders", 0)),
		} {
			for _, code := range []protocol.RequestCode{protocol.LockBatchMQ, protocol.UnlockBatchMQ} {
				resp := invokeWith(t, a.rc, tb.addr, code, nil, body)
				require.Equal(t, protocol.SystemError, resp.ResponseCode(), "%s %s", code, name)
				require.NotEmpty(t, resp.Remark)
			}
		}
		require.True(t, tb.orderLocks().IsLocked("og", q("Orders", 3), a.id, time.Now()), "nothing changed")
	})
}

// TestLockPruner: the pruner drops locks once they expired, and keeps
// live ones.
func TestLockPruner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		locks, err := rebalance.NewLockManager(rebalance.Options{LockMaxLiveTime: 60_000}, nil)
		require.NoError(t, err)
		mq := func(id int32) protocol.MessageQueue {
			return protocol.MessageQueue{Topic: "T", BrokerName: "b", QueueID: id}
		}
		lock := func(id int32, client string) []protocol.MessageQueue {
			return locks.TryLockBatch("g", []protocol.MessageQueue{mq(id)}, client, time.Now())
		}
		lock(0, "gone") // a consumer that crashed: never renewed
		p := newLockPruner(locks, time.Minute, slog.New(slog.DiscardHandler))
		p.start()
		defer p.close()

		time.Sleep(90 * time.Second)
		lock(1, "live")
		time.Sleep(31 * time.Second) // the pruner ran at 60 s and 120 s
		synctest.Wait()
		require.Zero(t, locks.Prune(time.Now()), "the expired lock is already gone")
		require.True(t, locks.IsLocked("g", mq(1), "live", time.Now()), "the live one is kept")
		require.Empty(t, lock(1, "other"))
		require.Len(t, lock(0, "other"), 1)
	})
}

// TestLockLifetimeFromBrokerConf: rebalanceLockMaxLiveTime in broker.conf
// sets how long a lock outlives its holder's last renewal; 0 is refused.
func TestLockLifetimeFromBrokerConf(t *testing.T) {
	p, err := config.Parse([]byte("rebalanceLockMaxLiveTime=300\n"), "broker.conf")
	require.NoError(t, err)
	o, so := DefaultOptions(), store.DefaultOptions()
	unknown, err := config.Apply(p, &o, &so)
	require.NoError(t, err)
	require.Empty(t, unknown)
	require.Equal(t, int64(300), o.RebalanceLockMaxLiveTime)
	bad := o
	bad.RebalanceLockMaxLiveTime = 0
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)

	tb := startBroker(t, func(opts *Options, _ *store.Options) { opts.OrderOptions = o.OrderOptions })
	tb.createTopic(t, "Orders", 1)
	q := protocol.MessageQueue{Topic: "Orders", BrokerName: tb.opts.BrokerName, QueueID: 0}
	a, b := newConsumerClient(t, "10.0.0.1@a"), newConsumerClient(t, "10.0.0.2@b")
	for _, cc := range []*consumerClient{a, b} {
		resp := cc.heartbeat(t, tb.addr, heartbeat(cc.id, "og", protocol.Clustering, tagSub("Orders")))
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}
	_, got := a.lock(t, tb, "og", q)
	require.Equal(t, []int32{0}, got)
	// a stops renewing (it crashed); b gets the queue once the lock is
	// 300 ms old, not after the default minute.
	waitFor(t, "a's lock to expire", func() bool {
		_, got := b.lock(t, tb, "og", q)
		return len(got) == 1
	})
}
