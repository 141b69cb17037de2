package routeinfo

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testingT is what newManager needs of *testing.T and *rapid.T.
type testingT interface {
	require.TestingT
	Helper()
}

func newManager(t testingT, clock *fakeClock, mutate ...func(*Options)) *Manager {
	t.Helper()
	opts := DefaultOptions()
	opts.Now = clock.Now
	for _, f := range mutate {
		f(&opts)
	}
	m, err := New(opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return m
}

// topics builds a topic-config wrapper at data version counter, each topic
// with n read and write queues and perm RW.
func topics(counter int64, n int32, names ...string) protocol.TopicConfigSerializeWrapper {
	w := protocol.TopicConfigSerializeWrapper{
		TopicConfigTable: map[string]protocol.TopicConfig{},
		DataVersion:      protocol.DataVersion{Timestamp: 1700000000000, Counter: counter},
	}
	for _, name := range names {
		tc := protocol.DefaultTopicConfig(name)
		tc.ReadQueueNums, tc.WriteQueueNums = n, n
		w.TopicConfigTable[name] = tc
	}
	return w
}

func reg(cluster, name string, id int64, addr string, conn ConnID, tc protocol.TopicConfigSerializeWrapper) Registration {
	return Registration{
		ClusterName: cluster, BrokerName: name, BrokerID: id, BrokerAddr: addr,
		HAServerAddr: addr + "-ha", TopicConfig: tc, Conn: conn,
	}
}

func mustRegister(t *testing.T, m *Manager, r Registration) RegisterResult {
	t.Helper()
	res, err := m.RegisterBroker(r)
	require.NoError(t, err)
	return res
}

func boolPtr(b bool) *bool { return &b }

func TestRegisterMasterAndSlave(t *testing.T) {
	m := newManager(t, newFakeClock())

	res := mustRegister(t, m, reg("c1", "broker-a", 0, "10.0.0.1:10911", 1, topics(1, 4, "TopicA", "TopicB")))
	require.Equal(t, RegisterResult{}, res, "a master gets no master address back")

	route, ok := m.TopicRoute("TopicA")
	require.True(t, ok)
	require.Equal(t, []protocol.QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}}, route.QueueDatas)
	require.Equal(t, []protocol.BrokerData{{Cluster: "c1", BrokerName: "broker-a",
		BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}}, route.BrokerDatas)
	require.NotNil(t, route.FilterServerTable)

	// The slave's topics do not change the route; it learns its master.
	res = mustRegister(t, m, reg("c1", "broker-a", 1, "10.0.0.2:10911", 2, topics(1, 16, "TopicA", "SlaveOnly")))
	require.Equal(t, RegisterResult{HAServerAddr: "10.0.0.1:10911-ha", MasterAddr: "10.0.0.1:10911"}, res)
	route, ok = m.TopicRoute("TopicA")
	require.True(t, ok)
	require.EqualValues(t, 4, route.QueueDatas[0].WriteQueueNums)
	require.Equal(t, map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}, route.BrokerDatas[0].BrokerAddrs)
	_, ok = m.TopicRoute("SlaveOnly")
	require.False(t, ok, "topics of an old-version slave are ignored")

	_, ok = m.TopicRoute("Nope")
	require.False(t, ok)
}

func TestRouteSpansBrokerGroupsSorted(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-b", 0, "b:1", 1, topics(1, 8, "T")))
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 2, topics(1, 4, "T")))
	route, ok := m.TopicRoute("T")
	require.True(t, ok)
	require.Len(t, route.QueueDatas, 2)
	require.Equal(t, "broker-a", route.QueueDatas[0].BrokerName)
	require.Equal(t, "broker-b", route.QueueDatas[1].BrokerName)
	require.Equal(t, "broker-a", route.BrokerDatas[0].BrokerName)
	require.Equal(t, "broker-b", route.BrokerDatas[1].BrokerName)
}

