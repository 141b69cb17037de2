package routeinfo

import (
	"fmt"

	"github.com/gorocket/gorocket/internal/protocol"
)

// DeleteTopic removes topic's route from every cluster. It reports whether
// the topic had one. A broker that still has the topic puts it back with
// its next registration.
func (m *Manager) DeleteTopic(topic string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.topicQueues[topic]
	delete(m.topicQueues, topic)
	if ok {
		m.log.Info("topic deleted", "topic", topic)
	}
	return ok
}

// DeleteTopicInCluster removes topic's queues on the broker groups of
// cluster, and the topic when no queue is left. It reports whether any
// queue was removed.
func (m *Manager) DeleteTopicInCluster(topic, cluster string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	qds := m.topicQueues[topic]
	if qds == nil {
		return false
	}
	removed := false
	for name := range m.clusters[cluster] {
		if _, ok := qds[name]; ok {
			delete(qds, name)
			removed = true
		}
	}
	if len(qds) == 0 {
		delete(m.topicQueues, topic)
	}
	if removed {
		m.log.Info("topic deleted in cluster", "topic", topic, "cluster", cluster)
	}
	return removed
}

// RegisterTopic creates a route for topic from queue data (what
// REGISTER_TOPIC_IN_NAMESRV carries). A topic that has a route already is
// left alone, and nothing is registered when a queue names a broker group
// the table does not know. It reports whether the route was created.
func (m *Manager) RegisterTopic(topic string, queueDatas []protocol.QueueData) (bool, error) {
	if len(queueDatas) == 0 {
		return false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.topicQueues[topic]; ok {
		return false, nil
	}
	qds := make(map[string]protocol.QueueData, len(queueDatas))
	for _, qd := range queueDatas {
		if m.brokers[qd.BrokerName] == nil {
			return false, fmt.Errorf("%w: %q in the route of topic %q", ErrUnknownBroker, qd.BrokerName, topic)
		}
		qds[qd.BrokerName] = qd
	}
	m.topicQueues[topic] = qds
	m.log.Info("topic registered", "topic", topic, "brokers", len(qds))
	return true, nil
}

// WipeWritePermOfBroker removes the write permission of every queue of
// broker group name, so that producers move away from it (before taking
// it down). It returns the number of topics changed.
func (m *Manager) WipeWritePermOfBroker(name string) int {
	return m.updatePerm(name, func(perm int32) int32 { return perm &^ protocol.PermWrite })
}

// AddWritePermOfBroker makes every queue of broker group name readable
// and writable again, as Java does. It returns the number of topics
// changed.
func (m *Manager) AddWritePermOfBroker(name string) int {
	return m.updatePerm(name, func(int32) int32 { return protocol.PermRead | protocol.PermWrite })
}

// updatePerm replaces the perm of each of the group's queues with f(perm)
// and returns the number of topics it touched.
func (m *Manager) updatePerm(name string, f func(perm int32) int32) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, qds := range m.topicQueues {
		if qd, ok := qds[name]; ok {
			qd.Perm = f(qd.Perm)
			qds[name] = qd
			n++
		}
	}
	return n
}
