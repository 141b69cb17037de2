package txn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	testHost = netip.MustParseAddrPort("127.0.0.1:10911")
	born     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// fakeOffsets is a consumer offset table that records the order of its
// calls.
type fakeOffsets struct {
	mu        sync.Mutex
	table     map[string]int64
	persisted map[string]int64
	calls     []string
}

func newFakeOffsets() *fakeOffsets { return &fakeOffsets{table: map[string]int64{}} }

func (o *fakeOffsets) Query(group, topic string, _ int32) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	v, ok := o.table[group+"/"+topic]
	return v, ok
}

func (o *fakeOffsets) Commit(_, group, topic string, _ int32, off int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.table[group+"/"+topic] = off
	o.calls = append(o.calls, fmt.Sprintf("commit %s %d", topic, off))
}

func (o *fakeOffsets) Persist() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.persisted = maps.Clone(o.table)
	o.calls = append(o.calls, "persist")
	return nil
}

type sentCheck struct {
	group string
	hdr   protocol.CheckTransactionStateRequestHeader
	msg   *message.MessageExt
}

// fakeProducers records check-backs; with none set, the group has no
// producer.
type fakeProducers struct {
	mu     sync.Mutex
	none   bool
	checks []sentCheck
}

func (p *fakeProducers) CheckTransactionState(_ context.Context, group string, h *protocol.CheckTransactionStateRequestHeader, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.none {
		return ErrNoProducer
	}
	m, err := message.DecodeMessageExt(body)
	if err != nil {
		return err
	}
	p.checks = append(p.checks, sentCheck{group: group, hdr: *h, msg: m})
	return nil
}

func (p *fakeProducers) take() []sentCheck {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.checks
	p.checks = nil
	return out
}

type env struct {
	t     testing.TB
	dir   string
	store *store.Store
	offs  *fakeOffsets
	prods *fakeProducers
	now   atomic.Int64
	opts  Options
	seq   int
	// ensured counts EnsureTopic calls.
	ensured atomic.Int64
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, dir: t.TempDir(), offs: newFakeOffsets(), prods: &fakeProducers{}}
	e.now.Store(born)
	e.openStore()
	e.opts = Options{
		TransactionTimeOut:       6 * time.Second,
		TransactionCheckMax:      3,
		TransactionCheckInterval: time.Hour, // rounds are run by the tests
		MaxAge:                   72 * time.Hour,
		BrokerName:               "broker-a",
		StoreHost:                func() netip.AddrPort { return testHost },
		EnsureTopic:              func(string) error { e.ensured.Add(1); return nil },
		Now:                      func() time.Time { return time.UnixMilli(e.now.Load()) },
	}
	return e
}

func (e *env) openStore() {
	o := store.DefaultOptions()
	o.StorePathRootDir = e.dir
	o.MappedFileSizeCommitLog = 8 << 20
	o.MappedFileSizeConsumeQueue = 1000 * 20
	o.MaxHashSlotNum = 1024
	o.MaxIndexNum = 4096
	o.CommitLogWriteBufferSize = 1 << 20
	st, err := store.Open(o, nil, store.Hooks{})
	require.NoError(e.t, err)
	require.NoError(e.t, st.Start(context.Background()))
	e.store = st
	e.t.Cleanup(func() { _ = st.Close() })
}

// service starts a service on the store once it has dispatched every
// record, as a store just opened has.
func (e *env) service() *Service {
	e.settle()
	s, err := New(e.opts, e.store, e.offs, e.prods, nil)
	require.NoError(e.t, err)
	require.NoError(e.t, s.Load(context.Background()))
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) advance(d time.Duration) { e.now.Add(d.Milliseconds()) }

// round runs one round of s once the store has dispatched every record
// (in the broker, rounds are an interval apart).
func (e *env) round(s *Service) {
	e.t.Helper()
	e.settle()
	s.round(context.Background())
}

// settle waits until the store has dispatched every record.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.store.Stats().DispatchBehindBytes > 0 {
		require.True(e.t, time.Now().Before(deadline), "dispatch stuck")
		time.Sleep(time.Millisecond)
	}
}

// sent is a half message as the send path stores it, with the offsets a
// producer names in its END_TRANSACTION.
type sent struct {
	id    string
	body  string
	req   EndRequest
	queue int64
}

