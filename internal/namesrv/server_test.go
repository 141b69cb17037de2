package namesrv

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/namesrv/kvconfig"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

func TestRouteJSONForms(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	b := newFakeBroker(t, "DefaultCluster", "broker-a", 0, "TopicTest")
	b.register(t, s.Addr())
	cl := newClient(t)

	fastjson := `{"brokerDatas":[{"brokerAddrs":{0:"` + b.addr + `"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	standard := strings.Replace(fastjson, `{0:`, `{"0":`, 1)
	yes := true

	tests := []struct {
		name    string
		version protocol.MQVersion
		accept  *bool
		want    string
	}{
		{"Go client v2.1.2 (317)", protocol.V4_5_2, nil, fastjson},
		{"317 asking for standard JSON", protocol.V4_5_2, &yes, standard},
		{"V4_9_4 (401)", protocol.V4_9_4, nil, standard},
		{"5.x client", protocol.V5_3_3, nil, standard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(protocol.GetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: "TopicTest", AcceptStandardJSONOnly: tt.accept}, nil)
			req.Version = int32(tt.version)
			resp := invoke(t, cl, s.Addr(), req)
			require.Equal(t, protocol.Success, resp.ResponseCode())
			require.Equal(t, tt.want, string(resp.Body))
			if tt.want == standard {
				var r protocol.TopicRouteData
				require.NoError(t, json.Unmarshal(resp.Body, &r), "standard JSON must parse strictly")
				require.Equal(t, b.addr, r.BrokerDatas[0].MasterAddr())
			}
		})
	}
}

func TestUnknownCodeNotSupported(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	resp := invoke(t, newClient(t), s.Addr(), request(protocol.SendMessage, nil, nil))
	require.Equal(t, protocol.RequestCodeNotSupported, resp.ResponseCode())
}

func TestRouteOfUnknownTopic(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	resp := route(t, newClient(t), s.Addr(), "NoSuchTopic")
	require.Equal(t, protocol.TopicNotExist, resp.ResponseCode())
	require.Equal(t, "No topic route info in name server for the topic: NoSuchTopic", resp.Remark)
	require.Empty(t, resp.Body)
}

func TestRegisterAnswersSlaveWithMaster(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	master := newFakeBroker(t, "c1", "broker-a", 0, "T")
	slave := newFakeBroker(t, "c1", "broker-a", 1, "T")

	resp := master.register(t, s.Addr())
	_, ok := resp.ExtFields.Get("masterAddr")
	require.False(t, ok, "a master has no master")
	require.Empty(t, resp.Body, "no ORDER_TOPIC_CONFIG namespace yet")

	resp = slave.register(t, s.Addr())
	require.Equal(t, master.addr, resp.ExtFields.Value("masterAddr"))
	require.Equal(t, master.haAddr(), resp.ExtFields.Value("haServerAddr"))

	// With ordered topics configured the answer carries them.
	cl := newClient(t)
	put := invoke(t, cl, s.Addr(), request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{
		Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "T", Value: "broker-a:4"}, nil))
	require.Equal(t, protocol.Success, put.ResponseCode(), put.Remark)
	resp = slave.register(t, s.Addr())
	var kv protocol.KVTable
	require.NoError(t, json.Unmarshal(resp.Body, &kv))
	require.Equal(t, map[string]string{"T": "broker-a:4"}, kv.Table)
}

func TestBrokerConnectionCloseRemovesRouteAtOnce(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	a := newFakeBroker(t, "c1", "broker-a", 0, "T")
	b := newFakeBroker(t, "c1", "broker-b", 0, "T")
	a.register(t, s.Addr())
	b.register(t, s.Addr())
	cl := newClient(t)

	a.cl.CloseConn(s.Addr())
	waitFor(t, "broker-a to leave the route", func() bool {
		var r protocol.TopicRouteData
		resp := route(t, cl, s.Addr(), "T")
		require.NoError(t, protocol.DecodeBody(resp.Body, &r))
		return len(r.BrokerDatas) == 1 && r.BrokerDatas[0].BrokerName == "broker-b"
	})

	b.cl.CloseConn(s.Addr())
	waitFor(t, "the topic to go", func() bool {
		return route(t, cl, s.Addr(), "T").ResponseCode() == protocol.TopicNotExist
	})
}

func TestSilentBrokerExpiresAndIsDisconnected(t *testing.T) {
	clock := newFakeClock()
	opts := testOptions(t)
	opts.Now = clock.Now
	opts.ScanNotActiveBrokerInterval = 5
	s := startServer(t, opts, nil)
	b := newFakeBroker(t, "c1", "broker-a", 0, "T")
	b.register(t, s.Addr())
	conn, err := b.cl.Conn(context.Background(), s.Addr())
	require.NoError(t, err)
	cl := newClient(t)

	clock.Advance(120 * time.Second)
	// Let several scans run at exactly 120 s: the broker must survive.
	for range 3 {
		s.scan()
	}
	require.Equal(t, protocol.Success, route(t, cl, s.Addr(), "T").ResponseCode())

	clock.Advance(time.Millisecond)
	waitFor(t, "the silent broker to expire", func() bool {
		return route(t, cl, s.Addr(), "T").ResponseCode() == protocol.TopicNotExist
	})
	select {
	case <-conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the expired broker's connection was not closed")
	}

	// It comes back by registering again.
	b.register(t, s.Addr())
	require.Equal(t, protocol.Success, route(t, cl, s.Addr(), "T").ResponseCode())
}

func TestQueryDataVersionRefreshesLiveness(t *testing.T) {
	clock := newFakeClock()
	opts := testOptions(t)
	opts.Now = clock.Now
	s := startServer(t, opts, nil)
	b := newFakeBroker(t, "c1", "broker-a", 0, "T")
	b.register(t, s.Addr())

	query := func(v protocol.DataVersion) *remoting.Command {
		body, err := json.Marshal(v)
		require.NoError(t, err)
		return invoke(t, b.cl, s.Addr(), request(protocol.QueryDataVersion, &protocol.QueryDataVersionRequestHeader{
			BrokerName: b.name, BrokerAddr: b.addr, ClusterName: b.cluster, BrokerID: b.id}, body))
	}
	clock.Advance(100 * time.Second)
	resp := query(b.version)
	require.Equal(t, protocol.Success, resp.ResponseCode())
	require.Equal(t, "false", resp.ExtFields.Value("changed"))
	var known protocol.DataVersion
	require.NoError(t, json.Unmarshal(resp.Body, &known))
	require.Equal(t, b.version, known)

	newer := b.version.Next(1_700_000_100_000)
	require.Equal(t, "true", query(newer).ExtFields.Value("changed"))

	clock.Advance(100 * time.Second) // 200 s after registering, 100 s after the query
	s.scan()
	require.Equal(t, protocol.Success, route(t, b.cl, s.Addr(), "T").ResponseCode())
}

func TestUnregisterBroker(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	b := newFakeBroker(t, "c1", "broker-a", 0, "T")
	b.register(t, s.Addr())
	resp := invoke(t, b.cl, s.Addr(), request(protocol.UnregisterBroker, &protocol.UnregisterBrokerRequestHeader{
		BrokerName: b.name, BrokerAddr: b.addr, ClusterName: b.cluster, BrokerID: b.id}, nil))
	require.Equal(t, protocol.Success, resp.ResponseCode())
	require.Equal(t, protocol.TopicNotExist, route(t, b.cl, s.Addr(), "T").ResponseCode())
}

func TestClusterInfoAndTopicLists(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	a := newFakeBroker(t, "c1", "broker-a", 0, "T1", "Shared")
	unit := a.topics["T1"]
	unit.TopicSysFlag = protocol.TopicSysFlagUnit
	a.topics["T1"] = unit
	a.register(t, s.Addr())
	c := newFakeBroker(t, "c2", "broker-c", 0, "T2", "Shared")
	c.register(t, s.Addr())
	cl := newClient(t)

	resp := invoke(t, cl, s.Addr(), request(protocol.GetBrokerClusterInfo, nil, nil))
	var ci protocol.ClusterInfo
	require.NoError(t, json.Unmarshal(resp.Body, &ci), "cluster info is standard JSON")
	require.Equal(t, map[string][]string{"c1": {"broker-a"}, "c2": {"broker-c"}}, ci.ClusterAddrTable)
	require.Equal(t, a.addr, ci.BrokerAddrTable["broker-a"].MasterAddr())

	topicList := func(code protocol.RequestCode, h any) protocol.TopicList {
		resp := invoke(t, cl, s.Addr(), request(code, h, nil))
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		var tl protocol.TopicList
		require.NoError(t, json.Unmarshal(resp.Body, &tl), "topic lists are strict JSON: the Go admin uses encoding/json")
		return tl
	}
	require.Equal(t, []string{"Shared", "T1", "T2"}, topicList(protocol.GetAllTopicListFromNameServer, nil).TopicList)
	require.Equal(t, []string{"Shared", "T2"}, topicList(protocol.GetTopicsByCluster, &protocol.GetTopicsByClusterRequestHeader{Cluster: "c2"}).TopicList)
	require.Equal(t, []string{}, topicList(protocol.GetTopicsByCluster, &protocol.GetTopicsByClusterRequestHeader{Cluster: "none"}).TopicList)
	require.Equal(t, []string{"T1"}, topicList(protocol.GetUnitTopicList, nil).TopicList)
	require.Equal(t, []string{}, topicList(protocol.GetHasUnitSubTopicList, nil).TopicList)
	require.Equal(t, []string{}, topicList(protocol.GetHasUnitSubUnunitTopicList, nil).TopicList)
	sys := topicList(protocol.GetSystemTopicListFromNS, nil)
	require.Equal(t, []string{"c1", "broker-a", "c2", "broker-c"}, sys.TopicList)
	require.Equal(t, a.addr, sys.BrokerAddr)
}

func TestTopicListsCanBeDisabled(t *testing.T) {
	opts := testOptions(t)
	opts.EnableAllTopicList, opts.EnableTopicList = false, false
	s := startServer(t, opts, nil)
	cl := newClient(t)
	for _, req := range []*remoting.Command{
		request(protocol.GetAllTopicListFromNameServer, nil, nil),
		request(protocol.GetTopicsByCluster, &protocol.GetTopicsByClusterRequestHeader{Cluster: "c1"}, nil),
		request(protocol.GetUnitTopicList, nil, nil),
	} {
		resp := invoke(t, cl, s.Addr(), req)
		require.Equal(t, protocol.SystemError, resp.ResponseCode())
		require.Equal(t, "disable", resp.Remark)
	}
}

func TestDeleteTopic(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	newFakeBroker(t, "c1", "broker-a", 0, "T", "U").register(t, s.Addr())
	newFakeBroker(t, "c2", "broker-b", 0, "T", "U").register(t, s.Addr())
	cl := newClient(t)
	del := func(h *protocol.DeleteTopicFromNamesrvRequestHeader) {
		resp := invoke(t, cl, s.Addr(), request(protocol.DeleteTopicInNamesrv, h, nil))
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	}

	del(&protocol.DeleteTopicFromNamesrvRequestHeader{Topic: "T", ClusterName: "c1"})
	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "T").Body, &r))
	require.Len(t, r.QueueDatas, 1)
	require.Equal(t, "broker-b", r.QueueDatas[0].BrokerName)

	del(&protocol.DeleteTopicFromNamesrvRequestHeader{Topic: "U"})
	require.Equal(t, protocol.TopicNotExist, route(t, cl, s.Addr(), "U").ResponseCode())
}

func TestKVConfigAndOrderTopicConf(t *testing.T) {
	opts := testOptions(t)
	opts.OrderMessageEnable = true
	s := startServer(t, opts, nil)
	newFakeBroker(t, "c1", "broker-a", 0, "Ordered").register(t, s.Addr())
	cl := newClient(t)
	call := func(code protocol.RequestCode, h any) *remoting.Command {
		return invoke(t, cl, s.Addr(), request(code, h, nil))
	}

	resp := call(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered"})
	require.Equal(t, protocol.QueryNotFound, resp.ResponseCode())
	require.Equal(t, "No config item, Namespace: ORDER_TOPIC_CONFIG Key: Ordered", resp.Remark)
	resp = call(protocol.GetKVListByNamespace, &protocol.GetKVListByNamespaceRequestHeader{Namespace: "nope"})
	require.Equal(t, protocol.QueryNotFound, resp.ResponseCode())

	resp = call(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered", Value: "broker-a:4"})
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	resp = call(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered"})
	require.Equal(t, "broker-a:4", resp.ExtFields.Value("value"))
	resp = call(protocol.GetKVListByNamespace, &protocol.GetKVListByNamespaceRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig})
	var kv protocol.KVTable
	require.NoError(t, json.Unmarshal(resp.Body, &kv))
	require.Equal(t, map[string]string{"Ordered": "broker-a:4"}, kv.Table)

	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "Ordered").Body, &r))
	require.Equal(t, "broker-a:4", r.OrderTopicConf)

	// The value is on disk: a NameServer started on the same file has it.
	s2 := startServer(t, opts, nil)
	resp = invoke(t, cl, s2.Addr(), request(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered"}, nil))
	require.Equal(t, "broker-a:4", resp.ExtFields.Value("value"))

	resp = call(protocol.DeleteKVConfig, &protocol.KVConfigRequestHeader{Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered"})
	require.Equal(t, protocol.Success, resp.ResponseCode())
	var after protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "Ordered").Body, &after))
	require.Empty(t, after.OrderTopicConf)
}

func TestOrderTopicConfOnlyWhenEnabled(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	newFakeBroker(t, "c1", "broker-a", 0, "Ordered").register(t, s.Addr())
	cl := newClient(t)
	invoke(t, cl, s.Addr(), request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{
		Namespace: kvconfig.NamespaceOrderTopicConfig, Key: "Ordered", Value: "broker-a:4"}, nil))
	require.NotContains(t, string(route(t, cl, s.Addr(), "Ordered").Body), "orderTopicConf")
}

func TestWritePermOfBroker(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	newFakeBroker(t, "c1", "broker-a", 0, "T", "U").register(t, s.Addr())
	cl := newClient(t)

	resp := invoke(t, cl, s.Addr(), request(protocol.WipeWritePermOfBroker, &protocol.BrokerNameRequestHeader{BrokerName: "broker-a"}, nil))
	require.Equal(t, "2", resp.ExtFields.Value("wipeTopicCount"))
	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "T").Body, &r))
	require.EqualValues(t, protocol.PermRead, r.QueueDatas[0].Perm)

	resp = invoke(t, cl, s.Addr(), request(protocol.AddWritePermOfBroker, &protocol.BrokerNameRequestHeader{BrokerName: "broker-a"}, nil))
	require.Equal(t, "2", resp.ExtFields.Value("addTopicCount"))
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "T").Body, &r))
	require.EqualValues(t, protocol.PermRead|protocol.PermWrite, r.QueueDatas[0].Perm)
}

func TestRegisterTopicInNamesrv(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	newFakeBroker(t, "c1", "broker-a", 0, "T").register(t, s.Addr())
	cl := newClient(t)
	body := []byte(`{"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2}],"brokerDatas":[]}`)
	resp := invoke(t, cl, s.Addr(), request(protocol.RegisterTopicInNamesrv, &protocol.TopicRequestHeader{Topic: "Fresh"}, body))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "Fresh").Body, &r))
	require.EqualValues(t, 2, r.QueueDatas[0].WriteQueueNums)

	body = []byte(`{"queueDatas":[{"brokerName":"broker-x","perm":6,"readQueueNums":2,"writeQueueNums":2}]}`)
	resp = invoke(t, cl, s.Addr(), request(protocol.RegisterTopicInNamesrv, &protocol.TopicRequestHeader{Topic: "Other"}, body))
	require.Equal(t, protocol.InvalidParameter, resp.ResponseCode())
	require.Contains(t, resp.Remark, "broker-x")
}

