package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// serveQueries adds VIEW_MESSAGE_BY_ID and QUERY_MESSAGE to a fake broker:
// a scan of its records, as a broker's index lookup answers.
func (b *fakeBroker) serveQueries() {
	b.srv.Register(protocol.ViewMessageByID, remoting.Inline, b.counted(protocol.ViewMessageByID, b.onViewMessage))
	b.srv.Register(protocol.QueryMessage, remoting.Inline, b.counted(protocol.QueryMessage, b.onQueryMessage))
}

func (b *fakeBroker) onViewMessage(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ViewMessageRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rs := range b.queues {
		for _, r := range rs {
			if m, _ := message.DecodeMessageExt(r.data); m.CommitLogOffset == h.Offset {
				resp := ok(req)
				resp.Body = r.data
				return resp, nil
			}
		}
	}
	return remoting.NewResponse(req, protocol.SystemError, "can not find message by the offset"), nil
}

func (b *fakeBroker) onQueryMessage(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.QueryMessageRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	uniq := req.ExtFields.Value(uniqueKeyQueryFlag) == "true"
	b.mu.Lock()
	defer b.mu.Unlock()
	var body []byte
	for k, rs := range b.queues {
		if k.topic != h.Topic {
			continue
		}
		for _, r := range rs {
			m, _ := message.DecodeMessageExt(r.data)
			hit := m.Properties[message.PropertyUniqClientMessageIDKeyIdx] == h.Key
			if !uniq {
				hit = slices.Contains(strings.Fields(m.Properties[message.PropertyKeys]), h.Key) ||
					// an index hash collision: a false hit the client must drop
					m.Properties[message.PropertyKeys] == "collides-with-"+h.Key
			}
			if hit && r.storedAt >= h.BeginTimestamp && r.storedAt <= h.EndTimestamp {
				body = append(body, r.data...)
			}
		}
	}
	if body == nil {
		return remoting.NewResponse(req, protocol.QueryNotFound, "can not find message"), nil
	}
	resp := ok(req)
	resp.Body = body
	return resp, nil
}

func TestAdminQueryMessages(t *testing.T) {
	fc := newFakeCluster(t, 2)
	for _, b := range fc.brokers {
		b.serveQueries()
	}
	fc.createTopic("T", 2)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	admin := NewAdmin(c)

	var sent []SendResult
	for i := range 6 {
		res, err := p.Send(testCtx(t), &Message{Topic: "T", Body: fmt.Appendf(nil, "m%d", i), Keys: []string{"order-" + fmt.Sprint(i%2), "all"}})
		require.NoError(t, err)
		sent = append(sent, res)
	}
	_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("false hit"), Keys: []string{"collides-with-order-0"}})
	require.NoError(t, err)

	t.Run("by offset message id", func(t *testing.T) {
		m, err := admin.ViewMessage(testCtx(t), sent[3].OffsetMsgID)
		require.NoError(t, err)
		require.Equal(t, "m3", string(m.Body))
		require.Equal(t, sent[3].MsgID, m.MsgID())
		require.Equal(t, sent[3].OffsetMsgID, m.OffsetMsgID())

		_, err = admin.ViewMessage(testCtx(t), "not an id")
		require.ErrorIs(t, err, ErrInvalidOptions)
		bogus := message.OffsetMsgID(m.StoreHost, m.CommitLogOffset+1)
		_, err = admin.ViewMessage(testCtx(t), bogus)
		var be *BrokerError
		require.ErrorAs(t, err, &be)
		require.Equal(t, CodeSystemError, be.Code)
	})

	t.Run("by message id", func(t *testing.T) {
		msgs, err := admin.QueryMessagesByID(testCtx(t), "T", sent[4].MsgID)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "m4", string(msgs[0].Body))
		require.NotEmpty(t, msgs[0].BrokerName)

		_, err = admin.QueryMessagesByID(testCtx(t), "T", "0A0000010000000000000000000000FF")
		require.ErrorIs(t, err, ErrMessageNotFound)
	})

	t.Run("by key", func(t *testing.T) {
		all := time.Now().Add(-time.Hour)
		msgs, err := admin.QueryMessagesByKey(testCtx(t), "T", "order-0", all, time.Now().Add(time.Hour), 0)
		require.NoError(t, err)
		var got []string
		for _, m := range msgs {
			got = append(got, string(m.Body))
		}
		slices.Sort(got)
		require.Equal(t, []string{"m0", "m2", "m4"}, got, "from both brokers, without the false hit")
		for i := 1; i < len(msgs); i++ {
			require.False(t, msgs[i].StoreTimestamp.After(msgs[i-1].StoreTimestamp), "newest first")
		}

		msgs, err = admin.QueryMessagesByKey(testCtx(t), "T", "all", all, time.Now().Add(time.Hour), 2)
		require.NoError(t, err)
		require.Len(t, msgs, 2, "at most maxNum")

		_, err = admin.QueryMessagesByKey(testCtx(t), "T", "order-0", all, all.Add(time.Minute), 0)
		require.ErrorIs(t, err, ErrMessageNotFound, "outside the time range")
		_, err = admin.QueryMessagesByKey(testCtx(t), "T", "", all, time.Now(), 0)
		require.ErrorIs(t, err, ErrInvalidOptions)
		_, err = admin.QueryMessagesByKey(testCtx(t), "T", "k", all, time.Now(), MaxQueryMaxNum+1)
		require.ErrorIs(t, err, ErrInvalidOptions)
	})
}

