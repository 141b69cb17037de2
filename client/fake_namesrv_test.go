package client

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// fakeCluster is an in-process name server with the brokers registered
// in it: enough of RocketMQ to drive the client over real sockets.
type fakeCluster struct {
	t       *testing.T
	ns      *remoting.Server
	brokers []*fakeBroker

	mu sync.Mutex
	// topics maps topic -> broker name -> queue data, what REGISTER_BROKER
	// would have told a real name server.
	topics map[string]map[string]protocol.QueueData
	// fastjsonRoutes answers routes in fastjson's form (bare brokerAddrs
	// keys), as Java name servers answer old clients.
	fastjsonRoutes bool
	nsCalls        map[protocol.RequestCode]int
}

const fakeClusterName = "DefaultCluster"

// newFakeCluster starts a name server and n brokers named broker-a, -b...
// TBW102 exists on every broker (auto-create on).
func newFakeCluster(t *testing.T, n int) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{t: t, topics: map[string]map[string]protocol.QueueData{}, nsCalls: map[protocol.RequestCode]int{}}
	fc.ns = startServer(t, func(s *remoting.Server) {
		s.Register(protocol.GetRouteInfoByTopic, remoting.Spawn, remoting.ProcessorFunc(fc.onRoute))
		s.Register(protocol.GetAllTopicListFromNameServer, remoting.Spawn, remoting.ProcessorFunc(fc.onTopicList))
		s.Register(protocol.GetBrokerClusterInfo, remoting.Spawn, remoting.ProcessorFunc(fc.onClusterInfo))
		s.Register(protocol.DeleteTopicInNamesrv, remoting.Spawn, remoting.ProcessorFunc(fc.onDeleteTopic))
	})
	for i := range n {
		b := newFakeBroker(t, fc, "broker-"+string(rune('a'+i)))
		fc.mu.Lock() // the name server's goroutines read brokers
		fc.brokers = append(fc.brokers, b)
		fc.mu.Unlock()
	}
	for _, b := range fc.brokers {
		b.createTopic(protocol.TopicConfig{TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7})
	}
	return fc
}

func startServer(t *testing.T, setup func(*remoting.Server)) *remoting.Server {
	t.Helper()
	s, err := remoting.NewServer(remoting.DefaultServerOptions("127.0.0.1:0"), testLogger(t))
	require.NoError(t, err)
	setup(s)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (fc *fakeCluster) addr() string { return fc.ns.Addr().String() }

// register records that broker b holds topic with these queues.
func (fc *fakeCluster) register(b *fakeBroker, tc protocol.TopicConfig) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.topics[tc.TopicName] == nil {
		fc.topics[tc.TopicName] = map[string]protocol.QueueData{}
	}
	fc.topics[tc.TopicName][b.name] = protocol.QueueData{
		BrokerName: b.name, ReadQueueNums: tc.ReadQueueNums, WriteQueueNums: tc.WriteQueueNums, Perm: tc.Perm,
	}
}

func (fc *fakeCluster) knows(topic string) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.topics[topic]) > 0
}

func (fc *fakeCluster) unregister(b *fakeBroker, topic string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	delete(fc.topics[topic], b.name)
	if len(fc.topics[topic]) == 0 {
		delete(fc.topics, topic)
	}
}

// createTopic creates topic with n queues on every broker.
func (fc *fakeCluster) createTopic(topic string, n int32) {
	for _, b := range fc.brokers {
		b.createTopic(protocol.TopicConfig{TopicName: topic, ReadQueueNums: n, WriteQueueNums: n, Perm: 6})
	}
}

func (fc *fakeCluster) calls(code protocol.RequestCode) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.nsCalls[code]
}

func (fc *fakeCluster) count(code protocol.RequestCode) {
	fc.mu.Lock()
	fc.nsCalls[code]++
	fc.mu.Unlock()
}

// brokerDataLocked describes broker name; fc.mu is held.
func (fc *fakeCluster) brokerDataLocked(name string) protocol.BrokerData {
	for _, b := range fc.brokers {
		if b.name == name {
			return protocol.BrokerData{Cluster: fakeClusterName, BrokerName: name, BrokerAddrs: map[int64]string{0: b.addr()}}
		}
	}
	return protocol.BrokerData{Cluster: fakeClusterName, BrokerName: name, BrokerAddrs: map[int64]string{}}
}

func (fc *fakeCluster) onRoute(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	fc.count(protocol.GetRouteInfoByTopic)
	var h protocol.GetRouteInfoRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	fc.mu.Lock()
	qds := fc.topics[h.Topic]
	fastjson := fc.fastjsonRoutes
	rd := protocol.TopicRouteData{FilterServerTable: map[string][]string{}}
	for _, name := range slices.Sorted(maps.Keys(qds)) {
		rd.QueueDatas = append(rd.QueueDatas, qds[name])
		rd.BrokerDatas = append(rd.BrokerDatas, fc.brokerDataLocked(name))
	}
	fc.mu.Unlock()
	if len(rd.QueueDatas) == 0 {
		return remoting.NewResponse(req, protocol.TopicNotExist, "No topic route info in name server for the topic: "+h.Topic), nil
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = rd.Encode(!fastjson)
	return resp, nil
}

func (fc *fakeCluster) onTopicList(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	fc.mu.Lock()
	tl := protocol.TopicList{TopicList: slices.Sorted(maps.Keys(fc.topics))}
	fc.mu.Unlock()
	resp := remoting.NewResponse(req, protocol.Success, "")
	var err error
	resp.Body, err = protocol.EncodeBody(&tl)
	return resp, err
}

func (fc *fakeCluster) onClusterInfo(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	ci := protocol.ClusterInfo{BrokerAddrTable: map[string]protocol.BrokerData{}, ClusterAddrTable: map[string][]string{}}
	fc.mu.Lock()
	for _, b := range fc.brokers {
		ci.BrokerAddrTable[b.name] = fc.brokerDataLocked(b.name)
		ci.ClusterAddrTable[fakeClusterName] = append(ci.ClusterAddrTable[fakeClusterName], b.name)
	}
	fc.mu.Unlock()
	resp := remoting.NewResponse(req, protocol.Success, "")
	var err error
	resp.Body, err = protocol.EncodeBody(&ci)
	return resp, err
}

func (fc *fakeCluster) onDeleteTopic(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	fc.count(protocol.DeleteTopicInNamesrv)
	var h protocol.DeleteTopicFromNamesrvRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	fc.mu.Lock()
	delete(fc.topics, h.Topic)
	fc.mu.Unlock()
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
