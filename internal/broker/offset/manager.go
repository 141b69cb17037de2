package offset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("offset: manager closed")

// Options configure a Manager.
type Options struct {
	// FlushConsumerOffsetInterval is the period of the background Persist,
	// in ms (Java's key and unit).
	FlushConsumerOffsetInterval int64 `prop:"flushConsumerOffsetInterval"`

	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS `prop:"-"`
	// Now is the clock for DataVersion timestamps (nil: time.Now).
	Now func() time.Time `prop:"-"`
}

// DefaultOptions returns Java's defaults.
func DefaultOptions() Options {
	return Options{FlushConsumerOffsetInterval: 5000}
}

// Validate reports invalid settings.
func (o *Options) Validate() error {
	if o.FlushConsumerOffsetInterval <= 0 {
		return fmt.Errorf("offset: flushConsumerOffsetInterval %d must be positive", o.FlushConsumerOffsetInterval)
	}
	return nil
}

// key names one table entry: topic@group.
type key struct{ topic, group string }

func (k key) String() string { return k.topic + "@" + k.group }

// entry is one group's offsets on one topic.
type entry struct {
	mu      sync.Mutex
	offsets map[int32]int64
}

// Manager is the consumer offset table.
type Manager struct {
	opts Options
	log  *slog.Logger
	file *configfile.File

	mu      sync.RWMutex
	table   map[key]*entry
	version protocol.DataVersion

	changes   atomic.Uint64 // bumped after every change
	persistMu sync.Mutex    // serializes Persist
	persisted uint64        // changes at the last successful save; under persistMu

	loopMu  sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// Open loads dir/consumerOffset.json (dir is the broker's config
// directory, configfile.Dir(storePathRootDir)). A nil log discards.
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
	file, err := configfile.Open(dir, configfile.ConsumerOffsetFile, opts.FS, log)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		opts: opts, log: log, file: file,
		table:   make(map[key]*entry),
		version: protocol.DataVersion{Timestamp: opts.Now().UnixMilli()},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if _, err := file.Load(func(b []byte) error {
		table, version, err := decodeFile(b, log)
		if err != nil {
			return err
		}
		m.table = table
		if version != nil {
			m.version = *version
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("offset: load: %w", err)
	}
	log.Info("consumer offsets loaded", "entries", len(m.table))
	return m, nil
}

// validName reports whether s can be half of a topic@group key.
func validName(s string) bool { return s != "" && strings.IndexByte(s, '@') < 0 }

// Commit records that group will next consume offset in topic's queue
// queueID. It is cheap and never blocks on I/O. Commits with an empty
// name, a name containing '@', or a negative queue id or offset are
// ignored (the broker validates requests before; these would corrupt the
// file).
func (m *Manager) Commit(clientHost, group, topic string, queueID int32, offset int64) {
	if !validName(group) || !validName(topic) || queueID < 0 || offset < 0 {
		m.log.Debug("offset commit ignored", "client", clientHost, "group", group, "topic", topic, "queueId", queueID, "offset", offset)
		return
	}
	e := m.entryFor(key{topic, group})
	e.mu.Lock()
	old, had := e.offsets[queueID]
	e.offsets[queueID] = offset
	e.mu.Unlock()
	m.changes.Add(1)
	if had && offset < old {
		m.log.Debug("offset committed backwards", "client", clientHost, "group", group, "topic", topic,
			"queueId", queueID, "offset", offset, "stored", old)
	}
}

// entryFor returns the entry for k, creating it.
func (m *Manager) entryFor(k key) *entry {
	m.mu.RLock()
	e := m.table[k]
	m.mu.RUnlock()
	if e != nil {
		return e
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e = m.table[k]; e == nil {
		e = &entry{offsets: make(map[int32]int64, 8)}
		m.table[k] = e
	}
	return e
}

// Query returns group's committed offset in topic's queue queueID.
func (m *Manager) Query(group, topic string, queueID int32) (int64, bool) {
	m.mu.RLock()
	e := m.table[key{topic, group}]
	m.mu.RUnlock()
	if e == nil {
		return 0, false
	}
	e.mu.Lock()
	off, ok := e.offsets[queueID]
	e.mu.Unlock()
	return off, ok
}

// QueueOffsets returns a copy of group's offsets on topic by queue id, or
// nil if it has none.
func (m *Manager) QueueOffsets(group, topic string) map[int32]int64 {
	m.mu.RLock()
	e := m.table[key{topic, group}]
	m.mu.RUnlock()
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.offsets)
}

// TopicsOfGroup returns the topics group has offsets on, sorted.
func (m *Manager) TopicsOfGroup(group string) []string {
	return m.collect(func(k key) (string, bool) { return k.topic, k.group == group })
}

// GroupsOfTopic returns the groups with offsets on topic, sorted.
func (m *Manager) GroupsOfTopic(topic string) []string {
	return m.collect(func(k key) (string, bool) { return k.group, k.topic == topic })
}

func (m *Manager) collect(pick func(key) (string, bool)) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for k := range m.table {
		if s, ok := pick(k); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// All returns a copy of the whole table keyed "topic@group", the form of
// GET_ALL_CONSUMER_OFFSET and consumerOffset.json.
func (m *Manager) All() map[string]map[int32]int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]map[int32]int64, len(m.table))
	for k, e := range m.table {
		e.mu.Lock()
		out[k.String()] = maps.Clone(e.offsets)
		e.mu.Unlock()
	}
	return out
}

