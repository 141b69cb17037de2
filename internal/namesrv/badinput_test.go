package namesrv

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// badRegister returns a broker's registration request spoiled by f.
func badRegister(b *fakeBroker, f func(req *remoting.Command)) *remoting.Command {
	req := b.registerRequest()
	f(req)
	return req
}

func TestBadRequestsAreRefusedClearly(t *testing.T) {
	logger, logs := newCountingLogger()
	s := startServer(t, testOptions(t), logger)
	good := newFakeBroker(t, "c1", "broker-a", 0, "Good")
	good.register(t, s.Addr())
	evil := newFakeBroker(t, "c1", "broker-evil", 0, "Evil")
	long := strings.Repeat("x", 128)

	tests := []struct {
		name   string
		req    *remoting.Command
		remark string
	}{
		{"register without brokerName", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Delete("brokerName") }),
			`missing required header field "brokerName"`},
		{"register with a brokerId that is not a number", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerId", "zero") }),
			`invalid header field "brokerId"`},
		{"register with a negative brokerId", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerId", "-1") }),
			"brokerId -1 is negative"},
		{"register with a body that is not JSON", badRegister(evil, func(r *remoting.Command) {
			r.Body = []byte(`{"topicConfigSerializeWrapper":{`)
			r.ExtFields.Set("bodyCrc32", "0")
		}), "register body"},
		{"register with a body of the wrong shape", badRegister(evil, func(r *remoting.Command) {
			r.Body = []byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":[1,2]}}`)
			r.ExtFields.Set("bodyCrc32", "0")
		}), "register body"},
		{"register compressed", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("compressed", "true") }),
			"compressedRegister=false"},
		{"register with a bad checksum", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("bodyCrc32", "12345") }),
			"crc32 not match"},
		{"register with an address that is not host:port", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerAddr", "evil") }),
			"is not host:port"},
		{"register with a comma in the address", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerAddr", `a,1:"x":1`) }),
			"is not host:port"},
		{"register with a port out of range", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerAddr", "127.0.0.1:70000") }),
			"is not host:port"},
		{"register with a bad HA address", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("haServerAddr", "::") }),
			"haServerAddr"},
		{"register with a control character in the name", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("brokerName", "evil\n") }),
			"control character"},
		{"register with an empty cluster", badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("clusterName", "") }),
			"empty clusterName"},
		{"route without topic", request(protocol.GetRouteInfoByTopic, nil, nil), `missing required header field "topic"`},
		{"route of a blank topic", request(protocol.GetRouteInfoByTopic, &protocol.TopicRequestHeader{Topic: " "}, nil), "illegal character"},
		{"route of a topic with a dot", request(protocol.GetRouteInfoByTopic, &protocol.TopicRequestHeader{Topic: "a.b"}, nil), "illegal character"},
		{"route of a topic over 127 characters", request(protocol.GetRouteInfoByTopic, &protocol.TopicRequestHeader{Topic: long}, nil), "longer than 127"},
		{"delete a topic with a slash", request(protocol.DeleteTopicInNamesrv, &protocol.TopicRequestHeader{Topic: "a/b"}, nil), "illegal character"},
		{"put KV without value", request(protocol.PutKVConfig, &protocol.KVConfigRequestHeader{Namespace: "ns", Key: "k"}, nil),
			`missing required header field "value"`},
		{"put KV with an empty namespace", request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{Key: "k", Value: "v"}, nil),
			"empty namespace or key"},
		{"data version that is not JSON", request(protocol.QueryDataVersion, &protocol.QueryDataVersionRequestHeader{
			BrokerName: "b", BrokerAddr: "a:1", ClusterName: "c"}, []byte("\x00\x01")), "DataVersion"},
		{"topic route that is not JSON", request(protocol.RegisterTopicInNamesrv, &protocol.TopicRequestHeader{Topic: "T"}, []byte("[")), "topic route"},
		{"topic route with negative queues", request(protocol.RegisterTopicInNamesrv, &protocol.TopicRequestHeader{Topic: "T"},
			[]byte(`{"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":-1,"writeQueueNums":2}]}`)), "queue counts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, evil.cl, s.Addr(), tt.req)
			require.Equal(t, protocol.InvalidParameter, resp.ResponseCode(), resp.Remark)
			require.Contains(t, resp.Remark, tt.remark)
		})
	}

	// Nothing of the refused requests stuck; the good broker is untouched.
	cl := newClient(t)
	var ci protocol.ClusterInfo
	require.NoError(t, json.Unmarshal(invoke(t, cl, s.Addr(), request(protocol.GetBrokerClusterInfo, nil, nil)).Body, &ci))
	require.Equal(t, map[string][]string{"c1": {"broker-a"}}, ci.ClusterAddrTable)
	require.Equal(t, protocol.Success, route(t, cl, s.Addr(), "Good").ResponseCode())
	require.Positive(t, logs.count("request refused"))
	require.LessOrEqual(t, logs.count("request refused"), len(tests))
}

