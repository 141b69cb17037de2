package broker

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/broker/txn"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// sendHalf sends a transactional message of producer group pg, as the Go
// client's SendMessageInTransaction does, and returns the END_TRANSACTION
// header that commits it.
func (tb *testBroker) sendHalf(t *testing.T, topic string, queueID int32, body string) protocol.EndTransactionRequestHeader {
	t.Helper()
	h := sendHeader(topic, queueID, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, "pg",
		message.PropertyUniqClientMessageIDKeyIdx, "UNIQ-"+body))
	h.SysFlag = message.TransactionPreparedType
	resp := tb.send(t, h, body)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	var rh protocol.SendMessageResponseHeader
	require.NoError(t, rh.DecodeExt(resp.ExtFields))
	require.Equal(t, queueID, rh.QueueID, "the queue the producer chose")
	host, clo, err := message.ParseOffsetMsgID(rh.MsgID)
	require.NoError(t, err, "the Go client parses the commit-log offset from msgId")
	require.Equal(t, tb.Addr(), host.String())
	return protocol.EndTransactionRequestHeader{
		ProducerGroup: "pg", TranStateTableOffset: rh.QueueOffset, CommitLogOffset: clo,
		CommitOrRollback: protocol.TransactionCommitType, MsgID: "UNIQ-" + body,
	}
}

func (tb *testBroker) endTxn(t *testing.T, h protocol.EndTransactionRequestHeader) *remoting.Command {
	t.Helper()
	return tb.invoke(t, protocol.EndTransaction, protocol.EncodeHeader(nil, &h), nil)
}

// pullAll reads topic/queue from offset 0 with a fresh group.
func (tb *testBroker) pullAll(t *testing.T, topic string, queueID int32) []string {
	t.Helper()
	r := tb.pull(t, pullHeader("reader", topic, queueID, 0))
	return bodies(r.msgs)
}

// TestHalfMessageHidden: a transactional send is stored as a half message
// (answered with the half record's ids) that no consumer of the topic
// sees; rejectTransactionMessage refuses it.
func TestHalfMessageHidden(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	end := tb.sendHalf(t, "T", 3, "a")
	tb.waitDispatched(t, txn.HalfTopic, 0, 1)
	require.Equal(t, int64(0), end.TranStateTableOffset)
	require.Equal(t, int64(0), tb.store.MaxOffsetInQueue("T", 3))
	require.Empty(t, tb.pullAll(t, "T", 3))

	half, err := tb.store.LookMessageByOffset(end.CommitLogOffset)
	require.NoError(t, err)
	require.Equal(t, txn.HalfTopic, half.Topic)
	require.Equal(t, int32(0), half.QueueID)
	require.Equal(t, message.TransactionNotType, message.TransactionType(half.SysFlag))
	require.Equal(t, "T", half.Property(message.PropertyRealTopic))
	require.Equal(t, "3", half.Property(message.PropertyRealQueueID))
	require.Equal(t, "UNIQ-a", half.Property(message.PropertyTransactionID))

	rej := startBroker(t, func(o *Options, _ *store.Options) { o.RejectTransactionMessage = true })
	rej.createTopic(t, "T", 4)
	h := sendHeader("T", 0, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, "pg"))
	resp := rej.send(t, h, "x")
	require.Equal(t, protocol.NoPermission, resp.ResponseCode(), resp.Remark)
}

// TestEndTransaction: commit delivers the message to the queue it was sent
// to, rollback never; a duplicate END is harmless either way.
func TestEndTransaction(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	a := tb.sendHalf(t, "T", 1, "a")
	b := tb.sendHalf(t, "T", 1, "b")

	resp := tb.endTxn(t, a)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	b.CommitOrRollback = protocol.TransactionRollbackType
	resp = tb.endTxn(t, b)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	tb.waitDispatched(t, "T", 1, 1)
	require.Equal(t, []string{"a"}, tb.pullAll(t, "T", 1))

	for _, h := range []protocol.EndTransactionRequestHeader{a, b, func() protocol.EndTransactionRequestHeader {
		c := b
		c.CommitOrRollback = protocol.TransactionCommitType
		c.FromTransactionCheck = true
		return c
	}()} {
		resp := tb.endTxn(t, h)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		require.Contains(t, resp.Remark, "already ended")
	}
	tb.waitDispatched(t, txn.OpTopic, 0, 2)
	require.Equal(t, []string{"a"}, tb.pullAll(t, "T", 1))
	st, ok := tb.TransactionStats()
	require.True(t, ok)
	require.Equal(t, int64(1), st.Committed)
	require.Equal(t, int64(1), st.RolledBack)
}