func TestReRegisterDataVersion(t *testing.T) {
	tests := []struct {
		name      string
		second    protocol.TopicConfigSerializeWrapper
		wantQueue int32
	}{
		{"same version keeps the registered queues", topics(1, 8, "T"), 4},
		{"new counter applies the change", topics(2, 8, "T"), 8},
		{"new timestamp applies the change", func() protocol.TopicConfigSerializeWrapper {
			w := topics(1, 8, "T")
			w.DataVersion.Timestamp++
			return w
		}(), 8},
		{"new state version applies the change", func() protocol.TopicConfigSerializeWrapper {
			w := topics(1, 8, "T")
			w.DataVersion.StateVersion = 3
			return w
		}(), 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, newFakeClock())
			mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T")))
			mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, tt.second))
			route, ok := m.TopicRoute("T")
			require.True(t, ok)
			require.Equal(t, tt.wantQueue, route.QueueDatas[0].WriteQueueNums)
			v, alive := m.BrokerDataVersion("c1", "a:1")
			require.True(t, alive)
			require.Equal(t, tt.second.DataVersion, v, "the live table keeps the latest version")
		})
	}
}

func TestReRegisterSameVersionRestoresDeletedTopic(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T", "U")))
	require.True(t, m.DeleteTopic("T"))
	_, ok := m.TopicRoute("T")
	require.False(t, ok)
	// The broker still has T: its next heartbeat (same version) puts the
	// route back, as Java 5 does.
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T", "U")))
	_, ok = m.TopicRoute("T")
	require.True(t, ok)
}

func TestSlavePromotedToMaster(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 1, "s:1", 2, topics(1, 4, "T")))
	mustRegister(t, m, reg("c1", "broker-a", 0, "s:1", 2, topics(2, 4, "T")))
	ci := m.ClusterInfo()
	require.Equal(t, map[int64]string{0: "s:1"}, ci.BrokerAddrTable["broker-a"].BrokerAddrs,
		"the address moves from id 1 to id 0")
	_, ok := m.TopicRoute("T")
	require.True(t, ok)
}

func TestPrimeSlaveRegistersReadOnlyQueues(t *testing.T) {
	m := newManager(t, newFakeClock())
	r := reg("c1", "broker-a", 1, "s:1", 2, topics(1, 4, "T"))
	r.EnableActingMaster = boolPtr(false) // a 5.x broker: sends the field
	mustRegister(t, m, r)
	route, ok := m.TopicRoute("T")
	require.True(t, ok)
	require.EqualValues(t, protocol.PermRead, route.QueueDatas[0].Perm)
	require.Equal(t, map[int64]string{1: "s:1"}, route.BrokerDatas[0].BrokerAddrs)
}

func TestStaleBrokerRefused(t *testing.T) {
	m := newManager(t, newFakeClock())
	newer := topics(1, 4, "T")
	newer.DataVersion.StateVersion = 5
	mustRegister(t, m, reg("c1", "broker-a", 0, "new:1", 1, newer))

	_, err := m.RegisterBroker(reg("c1", "broker-a", 0, "old:1", 2, topics(9, 4, "T")))
	require.ErrorIs(t, err, ErrStaleBroker)
	require.Equal(t, map[int64]string{0: "new:1"}, m.ClusterInfo().BrokerAddrTable["broker-a"].BrokerAddrs)
	require.Len(t, m.LiveBrokers(), 1)
}

func TestSingleTopicRegistration(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T")))
	// 5.x's incremental registration of one new topic, same version: the
	// topic is new for the group, so it is added.
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "New")))
	require.Equal(t, []string{"New", "T"}, m.AllTopics())
}

func TestInvalidRegistration(t *testing.T) {
	m := newManager(t, newFakeClock())
	for _, r := range []Registration{
		reg("", "b", 0, "a:1", 1, topics(1, 1)),
		reg("c", "", 0, "a:1", 1, topics(1, 1)),
		reg("c", "b", 0, "", 1, topics(1, 1)),
		reg("c", "b", -1, "a:1", 1, topics(1, 1)),
	} {
		_, err := m.RegisterBroker(r)
		require.ErrorIs(t, err, ErrInvalidRegistration)
	}
}

func TestExpiryAfter120Seconds(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, clock)
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 7, topics(1, 4, "T")))

	clock.Advance(DefaultBrokerExpiry)
	require.Empty(t, m.Scan(), "exactly 120 s of silence is not yet too long")
	_, ok := m.TopicRoute("T")
	require.True(t, ok)

	clock.Advance(time.Millisecond)
	expired := m.Scan()
	require.Equal(t, []Broker{{ClusterName: "c1", BrokerName: "broker-a", BrokerID: 0, BrokerAddr: "a:1", Conn: 7}}, expired)
	_, ok = m.TopicRoute("T")
	require.False(t, ok)
	require.Empty(t, m.ClusterInfo().BrokerAddrTable)
	require.Empty(t, m.ClusterInfo().ClusterAddrTable)
	require.Empty(t, m.AllTopics())
	require.Empty(t, m.LiveBrokers())
}

