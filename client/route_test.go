package client

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestRouteIsFetchedOnceAndCached(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 4)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	for range 10 {
		_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
		require.NoError(t, err)
	}
	require.Equal(t, 1, fc.calls(protocol.GetRouteInfoByTopic))
}

func TestRouteQueues(t *testing.T) {
	data := TopicRoute{
		Queues: []QueueData{
			{BrokerName: "b", ReadQueueNums: 2, WriteQueueNums: 3, Perm: PermRead | PermWrite},
			{BrokerName: "a", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead | PermWrite},
			{BrokerName: "ro", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead},
			{BrokerName: "wo", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermWrite},
			{BrokerName: "slaveonly", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead | PermWrite},
		},
		Brokers: []BrokerData{
			{BrokerName: "a", Addrs: map[int64]string{0: "a:1"}},
			{BrokerName: "b", Addrs: map[int64]string{0: "b:1", 1: "b:2"}},
			{BrokerName: "ro", Addrs: map[int64]string{0: "ro:1"}},
			{BrokerName: "wo", Addrs: map[int64]string{0: "wo:1"}},
			{BrokerName: "slaveonly", Addrs: map[int64]string{1: "s:1"}},
		},
	}
	r := newRoute("T", data, 0)
	q := func(b string, id int) MessageQueue { return MessageQueue{Topic: "T", BrokerName: b, QueueID: id} }
	require.Equal(t, []MessageQueue{q("a", 0), q("b", 0), q("b", 1), q("b", 2), q("wo", 0)}, r.pub,
		"writable queues of brokers with a master, by broker name")
	require.Equal(t, []MessageQueue{q("a", 0), q("b", 0), q("b", 1), q("ro", 0), q("slaveonly", 0)}, r.sub,
		"readable queues")

	borrowed := newRoute("T", data, 2)
	require.Len(t, borrowed.pub, 1+2+1, "clamped to two per broker")

	ordered := newRoute("T", TopicRoute{OrderTopicConf: "x:2;y:1;bad;z:q"}, 0)
	require.Equal(t, []MessageQueue{q("x", 0), q("x", 1), q("y", 0)}, ordered.pub)

	hostile := newRoute("T", TopicRoute{
		Queues:  []QueueData{{BrokerName: "a", ReadQueueNums: 1 << 30, WriteQueueNums: -5, Perm: PermRead | PermWrite}},
		Brokers: []BrokerData{{BrokerName: "a", Addrs: map[int64]string{0: "a:1"}}},
	}, 0)
	require.Len(t, hostile.sub, maxQueueNums, "absurd counts are bounded")
	require.Empty(t, hostile.pub)
}

func TestRouteIsRefreshedPeriodically(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc, func(o *Options) { o.RouteRefreshInterval = 20 * time.Millisecond })
	pc := newTestPullConsumer(t, c, "g")
	qs, err := pc.Queues(testCtx(t), "T")
	require.NoError(t, err)
	require.Len(t, qs, 2)

	fc.createTopic("T", 5)
	eventually(t, "the refreshed route", func() bool {
		qs, err := pc.Queues(testCtx(t), "T")
		return err == nil && len(qs) == 5
	})
}

func TestRouteAcceptsFastjsonForm(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.mu.Lock()
	fc.fastjsonRoutes = true
	fc.mu.Unlock()
	fc.createTopic("T", 3)
	c := newTestClient(t, fc)
	r, err := NewAdmin(c).TopicRoute(testCtx(t), "T")
	require.NoError(t, err)
	require.Equal(t, fc.brokers[0].addr(), r.Brokers[0].MasterAddr())
	require.Equal(t, 3, r.Queues[0].WriteQueueNums)
}

func TestNameServerFailover(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	// A name server that refuses connections, listed first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	require.NoError(t, l.Close())

	c := newTestClient(t, fc, func(o *Options) { o.NameServers = []string{dead, fc.addr()} })
	admin := NewAdmin(c)
	for range 4 { // round-robin starts at each server in turn
		r, err := admin.TopicRoute(testCtx(t), "T")
		require.NoError(t, err)
		require.Len(t, r.Queues, 1)
	}
	require.Equal(t, 4, fc.calls(protocol.GetRouteInfoByTopic))
}

func TestConcurrentFirstSendsShareOneRouteFetch(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 4)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("x")})
			errs <- err
		}()
	}
	for range 16 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 1, fc.calls(protocol.GetRouteInfoByTopic))
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, DefaultOptions("127.0.0.1:9876").Validate())
	require.ErrorIs(t, Options{}.Validate(), ErrInvalidOptions)
	require.ErrorIs(t, DefaultOptions("nohostport").Validate(), ErrInvalidOptions)
	o := DefaultOptions("127.0.0.1:9876")
	o.RequestTimeout = -1
	require.ErrorIs(t, o.Validate(), ErrInvalidOptions)
	o = DefaultOptions("127.0.0.1:9876")
	o.ClientID = "a b"
	require.ErrorIs(t, o.Validate(), ErrInvalidOptions)
	_, err := New(Options{})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

// The public constants restate protocol's values; they must not drift.
func TestPublicConstantsMatchTheProtocol(t *testing.T) {
	for c, want := range map[ResponseCode]protocol.ResponseCode{
		CodeSuccess: protocol.Success, CodeSystemError: protocol.SystemError, CodeSystemBusy: protocol.SystemBusy,
		CodeNotSupported: protocol.RequestCodeNotSupported, CodeFlushDiskTimeout: protocol.FlushDiskTimeout,
		CodeSlaveNotAvailable: protocol.SlaveNotAvailable, CodeFlushSlaveTimeout: protocol.FlushSlaveTimeout,
		CodeMessageIllegal: protocol.MessageIllegal, CodeServiceNotAvailable: protocol.ServiceNotAvailable,
		CodeNoPermission: protocol.NoPermission, CodeTopicNotExist: protocol.TopicNotExist,
		CodePullNotFound: protocol.PullNotFound, CodePullRetryImmediate: protocol.PullRetryImmediately,
		CodePullOffsetMoved: protocol.PullOffsetMoved, CodeQueryNotFound: protocol.QueryNotFound,
		CodeSubscriptionMissing: protocol.SubscriptionNotExist,
	} {
		require.Equal(t, int32(want), int32(c), want.String())
		require.Equal(t, want.String(), c.String())
	}
	require.Equal(t, protocol.ExpressionTag, string(FilterTag))
	require.Equal(t, protocol.ExpressionSQL92, string(FilterSQL92))
	require.Equal(t, Perm(protocol.PermRead), PermRead)
	require.Equal(t, Perm(protocol.PermWrite), PermWrite)
	require.Equal(t, Perm(protocol.PermInherit), PermInherit)
}
