package broker

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

func TestSendAutoCreatesTopicAndPullReadsIt(t *testing.T) {
	tb := startBroker(t, nil)
	var ids []protocol.SendMessageResponseHeader
	for i, body := range []string{"one", "two", "three"} {
		rh := tb.mustSend(t, "TopicTest", 1, body, message.PropertyTags, "TagA", message.PropertyKeys, "k"+body)
		require.Equal(t, int32(1), rh.QueueID)
		require.Equal(t, int64(i), rh.QueueOffset, "queue offsets are consecutive")
		require.Len(t, rh.MsgID, message.OffsetMsgIDLenV4)
		require.Equal(t, "DefaultRegion", rh.MsgRegion)
		require.Equal(t, "true", rh.TraceOn)
		ids = append(ids, rh)
	}

	cfg, ok := tb.topics.Get("TopicTest")
	require.True(t, ok, "created through TBW102")
	require.Equal(t, int32(4), cfg.WriteQueueNums, "min(client's defaultTopicQueueNums, TBW102's)")
	require.Equal(t, int32(protocol.PermRead|protocol.PermWrite), cfg.Perm, "INHERIT is not inherited")

	tb.waitDispatched(t, "TopicTest", 1, 3)
	r := tb.pull(t, pullHeader("cg", "TopicTest", 1, 0))
	require.Equal(t, protocol.Success, r.code)
	require.Equal(t, []string{"one", "two", "three"}, bodies(r.msgs))
	require.Equal(t, int64(3), r.hdr.NextBeginOffset)
	require.Equal(t, int64(0), r.hdr.MinOffset)
	require.Equal(t, int64(3), r.hdr.MaxOffset)
	require.Equal(t, int64(protocol.MasterID), r.hdr.SuggestWhichBrokerID)

	brokerAddr := netip.MustParseAddrPort(tb.addr)
	for i, m := range r.msgs {
		require.Equal(t, ids[i].MsgID, m.OffsetMsgID, "msgId is the offset message id")
		host, off, err := message.ParseOffsetMsgID(ids[i].MsgID)
		require.NoError(t, err)
		require.Equal(t, brokerAddr, host)
		require.Equal(t, m.CommitLogOffset, off)
		require.Equal(t, brokerAddr, m.StoreHost)
		require.Equal(t, "127.0.0.1", m.BornHost.Addr().String(), "born host is the producer's connection")
		require.Equal(t, "DefaultCluster", m.Property(message.PropertyCluster), "CLUSTER is stamped on single sends")
		require.Len(t, m.Property(message.PropertyUniqClientMessageIDKeyIdx), message.UniqIDLen, "a missing UNIQ_KEY is generated")
		require.Equal(t, "TagA", m.Tags())
		require.Equal(t, int64(i), m.QueueOffset)
	}
	require.NotEqual(t, r.msgs[0].Property(message.PropertyUniqClientMessageIDKeyIdx), r.msgs[1].Property(message.PropertyUniqClientMessageIDKeyIdx))
}

func TestSendKeepsProducersUniqKey(t *testing.T) {
	tb := startBroker(t, nil)
	tb.mustSend(t, "T", 0, "x", message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000000000000001AB",
		message.PropertyCluster, "DefaultCluster")
	tb.waitDispatched(t, "T", 0, 1)
	r := tb.pull(t, pullHeader("cg", "T", 0, 0))
	require.Len(t, r.msgs, 1)
	m := r.msgs[0]
	require.Equal(t, "0A0000010000000000000000000001AB", m.Property(message.PropertyUniqClientMessageIDKeyIdx))
	require.Equal(t, 1, strings.Count(string(m.RawProperties), message.PropertyCluster), "CLUSTER not duplicated")
}

func TestSendNegativeQueueIDPicksOne(t *testing.T) {
	tb := startBroker(t, nil)
	seen := map[int32]bool{}
	for range 40 {
		rh := tb.mustSend(t, "T", -1, "x")
		require.GreaterOrEqual(t, rh.QueueID, int32(0))
		require.Less(t, rh.QueueID, int32(4))
		seen[rh.QueueID] = true
	}
	require.Greater(t, len(seen), 1, "spread over the write queues")
}