func TestNamesrvConfig(t *testing.T) {
	opts := testOptions(t)
	opts.OrderMessageEnable = true
	s := startServer(t, opts, nil)
	cl := newClient(t)

	resp := invoke(t, cl, s.Addr(), request(protocol.GetNamesrvConfig, nil, nil))
	require.Equal(t, protocol.Success, resp.ResponseCode())
	props, err := config.Parse(resp.Body, "GET_NAMESRV_CONFIG")
	require.NoError(t, err)
	var got Options
	_, err = config.Apply(props, &got)
	require.NoError(t, err)
	require.True(t, got.OrderMessageEnable)
	require.Equal(t, opts.KVConfigPath, got.KVConfigPath)
	require.Equal(t, "127.0.0.1", got.BindAddress)

	resp = invoke(t, cl, s.Addr(), request(protocol.UpdateNamesrvConfig, nil, []byte("kvConfigPath=/etc/cron.d/x\n")))
	require.Equal(t, protocol.NoPermission, resp.ResponseCode())
	require.Contains(t, resp.Remark, "CVE-2023-37582")
}

func TestNeedWaitForService(t *testing.T) {
	clock := newFakeClock()
	opts := testOptions(t)
	opts.Now = clock.Now
	opts.NeedWaitForService = true
	opts.WaitSecondsForService = 45
	s := startServer(t, opts, nil)
	newFakeBroker(t, "c1", "broker-a", 0, "T").register(t, s.Addr())
	cl := newClient(t)

	resp := route(t, cl, s.Addr(), "T")
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Equal(t, "name server not ready", resp.Remark)
	clock.Advance(45 * time.Second)
	require.Equal(t, protocol.Success, route(t, cl, s.Addr(), "T").ResponseCode())
}

