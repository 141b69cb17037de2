package subscription

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testNow = time.UnixMilli(1_800_000_000_000)

func testOptions() Options {
	o := DefaultOptions()
	o.Now = func() time.Time { return testNow }
	return o
}

func open(t *testing.T, dir string, opts Options) *Manager {
	t.Helper()
	m, err := Open(dir, opts, nil)
	require.NoError(t, err)
	return m
}

func fixtureDir(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, configfile.SubscriptionGroupFile), b, 0o644))
	return dir
}

func TestOpenCreatesSystemGroups(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	groups, version := m.Snapshot()
	require.Len(t, groups, 8)
	for _, g := range []string{"TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
		"CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS"} {
		require.Equal(t, protocol.DefaultSubscriptionGroupConfig(g), groups[g], g)
	}
	require.Equal(t, protocol.DataVersion{Timestamp: testNow.UnixMilli()}, version)
}

func TestReadsJavaFastjsonFile(t *testing.T) {
	dir := fixtureDir(t, "java49_subscriptionGroup.json")
	m := open(t, dir, testOptions())
	require.Equal(t, protocol.DataVersion{Timestamp: 1700000000456, Counter: 7}, m.DataVersion())

	cfg, ok := m.Get("orderly_cg")
	require.True(t, ok)
	want := protocol.DefaultSubscriptionGroupConfig("orderly_cg")
	want.RetryMaxTimes, want.ConsumeBroadcastEnable, want.NotifyConsumerIDsChangedEnable = 3, false, false
	require.Equal(t, want, cfg, "fields 4.9 does not write (consumeTimeoutMinute) keep Java's default")

	cfg, _ = m.Get("slow_cg")
	require.False(t, cfg.ConsumeEnable)
	require.Equal(t, int64(1), cfg.BrokerID)
	require.Equal(t, int64(2), cfg.WhichBrokerWhenConsumeSlowly)
	require.Equal(t, int32(2), cfg.RetryQueueNums)
	_, ok = m.Get("CID_ONSAPI_OWNER")
	require.True(t, ok, "system groups the file lacks are still there")

	// Our file reads back alike, and the Go client's strict reader takes
	// the wrapper.
	require.NoError(t, m.CreateOrUpdate(protocol.DefaultSubscriptionGroupConfig("new_cg")))
	m2 := open(t, dir, testOptions())
	a, va := m.Snapshot()
	b, vb := m2.Snapshot()
	require.Equal(t, a, b)
	require.Equal(t, va, vb)
	body, err := protocol.EncodeBody(m2.Wrapper())
	require.NoError(t, err)
	var strict protocol.SubscriptionGroupWrapper
	require.NoError(t, json.Unmarshal(body, &strict))
	require.Equal(t, int64(8), strict.DataVersion.Counter)
}

func TestSkipsBadEntriesAndKeepsForbiddenTable(t *testing.T) {
	dir := fixtureDir(t, "java5_subscriptionGroup_odd.json")
	var logs bytes.Buffer
	m, err := Open(dir, testOptions(), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)

	cfg, ok := m.Get("cg5")
	require.True(t, ok)
	require.True(t, cfg.ConsumeMessageOrderly)
	require.Equal(t, int32(30), cfg.ConsumeTimeoutMinute)
	require.Equal(t, int32(5), cfg.RetryMaxTimes)
	cfg, ok = m.Get("sparse")
	require.True(t, ok)
	want := protocol.DefaultSubscriptionGroupConfig("sparse")
	want.RetryMaxTimes = 2
	require.Equal(t, want, cfg)
	for _, bad := range []string{"bad group", "negRetry", "wrongType"} {
		_, ok := m.Get(bad)
		require.False(t, ok, bad)
		require.Contains(t, logs.String(), bad)
	}

	require.NoError(t, m.CreateOrUpdate(protocol.DefaultSubscriptionGroupConfig("x")))
	raw, err := os.ReadFile(filepath.Join(dir, configfile.SubscriptionGroupFile))
	require.NoError(t, err)
	var back struct {
		ForbiddenTable map[string]map[string]int32 `json:"forbiddenTable"`
	}
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, map[string]map[string]int32{"cg5": {"TopicTest": 1}}, back.ForbiddenTable)

	require.NoError(t, m.Delete("cg5"))
	raw, err = os.ReadFile(filepath.Join(dir, configfile.SubscriptionGroupFile))
	require.NoError(t, err)
	back.ForbiddenTable = nil
	require.NoError(t, json.Unmarshal(raw, &back))
	require.NotNil(t, back.ForbiddenTable, "written as {} as Java does")
	require.Empty(t, back.ForbiddenTable, "a deleted group's forbidden bits go with it")
}

func TestCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, configfile.SubscriptionGroupFile)
	for _, content := range []string{`{"subscriptionGroupTable":{"g":{`, `{"subscriptionGroupTable":[]}`, `{"offsetTable":{}}`} {
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		_, err := Open(dir, testOptions(), nil)
		require.ErrorIs(t, err, configfile.ErrCorrupt, content)
		require.Contains(t, err.Error(), path)
	}
}