// sendHalf stores a transactional message for topic T queue 2, as the
// send path does, and waits until the half queue has it.
func (e *env) sendHalf(body string, kv ...string) sent {
	e.t.Helper()
	e.seq++
	id := fmt.Sprintf("ID%030d", e.seq)
	props := message.AppendProperty(nil, message.PropertyUniqClientMessageIDKeyIdx, id)
	props = message.AppendProperty(props, message.PropertyTransactionPrepared, "true")
	props = message.AppendProperty(props, message.PropertyProducerGroup, "pg")
	props = message.AppendProperty(props, message.PropertyTags, "tagA")
	for i := 0; i+1 < len(kv); i += 2 {
		props = message.AppendProperty(props, kv[i], kv[i+1])
	}
	m := &message.Inner{
		Topic: "T", QueueID: 2, Body: []byte(body), Properties: props,
		SysFlag: message.TransactionPreparedType, BornTimestamp: e.now.Load(), BornHost: testHost, StoreHost: testHost,
	}
	require.True(e.t, IsTransactional(m.Properties, 0))
	PrepareHalf(m)
	res, err := e.store.PutMessage(context.Background(), m)
	require.NoError(e.t, err)
	e.waitQueue(HalfTopic, res.QueueOffset+1)
	return sent{id: id, body: body, queue: res.QueueOffset, req: EndRequest{
		ProducerGroup: "pg", TranStateTableOffset: res.QueueOffset, CommitLogOffset: res.CommitLogOffset,
	}}
}

func (e *env) waitQueue(topic string, n int64) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.store.MaxOffsetInQueue(topic, 0) < n && !(topic == "T" && e.store.MaxOffsetInQueue(topic, 2) >= n) {
		require.True(e.t, time.Now().Before(deadline), "%s never reached %d", topic, n)
		time.Sleep(time.Millisecond)
	}
}

// read returns every message of topic/queue.
func (e *env) read(topic string, queue int32) []*message.MessageExt {
	e.t.Helper()
	var out []*message.MessageExt
	for off := int64(0); ; {
		res, err := e.store.GetMessage(context.Background(), "test", topic, queue, off, 32, 0, nil)
		require.NoError(e.t, err)
		if res.Status != store.GetFound {
			res.Release()
			return out
		}
		for _, b := range res.Messages {
			m, err := message.DecodeMessageExt(b)
			require.NoError(e.t, err)
			out = append(out, m)
		}
		off = res.NextBeginOffset
		res.Release()
	}
}

func bodiesOf(ms []*message.MessageExt) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

// waitDelivered waits until topic T queue 2 holds n messages.
func (e *env) waitDelivered(n int64) {
	e.t.Helper()
	e.waitQueue("T", n)
}

func (e *env) opRefs() [][]int64 {
	var out [][]int64
	for _, m := range e.read(OpTopic, 0) {
		require.Equal(e.t, RemoveTag, m.Tags())
		refs, err := ParseOpBody(m.Body)
		require.NoError(e.t, err)
		out = append(out, refs)
	}
	return out
}

// TestServiceEnd: commit stores the original message where the producer
// sent it, without the half-message bookkeeping; rollback stores nothing
// but the op record; a second END changes nothing.
func TestServiceEnd(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	a := e.sendHalf("a", message.PropertyKeys, "k1 k2")
	b := e.sendHalf("b")
	ctx := context.Background()

	commit := a.req
	commit.Commit = true
	out, err := s.End(ctx, commit)
	require.NoError(t, err)
	require.Equal(t, Ended, out)
	out, err = s.End(ctx, b.req)
	require.NoError(t, err)
	require.Equal(t, Ended, out)

	e.waitDelivered(1)
	got := e.read("T", 2)
	require.Equal(t, []string{"a"}, bodiesOf(got))
	m := got[0]
	require.Equal(t, message.TransactionCommitType, message.TransactionType(m.SysFlag))
	require.Equal(t, a.req.CommitLogOffset, m.PreparedTransactionOffset)
	require.Equal(t, a.id, m.MsgID)
	require.Equal(t, "tagA", m.Tags())
	require.Equal(t, []string{"k1", "k2"}, m.Keys())
	require.Equal(t, "pg", m.Property(message.PropertyProducerGroup))
	require.Equal(t, a.id, m.Property(message.PropertyTransactionID))
	for _, k := range []string{message.PropertyRealTopic, message.PropertyRealQueueID, message.PropertyTransactionPrepared, message.PropertyTransactionCheckTimes} {
		require.Empty(t, m.Property(k), k)
	}
	e.waitQueue(OpTopic, 2)
	require.Equal(t, [][]int64{{a.queue}, {b.queue}}, e.opRefs())

	// Duplicates, either way, change nothing.
	for _, r := range []EndRequest{commit, a.req, b.req, {ProducerGroup: "pg", TranStateTableOffset: b.queue, CommitLogOffset: b.req.CommitLogOffset, Commit: true}} {
		out, err := s.End(ctx, r)
		require.NoError(t, err)
		require.Equal(t, AlreadyEnded, out)
	}
	st := s.Stats()
	require.Equal(t, Stats{Committed: 1, RolledBack: 1}, st)

	e.advance(time.Hour)
	e.round(s)
	require.Empty(t, e.prods.take(), "ended transactions are not checked")
	require.Len(t, e.read("T", 2), 1)
	require.Len(t, e.read(OpTopic, 0), 2)
}