// DataVersion returns the version bumped by resets, clones and deletes.
func (m *Manager) DataVersion() protocol.DataVersion {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

// ResetOffset sets group's offset in topic's queue queueID (admin reset
// for a group that is offline, RESET_CONSUMER_CLIENT_OFFSET's broker
// side). Invalid arguments are ignored as in Commit.
func (m *Manager) ResetOffset(group, topic string, queueID int32, offset int64) {
	if !validName(group) || !validName(topic) || queueID < 0 || offset < 0 {
		m.log.Warn("offset reset ignored", "group", group, "topic", topic, "queueId", queueID, "offset", offset)
		return
	}
	e := m.entryFor(key{topic, group})
	e.mu.Lock()
	e.offsets[queueID] = offset
	e.mu.Unlock()
	m.log.Info("offset reset", "group", group, "topic", topic, "queueId", queueID, "offset", offset)
	m.structuralChange()
}

// CloneOffset copies srcGroup's offsets on topic to dstGroup, replacing
// dstGroup's. Nothing happens if srcGroup has none.
func (m *Manager) CloneOffset(srcGroup, dstGroup, topic string) {
	if !validName(dstGroup) {
		return
	}
	src := m.QueueOffsets(srcGroup, topic)
	if src == nil {
		return
	}
	m.mu.Lock()
	m.table[key{topic, dstGroup}] = &entry{offsets: src}
	m.mu.Unlock()
	m.log.Info("offsets cloned", "topic", topic, "from", srcGroup, "to", dstGroup)
	m.structuralChange()
}

// DeleteTopic drops every group's offsets on topic.
func (m *Manager) DeleteTopic(topic string) {
	m.deleteWhere(func(k key) bool { return k.topic == topic })
}

// DeleteGroup drops group's offsets on every topic.
func (m *Manager) DeleteGroup(group string) {
	m.deleteWhere(func(k key) bool { return k.group == group })
}

func (m *Manager) deleteWhere(match func(key) bool) {
	m.mu.Lock()
	n := 0
	for k := range m.table {
		if match(k) {
			delete(m.table, k)
			m.log.Info("offsets deleted", "key", k.String())
			n++
		}
	}
	m.mu.Unlock()
	if n > 0 {
		m.structuralChange()
	}
}

func (m *Manager) structuralChange() {
	m.mu.Lock()
	m.version = m.version.Next(m.opts.Now().UnixMilli())
	m.mu.Unlock()
	m.changes.Add(1)
}

// Persist saves the table if it changed since the last successful save.
// Safe to call at any time, concurrently with everything.
func (m *Manager) Persist() error {
	m.persistMu.Lock()
	defer m.persistMu.Unlock()
	changes := m.changes.Load() // before the snapshot: later commits make the next Persist write
	if changes == m.persisted {
		return nil
	}
	w := protocol.ConsumerOffsetSerializeWrapper{OffsetTable: m.All()}
	version := m.DataVersion()
	w.DataVersion = &version
	b, err := configfile.Marshal(w)
	if err == nil {
		err = m.file.Save(b)
	}
	if err != nil {
		return fmt.Errorf("offset: persist: %w", err)
	}
	m.persisted = changes
	return nil
}

// Start runs Persist every FlushConsumerOffsetInterval until Close. A
// failed save is logged and retried at the next tick. ctx is not kept:
// Close stops the loop.
func (m *Manager) Start(ctx context.Context) error {
	m.loopMu.Lock()
	defer m.loopMu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.started {
		return nil
	}
	m.started = true
	go m.flushLoop()
	return nil
}

func (m *Manager) flushLoop() {
	defer close(m.done)
	t := time.NewTicker(time.Duration(m.opts.FlushConsumerOffsetInterval) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.Persist(); err != nil {
				m.log.Error("consumer offsets not saved", "err", err)
			}
		}
	}
}

// Close stops the background Persist and saves the table one last time.
// Commits after Close stay in memory only. Idempotent; later calls
// return nil.
func (m *Manager) Close() error {
	m.loopMu.Lock()
	if m.closed {
		m.loopMu.Unlock()
		return nil
	}
	m.closed = true
	started := m.started
	m.loopMu.Unlock()
	if started {
		close(m.stop)
		<-m.done
	}
	return m.Persist()
}
