package kvconfig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func open(t *testing.T, path string) *Manager {
	t.Helper()
	m, err := Open(path, discard)
	require.NoError(t, err)
	return m
}

func TestPutGetDeleteSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "namesrv", "kvConfig.json")
	m := open(t, path)
	_, ok := m.Get(NamespaceOrderTopicConfig, "TopicTest")
	require.False(t, ok)

	require.NoError(t, m.Put(NamespaceOrderTopicConfig, "TopicTest", "broker-a:4"))
	require.NoError(t, m.Put(NamespaceOrderTopicConfig, "TopicTest", "broker-a:4;broker-b:4"))
	require.NoError(t, m.Put("LMQ", "ALL_FIRST_TOPICS", "home,office"))
	v, ok := m.Get(NamespaceOrderTopicConfig, "TopicTest")
	require.True(t, ok)
	require.Equal(t, "broker-a:4;broker-b:4", v)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, `{
	"configTable": {
		"LMQ": {
			"ALL_FIRST_TOPICS": "home,office"
		},
		"ORDER_TOPIC_CONFIG": {
			"TopicTest": "broker-a:4;broker-b:4"
		}
	}
}
`, string(data))

	m2 := open(t, path)
	v, ok = m2.Get("LMQ", "ALL_FIRST_TOPICS")
	require.True(t, ok)
	require.Equal(t, "home,office", v)

	require.NoError(t, m2.Delete("LMQ", "ALL_FIRST_TOPICS"))
	require.NoError(t, m2.Delete("LMQ", "ALL_FIRST_TOPICS"), "deleting a missing key is fine")
	require.NoError(t, m2.Delete("nope", "nope"))
	kv, ok := m2.Namespace("LMQ")
	require.True(t, ok, "an emptied namespace stays, as in Java")
	require.Empty(t, kv)

	m3 := open(t, path)
	_, ok = m3.Get("LMQ", "ALL_FIRST_TOPICS")
	require.False(t, ok)
	kv, ok = m3.Namespace(NamespaceOrderTopicConfig)
	require.True(t, ok)
	require.Equal(t, map[string]string{"TopicTest": "broker-a:4;broker-b:4"}, kv)

	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
}

func TestNamespaceIsACopy(t *testing.T) {
	m := open(t, "")
	require.NoError(t, m.Put("ns", "k", "v"))
	kv, _ := m.Namespace("ns")
	kv["k"] = "changed"
	v, _ := m.Get("ns", "k")
	require.Equal(t, "v", v)
	_, ok := m.Namespace("missing")
	require.False(t, ok)
}

func TestInvalidNamespaceOrKey(t *testing.T) {
	m := open(t, "")
	require.ErrorIs(t, m.Put("", "k", "v"), ErrInvalid)
	require.ErrorIs(t, m.Put("ns", "", "v"), ErrInvalid)
}

func TestLoadsJavaFile(t *testing.T) {
	// What Java's fastjson (toJson(true)) writes, plus the bare keys and
	// null namespaces older writers produce.
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	require.NoError(t, os.WriteFile(path, []byte(`{
	"configTable":{
		"ORDER_TOPIC_CONFIG":{
			"TopicTest":"broker-a:8"
		},
		"gone":null,
		ns2:{k:"v"}
	}
}`), 0o644))
	m := open(t, path)
	v, ok := m.Get(NamespaceOrderTopicConfig, "TopicTest")
	require.True(t, ok)
	require.Equal(t, "broker-a:8", v)
	v, _ = m.Get("ns2", "k")
	require.Equal(t, "v", v)
	_, ok = m.Namespace("gone")
	require.False(t, ok)
}

func TestCorruptFileRefused(t *testing.T) {
	for _, content := range []string{`{"configTable":`, `{"configTable":{"ns":"notamap"}}`, "\x00\x01", `[]`} {
		path := filepath.Join(t.TempDir(), "kvConfig.json")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		_, err := Open(path, discard)
		require.ErrorIs(t, err, ErrCorrupt, "content %q", content)
		require.Contains(t, err.Error(), path)
	}
}

func TestEmptyFileIsEmptyTable(t *testing.T) {
	// An empty object is a valid, empty table; a zero-length file is not
	// JSON and is refused like any other damage.
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	require.NoError(t, os.WriteFile(path, []byte(`{}`), 0o644))
	m := open(t, path)
	_, ok := m.Namespace(NamespaceOrderTopicConfig)
	require.False(t, ok)
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	_, err := Open(path, discard)
	require.ErrorIs(t, err, ErrCorrupt)
}

func TestFailedWriteUndoesChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	m := open(t, path)
	require.NoError(t, m.Put("ns", "k", "v1"))
	require.NoError(t, m.Put("ns", "gone", "x"))

	disk := errors.New("disk full")
	m.write = func(string, []byte) error { return disk }
	err := m.Put("ns", "k", "v2")
	require.ErrorIs(t, err, ErrPersist)
	require.ErrorIs(t, err, disk)
	require.ErrorIs(t, m.Put("ns", "new", "v"), ErrPersist)
	require.ErrorIs(t, m.Put("newns", "k", "v"), ErrPersist)
	require.ErrorIs(t, m.Delete("ns", "gone"), ErrPersist)

	v, _ := m.Get("ns", "k")
	require.Equal(t, "v1", v, "memory matches the file")
	_, ok := m.Get("ns", "new")
	require.False(t, ok)
	_, ok = m.Namespace("newns")
	require.False(t, ok)
	v, _ = m.Get("ns", "gone")
	require.Equal(t, "x", v)

	reopened := open(t, path)
	v, _ = reopened.Get("ns", "k")
	require.Equal(t, "v1", v)
}

func TestRealWriteFailure(t *testing.T) {
	dir := t.TempDir()
	m := open(t, filepath.Join(dir, "sub", "kvConfig.json"))
	// The directory the file should live in is now a regular file.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub"), []byte("x"), 0o644))
	require.ErrorIs(t, m.Put("ns", "k", "v"), ErrPersist)
	_, ok := m.Get("ns", "k")
	require.False(t, ok)

	// And a file that cannot be read is an error, not an empty table.
	_, err := Open(filepath.Join(dir, "sub", "kvConfig.json"), discard)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrCorrupt)
}

func TestConcurrentUse(t *testing.T) {
	m := open(t, filepath.Join(t.TempDir(), "kvConfig.json"))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("k%d-%d", w, i)
				require.NoError(t, m.Put("ns", key, "v"))
				_, ok := m.Get("ns", key)
				require.True(t, ok)
				m.Namespace("ns")
			}
		})
	}
	wg.Wait()
	kv, _ := m.Namespace("ns")
	require.Len(t, kv, 80)
}