// TestServiceEndRefusals: an END that does not match its half message is
// refused and changes nothing.
func TestServiceEndRefusals(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	a := e.sendHalf("a")
	e.sendHalf("b")
	plain, err := e.store.PutMessage(context.Background(), &message.Inner{
		Topic: "T", QueueID: 1, Body: []byte("plain"), BornHost: testHost, StoreHost: testHost,
		Properties: message.AppendProperty(nil, message.PropertyProducerGroup, "pg"),
	})
	require.NoError(t, err)
	ctx := context.Background()
	with := func(f func(r *EndRequest)) EndRequest {
		r := a.req
		r.Commit = true
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name string
		req  EndRequest
		want error
	}{
		{"unknown offset", with(func(r *EndRequest) { r.CommitLogOffset = 1 << 40 }), ErrHalfNotFound},
		{"inside a record", with(func(r *EndRequest) { r.CommitLogOffset += 7 }), ErrHalfNotFound},
		{"not a half message", with(func(r *EndRequest) { r.CommitLogOffset = plain.CommitLogOffset }), ErrHalfNotFound},
		{"other group", with(func(r *EndRequest) { r.ProducerGroup = "other" }), ErrProducerGroup},
		{"queue offset", with(func(r *EndRequest) { r.TranStateTableOffset++ }), ErrQueueOffset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.End(ctx, tc.req)
			require.ErrorIs(t, err, tc.want)
		})
	}
	e.round(s)
	require.Equal(t, 2, s.Stats().Pending)
	require.Empty(t, e.read(OpTopic, 0))
	require.Empty(t, e.read("T", 2))
}

// TestServiceCheckBack: a half message left undecided is checked after
// transactionTimeOut, about a copy whose offsets the producer names in its
// answer; the check carries the message as the producer sent it.
func TestServiceCheckBack(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	a := e.sendHalf("a")
	ctx := context.Background()

	e.advance(5999 * time.Millisecond)
	e.round(s)
	require.Empty(t, e.prods.take(), "younger than transactionTimeOut")

	e.advance(time.Millisecond)
	e.round(s)
	checks := e.prods.take()
	require.Len(t, checks, 1)
	c := checks[0]
	require.Equal(t, "pg", c.group)
	require.Equal(t, "T", c.hdr.Topic)
	require.Equal(t, a.queue+1, c.hdr.TranStateTableOffset, "the copy's queue offset")
	require.Equal(t, a.id, c.hdr.MsgID)
	require.Equal(t, a.id, c.hdr.TransactionID)
	require.Equal(t, message.OffsetMsgID(testHost, c.hdr.CommitLogOffset), c.hdr.OffsetMsgID)
	require.Equal(t, "broker-a", c.hdr.BrokerName)
	require.Equal(t, "T", c.msg.Topic)
	require.Equal(t, int32(2), c.msg.QueueID)
	require.Equal(t, c.hdr.TranStateTableOffset, c.msg.QueueOffset)
	require.Equal(t, c.hdr.CommitLogOffset, c.msg.CommitLogOffset)
	require.Equal(t, "a", string(c.msg.Body))
	require.Equal(t, a.id, c.msg.MsgID)
	require.Equal(t, "1", c.msg.Property(message.PropertyTransactionCheckTimes))
	require.Equal(t, "pg", c.msg.Property(message.PropertyProducerGroup))

	// The next round asks again (interval), about a newer copy.
	e.round(s)
	again := e.prods.take()
	require.Len(t, again, 1)
	require.Equal(t, "2", again[0].msg.Property(message.PropertyTransactionCheckTimes))

	// The producer answers the first check late, then the second: one
	// commit.
	for _, ch := range []sentCheck{c, again[0]} {
		_, err := s.End(ctx, EndRequest{ProducerGroup: "pg", TranStateTableOffset: ch.hdr.TranStateTableOffset,
			CommitLogOffset: ch.hdr.CommitLogOffset, Commit: true})
		require.NoError(t, err)
	}
	e.waitDelivered(1)
	e.round(s)
	require.Empty(t, e.prods.take())
	require.Len(t, e.read("T", 2), 1)
	require.Equal(t, 0, s.Stats().Pending)
	half, ok := e.offs.Query(ConsumerGroup, HalfTopic, 0)
	require.True(t, ok)
	require.Equal(t, a.queue+3, half, "every record of the half queue is done with")
}