func TestOptions(t *testing.T) {
	require.NoError(t, DefaultOptions().Validate())
	require.Equal(t, "0.0.0.0:9876", DefaultOptions().Addr())
	for _, mutate := range []func(*Options){
		func(o *Options) { o.ListenPort = 70000 },
		func(o *Options) { o.BindAddress = "not-an-ip" },
		func(o *Options) { o.ScanNotActiveBrokerInterval = 0 },
		func(o *Options) { o.ServerChannelMaxIdleTimeSeconds = -1 },
		func(o *Options) { o.WaitSecondsForService = -1 },
		func(o *Options) { o.BrokerExpiry = 0 },
	} {
		o := DefaultOptions()
		mutate(&o)
		require.ErrorIs(t, o.Validate(), ErrInvalidOptions)
		_, err := New(o, discard)
		require.ErrorIs(t, err, ErrInvalidOptions)
	}

	// namesrv.conf applies by RocketMQ's keys.
	props, err := config.Parse([]byte("listenPort=9877\nkvConfigPath=/data/kv.json\norderMessageEnable=true\n"+
		"scanNotActiveBrokerInterval=1000\nsupportActingMaster=true\nrocketmqHome=/opt/rocketmq\n"), "namesrv.conf")
	require.NoError(t, err)
	o := DefaultOptions()
	unknown, err := config.Apply(props, &o)
	require.NoError(t, err)
	require.Equal(t, []string{"rocketmqHome"}, unknown)
	require.Equal(t, 9877, o.ListenPort)
	require.Equal(t, "/data/kv.json", o.KVConfigPath)
	require.True(t, o.OrderMessageEnable)
	require.True(t, o.SupportActingMaster)
	require.EqualValues(t, 1000, o.ScanNotActiveBrokerInterval)
}

