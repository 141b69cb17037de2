package timer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	bornHost  = netip.MustParseAddrPort("10.0.0.1:50000")
	storeHost = netip.MustParseAddrPort("127.0.0.1:10911")
)

type put struct {
	m  *message.Inner
	at time.Time
}

// fakeStore keeps the timer topic and the commit log in memory and
// records appends. gone lists commit-log offsets whose records were
// deleted.
type fakeStore struct {
	mu      sync.Mutex
	queue   [][]byte
	log     map[int64][]byte
	gone    map[int64]bool
	puts    []put
	fail    error
	end     int64
	flushed int64
	// lagFlush keeps the flushed offset where flushAll put it; otherwise
	// every append counts as flushed.
	lagFlush bool
}

func newFakeStore() *fakeStore {
	return &fakeStore{log: map[int64][]byte{}, gone: map[int64]bool{}, end: 1000}
}

func (f *fakeStore) GetMessage(_ context.Context, _, topic string, qid int32, off int64, max, _ int, _ store.MessageFilter) (*store.GetResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := &store.GetResult{}
	n := int64(len(f.queue))
	res.MaxOffset = n
	switch {
	case topic != Topic || qid != 0:
		res.Status = store.GetNoMatchedLogicQueue
	case n == 0:
		res.Status = store.GetNoMessageInQueue
	case off == n:
		res.Status, res.NextBeginOffset = store.GetOffsetOverflowOne, off
	case off > n:
		res.Status, res.NextBeginOffset = store.GetOffsetOverflowBadly, n
	default:
		next := off
		for ; next < n && len(res.Messages) < max; next++ {
			res.Messages = append(res.Messages, f.queue[next])
			res.QueueOffsets = append(res.QueueOffsets, next)
		}
		res.Status, res.NextBeginOffset = store.GetFound, next
	}
	return res, nil
}

func (f *fakeStore) MaxOffsetInQueue(topic string, qid int32) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if topic != Topic || qid != 0 {
		return 0
	}
	return int64(len(f.queue))
}

func (f *fakeStore) SelectOneMessageByOffset(off int64) (*store.SelectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.log[off]
	if !ok || f.gone[off] {
		return nil, fmt.Errorf("%w: %d", store.ErrNotFound, off)
	}
	return &store.SelectResult{Offset: off, Bytes: rec}, nil
}

func (f *fakeStore) PutMessagesAsync(_ context.Context, msgs []*message.Inner, done func(store.PutResult, error)) {
	f.mu.Lock()
	if f.fail != nil {
		err := f.fail
		f.mu.Unlock()
		done(store.PutResult{Status: store.PutServiceNotAvailable}, err)
		return
	}
	m := *msgs[0]
	m.Body = append([]byte(nil), m.Body...)
	m.Properties = append([]byte(nil), m.Properties...)
	res := store.PutResult{Status: store.PutOK, CommitLogOffset: f.end, WroteBytes: 100, MsgCount: 1}
	f.end += 100
	f.puts = append(f.puts, put{m: &m, at: time.Now()})
	f.mu.Unlock()
	done(res, nil)
}

func (f *fakeStore) CommitLogFlushedOffset() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.lagFlush {
		return f.end
	}
	return f.flushed
}

func (f *fakeStore) flushAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = f.end
}

func (f *fakeStore) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeStore) delivered() []put {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]put(nil), f.puts...)
}

func (f *fakeStore) bodies() []string {
	var out []string
	for _, p := range f.delivered() {
		out = append(out, string(p.m.Body))
	}
	return out
}

// add stores a timer message as the send path does: in the timer topic
// with TIMER_OUT_MS, REAL_TOPIC and REAL_QID. deliverMs < 0 leaves
// TIMER_OUT_MS out.
func (f *fakeStore) add(t testing.TB, deliverMs int64, body string) int64 {
	t.Helper()
	var props []byte
	props = message.AppendProperty(props, message.PropertyUniqClientMessageIDKeyIdx, "U-"+body)
	props = message.AppendProperty(props, message.PropertyTimerDelaySec, "5")
	if deliverMs >= 0 {
		props = message.AppendProperty(props, message.PropertyTimerOutMS, strconv.FormatInt(deliverMs, 10))
	}
	props = message.AppendProperty(props, message.PropertyRealTopic, "Real")
	props = message.AppendProperty(props, message.PropertyRealQueueID, "2")
	m := &message.Inner{Topic: Topic, Body: []byte(body), Properties: props, BornHost: bornHost, StoreHost: storeHost,
		BornTimestamp: time.Now().UnixMilli()}
	f.mu.Lock()
	defer f.mu.Unlock()
	m.StoreTimestamp = time.Now().UnixMilli()
	m.QueueOffset = int64(len(f.queue))
	m.CommitLogOffset = f.end
	m.BodyCRC = message.BodyCRC(m.Body)
	size, err := m.RecordSize()
	require.NoError(t, err)
	rec := make([]byte, size)
	_, err = message.EncodeRecord(rec, m)
	require.NoError(t, err)
	f.log[f.end] = rec
	f.end += int64(size)
	f.queue = append(f.queue, rec)
	return m.CommitLogOffset
}

var errInjected = errors.New("injected put failure")
