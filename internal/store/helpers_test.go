package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir) // never returns
	}
	if dir := os.Getenv(fillChildEnv); dir != "" {
		runFillChild(dir) // never returns
	}
	goleak.VerifyTestMain(m)
}

// testOptions are small: 256 KiB commit-log segments, 100-unit queues,
// small index files, fast services.
func testOptions(dir string) Options {
	o := DefaultOptions()
	o.StorePathRootDir = dir
	o.MappedFileSizeCommitLog = 256 << 10
	o.MappedFileSizeConsumeQueue = 100 * 20
	o.MaxMessageSize = 64 << 10
	o.MaxHashSlotNum = 1024
	o.MaxIndexNum = 4096
	o.FlushIntervalCommitLog = 10
	o.FlushIntervalConsumeQueue = 20
	o.CleanResourceInterval = 50
	o.CommitLogWriteBufferSize = 128 << 10
	o.SyncFlushTimeout = 3000
	return o
}

func openStore(t testing.TB, o Options, hooks Hooks) *Store {
	t.Helper()
	s, err := Open(o, nil, hooks)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	return s
}

var (
	bornHost  = netip.MustParseAddrPort("10.0.0.9:51000")
	storeHost = netip.MustParseAddrPort("10.0.0.1:10911")
)

func msg(topic string, q int32, body string, props ...string) *message.Inner {
	var p []byte
	for i := 0; i+1 < len(props); i += 2 {
		p = message.AppendProperty(p, props[i], props[i+1])
	}
	return &message.Inner{Topic: topic, QueueID: q, Body: []byte(body), Properties: p,
		BornTimestamp: 1, BornHost: bornHost, StoreHost: storeHost}
}

func put(t testing.TB, s *Store, m *message.Inner) PutResult {
	t.Helper()
	r, err := s.PutMessage(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, PutOK, r.Status)
	return r
}

// testingT is what both *testing.T and *rapid.T provide.
type testingT interface {
	require.TestingT
	Helper()
}

// waitDispatched polls until every published record is dispatched.
func waitDispatched(t testingT, s *Store) {
	t.Helper()
	require.Eventually(t, func() bool {
		return s.reputFrom.Load() >= s.cl.DispatchableOffset()
	}, 10*time.Second, time.Millisecond)
}

// bodies pulls everything from offset and returns the bodies.
func bodies(t testing.TB, s *Store, topic string, q int32, from int64) []string {
	t.Helper()
	var out []string
	for {
		r, err := s.GetMessage(context.Background(), "g", topic, q, from, 32, 0, nil)
		require.NoError(t, err)
		if r.Status != GetFound {
			r.Release()
			return out
		}
		for _, b := range r.Messages {
			rec, err := message.DecodeRecord(b)
			require.NoError(t, err)
			out = append(out, string(rec.Body))
		}
		from = r.NextBeginOffset
		r.Release()
	}
}

// crash stops the store the way a killed process does: no final flush of
// the logical files, no checkpoint, the abort marker stays. The page
// cache keeps what was written (as after kill -9).
func (s *Store) crash() {
	s.closed.Store(true)
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		close(s.stop)
		s.wg.Wait()
	}
	s.cl.Stop() // completes waiters; the bytes were already written
	s.closeFiles()
	s.lockFile.Close()
}

type arrival struct {
	topic    string
	queue    int32
	offset   int64
	tagsCode int64
	props    string
}

type arrivals struct {
	mu  sync.Mutex
	got []arrival
}

func (a *arrivals) hook(topic string, q int32, off, tags, ts int64, props []byte) {
	a.mu.Lock()
	a.got = append(a.got, arrival{topic, q, off, tags, string(props)})
	a.mu.Unlock()
}

func (a *arrivals) list() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]arrival(nil), a.got...)
}

func fill(t testing.TB, s *Store, topic string, q int32, n int, size int) {
	t.Helper()
	for i := range n {
		put(t, s, msg(topic, q, fmt.Sprintf("%06d-%s", i, string(make([]byte, size)))))
	}
}
