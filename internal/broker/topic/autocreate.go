package topic

import (
	"fmt"

	"github.com/gorocket/gorocket/internal/protocol"
)

// CreateInSendMessage returns the configuration of topic, creating it from
// defaultTopic when it does not exist (Java's
// createTopicInSendMessageMethod; rules in the package comment). created
// reports whether this call created it. A clientDefaultQueueNums of zero
// or less stands for Options.DefaultTopicQueueNums (Java would create a
// topic without queues). Refusals are logged at debug level only: the
// send processor answers the producer and owns rate-limited logging.
func (m *Manager) CreateInSendMessage(topic, defaultTopic, remoteAddr string, clientDefaultQueueNums, topicSysFlag int32) (protocol.TopicConfig, bool, error) {
	if cfg, ok := m.Get(topic); ok {
		return cfg, false, nil
	}
	if err := ValidateTopic(topic); err != nil {
		return protocol.TopicConfig{}, false, err
	}
	if clientDefaultQueueNums <= 0 {
		clientDefaultQueueNums = m.opts.DefaultTopicQueueNums
	}
	var (
		out     protocol.TopicConfig
		created bool
	)
	err := m.update(func(t *table) (bool, error) {
		if cfg, ok := t.topics[topic]; ok { // created by a concurrent send
			out = cloneConfig(cfg)
			return false, nil
		}
		def, ok := t.topics[defaultTopic]
		switch {
		case !ok:
			return false, fmt.Errorf("%w: %q (topic %q, producer %s)", ErrDefaultTopicNotFound, clip(defaultTopic), topic, remoteAddr)
		case defaultTopic == AutoCreateTopicKey && !m.opts.AutoCreateTopicEnable:
			return false, fmt.Errorf("%w (topic %q, producer %s)", ErrAutoCreateDisabled, topic, remoteAddr)
		case def.Perm&protocol.PermInherit == 0:
			return false, fmt.Errorf("%w: %q perm %s (topic %q, producer %s)", ErrDefaultTopicNotInheritable,
				defaultTopic, protocol.PermString(def.Perm), topic, remoteAddr)
		}
		queues := min(clientDefaultQueueNums, def.WriteQueueNums)
		out = protocol.TopicConfig{
			TopicName:       topic,
			ReadQueueNums:   queues,
			WriteQueueNums:  queues,
			Perm:            def.Perm &^ protocol.PermInherit,
			TopicFilterType: def.TopicFilterType,
			TopicSysFlag:    topicSysFlag,
		}
		t.topics[topic] = out
		created = true
		m.log.Info("topic created on send", "topic", topic, "defaultTopic", defaultTopic, "producer", remoteAddr,
			"queues", queues, "perm", protocol.PermString(out.Perm))
		return true, nil
	})
	if err != nil {
		m.log.Debug("topic not created on send", "err", err)
		return protocol.TopicConfig{}, false, err
	}
	return out, created, nil
}

// CreateInSendMessageBack returns the configuration of a retry or
// dead-letter topic, creating it with queueNums queues, perm and
// topicSysFlag when it does not exist (Java's
// createTopicInSendMessageBackMethod).
func (m *Manager) CreateInSendMessageBack(topic string, queueNums, perm, topicSysFlag int32) (protocol.TopicConfig, error) {
	if cfg, ok := m.Get(topic); ok {
		return cfg, nil
	}
	cfg := protocol.TopicConfig{
		TopicName:       topic,
		ReadQueueNums:   queueNums,
		WriteQueueNums:  queueNums,
		Perm:            perm,
		TopicFilterType: protocol.TopicFilterSingleTag,
		TopicSysFlag:    topicSysFlag,
	}
	if err := validateConfig(cfg); err != nil {
		return protocol.TopicConfig{}, err
	}
	if queueNums < 1 {
		return protocol.TopicConfig{}, fmt.Errorf("%w: %s: %d queues", ErrInvalidConfig, topic, queueNums)
	}
	out := cfg
	err := m.update(func(t *table) (bool, error) {
		if existing, ok := t.topics[topic]; ok {
			out = cloneConfig(existing)
			return false, nil
		}
		t.topics[topic] = cfg
		m.log.Info("topic created on send-back", "topic", topic, "queues", queueNums, "perm", protocol.PermString(perm))
		return true, nil
	})
	if err != nil {
		return protocol.TopicConfig{}, err
	}
	return out, nil
}
