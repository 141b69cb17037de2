package routeinfo

import (
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Broker names one broker: its group, id and address.
type Broker struct {
	ClusterName string
	BrokerName  string // empty when the address is in no group any more
	BrokerID    int64
	BrokerAddr  string
	Conn        ConnID
}

// LiveBroker describes an entry of the live table.
type LiveBroker struct {
	Broker
	LastUpdate   time.Time
	Timeout      time.Duration
	DataVersion  protocol.DataVersion
	HAServerAddr string
}

// UnregisterBroker removes the broker at addr in cluster, as
// UNREGISTER_BROKER asks. It reports whether the broker was known.
//
// The address leaves every broker group of the cluster that holds it, not
// only the group the request names (which is used for logging): liveness
// is kept per address, so an address left in a group without its live
// entry would never expire.
func (m *Manager) UnregisterBroker(cluster, addr, name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := brokerAddrKey{cluster, addr}
	_, alive := m.live[key]
	removed := m.removeBrokerLocked(key, 0)
	known := alive || removed[0].BrokerName != ""
	if known {
		m.log.Info("broker unregistered", "cluster", cluster, "broker", name, "addr", addr)
	}
	return known
}

// ConnClosed removes every broker registered over conn, unless it has
// registered again over another connection since. It returns the brokers
// removed.
func (m *Manager) ConnClosed(conn ConnID) []Broker {
	if conn == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Broker
	for key, l := range m.live {
		if l.conn != conn {
			continue
		}
		removed := m.removeBrokerLocked(key, conn)
		for _, b := range removed {
			m.log.Info("broker connection closed, broker removed", "cluster", key.cluster,
				"broker", b.BrokerName, "id", b.BrokerID, "addr", key.addr)
		}
		out = append(out, removed...)
	}
	return out
}

// Scan removes the brokers whose last heartbeat is older than their
// timeout and returns them; the caller closes their connections, as Java
// does.
func (m *Manager) Scan() []Broker {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Broker
	for key, l := range m.live {
		if now.Sub(l.lastUpdate) <= l.timeout {
			continue
		}
		removed := m.removeBrokerLocked(key, l.conn)
		for _, b := range removed {
			m.log.Warn("broker expired", "cluster", key.cluster, "broker", b.BrokerName, "id", b.BrokerID,
				"addr", key.addr, "silentFor", now.Sub(l.lastUpdate), "timeout", l.timeout)
		}
		out = append(out, removed...)
	}
	return out
}

// removeBrokerLocked drops key from the live table and its address from
// every broker group of its cluster. It returns one Broker per group the
// address left, or a single one without BrokerName when it was in none.
func (m *Manager) removeBrokerLocked(key brokerAddrKey, conn ConnID) []Broker {
	delete(m.live, key)
	delete(m.filterServer, key)
	var out []Broker
	for _, name := range sortedKeys(m.clusters[key.cluster]) {
		g := m.brokers[name]
		if g == nil {
			continue
		}
		for id, addr := range g.addrs {
			if addr == key.addr {
				delete(g.addrs, id)
				out = append(out, Broker{ClusterName: key.cluster, BrokerName: name, BrokerID: id, BrokerAddr: addr, Conn: conn})
			}
		}
	}
	for _, b := range out {
		m.groupShrunkLocked(b.BrokerName)
	}
	if len(out) == 0 {
		out = append(out, Broker{ClusterName: key.cluster, BrokerAddr: key.addr, Conn: conn})
	}
	return out
}

// groupShrunkLocked drops the group name when it has no member left,
// with its queues and its cluster membership, and wipes its write
// permission when it lost its master and enabled acting master.
func (m *Manager) groupShrunkLocked(name string) {
	g := m.brokers[name]
	if g == nil {
		return
	}
	if len(g.addrs) > 0 {
		if g.enableActingMaster && g.addrs[protocol.MasterID] == "" {
			// The group lost its master: its queues are read-only until a
			// master (or an acting one) registers again.
			for _, qds := range m.topicQueues {
				if qd, ok := qds[name]; ok {
					qd.Perm &^= protocol.PermWrite
					qds[name] = qd
				}
			}
		}
		return
	}
	delete(m.brokers, name)
	// The name may sit in several clusters' sets when its members
	// registered under different cluster names.
	for cluster, names := range m.clusters {
		delete(names, name)
		if len(names) == 0 {
			delete(m.clusters, cluster)
		}
	}
	for topic, qds := range m.topicQueues {
		delete(qds, name)
		if len(qds) == 0 {
			delete(m.topicQueues, topic)
		}
	}
	m.log.Info("broker group removed", "cluster", g.cluster, "broker", name)
}

// RefreshBroker records a heartbeat that carries no registration
// (QUERY_DATA_VERSION, BROKER_HEARTBEAT). It reports whether the broker
// is alive.
func (m *Manager) RefreshBroker(cluster, addr string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.live[brokerAddrKey{cluster, addr}]
	if l == nil {
		return false
	}
	l.lastUpdate = m.now()
	return true
}

// BrokerDataVersion returns the topic-config DataVersion the broker
// registered last, and whether it is alive.
func (m *Manager) BrokerDataVersion(cluster, addr string) (protocol.DataVersion, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.live[brokerAddrKey{cluster, addr}]
	if l == nil {
		return protocol.DataVersion{}, false
	}
	return l.dataVersion, true
}

// LiveBrokers lists the live table.
func (m *Manager) LiveBrokers() []LiveBroker {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]LiveBroker, 0, len(m.live))
	for key, l := range m.live {
		out = append(out, LiveBroker{
			Broker:     m.brokerLocked(key, l.conn),
			LastUpdate: l.lastUpdate, Timeout: l.timeout,
			DataVersion: l.dataVersion, HAServerAddr: l.haServerAddr,
		})
	}
	return out
}

// brokerLocked describes the live broker key: the first group of its
// cluster (by name) that holds its address.
func (m *Manager) brokerLocked(key brokerAddrKey, conn ConnID) Broker {
	b := Broker{ClusterName: key.cluster, BrokerAddr: key.addr, Conn: conn}
	for _, name := range sortedKeys(m.clusters[key.cluster]) {
		if g := m.brokers[name]; g != nil {
			for id, addr := range g.addrs {
				if addr == key.addr {
					b.BrokerName, b.BrokerID = name, id
					return b
				}
			}
		}
	}
	return b
}
