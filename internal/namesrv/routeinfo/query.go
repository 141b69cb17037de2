package routeinfo

import (
	"slices"
	"strings"

	"github.com/gorocket/gorocket/internal/protocol"
)

// TopicRoute returns the route of topic: its queue data by broker group
// and those groups' addresses, both sorted by broker name. ok is false
// when the topic has no queue data or none of its groups is known, which
// the NameServer answers TOPIC_NOT_EXIST. The result is a copy.
func (m *Manager) TopicRoute(topic string) (route *protocol.TopicRouteData, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	qds := m.topicQueues[topic]
	if len(qds) == 0 {
		return nil, false
	}
	route = &protocol.TopicRouteData{
		QueueDatas:        make([]protocol.QueueData, 0, len(qds)),
		BrokerDatas:       make([]protocol.BrokerData, 0, len(qds)),
		FilterServerTable: map[string][]string{},
	}
	for _, name := range sortedKeys(qds) {
		route.QueueDatas = append(route.QueueDatas, qds[name])
		g := m.brokers[name]
		if g == nil {
			continue
		}
		bd := g.data()
		route.BrokerDatas = append(route.BrokerDatas, bd)
		for _, addr := range bd.BrokerAddrs {
			if fs := m.filterServer[brokerAddrKey{g.cluster, addr}]; len(fs) > 0 {
				route.FilterServerTable[addr] = slices.Clone(fs)
			}
		}
	}
	if len(route.BrokerDatas) == 0 {
		return nil, false
	}
	if m.opts.SupportActingMaster {
		actAsMaster(route)
	}
	return route, true
}

// actAsMaster names the lowest-id slave of each group without master as
// its acting master (id 0), for groups that enabled acting master and
// whose queues of this topic lost their write permission.
func actAsMaster(route *protocol.TopicRouteData) {
	for i := range route.BrokerDatas {
		bd := &route.BrokerDatas[i]
		if len(bd.BrokerAddrs) == 0 || bd.BrokerAddrs[protocol.MasterID] != "" || !bd.EnableActingMaster {
			continue
		}
		for _, qd := range route.QueueDatas {
			if qd.BrokerName != bd.BrokerName {
				continue
			}
			if qd.Perm&protocol.PermWrite == 0 {
				minID := int64(-1)
				for id := range bd.BrokerAddrs {
					if minID < 0 || id < minID {
						minID = id
					}
				}
				bd.BrokerAddrs[protocol.MasterID] = bd.BrokerAddrs[minID]
				delete(bd.BrokerAddrs, minID)
			}
			break
		}
	}
}

// AllTopics lists every topic with a route, sorted.
func (m *Manager) AllTopics() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedKeys(m.topicQueues)
}

// TopicsByCluster lists the topics with queues on a broker group of
// cluster, sorted. An unknown cluster has none.
func (m *Manager) TopicsByCluster(cluster string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := m.clusters[cluster]
	out := []string{}
	for topic, qds := range m.topicQueues {
		for name := range names {
			if _, ok := qds[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// SystemTopics returns what GET_SYSTEM_TOPIC_LIST_FROM_NS answers: every
// cluster name and broker name (brokers create a topic named after each),
// and the address of one broker, where the caller can ask for the rest.
func (m *Manager) SystemTopics() (topics []string, brokerAddr string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	topics = []string{}
	for _, cluster := range sortedKeys(m.clusters) {
		topics = append(topics, cluster)
		topics = append(topics, sortedKeys(m.clusters[cluster])...)
	}
	for _, name := range sortedKeys(m.brokers) {
		g := m.brokers[name]
		if id, ok := g.minID(); ok {
			brokerAddr = g.addrs[id]
			break
		}
	}
	return topics, brokerAddr
}

// UnitKind selects a unit topic list.
type UnitKind int

// Unit topic kinds for UnitTopics.
const (
	// UnitTopic: topics flagged UNIT (GET_UNIT_TOPIC_LIST).
	UnitTopic UnitKind = iota
	// HasUnitSubTopic: topics flagged UNIT_SUB (GET_HAS_UNIT_SUB_TOPIC_LIST).
	HasUnitSubTopic
	// HasUnitSubUnUnitTopic: topics flagged UNIT_SUB but not UNIT
	// (GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST).
	HasUnitSubUnUnitTopic
)

// UnitTopics lists the topics of one unit kind, sorted, judging each topic
// by the sysflag of its first queue data (by broker name), as Java judges
// by the first it finds.
func (m *Manager) UnitTopics(kind UnitKind) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := []string{}
	for topic, qds := range m.topicQueues {
		if len(qds) == 0 {
			continue
		}
		flag := qds[sortedKeys(qds)[0]].TopicSysFlag
		unit := flag&protocol.TopicSysFlagUnit != 0
		unitSub := flag&protocol.TopicSysFlagUnitSub != 0
		var match bool
		switch kind {
		case UnitTopic:
			match = unit
		case HasUnitSubTopic:
			match = unitSub
		case HasUnitSubUnUnitTopic:
			match = unitSub && !unit
		}
		if match {
			out = append(out, topic)
		}
	}
	slices.Sort(out)
	return out
}

// ClusterInfo returns the broker groups by name and the broker names by
// cluster (GET_BROKER_CLUSTER_INFO). The result is a copy.
func (m *Manager) ClusterInfo() protocol.ClusterInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ci := protocol.ClusterInfo{
		BrokerAddrTable:  make(map[string]protocol.BrokerData, len(m.brokers)),
		ClusterAddrTable: make(map[string][]string, len(m.clusters)),
	}
	for name, g := range m.brokers {
		ci.BrokerAddrTable[name] = g.data()
	}
	for cluster, names := range m.clusters {
		ci.ClusterAddrTable[cluster] = sortedKeys(names)
	}
	return ci
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}
