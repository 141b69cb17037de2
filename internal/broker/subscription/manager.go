package subscription

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Errors returned by the Manager; each wraps one of these.
var (
	ErrInvalidGroup  = errors.New("subscription: invalid group name")
	ErrInvalidConfig = errors.New("subscription: invalid group config")
	ErrNotFound      = errors.New("subscription: no such group")
	ErrPersist       = errors.New("subscription: cannot save the group table")
)

// Options configure a Manager.
type Options struct {
	AutoCreateSubscriptionGroup bool `prop:"autoCreateSubscriptionGroup"`

	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS `prop:"-"`
	// Now is the clock for DataVersion timestamps (nil: time.Now).
	Now func() time.Time `prop:"-"`
}

// DefaultOptions returns Java's defaults.
func DefaultOptions() Options { return Options{AutoCreateSubscriptionGroup: true} }

// Validate reports invalid settings (there are none yet).
func (o *Options) Validate() error { return nil }

// table is one immutable version of the group table.
type table struct {
	groups    map[string]protocol.SubscriptionGroupConfig
	forbidden map[string]map[string]int32
	version   protocol.DataVersion
}

// Manager is the broker's consumer group table. All methods are safe for
// concurrent use; reads never wait for a save.
type Manager struct {
	opts Options
	log  *slog.Logger
	file *configfile.File

	cur     atomic.Pointer[table]
	writeMu sync.Mutex // serializes changes: clone, save, publish
}

// Open loads dir/subscriptionGroup.json (dir is the broker's config
// directory, configfile.Dir(storePathRootDir)) over the system groups. A
// nil log discards.
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
	file, err := configfile.Open(dir, configfile.SubscriptionGroupFile, opts.FS, log)
	if err != nil {
		return nil, err
	}
	t := &table{
		groups:  make(map[string]protocol.SubscriptionGroupConfig),
		version: protocol.DataVersion{Timestamp: opts.Now().UnixMilli()},
	}
	for _, g := range systemGroups {
		t.groups[g] = protocol.DefaultSubscriptionGroupConfig(g)
	}
	found, err := file.Load(func(b []byte) error {
		loaded, err := decodeFile(b, log)
		if err != nil {
			return err
		}
		maps.Copy(t.groups, loaded.groups)
		t.forbidden = loaded.forbidden
		if loaded.version != (protocol.DataVersion{}) {
			t.version = loaded.version
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("subscription: load: %w", err)
	}
	log.Info("subscription groups loaded", "groups", len(t.groups), "fromFile", found)
	m := &Manager{opts: opts, log: log, file: file}
	m.cur.Store(t)
	return m, nil
}

// Get returns a group's configuration.
func (m *Manager) Get(group string) (protocol.SubscriptionGroupConfig, bool) {
	cfg, ok := m.cur.Load().groups[group]
	return cloneConfig(cfg), ok
}

// FindOrCreate returns a group's configuration, creating it with the
// defaults when automatic creation is on or the group is a system group
// (see the package comment). ok is false when the group does not exist
// and may not be created, or its name is invalid.
func (m *Manager) FindOrCreate(group string) (cfg protocol.SubscriptionGroupConfig, ok bool) {
	if cfg, ok := m.Get(group); ok {
		return cfg, true
	}
	if !m.opts.AutoCreateSubscriptionGroup && !IsSysConsumerGroup(group) {
		return protocol.SubscriptionGroupConfig{}, false
	}
	if err := ValidateGroup(group); err != nil {
		return protocol.SubscriptionGroupConfig{}, false
	}
	cfg = protocol.DefaultSubscriptionGroupConfig(group)
	err := m.update(false, func(t *table) (bool, error) {
		if existing, ok := t.groups[group]; ok {
			cfg = cloneConfig(existing)
			return false, nil
		}
		t.groups[group] = cfg
		m.log.Info("subscription group created", "group", group)
		return true, nil
	})
	if err != nil { // kept in memory; see update
		m.log.Error("new subscription group not saved", "group", group, "err", err)
	}
	return cfg, true
}

// CreateOrUpdate creates a group or replaces its configuration (admin
// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP). A configuration equal to the
// current one changes nothing.
func (m *Manager) CreateOrUpdate(cfg protocol.SubscriptionGroupConfig) error {
	if err := validateConfig(cfg); err != nil {
		return err
	}
	cfg = cloneConfig(cfg)
	return m.update(true, func(t *table) (bool, error) {
		old, ok := t.groups[cfg.GroupName]
		if ok && equalConfig(old, cfg) {
			return false, nil
		}
		t.groups[cfg.GroupName] = cfg
		if ok {
			m.log.Info("subscription group updated", "group", cfg.GroupName, "old", old, "new", cfg)
		} else {
			m.log.Info("subscription group created", "group", cfg.GroupName, "config", cfg)
		}
		return true, nil
	})
}

// Delete removes a group; ErrNotFound if it does not exist.
func (m *Manager) Delete(group string) error {
	return m.update(true, func(t *table) (bool, error) {
		if _, ok := t.groups[group]; !ok {
			return false, fmt.Errorf("%w: %q", ErrNotFound, clip(group))
		}
		delete(t.groups, group)
		delete(t.forbidden, group)
		m.log.Info("subscription group deleted", "group", group)
		return true, nil
	})
}

// Snapshot returns a copy of the table and its version.
func (m *Manager) Snapshot() (map[string]protocol.SubscriptionGroupConfig, protocol.DataVersion) {
	t := m.cur.Load()
	out := make(map[string]protocol.SubscriptionGroupConfig, len(t.groups))
	for g, cfg := range t.groups {
		out[g] = cloneConfig(cfg)
	}
	return out, t.version
}

// Wrapper returns the table as GET_ALL_SUBSCRIPTIONGROUP_CONFIG answers it.
func (m *Manager) Wrapper() protocol.SubscriptionGroupWrapper {
	groups, version := m.Snapshot()
	return protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: groups, DataVersion: version}
}

// DataVersion returns the table's current version.
func (m *Manager) DataVersion() protocol.DataVersion { return m.cur.Load().version }

// update runs fn on a private copy of the table; when fn reports a
// change, the copy gets the next DataVersion and is saved. With
// mustSave, a failed save leaves the table as it was and returns the
// error; without, the copy is published anyway and the error returned
// for logging. Changes are serialized.
func (m *Manager) update(mustSave bool, fn func(*table) (changed bool, err error)) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	old := m.cur.Load()
	next := &table{groups: maps.Clone(old.groups), forbidden: old.forbidden}
	if next.forbidden != nil {
		next.forbidden = maps.Clone(old.forbidden) // inner maps are never changed in place
	}
	changed, err := fn(next)
	if err != nil || !changed {
		return err
	}
	next.version = old.version.Next(m.opts.Now().UnixMilli())
	b, err := encodeFile(next)
	if err == nil {
		err = m.file.Save(b)
	}
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrPersist, err)
		if mustSave {
			m.log.Error("subscription group change not applied: save failed", "err", err)
			return err
		}
	}
	m.cur.Store(next)
	return err
}

func cloneConfig(c protocol.SubscriptionGroupConfig) protocol.SubscriptionGroupConfig {
	if c.Attributes != nil {
		c.Attributes = maps.Clone(c.Attributes)
	}
	return c
}

func equalConfig(a, b protocol.SubscriptionGroupConfig) bool {
	attrs := maps.Equal(a.Attributes, b.Attributes)
	a.Attributes, b.Attributes = nil, nil
	return attrs && reflect.DeepEqual(a, b)
}