func TestHeartbeatsKeepBrokerAlive(t *testing.T) {
	clock := newFakeClock()
	m := newManager(t, clock)
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T")))
	slow := reg("c1", "broker-b", 0, "b:1", 2, topics(1, 4, "T"))
	slow.HeartbeatTimeout = 300 * time.Second
	mustRegister(t, m, slow)

	clock.Advance(100 * time.Second)
	require.True(t, m.RefreshBroker("c1", "a:1"))
	require.False(t, m.RefreshBroker("c1", "unknown:1"))
	clock.Advance(100 * time.Second)
	require.Empty(t, m.Scan(), "the refresh at 100 s restarted a's 120 s")
	clock.Advance(20*time.Second + time.Millisecond)
	expired := m.Scan()
	require.Len(t, expired, 1)
	require.Equal(t, "a:1", expired[0].BrokerAddr)

	clock.Advance(80 * time.Second) // b: 300.001 s of silence
	expired = m.Scan()
	require.Len(t, expired, 1)
	require.Equal(t, "b:1", expired[0].BrokerAddr)
}

func TestConnClosedRemovesBrokerAtOnce(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 7, topics(1, 4, "T")))
	mustRegister(t, m, reg("c1", "broker-b", 0, "b:1", 8, topics(1, 4, "T")))

	require.Empty(t, m.ConnClosed(99), "unknown connection")
	require.Empty(t, m.ConnClosed(0), "0 is no connection")
	removed := m.ConnClosed(7)
	require.Equal(t, []Broker{{ClusterName: "c1", BrokerName: "broker-a", BrokerAddr: "a:1", Conn: 7}}, removed)
	route, ok := m.TopicRoute("T")
	require.True(t, ok)
	require.Len(t, route.BrokerDatas, 1)
	require.Equal(t, "broker-b", route.BrokerDatas[0].BrokerName)
}

func TestConnClosedAfterReconnectKeepsBroker(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 7, topics(1, 4, "T")))
	// The broker reconnected and registered over conn 8 before the server
	// noticed that conn 7 had closed.
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 8, topics(1, 4, "T")))
	require.Empty(t, m.ConnClosed(7))
	_, ok := m.TopicRoute("T")
	require.True(t, ok)
	require.Len(t, m.ConnClosed(8), 1)
	_, ok = m.TopicRoute("T")
	require.False(t, ok)
}

func TestMasterLoss(t *testing.T) {
	tests := []struct {
		name          string
		actingMaster  bool
		supportActing bool
		wantAddrs     map[int64]string
		wantPerm      int32
	}{
		{"slaves stay readable, no master to publish to", false, false, map[int64]string{1: "s:1"}, 6},
		{"acting-master group loses write permission", true, false, map[int64]string{1: "s:1"}, protocol.PermRead},
		{"namesrv names the slave acting master", true, true, map[int64]string{0: "s:1"}, protocol.PermRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, newFakeClock(), func(o *Options) { o.SupportActingMaster = tt.supportActing })
			master := reg("c1", "broker-a", 0, "m:1", 1, topics(1, 4, "T"))
			slave := reg("c1", "broker-a", 1, "s:1", 2, topics(1, 4, "T"))
			if tt.actingMaster {
				master.EnableActingMaster, slave.EnableActingMaster = boolPtr(true), boolPtr(true)
			}
			mustRegister(t, m, master)
			mustRegister(t, m, slave)

			require.Len(t, m.ConnClosed(1), 1)
			route, ok := m.TopicRoute("T")
			require.True(t, ok, "the group survives with its slave")
			require.Equal(t, tt.wantAddrs, route.BrokerDatas[0].BrokerAddrs)
			require.Equal(t, tt.wantPerm, route.QueueDatas[0].Perm)

			// The slave goes too: the group and its routes are gone.
			require.Len(t, m.ConnClosed(2), 1)
			_, ok = m.TopicRoute("T")
			require.False(t, ok)
		})
	}
}