func TestStartCloseLifecycle(t *testing.T) {
	s, err := New(testOptions(t), discard)
	require.NoError(t, err)
	require.Empty(t, s.Addr())
	require.NoError(t, s.Close(), "closing a server never started")
	require.ErrorIs(t, s.Start(context.Background()), ErrClosed)

	s, err = New(testOptions(t), discard)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	require.Error(t, s.Start(context.Background()))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	// A port in use is a clear error.
	s1 := startServer(t, testOptions(t), nil)
	o := testOptions(t)
	_, port, _ := strings.Cut(s1.Addr(), ":")
	_, err = fmt.Sscan(port, &o.ListenPort)
	require.NoError(t, err)
	s2, err := New(o, discard)
	require.NoError(t, err)
	require.Error(t, s2.Start(context.Background()))
	require.NoError(t, s2.Close())
}

func TestCorruptKVConfigRefusesToStart(t *testing.T) {
	opts := testOptions(t)
	require.NoError(t, writeFile(opts.KVConfigPath, "{not json"))
	_, err := New(opts, discard)
	require.ErrorIs(t, err, kvconfig.ErrCorrupt)
}

func TestBrokerHeartbeatTimeoutAndZone(t *testing.T) {
	clock := newFakeClock()
	opts := testOptions(t)
	opts.Now = clock.Now
	s := startServer(t, opts, nil)
	b := newFakeBroker(t, "c1", "broker-a", 0, "T")
	req := b.registerRequest()
	// A 5.x broker with acting master on asks for its own timeout and
	// then sends light heartbeats.
	req.ExtFields.Set("heartbeatTimeoutMillis", "10000")
	req.ExtFields.Set("enableActingMaster", "true")
	req.ExtFields.Set("__ZONE_NAME", "zone-1")
	resp := invoke(t, b.cl, s.Addr(), req)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)

	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, b.cl, s.Addr(), "T").Body, &r))
	require.Equal(t, "zone-1", r.BrokerDatas[0].ZoneName)
	require.True(t, r.BrokerDatas[0].EnableActingMaster)

	clock.Advance(9 * time.Second)
	heartbeat := remoting.NewRequest(protocol.BrokerHeartbeat, protocol.ExtFields{
		{Key: "clusterName", Value: b.cluster}, {Key: "brokerAddr", Value: b.addr}, {Key: "brokerName", Value: b.name}}, nil)
	require.Equal(t, protocol.Success, invoke(t, b.cl, s.Addr(), heartbeat).ResponseCode())
	clock.Advance(9 * time.Second) // 18 s after registering, 9 s after the heartbeat
	s.scan()
	require.Equal(t, protocol.Success, route(t, b.cl, s.Addr(), "T").ResponseCode())

	clock.Advance(time.Second + time.Millisecond)
	s.scan()
	require.Equal(t, protocol.TopicNotExist, route(t, newClient(t), s.Addr(), "T").ResponseCode(),
		"10 s of silence is too long for a broker that asked for 10 s")
}

