package routeinfo

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestTableInvariants drives the table with random registrations,
// unregistrations, connection closes, expiry scans, heartbeats and admin
// operations, and checks after every step that the tables agree with each
// other; at the end every connection closes and nothing may be left.
func TestTableInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		clock := newFakeClock()
		m := newManager(t, clock)
		// Each broker name belongs to one cluster, as in any sane
		// deployment.
		clusterOf := map[string]string{"a": "c1", "b": "c1", "c": "c2"}
		names := []string{"a", "b", "c"}
		addrs := []string{"x:1", "y:1", "z:1", "w:1"}
		allTopics := []string{"T1", "T2", "T3"}

		t.Repeat(map[string]func(*rapid.T){
			"register": func(t *rapid.T) {
				name := rapid.SampledFrom(names).Draw(t, "name")
				var acting *bool
				switch rapid.IntRange(0, 2).Draw(t, "acting") {
				case 1:
					acting = boolPtr(false)
				case 2:
					acting = boolPtr(true)
				}
				tc := topics(rapid.Int64Range(0, 2).Draw(t, "counter"), rapid.Int32Range(0, 8).Draw(t, "queues"),
					rapid.SliceOfDistinct(rapid.SampledFrom(allTopics), func(s string) string { return s }).Draw(t, "topics")...)
				tc.DataVersion.StateVersion = rapid.Int64Range(0, 1).Draw(t, "state")
				r := reg(clusterOf[name], name, rapid.Int64Range(0, 2).Draw(t, "id"),
					rapid.SampledFrom(addrs).Draw(t, "addr"), ConnID(rapid.IntRange(1, 4).Draw(t, "conn")), tc)
				r.EnableActingMaster = acting
				_, err := m.RegisterBroker(r)
				if err != nil && !errors.Is(err, ErrStaleBroker) {
					t.Fatalf("register: %v", err)
				}
			},
			"unregister": func(t *rapid.T) {
				name := rapid.SampledFrom(names).Draw(t, "name")
				m.UnregisterBroker(clusterOf[name], rapid.SampledFrom(addrs).Draw(t, "addr"), name)
			},
			"connClosed": func(t *rapid.T) {
				m.ConnClosed(ConnID(rapid.IntRange(1, 4).Draw(t, "conn")))
			},
			"scan": func(t *rapid.T) {
				clock.Advance(time.Duration(rapid.IntRange(0, 130).Draw(t, "seconds")) * time.Second)
				m.Scan()
			},
			"refresh": func(t *rapid.T) {
				name := rapid.SampledFrom(names).Draw(t, "name")
				m.RefreshBroker(clusterOf[name], rapid.SampledFrom(addrs).Draw(t, "addr"))
			},
			"deleteTopic": func(t *rapid.T) {
				topic := rapid.SampledFrom(allTopics).Draw(t, "topic")
				if rapid.Bool().Draw(t, "inCluster") {
					m.DeleteTopicInCluster(topic, rapid.SampledFrom([]string{"c1", "c2"}).Draw(t, "cluster"))
				} else {
					m.DeleteTopic(topic)
				}
			},
			"wipePerm": func(t *rapid.T) {
				m.WipeWritePermOfBroker(rapid.SampledFrom(names).Draw(t, "name"))
			},
			"": func(t *rapid.T) {
				if err := checkInvariants(m); err != nil {
					t.Fatal(err)
				}
			},
		})

		for conn := ConnID(1); conn <= 4; conn++ {
			m.ConnClosed(conn)
		}
		if err := checkInvariants(m); err != nil {
			t.Fatal(err)
		}
		if len(m.brokers) != 0 || len(m.clusters) != 0 || len(m.topicQueues) != 0 || len(m.live) != 0 || len(m.filterServer) != 0 {
			t.Fatalf("state left after every connection closed: brokers %v clusters %v topics %v live %v",
				m.brokers, m.clusters, m.topicQueues, m.live)
		}
	})
}

func checkInvariants(m *Manager) error {
	if err := checkTables(m); err != nil {
		return err
	}
	// Routes must be safe for the Go client: every broker listed has an
	// address, and every queue's broker is listed.
	for _, topic := range m.AllTopics() {
		route, ok := m.TopicRoute(topic)
		if !ok {
			return fmt.Errorf("topic %s has queues but no route", topic)
		}
		for _, bd := range route.BrokerDatas {
			if len(bd.BrokerAddrs) == 0 {
				return fmt.Errorf("route of %s lists %s without addresses", topic, bd.BrokerName)
			}
		}
		if len(route.QueueDatas) != len(route.BrokerDatas) {
			return fmt.Errorf("route of %s: %d queue datas, %d broker datas", topic, len(route.QueueDatas), len(route.BrokerDatas))
		}
	}
	return nil
}

func checkTables(m *Manager) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	inCluster := map[string]bool{}
	for cluster, names := range m.clusters {
		if len(names) == 0 {
			return fmt.Errorf("cluster %s has an empty name set", cluster)
		}
		for name := range names {
			if m.brokers[name] == nil {
				return fmt.Errorf("cluster %s lists unknown broker %s", cluster, name)
			}
			inCluster[name] = true
		}
	}
	for name, g := range m.brokers {
		if len(g.addrs) == 0 {
			return fmt.Errorf("broker group %s is empty", name)
		}
		if !inCluster[name] {
			return fmt.Errorf("broker group %s is in no cluster", name)
		}
		seen := map[string]bool{}
		for id, addr := range g.addrs {
			if seen[addr] {
				return fmt.Errorf("broker group %s holds %s twice", name, addr)
			}
			seen[addr] = true
			if m.live[brokerAddrKey{g.cluster, addr}] == nil {
				return fmt.Errorf("broker %s id %d at %s has no live entry: it would never expire", name, id, addr)
			}
		}
	}
	for topic, qds := range m.topicQueues {
		if len(qds) == 0 {
			return fmt.Errorf("topic %s has no queue data", topic)
		}
		for name, qd := range qds {
			if m.brokers[name] == nil {
				return fmt.Errorf("topic %s has queues on unknown broker %s", topic, name)
			}
			if qd.BrokerName != name {
				return fmt.Errorf("topic %s: queue data of %s filed under %s", topic, qd.BrokerName, name)
			}
		}
	}
	for key := range m.filterServer {
		if m.live[key] == nil {
			return fmt.Errorf("filter servers of dead broker %v", key)
		}
	}
	return nil
}