func TestUnregisterBroker(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "m:1", 1, topics(1, 4, "T")))
	mustRegister(t, m, reg("c1", "broker-a", 1, "s:1", 2, topics(1, 4, "T")))

	require.True(t, m.UnregisterBroker("c1", "s:1", "broker-a"))
	require.False(t, m.UnregisterBroker("c1", "s:1", "broker-a"), "twice is a no-op")
	require.Equal(t, map[int64]string{0: "m:1"}, m.ClusterInfo().BrokerAddrTable["broker-a"].BrokerAddrs)
	require.True(t, m.UnregisterBroker("c1", "m:1", "broker-a"))
	require.Empty(t, m.ClusterInfo().BrokerAddrTable)
	require.Empty(t, m.AllTopics())
}

func TestOrphanLiveEntryIsRemoved(t *testing.T) {
	// id 0 moves to another address while the old broker is still
	// connected; when the old one leaves, nothing of it may linger.
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "old:1", 1, topics(1, 4, "T")))
	mustRegister(t, m, reg("c1", "broker-a", 0, "new:1", 2, topics(1, 4, "T")))
	require.Len(t, m.LiveBrokers(), 2)
	removed := m.ConnClosed(1)
	require.Equal(t, []Broker{{ClusterName: "c1", BrokerAddr: "old:1", Conn: 1}}, removed)
	require.Len(t, m.LiveBrokers(), 1)
	require.Equal(t, map[int64]string{0: "new:1"}, m.ClusterInfo().BrokerAddrTable["broker-a"].BrokerAddrs)
}

func TestDeleteTopic(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T", "U")))
	mustRegister(t, m, reg("c2", "broker-b", 0, "b:1", 2, topics(1, 4, "T")))

	require.False(t, m.DeleteTopicInCluster("T", "nope"))
	require.False(t, m.DeleteTopicInCluster("nope", "c1"))
	require.True(t, m.DeleteTopicInCluster("T", "c1"))
	route, ok := m.TopicRoute("T")
	require.True(t, ok)
	require.Len(t, route.QueueDatas, 1)
	require.Equal(t, "broker-b", route.QueueDatas[0].BrokerName)
	require.Equal(t, []string{"T"}, m.TopicsByCluster("c2"))
	require.Equal(t, []string{"U"}, m.TopicsByCluster("c1"))

	require.True(t, m.DeleteTopicInCluster("T", "c2"))
	_, ok = m.TopicRoute("T")
	require.False(t, ok, "the last cluster's queues gone, the topic is gone")

	require.True(t, m.DeleteTopic("U"))
	require.False(t, m.DeleteTopic("U"))
	require.Empty(t, m.AllTopics())
}

func TestDeleteTopicWithBrokerRegistration(t *testing.T) {
	m := newManager(t, newFakeClock(), func(o *Options) { o.DeleteTopicWithBrokerRegistration = true })
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T", "U")))
	mustRegister(t, m, reg("c1", "broker-b", 0, "b:1", 2, topics(1, 4, "U")))
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(2, 4, "T", "V")))
	require.Equal(t, []string{"T", "U", "V"}, m.AllTopics())
	route, _ := m.TopicRoute("U")
	require.Len(t, route.QueueDatas, 1, "broker-a dropped U, broker-b still has it")
	require.Equal(t, "broker-b", route.QueueDatas[0].BrokerName)
}

