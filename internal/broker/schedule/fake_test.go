package schedule

import (
	"context"
	"errors"
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

// unit is one ConsumeQueue unit of the fake store with its record.
type unit struct {
	rec  []byte
	tags int64
}

// put is a message the service appended, with the (fake) time of the
// append.
type put struct {
	m  *message.Inner
	at time.Time
}

// fakeStore holds schedule queues in memory and records appends.
type fakeStore struct {
	mu      sync.Mutex
	queues  map[int32][]unit
	min     map[int32]int64
	puts    []put
	fail    func(*message.Inner) error
	end     int64 // commit-log end
	flushed int64
	reads   int
}

func newFakeStore() *fakeStore {
	return &fakeStore{queues: map[int32][]unit{}, min: map[int32]int64{}}
}

func (f *fakeStore) GetMessage(_ context.Context, _, topic string, qid int32, off int64, max, _ int, filter store.MessageFilter) (*store.GetResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	res := &store.GetResult{}
	q := f.queues[qid]
	n := int64(len(q))
	res.MinOffset, res.MaxOffset = f.min[qid], n
	switch {
	case topic != Topic:
		res.Status = store.GetNoMatchedLogicQueue
	case n == 0:
		res.Status = store.GetNoMessageInQueue
	case off < f.min[qid]:
		res.Status, res.NextBeginOffset = store.GetOffsetTooSmall, f.min[qid]
	case off == n:
		res.Status, res.NextBeginOffset = store.GetOffsetOverflowOne, off
	case off > n:
		res.Status, res.NextBeginOffset = store.GetOffsetOverflowBadly, n
	default:
		next := off
		for ; next < n && len(res.Messages) < max; next++ {
			u := q[next]
			if filter != nil && !filter.MatchByConsumeQueue(u.tags) {
				continue
			}
			if filter != nil && !filter.MatchByCommitLog(u.rec) {
				continue
			}
			res.Messages = append(res.Messages, u.rec)
			res.QueueOffsets = append(res.QueueOffsets, next)
		}
		res.Status, res.NextBeginOffset = store.GetFound, next
	}
	return res, nil
}

func (f *fakeStore) MaxOffsetInQueue(topic string, qid int32) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if topic != Topic {
		return 0
	}
	return int64(len(f.queues[qid]))
}

func (f *fakeStore) PutMessagesAsync(_ context.Context, msgs []*message.Inner, done func(store.PutResult, error)) {
	f.mu.Lock()
	m := *msgs[0]
	m.Body = append([]byte(nil), m.Body...)
	m.Properties = append([]byte(nil), m.Properties...)
	var err error
	if f.fail != nil {
		err = f.fail(&m)
	}
	if err != nil {
		f.mu.Unlock()
		done(store.PutResult{Status: store.PutServiceNotAvailable}, err)
		return
	}
	res := store.PutResult{Status: store.PutOK, CommitLogOffset: f.end, WroteBytes: 100, MsgCount: 1}
	f.end += 100
	f.puts = append(f.puts, put{m: &m, at: time.Now()})
	f.mu.Unlock()
	done(res, nil)
}

func (f *fakeStore) CommitLogFlushedOffset() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushed
}

func (f *fakeStore) flushAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushed = f.end
}

func (f *fakeStore) setFail(fn func(*message.Inner) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
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

// add stores a message as the send path would have: transformed to the
// schedule queue of level, stored now, tagsCode its delivery time.
func (f *fakeStore) add(t *testing.T, levels Levels, level int32, topic string, qid int32, body string, kv ...string) {
	t.Helper()
	m := &message.Inner{
		Topic: topic, QueueID: qid, Body: []byte(body), Flag: 7,
		BornTimestamp: time.Now().UnixMilli() - 5, BornHost: bornHost, StoreHost: storeHost,
		ReconsumeTimes: 2,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Properties = message.AppendProperty(m.Properties, kv[i], kv[i+1])
	}
	m.Properties = message.AppendProperty(m.Properties, message.PropertyDelayTimeLevel, strconv.Itoa(int(level)))
	levels.Transform(m, level)
	f.addInner(t, m, time.Now().UnixMilli()+levels.Delay(level))
}

func (f *fakeStore) addInner(t *testing.T, m *message.Inner, tags int64) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	m.StoreTimestamp = time.Now().UnixMilli()
	m.QueueOffset = int64(len(f.queues[m.QueueID]))
	m.CommitLogOffset = f.end
	m.BodyCRC = message.BodyCRC(m.Body)
	size, err := m.RecordSize()
	require.NoError(t, err)
	rec := make([]byte, size)
	_, err = message.EncodeRecord(rec, m)
	require.NoError(t, err)
	f.end += int64(size)
	f.queues[m.QueueID] = append(f.queues[m.QueueID], unit{rec: rec, tags: tags})
}

var errInjected = errors.New("injected put failure")