func TestSendV2AndBatch(t *testing.T) {
	tb := startBroker(t, nil)
	h := sendHeader("BatchTopic", 2, "")
	resp := tb.invoke(t, protocol.SendMessageV2, h.AppendExtV2(nil), []byte("single"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)

	var body []byte
	for i, b := range []string{"b0", "b1", "b2"} {
		var err error
		body, err = message.AppendBatchEntry(body, message.BatchEntry{
			Flag: int32(i), Body: []byte(b),
			// DELAY=0 does not delay: such a batch is accepted.
			Properties: []byte(props(message.PropertyTags, "T"+b, message.PropertyKeys, "key-"+b, message.PropertyDelayTimeLevel, "0")),
		})
		require.NoError(t, err)
	}
	h.Batch = true
	resp = tb.invoke(t, protocol.SendBatchMessage, h.AppendExtV2(nil), body)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	var rh protocol.SendMessageResponseHeader
	require.NoError(t, rh.DecodeExt(resp.ExtFields))
	require.Equal(t, int64(1), rh.QueueOffset, "the batch's first queue offset")
	ids := strings.Split(rh.MsgID, ",")
	require.Len(t, ids, 3, "one offset message id per message, comma-joined")

	tb.waitDispatched(t, "BatchTopic", 2, 4)
	r := tb.pull(t, pullHeader("cg", "BatchTopic", 2, 1))
	require.Equal(t, []string{"b0", "b1", "b2"}, bodies(r.msgs))
	for i, m := range r.msgs {
		require.Equal(t, ids[i], m.OffsetMsgID)
		require.Equal(t, int32(i), m.Flag, "each entry keeps its flag")
		require.Equal(t, "Tb"+string(rune('0'+i)), m.Tags(), "each entry keeps its properties")
		require.Empty(t, m.Property(message.PropertyUniqClientMessageIDKeyIdx), "no UNIQ_KEY added to batch entries")
		require.Equal(t, int64(1+i), m.QueueOffset)
	}
}

func TestSendRefusalsStoreNothing(t *testing.T) {
	tb := startBroker(t, func(o *Options, so *store.Options) { so.MaxMessageSize = 64 << 10 })
	tb.mustSend(t, "Good", 0, "first")

	bigBatch, err := message.AppendBatchEntry(nil, message.BatchEntry{Body: make([]byte, 65<<10)})
	require.NoError(t, err)
	okEntry, err := message.AppendBatchEntry(nil, message.BatchEntry{Body: []byte("fine")})
	require.NoError(t, err)
	truncated := append(append([]byte{}, okEntry...), okEntry[:10]...)
	// batchWith is a batch of a plain message and one with kv.
	batchWith := func(kv ...string) []byte {
		e, err := message.AppendBatchEntry(append([]byte{}, okEntry...), message.BatchEntry{Body: []byte("later"), Properties: []byte(props(kv...))})
		require.NoError(t, err)
		return e
	}
	batchHeader := func(sysFlag int32, properties string) func() protocol.ExtFields {
		return func() protocol.ExtFields {
			h := sendHeader("Good", 0, properties)
			h.SysFlag, h.Batch = sysFlag, true
			return h.AppendExtV2(nil)
		}
	}

	tests := []struct {
		name   string
		code   protocol.RequestCode
		ext    func() protocol.ExtFields
		body   []byte
		want   protocol.ResponseCode
		remark string
	}{
		{
			name: "illegal characters", code: protocol.SendMessage, body: []byte("x"),
			ext:  func() protocol.ExtFields { h := sendHeader("bad topic!", 0, ""); return h.AppendExt(nil) },
			want: protocol.SystemError, remark: "illegal",
		},
		{
			name: "topic too long", code: protocol.SendMessage, body: []byte("x"),
			ext:  func() protocol.ExtFields { h := sendHeader(strings.Repeat("t", 128), 0, ""); return h.AppendExt(nil) },
			want: protocol.SystemError,
		},
		{
			name: "reserved topic", code: protocol.SendMessage, body: []byte("x"),
			ext:  func() protocol.ExtFields { h := sendHeader("SCHEDULE_TOPIC_XXXX", 0, ""); return h.AppendExt(nil) },
			want: protocol.NoPermission, remark: "forbidden",
		},
		{
			name: "system prefix is not auto-created", code: protocol.SendMessage, body: []byte("x"),
			ext:  func() protocol.ExtFields { h := sendHeader("rmq_sys_mine", 0, ""); return h.AppendExt(nil) },
			want: protocol.TopicNotExist, remark: "system topic",
		},
		{
			name: "body over maxMessageSize", code: protocol.SendMessage, body: make([]byte, 65<<10),
			ext:  func() protocol.ExtFields { h := sendHeader("Good", 0, ""); return h.AppendExt(nil) },
			want: protocol.MessageIllegal, remark: "maxMessageSize",
		},
		{
			name: "properties too long", code: protocol.SendMessage, body: []byte("x"),
			ext: func() protocol.ExtFields {
				h := sendHeader("Good", 0, props("k", strings.Repeat("v", 40000)))
				return h.AppendExt(nil)
			},
			want: protocol.MessageIllegal,
		},
		{
			name: "queue id out of range", code: protocol.SendMessage, body: []byte("x"),
			ext:  func() protocol.ExtFields { h := sendHeader("Good", 99, ""); return h.AppendExt(nil) },
			want: protocol.SystemError, remark: "queueId[99] is illegal",
		},
		{
			name: "missing header field", code: protocol.SendMessage, body: []byte("x"),
			ext: func() protocol.ExtFields {
				h := sendHeader("Good", 0, "")
				f := h.AppendExt(nil)
				f.Delete("producerGroup")
				return f
			},
			want: protocol.SystemError, remark: "producerGroup",
		},
		{
			name: "number that does not parse", code: protocol.SendMessage, body: []byte("x"),
			ext: func() protocol.ExtFields {
				h := sendHeader("Good", 0, "")
				f := h.AppendExt(nil)
				f.Set("queueId", "zero")
				return f
			},
			want: protocol.SystemError, remark: "queueId",
		},
		{
			name: "malformed batch", code: protocol.SendBatchMessage, body: truncated,
			ext:  func() protocol.ExtFields { h := sendHeader("Good", 0, ""); return h.AppendExtV2(nil) },
			want: protocol.MessageIllegal, remark: "batch",
		},
		{
			name: "batch entry too large", code: protocol.SendBatchMessage, body: bigBatch,
			ext:  func() protocol.ExtFields { h := sendHeader("Good", 0, ""); return h.AppendExtV2(nil) },
			want: protocol.MessageIllegal,
		},
		{
			name: "batch to a retry topic", code: protocol.SendBatchMessage, body: okEntry,
			ext:  func() protocol.ExtFields { h := sendHeader("%RETRY%cg", 0, ""); return h.AppendExtV2(nil) },
			want: protocol.MessageIllegal, remark: "retry",
		},
		{
			name: "transaction batch", code: protocol.SendBatchMessage, body: okEntry,
			ext: batchHeader(message.TransactionPreparedType, ""), want: protocol.MessageIllegal, remark: "transaction",
		},
		{
			name: "commit batch", code: protocol.SendBatchMessage, body: okEntry,
			ext: batchHeader(message.TransactionCommitType, ""), want: protocol.MessageIllegal, remark: "transaction",
		},
		{
			name: "rollback batch", code: protocol.SendBatchMessage, body: okEntry,
			ext: batchHeader(message.TransactionRollbackType, ""), want: protocol.MessageIllegal, remark: "transaction",
		},
		{
			name: "delayed batch", code: protocol.SendBatchMessage, body: okEntry,
			ext: batchHeader(0, props(message.PropertyDelayTimeLevel, "2")), want: protocol.MessageIllegal, remark: "cannot be delayed",
		},
		{
			name: "delayed message in a batch", code: protocol.SendBatchMessage, body: batchWith(message.PropertyDelayTimeLevel, "3"),
			ext: batchHeader(0, ""), want: protocol.MessageIllegal, remark: "batch messages cannot be delayed: message 1 of the batch has DELAY=3",
		},
		{
			name: "DELAY that is not a number in a batch", code: protocol.SendBatchMessage, body: batchWith(message.PropertyDelayTimeLevel, "soon"),
			ext: batchHeader(0, ""), want: protocol.MessageIllegal, remark: "cannot be delayed",
		},
		{
			name: "timed message in a batch", code: protocol.SendBatchMessage, body: batchWith(message.PropertyTimerDelaySec, "10"),
			ext: batchHeader(0, ""), want: protocol.MessageIllegal, remark: "cannot be delayed: message 1 of the batch has TIMER_DELAY_SEC",
		},
		{
			name: "legacy timed message in a batch", code: protocol.SendBatchMessage, body: batchWith(message.PropertyForceDelayDeliverySeconds, "1"),
			ext: batchHeader(0, ""), want: protocol.MessageIllegal, remark: "__STARTDELIVERTIME",
		},
		{
			name: "timed batch", code: protocol.SendBatchMessage, body: okEntry,
			ext: batchHeader(0, props(message.PropertyTimerDeliverMS, "1")), want: protocol.MessageIllegal, remark: "TIMER_DELIVER_MS",
		},
		{
			name: "unknown default topic", code: protocol.SendMessage, body: []byte("x"),
			ext: func() protocol.ExtFields {
				h := sendHeader("Fresh", 0, "")
				h.DefaultTopic = "NoSuchDefault"
				return h.AppendExt(nil)
			},
			want: protocol.TopicNotExist, remark: "not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tb.invoke(t, tt.code, tt.ext(), tt.body)
			require.Equal(t, tt.want, resp.ResponseCode(), resp.Remark)
			require.NotEmpty(t, resp.Remark, "a refusal says why")
			if tt.remark != "" {
				require.Contains(t, resp.Remark, tt.remark)
			}
		})
	}
	_, ok := tb.topics.Get("Fresh")
	require.False(t, ok)
	tb.waitDispatched(t, "Good", 0, 1)
	require.Equal(t, int64(1), tb.store.MaxOffsetInQueue("Good", 0), "nothing refused was stored")
	require.Equal(t, int64(1), tb.store.Stats().PutMessageTimesTotal)
	// The connection is still good.
	tb.mustSend(t, "Good", 0, "second")
}