func TestTopicListsAndClusterInfo(t *testing.T) {
	m := newManager(t, newFakeClock())
	tc := topics(1, 4, "Plain", "Unit", "UnitSub", "Both")
	set := func(name string, flag int32) {
		c := tc.TopicConfigTable[name]
		c.TopicSysFlag = flag
		tc.TopicConfigTable[name] = c
	}
	set("Unit", protocol.TopicSysFlagUnit)
	set("UnitSub", protocol.TopicSysFlagUnitSub)
	set("Both", protocol.TopicSysFlagUnit|protocol.TopicSysFlagUnitSub)
	mustRegister(t, m, reg("c1", "broker-b", 0, "b:1", 1, tc))
	mustRegister(t, m, reg("c1", "broker-a", 1, "a2:1", 2, topics(1, 4, "X")))
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 3, topics(1, 4, "X")))
	mustRegister(t, m, reg("c2", "broker-c", 0, "c:1", 4, topics(1, 4, "Y")))

	require.Equal(t, []string{"Both", "Plain", "Unit", "UnitSub", "X", "Y"}, m.AllTopics())
	require.Equal(t, []string{"Both", "Plain", "Unit", "UnitSub", "X"}, m.TopicsByCluster("c1"))
	require.Equal(t, []string{}, m.TopicsByCluster("nope"))
	require.Equal(t, []string{"Both", "Unit"}, m.UnitTopics(UnitTopic))
	require.Equal(t, []string{"Both", "UnitSub"}, m.UnitTopics(HasUnitSubTopic))
	require.Equal(t, []string{"UnitSub"}, m.UnitTopics(HasUnitSubUnUnitTopic))

	sys, addr := m.SystemTopics()
	require.Equal(t, []string{"c1", "broker-a", "broker-b", "c2", "broker-c"}, sys)
	require.Equal(t, "a:1", addr)

	ci := m.ClusterInfo()
	require.Equal(t, map[string][]string{"c1": {"broker-a", "broker-b"}, "c2": {"broker-c"}}, ci.ClusterAddrTable)
	require.Equal(t, map[int64]string{0: "a:1", 1: "a2:1"}, ci.BrokerAddrTable["broker-a"].BrokerAddrs)
	// The result is a copy.
	ci.BrokerAddrTable["broker-a"].BrokerAddrs[5] = "x"
	require.NotContains(t, m.ClusterInfo().BrokerAddrTable["broker-a"].BrokerAddrs, int64(5))
}

func TestWritePermOfBroker(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T", "U")))
	mustRegister(t, m, reg("c1", "broker-b", 0, "b:1", 2, topics(1, 4, "T")))

	require.Equal(t, 2, m.WipeWritePermOfBroker("broker-a"))
	route, _ := m.TopicRoute("T")
	require.EqualValues(t, protocol.PermRead, route.QueueDatas[0].Perm)
	require.EqualValues(t, protocol.PermRead|protocol.PermWrite, route.QueueDatas[1].Perm)
	require.Equal(t, 0, m.WipeWritePermOfBroker("nope"))

	require.Equal(t, 2, m.AddWritePermOfBroker("broker-a"))
	route, _ = m.TopicRoute("T")
	require.EqualValues(t, protocol.PermRead|protocol.PermWrite, route.QueueDatas[0].Perm)
}

func TestRegisterTopic(t *testing.T) {
	m := newManager(t, newFakeClock())
	mustRegister(t, m, reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T")))

	ok, err := m.RegisterTopic("New", []protocol.QueueData{{BrokerName: "broker-x", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}})
	require.ErrorIs(t, err, ErrUnknownBroker)
	require.False(t, ok)
	ok, err = m.RegisterTopic("New", nil)
	require.NoError(t, err)
	require.False(t, ok)

	ok, err = m.RegisterTopic("New", []protocol.QueueData{{BrokerName: "broker-a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}})
	require.NoError(t, err)
	require.True(t, ok)
	route, found := m.TopicRoute("New")
	require.True(t, found)
	require.EqualValues(t, 2, route.QueueDatas[0].ReadQueueNums)

	ok, err = m.RegisterTopic("T", []protocol.QueueData{{BrokerName: "broker-a", ReadQueueNums: 9, WriteQueueNums: 9, Perm: 6}})
	require.NoError(t, err)
	require.False(t, ok, "an existing route is left alone")
}

func TestFilterServersInRoute(t *testing.T) {
	m := newManager(t, newFakeClock())
	r := reg("c1", "broker-a", 0, "a:1", 1, topics(1, 4, "T"))
	r.FilterServerList = []string{"f:1"}
	mustRegister(t, m, r)
	route, _ := m.TopicRoute("T")
	require.Equal(t, map[string][]string{"a:1": {"f:1"}}, route.FilterServerTable)

	r.FilterServerList = []string{}
	mustRegister(t, m, r)
	route, _ = m.TopicRoute("T")
	require.Empty(t, route.FilterServerTable)
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, DefaultOptions().Validate())
	_, err := New(Options{}, slog.Default())
	require.ErrorIs(t, err, ErrInvalidOptions)
}