func TestFindOrCreate(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, testOptions())
	cfg, ok := m.FindOrCreate("cg")
	require.True(t, ok)
	require.Equal(t, protocol.DefaultSubscriptionGroupConfig("cg"), cfg)
	require.Equal(t, int64(1), m.DataVersion().Counter)
	_, ok = m.FindOrCreate("cg")
	require.True(t, ok)
	require.Equal(t, int64(1), m.DataVersion().Counter, "found, not created again")
	_, ok = m.FindOrCreate("bad group")
	require.False(t, ok)
	_, ok = m.FindOrCreate("")
	require.False(t, ok)

	m2 := open(t, dir, testOptions())
	_, ok = m2.Get("cg")
	require.True(t, ok, "auto-created groups are saved")

	opts := testOptions()
	opts.AutoCreateSubscriptionGroup = false
	off := open(t, t.TempDir(), opts)
	_, ok = off.FindOrCreate("cg")
	require.False(t, ok, "auto-create off")
	_, ok = off.FindOrCreate("CID_RMQ_SYS_TIMER")
	require.True(t, ok, "system groups are created regardless")
	_, ok = off.FindOrCreate(ToolsConsumerGroup)
	require.True(t, ok)
}

func TestFindOrCreateSurvivesFailedSave(t *testing.T) {
	ffs := vfs.NewFaultFS(vfs.Default)
	opts := testOptions()
	opts.FS = ffs
	var logs bytes.Buffer
	m, err := Open(t.TempDir(), opts, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	ffs.SetRule(func(vfs.Op, string) error { return vfs.ErrNoSpace })

	_, ok := m.FindOrCreate("cg")
	require.True(t, ok, "consumers keep working on a full disk")
	_, ok = m.Get("cg")
	require.True(t, ok)
	require.Contains(t, logs.String(), "not saved")

	// Admin changes are refused instead.
	err = m.CreateOrUpdate(protocol.DefaultSubscriptionGroupConfig("admin_cg"))
	require.ErrorIs(t, err, ErrPersist)
	_, ok = m.Get("admin_cg")
	require.False(t, ok)
	require.Error(t, m.Delete("cg"))
	_, ok = m.Get("cg")
	require.True(t, ok)
}

func TestCreateOrUpdateAndDelete(t *testing.T) {
	dir := t.TempDir()
	m := open(t, dir, testOptions())
	cfg := protocol.DefaultSubscriptionGroupConfig("cg")
	cfg.Attributes = map[string]string{"k": "v"}
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.Equal(t, int64(1), m.DataVersion().Counter, "an equal config changes nothing")

	cfg.Attributes["k"] = "mutated by the caller"
	got, _ := m.Get("cg")
	require.Equal(t, "v", got.Attributes["k"])
	got.Attributes["k"] = "mutated again"
	got2, _ := m.Get("cg")
	require.Equal(t, "v", got2.Attributes["k"])

	cfg.RetryMaxTimes = 3
	require.NoError(t, m.CreateOrUpdate(cfg))
	require.Equal(t, int64(2), m.DataVersion().Counter)

	for _, bad := range []func(*protocol.SubscriptionGroupConfig){
		func(c *protocol.SubscriptionGroupConfig) { c.GroupName = "a b" },
		func(c *protocol.SubscriptionGroupConfig) { c.RetryQueueNums = -1 },
		func(c *protocol.SubscriptionGroupConfig) { c.RetryMaxTimes = -2 },
		func(c *protocol.SubscriptionGroupConfig) { c.BrokerID = -1 },
		func(c *protocol.SubscriptionGroupConfig) { c.ConsumeTimeoutMinute = -1 },
	} {
		c := protocol.DefaultSubscriptionGroupConfig("cg")
		bad(&c)
		require.Error(t, m.CreateOrUpdate(c))
	}

	require.ErrorIs(t, m.Delete("nope"), ErrNotFound)
	require.NoError(t, m.Delete("cg"))
	m2 := open(t, dir, testOptions())
	_, ok := m2.Get("cg")
	require.False(t, ok)
	require.Equal(t, int64(3), m2.DataVersion().Counter)
}

func TestConcurrentFindOrCreate(t *testing.T) {
	m := open(t, t.TempDir(), testOptions())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 5 {
				_, ok := m.FindOrCreate("g" + string(rune('a'+j)))
				require.True(t, ok)
				m.Snapshot()
				m.Get("g" + string(rune('a'+i%5)))
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(5), m.DataVersion().Counter)
}

func TestValidateGroup(t *testing.T) {
	for _, tc := range []struct {
		group string
		ok    bool
		msg   string
	}{
		{"please_rename_unique_group_name_4", true, ""},
		{"ns%cg|a-b", true, ""},
		{strings.Repeat("g", 120), true, ""},
		{strings.Repeat("g", 121), false, "longer than 120"},
		{"", false, "blank"},
		{"a b", false, "illegal character ' ' at 1"},
		{"grüppe", false, "illegal"},
		{"a@b", false, "illegal"},
	} {
		err := ValidateGroup(tc.group)
		if tc.ok {
			require.NoError(t, err, tc.group)
			continue
		}
		require.ErrorIs(t, err, ErrInvalidGroup, tc.group)
		require.Contains(t, err.Error(), tc.msg)
	}
	require.True(t, IsSysConsumerGroup("CID_RMQ_SYS_TRANS"))
	require.False(t, IsSysConsumerGroup("TOOLS_CONSUMER"))
}

func FuzzDecodeFile(f *testing.F) {
	for _, name := range []string{"java49_subscriptionGroup.json", "java5_subscriptionGroup_odd.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"subscriptionGroupTable":{"g":null},"forbiddenTable":{"g":{0:1}}}`))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte) {
		tbl, err := decodeFile(b, log)
		if err != nil {
			return
		}
		for name, cfg := range tbl.groups {
			require.Equal(t, name, cfg.GroupName)
			require.NoError(t, validateConfig(cfg))
		}
		_, err = encodeFile(tbl)
		require.NoError(t, err)
	})
}