func TestEmptyKVValue(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	cl := newClient(t)
	resp := invoke(t, cl, s.Addr(), request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: "ns", Key: "k", Value: ""}, nil))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	resp = invoke(t, cl, s.Addr(), request(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: "ns", Key: "k"}, nil))
	require.Equal(t, protocol.Success, resp.ResponseCode())
	v, ok := resp.ExtFields.Get("value")
	require.True(t, ok)
	require.Empty(t, v)
}

func TestIPv6AndHostNameAddresses(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	for i, addr := range []string{"[::1]:10911", "broker-1.example.com:10911", "[fe80::1%eth0]:10911"} {
		b := newFakeBroker(t, "c1", "broker-"+string(rune('a'+i)), 0, "T")
		b.addr = addr
		b.register(t, s.Addr())
	}
	var r protocol.TopicRouteData
	require.NoError(t, protocol.DecodeBody(route(t, newClient(t), s.Addr(), "T").Body, &r))
	require.Equal(t, "[::1]:10911", r.BrokerDatas[0].MasterAddr())
	require.Equal(t, "broker-1.example.com:10911", r.BrokerDatas[1].MasterAddr())
	require.Equal(t, "[fe80::1%eth0]:10911", r.BrokerDatas[2].MasterAddr())
}

func TestKVWriteFailureAnswersSystemError(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions(t)
	opts.KVConfigPath = dir + "/sub/kvConfig.json"
	s := startServer(t, opts, nil)
	require.NoError(t, writeFile(dir+"/sub", "not a directory"))
	cl := newClient(t)
	resp := invoke(t, cl, s.Addr(), request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: "ns", Key: "k", Value: "v"}, nil))
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "cannot persist")
	resp = invoke(t, cl, s.Addr(), request(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: "ns", Key: "k"}, nil))
	require.Equal(t, protocol.QueryNotFound, resp.ResponseCode(), "a change that is not on disk is not served either")
}
