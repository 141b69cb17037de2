package compat

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// traceUsed: the official client sends traces through one process-wide
// client instance ("INNER_TRACE_CLIENT_DEFAULT", internal/trace.go) that
// is never shut down and stays bound to the first name server it was
// given; a traced producer or consumer of another cluster in the same
// process gets no dispatcher (NewTraceDispatcher returns a nil one, which
// the trace interceptor then dereferences). So one test, one cluster.
var traceUsed atomic.Bool

// traceRecord is one record of a trace message: fields separated by
// \x01 (the record type first: Pub, SubBefore, SubAfter).
type traceRecord []string

func traceRecords(body []byte) []traceRecord {
	var out []traceRecord
	for r := range strings.SplitSeq(string(body), "\x02") {
		if r != "" {
			out = append(out, strings.Split(r, "\x01"))
		}
	}
	return out
}

// TestTrace: a producer and a consumer with the official client's trace
// option leave their records (Pub, SubBefore, SubAfter) on
// RMQ_SYS_TRACE_TOPIC, which exists from the start (the client never
// borrows TBW102's route for it) and whose messages are indexed by the
// traced message ids and keys (the trace message's KEYS), so they are
// found by message id, by key and by time.
func TestTrace(t *testing.T) {
	if traceUsed.Swap(true) {
		t.Skip("the official client's trace client is process-wide and bound to the first name server: once per process")
	}
	c := startCluster(t)
	traceCfg := &primitive.TraceConfig{Access: primitive.Local, Resolver: c.resolver()}
	const topic = "Traced"
	start := time.Now().Add(-time.Second)

	p := c.producer(producer.WithTrace(traceCfg))
	m := primitive.NewMessage(topic, []byte("traced body")).WithTag("TagT").WithKeys([]string{"trace-key"})
	res, err := p.SendSync(context.Background(), m)
	require.NoError(t, err)
	require.Equal(t, primitive.SendOK, res.Status)

	s := newSink()
	c.pushConsumer("CG_Traced", topic, "*", s, consumer.WithTrace(traceCfg))
	s.waitDistinct(t, 1, 30*time.Second)

	admin := c.admin()
	ctx := context.Background()
	end := time.Now().Add(time.Minute)
	// kinds returns the kinds of the records about the sent message in msgs.
	kinds := func(msgs []client.MessageExt) map[string]traceRecord {
		out := map[string]traceRecord{}
		for _, tm := range msgs {
			require.Equal(t, "RMQ_SYS_TRACE_TOPIC", tm.Topic)
			for _, r := range traceRecords(tm.Body) {
				if strings.Contains(strings.Join(r, "|"), res.MsgID) {
					out[r[0]] = r
				}
			}
		}
		return out
	}
	var got map[string]traceRecord
	eventually(t, 30*time.Second, func() error {
		msgs, err := admin.QueryMessagesByKey(ctx, "RMQ_SYS_TRACE_TOPIC", res.MsgID, start, end, 0)
		if err != nil {
			return err
		}
		if got = kinds(msgs); len(got) < 3 {
			return fmt.Errorf("trace records found by message id: %v", got)
		}
		return nil
	})
	pub := got["Pub"]
	require.NotNil(t, pub, "the producer's record")
	require.Equal(t, topic, pub[4])
	require.Equal(t, res.MsgID, pub[5])
	require.Equal(t, "TagT", pub[6])
	require.Equal(t, "trace-key", pub[7])
	require.Equal(t, res.OffsetMsgID, pub[12])
	require.Equal(t, "true", pub[13], "sent")
	require.Equal(t, "CG_Traced", got["SubBefore"][3], "the consumer's records")
	require.Equal(t, "true", got["SubAfter"][4], "consumed")

	msgs, err := admin.QueryMessagesByKey(ctx, "RMQ_SYS_TRACE_TOPIC", "trace-key", start, end, 0)
	require.NoError(t, err)
	require.Len(t, kinds(msgs), 3, "found by the traced message's key too")

	msgs, err = admin.QueryMessagesByTime(ctx, "RMQ_SYS_TRACE_TOPIC", start, end, 100)
	require.NoError(t, err)
	require.Len(t, kinds(msgs), 3, "and by time")
}
