package topic

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
)

// Errors returned by the Manager; each wraps one of these.
var (
	ErrInvalidTopic               = errors.New("topic: invalid topic name")
	ErrInvalidConfig              = errors.New("topic: invalid topic config")
	ErrNotFound                   = errors.New("topic: no such topic")
	ErrAutoCreateDisabled         = errors.New("topic: automatic topic creation is disabled")
	ErrDefaultTopicNotFound       = errors.New("topic: default topic does not exist")
	ErrDefaultTopicNotInheritable = errors.New("topic: default topic has no INHERIT permission")
	ErrPersist                    = errors.New("topic: cannot save the topic table")
)

// table is one immutable version of the topic table, with the broker
// permission it is registered under.
type table struct {
	topics     map[string]protocol.TopicConfig
	version    protocol.DataVersion
	brokerPerm int32
}

// Manager is the broker's topic table. All methods are safe for
// concurrent use.
type Manager struct {
	opts   Options
	log    *slog.Logger
	file   *configfile.File
	system map[string]bool // this broker's own system topics (cluster, broker, reply, trace)

	cur atomic.Pointer[table]

	writeMu sync.Mutex // serializes changes: clone, save, publish

	listenMu  sync.Mutex
	listeners []func()
}

// Open loads dir/topics.json (dir is the broker's config directory,
// configfile.Dir(storePathRootDir)) over the system topics. A nil log
// discards.
func Open(dir string, opts Options, log *slog.Logger) (*Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	file, err := configfile.Open(dir, configfile.TopicsFile, opts.FS, log)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, log: log, file: file}
	m.system = map[string]bool{
		opts.ClusterName: true, opts.BrokerName: true,
		opts.ClusterName + ReplyTopicSuffix: true, opts.TraceTopicName: true,
	}

	topics := make(map[string]protocol.TopicConfig)
	for _, cfg := range systemTopicConfigs(opts) {
		topics[cfg.TopicName] = cfg
	}
	version := protocol.DataVersion{Timestamp: opts.Now().UnixMilli()}
	found, err := file.Load(func(b []byte) error {
		loaded, v, err := decodeFile(b, log)
		if err != nil {
			return err
		}
		maps.Copy(topics, loaded)
		if v != nil {
			version = *v
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("topic: load: %w", err)
	}
	log.Info("topic table loaded", "topics", len(topics), "fromFile", found, "dataVersion", version)
	m.cur.Store(&table{topics: topics, version: version, brokerPerm: opts.BrokerPermission})
	return m, nil
}

// systemTopicConfigs returns the topics created at start (package comment).
func systemTopicConfigs(o Options) []protocol.TopicConfig {
	const rw = protocol.PermRead | protocol.PermWrite
	mk := func(name string, queues, perm int32) protocol.TopicConfig {
		c := protocol.DefaultTopicConfig(name)
		c.ReadQueueNums, c.WriteQueueNums, c.Perm = queues, queues, perm
		return c
	}
	clusterPerm, brokerPerm := int32(protocol.PermInherit), int32(protocol.PermInherit)
	if o.ClusterTopicEnable {
		clusterPerm |= rw
	}
	if o.BrokerTopicEnable {
		brokerPerm |= rw
	}
	out := []protocol.TopicConfig{mk(SelfTestTopic, 1, rw)}
	if o.AutoCreateTopicEnable {
		out = append(out, mk(AutoCreateTopicKey, o.DefaultTopicQueueNums, rw|protocol.PermInherit))
	}
	return append(out,
		mk(BenchmarkTopic, 1024, rw),
		mk(o.ClusterName, 16, clusterPerm),
		mk(o.BrokerName, 1, brokerPerm),
		mk(OffsetMovedEventTopic, 1, rw),
		mk(ScheduleTopic, ScheduleQueueNums, rw),
		mk(o.TraceTopicName, 1, rw),
		mk(o.ClusterName+ReplyTopicSuffix, 1, rw),
		mk(TransHalfTopic, 1, rw),
		mk(TransOpHalfTopic, 1, rw),
	)
}

// IsSystemTopic reports whether topic is a system topic on this broker:
// the package-level IsSystemTopic set plus the cluster, broker-name, reply
// and trace topics.
func (m *Manager) IsSystemTopic(topic string) bool {
	return IsSystemTopic(topic) || m.system[topic]
}

// Get returns a topic's configuration.
func (m *Manager) Get(topic string) (protocol.TopicConfig, bool) {
	cfg, ok := m.cur.Load().topics[topic]
	return cloneConfig(cfg), ok
}

// Snapshot returns a copy of the table and its version.
func (m *Manager) Snapshot() (map[string]protocol.TopicConfig, protocol.DataVersion) {
	t := m.cur.Load()
	out := make(map[string]protocol.TopicConfig, len(t.topics))
	for name, cfg := range t.topics {
		out[name] = cloneConfig(cfg)
	}
	return out, t.version
}

// DataVersion returns the table's current version.
func (m *Manager) DataVersion() protocol.DataVersion { return m.cur.Load().version }

// Topics returns the names of all topics, sorted.
func (m *Manager) Topics() []string {
	return slices.Sorted(maps.Keys(m.cur.Load().topics))
}

// RegistrationWrapper returns the table as the broker registers it with
// the NameServers: when the broker permission lacks read or write, each
// topic's permission is masked by it (Java's registerBrokerAll).
func (m *Manager) RegistrationWrapper() protocol.TopicConfigSerializeWrapper {
	t := m.cur.Load()
	topics := make(map[string]protocol.TopicConfig, len(t.topics))
	mask := t.brokerPerm&protocol.PermRead == 0 || t.brokerPerm&protocol.PermWrite == 0
	for name, cfg := range t.topics {
		cfg = cloneConfig(cfg)
		if mask {
			cfg.Perm &= t.brokerPerm
		}
		topics[name] = cfg
	}
	return protocol.TopicConfigSerializeWrapper{TopicConfigTable: topics, DataVersion: t.version}
}

// BrokerPermission returns the current broker permission.
func (m *Manager) BrokerPermission() int32 { return m.cur.Load().brokerPerm }

// SetBrokerPermission changes the broker permission (wipe or add write
// permission, updateBrokerConfig). It bumps the DataVersion so the
// NameServers take the new permissions, and calls the listeners. The
// permission itself is not saved: after a restart it is
// Options.BrokerPermission again, as in Java.
func (m *Manager) SetBrokerPermission(perm int32) error {
	if perm&^permMask != 0 {
		return fmt.Errorf("%w: broker permission %d has unknown bits", ErrInvalidConfig, perm)
	}
	return m.update(func(t *table) (bool, error) {
		if t.brokerPerm == perm {
			return false, nil
		}
		t.brokerPerm = perm
		m.log.Info("broker permission changed", "perm", protocol.PermString(perm))
		return true, nil
	})
}

// OnChange registers fn to be called after every change, outside the
// Manager's locks, in the goroutine that made the change — which may be a
// send (automatic creation). fn must not block; trigger the registration
// asynchronously.
func (m *Manager) OnChange(fn func()) {
	m.listenMu.Lock()
	m.listeners = append(m.listeners, fn)
	m.listenMu.Unlock()
}

// CreateOrUpdate creates a topic or replaces its configuration (admin
// UPDATE_AND_CREATE_TOPIC). An empty filter type means SINGLE_TAG. A
// configuration equal to the current one changes nothing.
func (m *Manager) CreateOrUpdate(cfg protocol.TopicConfig) error {
	if cfg.TopicFilterType == "" {
		cfg.TopicFilterType = protocol.TopicFilterSingleTag
	}
	if err := validateConfig(cfg); err != nil {
		return err
	}
	cfg = cloneConfig(cfg)
	return m.update(func(t *table) (bool, error) {
		old, ok := t.topics[cfg.TopicName]
		if ok && equalConfig(old, cfg) {
			return false, nil
		}
		t.topics[cfg.TopicName] = cfg
		if ok {
			m.log.Info("topic updated", "topic", cfg.TopicName, "old", old, "new", cfg)
		} else {
			m.log.Info("topic created", "topic", cfg.TopicName, "config", cfg)
		}
		return true, nil
	})
}

// Delete removes a topic; ErrNotFound if it does not exist.
func (m *Manager) Delete(topic string) error {
	return m.update(func(t *table) (bool, error) {
		if _, ok := t.topics[topic]; !ok {
			return false, fmt.Errorf("%w: %q", ErrNotFound, clip(topic))
		}
		delete(t.topics, topic)
		m.log.Info("topic deleted", "topic", topic)
		return true, nil
	})
}

// update runs fn on a private copy of the table; when fn reports a
// change, the copy gets the next DataVersion, is saved, and then replaces
// the table, and the listeners run. Changes are serialized.
func (m *Manager) update(fn func(next *table) (changed bool, err error)) error {
	m.writeMu.Lock()
	old := m.cur.Load()
	next := &table{topics: maps.Clone(old.topics), brokerPerm: old.brokerPerm}
	changed, err := fn(next)
	if err != nil || !changed {
		m.writeMu.Unlock()
		return err
	}
	next.version = old.version.Next(m.opts.Now().UnixMilli())
	if err := m.save(next); err != nil {
		m.writeMu.Unlock()
		m.log.Error("topic change not applied: save failed", "err", err)
		return err
	}
	m.cur.Store(next)
	m.writeMu.Unlock()

	m.listenMu.Lock()
	listeners := slices.Clone(m.listeners)
	m.listenMu.Unlock()
	for _, fn := range listeners {
		fn()
	}
	return nil
}

func (m *Manager) save(t *table) error {
	b, err := encodeFile(t)
	if err == nil {
		err = m.file.Save(b)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return nil
}

func cloneConfig(c protocol.TopicConfig) protocol.TopicConfig {
	if c.Attributes != nil {
		c.Attributes = maps.Clone(c.Attributes)
	}
	return c
}

func equalConfig(a, b protocol.TopicConfig) bool {
	return a.TopicName == b.TopicName && a.ReadQueueNums == b.ReadQueueNums &&
		a.WriteQueueNums == b.WriteQueueNums && a.Perm == b.Perm &&
		a.TopicFilterType == b.TopicFilterType && a.TopicSysFlag == b.TopicSysFlag &&
		a.Order == b.Order && maps.Equal(a.Attributes, b.Attributes)
}

// validateConfig checks what a topic config may hold.
func validateConfig(c protocol.TopicConfig) error {
	if err := ValidateTopic(c.TopicName); err != nil {
		return err
	}
	switch {
	case c.ReadQueueNums < 0 || c.ReadQueueNums > MaxQueueNums:
		return fmt.Errorf("%w: %s: readQueueNums %d outside 0..%d", ErrInvalidConfig, c.TopicName, c.ReadQueueNums, MaxQueueNums)
	case c.WriteQueueNums < 0 || c.WriteQueueNums > MaxQueueNums:
		return fmt.Errorf("%w: %s: writeQueueNums %d outside 0..%d", ErrInvalidConfig, c.TopicName, c.WriteQueueNums, MaxQueueNums)
	case c.Perm&^permMask != 0:
		return fmt.Errorf("%w: %s: perm %d has unknown bits", ErrInvalidConfig, c.TopicName, c.Perm)
	case c.TopicFilterType != protocol.TopicFilterSingleTag && c.TopicFilterType != protocol.TopicFilterMultiTag:
		return fmt.Errorf("%w: %s: topicFilterType %q", ErrInvalidConfig, c.TopicName, clip(c.TopicFilterType))
	}
	return nil
}