// TestServiceImmunity: CHECK_IMMUNITY_TIME_IN_SECONDS holds the first
// check back past transactionTimeOut.
func TestServiceImmunity(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	e.sendHalf("a", message.PropertyCheckImmunityTimeInSeconds, "20")
	e.advance(19 * time.Second)
	e.round(s)
	require.Empty(t, e.prods.take())
	e.advance(time.Second)
	e.round(s)
	require.Len(t, e.prods.take(), 1)
}

// TestServiceDiscard: after transactionCheckMax unanswered checks the half
// message goes to TRANS_CHECK_MAX_TIME_TOPIC, with an op record; it is
// never checked again, and a late END changes nothing.
func TestServiceDiscard(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	a := e.sendHalf("a")
	ctx := context.Background()
	e.advance(time.Minute)
	for range 3 {
		e.round(s)
		require.Len(t, e.prods.take(), 1)
	}
	e.round(s)
	require.Empty(t, e.prods.take())
	st := s.Stats()
	require.Equal(t, int64(3), st.Checks)
	require.Equal(t, int64(1), st.Discarded)
	require.Equal(t, 0, st.Pending)
	require.Equal(t, int64(1), e.ensured.Load())
	e.waitQueue(CheckMaxTopic, 1)
	dropped := e.read(CheckMaxTopic, 0)
	require.Equal(t, []string{"a"}, bodiesOf(dropped))
	require.Equal(t, "T", dropped[0].Property(message.PropertyRealTopic))
	e.round(s)
	require.Empty(t, e.prods.take())

	commit := a.req
	commit.Commit = true
	out, err := s.End(ctx, commit)
	require.NoError(t, err)
	require.Equal(t, AlreadyEnded, out)
	require.Empty(t, e.read("T", 2))
}

// TestServiceNoProducer: a check with no producer to ask still counts (the
// copy is written), as in RocketMQ.
func TestServiceNoProducer(t *testing.T) {
	e := newEnv(t)
	e.prods.none = true
	s := e.service()
	e.sendHalf("a")
	e.advance(time.Minute)
	e.round(s)
	st := s.Stats()
	require.Equal(t, int64(1), st.Checks)
	require.Equal(t, int64(1), st.NoProducer)
	require.Equal(t, int64(0), st.ChecksSent)
	e.waitQueue(HalfTopic, 2)
	half := e.read(HalfTopic, 0)
	require.Equal(t, "1", half[1].Property(message.PropertyTransactionCheckTimes))
}