func TestSendAutoCreateDisabled(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.AutoCreateTopicEnable = false })
	resp := tb.send(t, sendHeader("Unknown", 0, ""), "x")
	require.Equal(t, protocol.TopicNotExist, resp.ResponseCode())
	require.Contains(t, resp.Remark, "apply first")
	// A retry topic is still created on a send (Java's send-back path).
	resp = tb.send(t, sendHeader("%RETRY%cg", 0, ""), "x")
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
}

func TestSendRejectsWhenBrokerNotWritable(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.BrokerPermission = protocol.PermRead })
	resp := tb.send(t, sendHeader("T", 0, ""), "x")
	require.Equal(t, protocol.NoPermission, resp.ResponseCode())
}

func TestSendRejectsTransactionsWhenConfigured(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.RejectTransactionMessage = true })
	resp := tb.send(t, sendHeader("T", 0, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, "pg")), "x")
	require.Equal(t, protocol.NoPermission, resp.ResponseCode())
	require.Contains(t, resp.Remark, "transaction")

	// As Java: a retry from a client before 4.6.1 (reconsumeTimes > 0 with a
	// DELAY) keeps TRAN_MSG but is no transaction, so it is accepted.
	h := sendHeader("T", 0, props(message.PropertyTransactionPrepared, "true", message.PropertyProducerGroup, "pg",
		message.PropertyDelayTimeLevel, "3"))
	h.ReconsumeTimes = 1
	resp = tb.send(t, h, "retry")
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
}