// TestEndTransactionBadInput: every malformed or mismatched END gets a
// clear error and changes nothing; an unknown state changes nothing.
func TestEndTransactionBadInput(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	a := tb.sendHalf(t, "T", 0, "a")
	tb.sendHalf(t, "T", 0, "b")
	plain := tb.mustSend(t, "T", 2, "plain", message.PropertyProducerGroup, "pg")
	_, plainOffset, err := message.ParseOffsetMsgID(plain.MsgID)
	require.NoError(t, err)

	with := func(f func(h *protocol.EndTransactionRequestHeader)) protocol.ExtFields {
		h := a
		f(&h)
		return protocol.EncodeHeader(nil, &h)
	}
	for _, tc := range []struct {
		name   string
		ext    protocol.ExtFields
		code   protocol.ResponseCode
		remark string
	}{
		{"no header", nil, protocol.SystemError, "producerGroup"},
		{"bad number", func() protocol.ExtFields {
			f := with(func(*protocol.EndTransactionRequestHeader) {})
			f.Set("commitLogOffset", "12x")
			return f
		}(), protocol.SystemError, "commitLogOffset"},
		{"bad state", with(func(h *protocol.EndTransactionRequestHeader) { h.CommitOrRollback = 4 }), protocol.SystemError, "commitOrRollback 4"},
		{"negative offset", with(func(h *protocol.EndTransactionRequestHeader) { h.CommitLogOffset = -1 }), protocol.SystemError, "negative"},
		{"unknown offset", with(func(h *protocol.EndTransactionRequestHeader) { h.CommitLogOffset = 1 << 40 }), protocol.SystemError, "find prepared transaction message failed"},
		{"not a half message", with(func(h *protocol.EndTransactionRequestHeader) { h.CommitLogOffset = plainOffset }), protocol.SystemError, "find prepared transaction message failed"},
		{"other group", with(func(h *protocol.EndTransactionRequestHeader) { h.ProducerGroup = "other" }), protocol.SystemError, "producer group wrong"},
		{"other queue offset", with(func(h *protocol.EndTransactionRequestHeader) { h.TranStateTableOffset = 1 }), protocol.SystemError, "transaction state table offset wrong"},
		{"unknown state", with(func(h *protocol.EndTransactionRequestHeader) { h.CommitOrRollback = protocol.TransactionNotType }), protocol.Success, "nothing changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tb.invoke(t, protocol.EndTransaction, tc.ext, nil)
			require.Equal(t, tc.code, resp.ResponseCode(), resp.Remark)
			require.Contains(t, resp.Remark, tc.remark)
		})
	}
	st, _ := tb.TransactionStats()
	require.Equal(t, int64(0), st.Committed+st.RolledBack)
	require.Equal(t, int64(0), tb.store.MaxOffsetInQueue(txn.OpTopic, 0))
	require.Equal(t, int64(0), tb.store.MaxOffsetInQueue("T", 0))
	// Still pending: a real commit works.
	resp := tb.endTxn(t, a)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	tb.waitDispatched(t, "T", 0, 1)
}

// TestEndTransactionOnSlave: a slave refuses END_TRANSACTION.
func TestEndTransactionOnSlave(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) {
		o.BrokerRole = store.RoleSlave
		o.BrokerID = 1
	})
	resp := tb.endTxn(t, protocol.EndTransactionRequestHeader{ProducerGroup: "pg", CommitOrRollback: protocol.TransactionCommitType, MsgID: "x"})
	require.Equal(t, protocol.SlaveNotAvailable, resp.ResponseCode(), resp.Remark)
	_, ok := tb.TransactionStats()
	require.False(t, ok)
}

// checkRecorder is a producer connection that records check-backs.
type checkRecorder struct {
	mu     sync.Mutex
	checks []*remoting.Command
}

func (r *checkRecorder) ProcessRequest(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, req)
	return nil, nil
}

func (r *checkRecorder) take() []*remoting.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.checks
	r.checks = nil
	return out
}