func TestAdminQueryMessagesByTime(t *testing.T) {
	fc := newFakeCluster(t, 2)
	fc.createTopic("T", 2)
	c := newTestClient(t, fc)
	p := newTestProducer(t, c, ProducerOptions{})
	admin := NewAdmin(c)

	// send sends a batch and returns a time after its store times and
	// before the next batch's (store times have millisecond resolution).
	send := func(prefix string) time.Time {
		for i := range 5 {
			_, err := p.Send(testCtx(t), &Message{Topic: "T", Body: fmt.Appendf(nil, "%s%d", prefix, i)})
			require.NoError(t, err)
		}
		last := time.Now().UnixMilli()
		eventually(t, "the clock to move", func() bool { return time.Now().UnixMilli() > last })
		return time.Now()
	}
	start := time.Now().Add(-time.Second)
	mid := send("old")
	send("new")
	end := time.Now().Add(time.Second)

	bodies := func(msgs []MessageExt) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, string(m.Body))
		}
		slices.Sort(out)
		return out
	}
	msgs, err := admin.QueryMessagesByTime(testCtx(t), "T", mid, end, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"new0", "new1", "new2", "new3", "new4"}, bodies(msgs))
	msgs, err = admin.QueryMessagesByTime(testCtx(t), "T", start, mid, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"old0", "old1", "old2", "old3", "old4"}, bodies(msgs))
	for i := 1; i < len(msgs); i++ {
		require.False(t, msgs[i].StoreTimestamp.Before(msgs[i-1].StoreTimestamp), "oldest first")
	}
	msgs, err = admin.QueryMessagesByTime(testCtx(t), "T", start, end, 3)
	require.NoError(t, err)
	require.Len(t, msgs, 3)
	for _, m := range msgs {
		require.Contains(t, string(m.Body), "old", "the oldest first")
	}

	_, err = admin.QueryMessagesByTime(testCtx(t), "T", end, end.Add(time.Hour), 0)
	require.ErrorIs(t, err, ErrMessageNotFound)
	_, err = admin.QueryMessagesByTime(testCtx(t), "T", end, start, 0)
	require.ErrorIs(t, err, ErrInvalidOptions)
	for _, b := range fc.brokers {
		require.Zero(t, b.callCount(protocol.UpdateConsumerOffset), "no offset committed")
	}
}
