package kvconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/gorocket/gorocket/internal/protocol"
)

// NamespaceOrderTopicConfig is the namespace of globally ordered topics:
// topic → "brokerName:queueNums;..." (NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG).
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// MaxFileSize bounds kvConfig.json; a larger file is refused on load.
const MaxFileSize = 64 << 20

// Errors returned by this package.
var (
	// ErrCorrupt is returned by Open for a file that does not parse.
	ErrCorrupt = errors.New("kvconfig: corrupt file")
	// ErrInvalid is returned for an empty namespace or key.
	ErrInvalid = errors.New("kvconfig: empty namespace or key")
	// ErrPersist wraps a failure to write the file; the change was undone.
	ErrPersist = errors.New("kvconfig: cannot persist")
)

// Table is the configuration: namespace → key → value.
type Table map[string]map[string]string

// wrapper is kvConfig.json.
type wrapper struct {
	ConfigTable Table `json:"configTable"`
}

// Manager holds the configuration. It is safe for concurrent use.
type Manager struct {
	path string
	log  *slog.Logger
	// write persists the encoded table; replaced by tests.
	write func(path string, data []byte) error

	wmu   sync.Mutex // serializes changes, disk writes included
	mu    sync.RWMutex
	table Table
}

// Open loads the file at path (an empty table when it does not exist)
// and returns its manager. An empty path keeps the table in memory only.
func Open(path string, log *slog.Logger) (*Manager, error) {
	m := &Manager{path: path, log: log, write: writeFileAtomic, table: Table{}}
	if path == "" {
		return m, nil
	}
	data, err := readFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("kvconfig: %w", err)
	}
	t, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	m.table = t
	n := 0
	for _, kv := range t {
		n += len(kv)
	}
	log.Info("kv config loaded", "path", path, "namespaces", len(t), "entries", n)
	return m, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Decode parses kvConfig.json. Null namespaces are dropped.
func Decode(data []byte) (Table, error) {
	var w wrapper
	if err := protocol.UnmarshalLenient(data, &w); err != nil {
		return nil, err
	}
	t := Table{}
	for ns, kv := range w.ConfigTable {
		if kv != nil {
			t[ns] = kv
		}
	}
	return t, nil
}

// Encode returns kvConfig.json for t.
func Encode(t Table) []byte {
	if t == nil {
		t = Table{}
	}
	data, _ := json.MarshalIndent(wrapper{ConfigTable: t}, "", "\t") // maps of strings cannot fail
	return append(data, '\n')
}

// Get returns the value of key in namespace.
func (m *Manager) Get(namespace, key string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.table[namespace][key]
	return v, ok
}

// Namespace returns a copy of namespace's entries; ok is false when the
// namespace does not exist (an existing namespace may be empty, as in
// Java, once its last key is deleted).
func (m *Manager) Namespace(namespace string) (kv map[string]string, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	kv, ok = m.table[namespace]
	return maps.Clone(kv), ok
}

// Put sets key in namespace to value and persists the table.
func (m *Manager) Put(namespace, key, value string) error {
	if namespace == "" || key == "" {
		return ErrInvalid
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	kv, nsExisted := m.table[namespace]
	if !nsExisted {
		kv = map[string]string{}
		m.table[namespace] = kv
	}
	old, existed := kv[key]
	kv[key] = value
	data := Encode(m.table)
	m.mu.Unlock()

	if err := m.persist(data); err != nil {
		m.mu.Lock()
		switch {
		case existed:
			kv[key] = old
		case nsExisted:
			delete(kv, key)
		default:
			delete(m.table, namespace)
		}
		m.mu.Unlock()
		return err
	}
	if existed {
		m.log.Info("kv config updated", "namespace", namespace, "key", key, "old", old, "new", value)
	} else {
		m.log.Info("kv config created", "namespace", namespace, "key", key, "value", value)
	}
	return nil
}

// Delete removes key from namespace and persists the table. Deleting a
// missing key is not an error.
func (m *Manager) Delete(namespace, key string) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.mu.Lock()
	kv := m.table[namespace]
	old, existed := kv[key]
	if !existed {
		m.mu.Unlock()
		return nil
	}
	delete(kv, key)
	data := Encode(m.table)
	m.mu.Unlock()

	if err := m.persist(data); err != nil {
		m.mu.Lock()
		kv[key] = old
		m.mu.Unlock()
		return err
	}
	m.log.Info("kv config deleted", "namespace", namespace, "key", key, "value", old)
	return nil
}

func (m *Manager) persist(data []byte) error {
	if m.path == "" {
		return nil
	}
	if err := m.write(m.path, data); err != nil {
		m.log.Error("kv config not persisted, change undone", "path", m.path, "err", err)
		return fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return nil
}

// writeFileAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