// TestSendSyncFlushManyInFlight pipelines sends on one connection under
// SYNC_FLUSH: they are answered by group commits, not one fdatasync each.
func TestSendSyncFlushManyInFlight(t *testing.T) {
	tb := startBroker(t, func(_ *Options, so *store.Options) { so.FlushDiskType = store.SyncFlush })
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			resp := tb.send(t, sendHeader("Sync", int32(i%4), ""), "m")
			if resp.ResponseCode() != protocol.Success {
				errs <- resp.ResponseCode().String() + " " + resp.Remark
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	st := tb.store.Stats()
	require.Equal(t, int64(n), st.PutMessageTimesTotal)
	require.Less(t, st.CommitLogFlushes, int64(n), "one fdatasync acknowledges many sends")
}

// TestSendReplyMessageIsStored: a reply is stored even when it cannot be
// pushed (here it names no requester, which its sender hears); pushing is
// reply_test.go's.
func TestSendReplyMessageIsStored(t *testing.T) {
	tb := startBroker(t, nil)
	h := sendHeader("DefaultCluster_REPLY_TOPIC", 0, props(message.PropertyMessageType, "reply"))
	resp := tb.invoke(t, protocol.SendReplyMessage, h.AppendExt(nil), []byte("reply"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode(), resp.Remark)
	resp = tb.invoke(t, protocol.SendReplyMessageV2, h.AppendExtV2(nil), []byte("reply2"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode(), resp.Remark)
	tb.waitDispatched(t, "DefaultCluster_REPLY_TOPIC", 0, 2)
}
