package broker

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/namesrv"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

func startNamesrv(t testing.TB, mods ...func(*namesrv.Options)) *namesrv.Server {
	t.Helper()
	o := namesrv.DefaultOptions()
	for _, m := range mods {
		m(&o)
	}
	o.BindAddress = "127.0.0.1"
	o.ListenPort = 0
	o.KVConfigPath = ""
	ns, err := namesrv.New(o, slog.New(slog.DiscardHandler)) // namesrv.New needs a logger
	require.NoError(t, err)
	require.NoError(t, ns.Start(context.Background()))
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

// route asks a NameServer for a topic's route.
func (tb *testBroker) route(t testing.TB, nsAddr, topic string) (protocol.TopicRouteData, protocol.ResponseCode) {
	t.Helper()
	resp := invokeWith(t, tb.rc, nsAddr, protocol.GetRouteInfoByTopic,
		protocol.EncodeHeader(nil, &protocol.GetRouteInfoRequestHeader{Topic: topic}), nil)
	var r protocol.TopicRouteData
	if resp.ResponseCode() == protocol.Success {
		require.NoError(t, protocol.DecodeBody(resp.Body, &r))
	}
	return r, resp.ResponseCode()
}

func (tb *testBroker) waitRoute(t testing.TB, nsAddr, topic string) protocol.TopicRouteData {
	t.Helper()
	var r protocol.TopicRouteData
	waitFor(t, "route of "+topic+" at "+nsAddr, func() bool {
		var code protocol.ResponseCode
		r, code = tb.route(t, nsAddr, topic)
		return code == protocol.Success
	})
	return r
}

// blackHole accepts connections and never answers: a NameServer that hangs.
func blackHole(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestRegistersWithNameServersAtOnce(t *testing.T) {
	ns1, ns2 := startNamesrv(t), startNamesrv(t)
	hung := blackHole(t)
	tb := startBroker(t, func(o *Options, _ *store.Options) {
		// A hung NameServer first: it must not hold the others up.
		o.NamesrvAddr = hung + ";" + ns1.Addr() + ";" + ns2.Addr()
		o.RegisterBrokerTimeoutMills = 500
	})
	for _, ns := range []string{ns1.Addr(), ns2.Addr()} {
		r, code := tb.route(t, ns, "TBW102")
		require.Equal(t, protocol.Success, code, "registered before Start returned")
		require.Len(t, r.BrokerDatas, 1)
		require.Equal(t, tb.addr, r.BrokerDatas[0].BrokerAddrs[0], "the announced address, with the bound port")
		require.Equal(t, "broker-a", r.BrokerDatas[0].BrokerName)
		require.Equal(t, "DefaultCluster", r.BrokerDatas[0].Cluster)
	}

	// A topic created by an admin is routable at once, not after 30 s.
	ext := protocol.EncodeHeader(nil, &protocol.CreateTopicRequestHeader{
		Topic: "AdminTopic", DefaultTopic: "TBW102", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 6, TopicFilterType: "SINGLE_TAG",
	})
	require.Equal(t, protocol.Success, tb.invoke(t, protocol.UpdateAndCreateTopic, ext, nil).ResponseCode())
	// The answer comes once the NameServers that answer know the topic.
	r, code := tb.route(t, ns1.Addr(), "AdminTopic")
	require.Equal(t, protocol.Success, code)
	require.Equal(t, int32(3), r.QueueDatas[0].WriteQueueNums)

	// So does the answer to a send that created its topic, and to a
	// heartbeat that created a consumer group's retry topic.
	tb.mustSend(t, "AutoTopic", 0, "x")
	_, code = tb.route(t, ns2.Addr(), "AutoTopic")
	require.Equal(t, protocol.Success, code)
	a := newConsumerClient(t, "c@1")
	a.okHeartbeat(t, tb.addr, heartbeat(a.id, "cg", protocol.Clustering, tagSub("AutoTopic")))
	_, code = tb.route(t, ns1.Addr(), "%RETRY%cg")
	require.Equal(t, protocol.Success, code)

	// Close unregisters: the routes are gone at once.
	start := time.Now()
	require.NoError(t, tb.Close())
	require.Less(t, time.Since(start), 10*time.Second, "the hung NameServer bounds Close only by the unregister timeout")
	for _, ns := range []string{ns1.Addr(), ns2.Addr()} {
		_, code := tb.route(t, ns, "AutoTopic")
		require.Equal(t, protocol.TopicNotExist, code)
	}
}

// TestDeleteTopicReachesNameServer: the broker re-registers without the
// topic at once. (A Java NameServer keeps a broker's queues of topics its
// registration no longer lists unless deleteTopicWithBrokerRegistration;
// admin tools also send DELETE_TOPIC_IN_NAMESRV.)
func TestDeleteTopicReachesNameServer(t *testing.T) {
	ns := startNamesrv(t, func(o *namesrv.Options) { o.DeleteTopicWithBrokerRegistration = true })
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.NamesrvAddr = ns.Addr() })
	tb.mustSend(t, "Doomed", 0, "x")
	tb.waitRoute(t, ns.Addr(), "Doomed")
	ext := protocol.EncodeHeader(nil, &protocol.TopicRequestHeader{Topic: "Doomed"})
	require.Equal(t, protocol.Success, tb.invoke(t, protocol.DeleteTopicInBroker, ext, nil).ResponseCode())
	waitFor(t, "the route to go", func() bool {
		_, code := tb.route(t, ns.Addr(), "Doomed")
		return code == protocol.TopicNotExist
	})
}