// TestCheckBack: a producer connected for its group gets
// CHECK_TRANSACTION_STATE, oneway, about an undecided transaction, with the
// message as it sent it; its answer (END_TRANSACTION naming the copy)
// commits it once.
func TestCheckBack(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) {
		o.TransactionTimeOut = 1
		o.TransactionCheckInterval = 20
		o.TransactionCheckMax = 1000
	})
	tb.createTopic(t, "T", 4)
	rec := &checkRecorder{}
	tb.rc.Register(protocol.CheckTransactionState, remoting.Spawn, rec)
	hb := protocol.HeartbeatData{ClientID: "producer-1", ProducerDataSet: []protocol.ProducerData{{GroupName: "pg"}}}
	body, err := protocol.EncodeBody(&hb)
	require.NoError(t, err)
	resp := tb.invoke(t, protocol.HeartBeat, nil, body)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)

	sent := tb.sendHalf(t, "T", 2, "a")
	var check *remoting.Command
	waitFor(t, "a check-back", func() bool {
		if cs := rec.take(); len(cs) > 0 {
			check = cs[0]
			return true
		}
		return false
	})
	require.True(t, check.IsOneway())
	var h protocol.CheckTransactionStateRequestHeader
	require.NoError(t, protocol.DecodeHeader(check.ExtFields, &h))
	require.Equal(t, "T", h.Topic)
	require.Equal(t, "UNIQ-a", h.MsgID)
	require.Equal(t, "UNIQ-a", h.TransactionID)
	require.Equal(t, "broker-a", h.BrokerName)
	require.Greater(t, h.TranStateTableOffset, sent.TranStateTableOffset, "about a copy")
	require.Equal(t, message.OffsetMsgID(mustAddrPort(t, tb.Addr()), h.CommitLogOffset), h.OffsetMsgID)
	msgs, err := message.DecodeMessageExts(check.Body)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "T", msgs[0].Topic)
	require.Equal(t, int32(2), msgs[0].QueueID)
	require.Equal(t, "a", string(msgs[0].Body))
	require.Equal(t, "pg", msgs[0].Property(message.PropertyProducerGroup))

	// The Go client's answer: the check's offsets, fromTransactionCheck.
	answer := sent
	answer.TranStateTableOffset, answer.CommitLogOffset, answer.FromTransactionCheck = h.TranStateTableOffset, h.CommitLogOffset, true
	resp = tb.endTxn(t, answer)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	tb.waitDispatched(t, "T", 2, 1)
	// Checks asked meanwhile may still be answered: nothing changes.
	for _, c := range rec.take() {
		var h protocol.CheckTransactionStateRequestHeader
		require.NoError(t, protocol.DecodeHeader(c.ExtFields, &h))
		answer.TranStateTableOffset, answer.CommitLogOffset = h.TranStateTableOffset, h.CommitLogOffset
		tb.endTxn(t, answer)
	}
	waitFor(t, "the checks to stop", func() bool {
		st, _ := tb.TransactionStats()
		return st.Pending == 0
	})
	require.Equal(t, []string{"a"}, tb.pullAll(t, "T", 2))
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	require.NoError(t, err)
	return ap
}

// TestTransactionRestartBroker: a broker restarted on the same directory
// still knows what is pending and what was ended.
func TestTransactionRestartBroker(t *testing.T) {
	dir := t.TempDir()
	start := func() *testBroker {
		return startBroker(t, func(o *Options, so *store.Options) {
			*so = testStoreOptions(dir)
		})
	}
	tb := start()
	tb.createTopic(t, "T", 4)
	a := tb.sendHalf(t, "T", 0, "a")
	b := tb.sendHalf(t, "T", 0, "b")
	c := tb.sendHalf(t, "T", 0, "c")
	require.Equal(t, protocol.Success, tb.endTxn(t, a).ResponseCode())
	c.CommitOrRollback = protocol.TransactionRollbackType
	require.Equal(t, protocol.Success, tb.endTxn(t, c).ResponseCode())
	require.NoError(t, tb.Close())

	tb = start()
	st, _ := tb.TransactionStats()
	require.Equal(t, 1, st.Pending)
	for _, h := range []protocol.EndTransactionRequestHeader{a, c} {
		resp := tb.endTxn(t, h)
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		require.True(t, strings.Contains(resp.Remark, "already ended"), resp.Remark)
	}
	require.Equal(t, protocol.Success, tb.endTxn(t, b).ResponseCode())
	tb.waitDispatched(t, "T", 0, 2)
	require.Equal(t, []string{"a", "b"}, tb.pullAll(t, "T", 0))
}