func TestOddTopicsInRegistrationAreSkipped(t *testing.T) {
	logger, logs := newCountingLogger()
	s := startServer(t, testOptions(t), logger)
	b := newFakeBroker(t, "c1", "broker-a", 0, "Good", "bad.name")
	huge := protocol.DefaultTopicConfig("Huge")
	huge.WriteQueueNums = 1 << 20
	b.topics["Huge"] = huge
	perm := protocol.DefaultTopicConfig("OddPerm")
	perm.Perm = 64
	b.topics["OddPerm"] = perm
	misfiled := protocol.DefaultTopicConfig("Other")
	b.topics["Misfiled"] = misfiled
	b.register(t, s.Addr())

	var tl protocol.TopicList
	require.NoError(t, json.Unmarshal(invoke(t, b.cl, s.Addr(), request(protocol.GetAllTopicListFromNameServer, nil, nil)).Body, &tl))
	require.Equal(t, []string{"Good"}, tl.TopicList, "one odd topic must not take the broker out of the routes")
	require.Equal(t, 1, logs.count("topics skipped in broker registration"))
}

func TestFloodOfBadInputLeavesOthersServed(t *testing.T) {
	logger, logs := newCountingLogger()
	s := startServer(t, testOptions(t), logger)
	good := newFakeBroker(t, "c1", "broker-a", 0, "Good")
	good.register(t, s.Addr())
	client := newClient(t)
	evil := newFakeBroker(t, "c1", "broker-evil", 0, "Evil")

	const flood = 300
	var wg sync.WaitGroup
	wg.Go(func() { // malformed requests on a live connection
		for i := range flood {
			req := badRegister(evil, func(r *remoting.Command) { r.ExtFields.Set("bodyCrc32", "1") })
			if i%2 == 0 {
				req = request(protocol.GetRouteInfoByTopic, &protocol.TopicRequestHeader{Topic: "bad topic"}, nil)
			}
			resp := invoke(t, evil.cl, s.Addr(), req)
			require.Equal(t, protocol.InvalidParameter, resp.ResponseCode())
		}
	})
	wg.Go(func() { // garbage bytes on raw connections: the transport drops them
		for range 20 {
			conn, err := net.Dial("tcp", s.Addr())
			require.NoError(t, err)
			_, _ = conn.Write([]byte("\x00\x00\x00\x10GET / HTTP/1.1\r\n\r\n"))
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, conn)
			require.NoError(t, err, "the server closes a connection that sent garbage")
			require.NoError(t, conn.Close())
		}
	})
	// Meanwhile the good broker keeps registering and a client keeps
	// reading routes.
	for range 50 {
		good.register(t, s.Addr())
		require.Equal(t, protocol.Success, route(t, client, s.Addr(), "Good").ResponseCode())
	}
	wg.Wait()

	require.Equal(t, protocol.Success, route(t, client, s.Addr(), "Good").ResponseCode())
	require.Equal(t, protocol.TopicNotExist, route(t, client, s.Addr(), "Evil").ResponseCode())
	// At most ten lines per ten seconds: the flood is reported, not logged.
	require.Positive(t, logs.count("request refused"))
	require.LessOrEqual(t, logs.count("request refused"), 30, "refusals must be rate-limited")
}