// TestServiceRestart: a new service on the same store knows exactly what
// is pending and how often it was checked, from the persisted offsets and
// also from none at all (the op records say what was ended); committed
// messages are not committed again.
func TestServiceRestart(t *testing.T) {
	e := newEnv(t)
	s := e.service()
	ctx := context.Background()
	a, b, c := e.sendHalf("a"), e.sendHalf("b"), e.sendHalf("c")
	commit := a.req
	commit.Commit = true
	_, err := s.End(ctx, commit)
	require.NoError(t, err)
	e.advance(time.Minute)
	e.round(s) // checks b and c once
	require.Len(t, e.prods.take(), 2)
	_, err = s.End(ctx, c.req) // c rolled back by its first copy's offsets
	require.NoError(t, err)
	require.NoError(t, s.Close())
	// Half queue: a 0, b 1, c 2, b's copy 3 (pending), c's copy 4 (rolled
	// back); op queue: a, c's copy.
	require.Equal(t, []string{"commit " + HalfTopic + " 3", "persist", "commit " + OpTopic + " 1"}, e.offs.calls)
	e.waitQueue(OpTopic, 2)

	// From the persisted offsets, then from none at all: the same state.
	for i, offs := range []*fakeOffsets{e.offs, newFakeOffsets()} {
		e.offs = offs
		s2 := e.service()
		require.Equal(t, 1, s2.Stats().Pending, "b only")
		e.round(s2)
		checks := e.prods.take()
		require.Len(t, checks, 1)
		require.Equal(t, "b", string(checks[0].msg.Body))
		require.Equal(t, strconv.Itoa(i+2), checks[0].msg.Property(message.PropertyTransactionCheckTimes))
		require.NoError(t, s2.Close())
	}
	// The producer answers with its send result: b's first record.
	s2 := e.service()
	_, err = s2.End(ctx, EndRequest{ProducerGroup: "pg", TranStateTableOffset: b.queue, CommitLogOffset: b.req.CommitLogOffset, Commit: true})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	e.waitDelivered(2)
	require.Equal(t, []string{"a", "b"}, bodiesOf(e.read("T", 2)))

	// And once more, after the store itself restarts.
	require.NoError(t, e.store.Close())
	e.openStore()
	s3 := e.service()
	require.Equal(t, 0, s3.Stats().Pending)
	e.round(s3)
	require.Empty(t, e.prods.take())
	require.Equal(t, []string{"a", "b"}, bodiesOf(e.read("T", 2)))
}

// TestServiceLifecycle: Close without Start, twice, and End after Close.
func TestServiceLifecycle(t *testing.T) {
	e := newEnv(t)
	e.opts.TransactionCheckInterval = time.Millisecond
	s := e.service()
	a := e.sendHalf("a")
	s.Start()
	s.Start()
	e.advance(time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Checks == 0 {
		require.True(t, time.Now().Before(deadline), "the loop never checked")
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err := s.End(context.Background(), a.req)
	require.ErrorIs(t, err, ErrClosed)

	s2, err := New(e.opts, e.store, e.offs, e.prods, nil)
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	s2.Start()

	bad := e.opts
	bad.TransactionCheckMax = 0
	_, err = New(bad, e.store, e.offs, e.prods, nil)
	require.ErrorIs(t, err, ErrConfig)
}

// TestServiceConcurrentEnds: ENDs (some naming records that check-backs
// have since copied, some answering the check-backs) race with rounds
// that keep copying and checking: every transaction ends once, with its
// outcome.
func TestServiceConcurrentEnds(t *testing.T) {
	e := newEnv(t)
	e.opts.TransactionCheckMax = 1 << 20
	s := e.service()
	const n = 40
	var sends []sent
	for i := range n {
		sends = append(sends, e.sendHalf(fmt.Sprintf("m%02d", i)))
	}
	e.advance(time.Minute)
	ctx := context.Background()
	outcome := func(body string) bool { return body[len(body)-1]%2 == 0 } // commit the even ones

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // rounds, as fast as they go
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.round(ctx)
		}
	}()
	wg.Add(1)
	go func() { // the producer answers check-backs
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, c := range e.prods.take() {
				_, err := s.End(ctx, EndRequest{ProducerGroup: "pg", TranStateTableOffset: c.hdr.TranStateTableOffset,
					CommitLogOffset: c.hdr.CommitLogOffset, Commit: outcome(string(c.msg.Body))})
				if err != nil && !errors.Is(err, ErrBusy) {
					t.Errorf("answer to a check: %v", err)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	errs := make(chan error, n)
	for w := range 4 {
		wg.Add(1)
		go func() { // late ENDs naming the records as sent
			defer wg.Done()
			for i := w; i < n; i += 4 {
				r := sends[i].req
				r.Commit = outcome(sends[i].body)
				_, err := s.End(ctx, r)
				errs <- err
			}
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	close(stop)
	wg.Wait()
	e.round(s)
	require.Equal(t, 0, s.Stats().Pending)
	var want []string
	for _, x := range sends {
		if outcome(x.body) {
			want = append(want, x.body)
		}
	}
	e.waitDelivered(int64(len(want)))
	e.settle()
	require.ElementsMatch(t, want, bodiesOf(e.read("T", 2)))
	st := s.Stats()
	require.Equal(t, int64(n/2), st.Committed)
	require.Equal(t, int64(n/2), st.RolledBack)
}
