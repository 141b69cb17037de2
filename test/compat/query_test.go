package compat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// Message query. The official Go client has no query calls (its admin
// package lists topics and groups only), so messages sent with it are
// looked up with gorocket's client SDK, as mqadmin queryMsgById,
// queryMsgByKey, queryMsgByUniqueKey and a dashboard's topic-and-time
// search would.

// admin returns gorocket's admin client of the cluster.
func (c *cluster) admin() *client.Admin {
	c.t.Helper()
	cl, err := client.New(client.DefaultOptions(c.s.NamesrvAddr()))
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = cl.Close() })
	return client.NewAdmin(cl)
}

func msgBodies(msgs []client.MessageExt) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Body))
	}
	slices.Sort(out)
	return out
}

// TestQueryMessage: a message sent by the official client is found by its
// offset message id, by its message id (UNIQ_KEY), by its keys within a
// time range, and by its topic and store time.
func TestQueryMessage(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	admin := c.admin()
	ctx := context.Background()
	const topic = "Queried"

	send := func(body string, keys ...string) *primitive.SendResult {
		m := primitive.NewMessage(topic, []byte(body))
		if len(keys) > 0 {
			m.WithKeys(keys)
		}
		res, err := p.SendSync(ctx, m)
		require.NoError(t, err)
		return res
	}
	start := time.Now().Add(-time.Second)
	var early []*primitive.SendResult
	for i := range 6 {
		early = append(early, send(fmt.Sprintf("early-%d", i), fmt.Sprintf("order-%d", i%3), "batch-early"))
	}
	last := time.Now().UnixMilli()
	eventually(t, time.Second, func() error {
		if time.Now().UnixMilli() <= last {
			return errors.New("the clock did not move")
		}
		return nil
	})
	mid := time.Now()
	for i := range 4 {
		send(fmt.Sprintf("late-%d", i), "batch-late")
	}
	end := time.Now().Add(time.Second)

	t.Run("by offset message id", func(t *testing.T) {
		m, err := admin.ViewMessage(ctx, early[2].OffsetMsgID)
		require.NoError(t, err)
		require.Equal(t, "early-2", string(m.Body))
		require.Equal(t, early[2].MsgID, m.MsgID())
		require.Equal(t, []string{"order-2", "batch-early"}, m.Keys())
	})

	t.Run("by message id", func(t *testing.T) {
		var msgs []client.MessageExt
		eventually(t, 10*time.Second, func() error { // the index is built behind the commit log
			var err error
			msgs, err = admin.QueryMessagesByID(ctx, topic, early[4].MsgID)
			return err
		})
		require.Len(t, msgs, 1)
		require.Equal(t, "early-4", string(msgs[0].Body))
		require.Equal(t, early[4].OffsetMsgID, msgs[0].OffsetMsgID())

		_, err := admin.QueryMessagesByID(ctx, topic, "7F0000010000000000000000000000AB")
		require.ErrorIs(t, err, client.ErrMessageNotFound)
	})

	t.Run("by key", func(t *testing.T) {
		var msgs []client.MessageExt
		eventually(t, 10*time.Second, func() error {
			var err error
			msgs, err = admin.QueryMessagesByKey(ctx, topic, "order-1", start, end, 0)
			return err
		})
		require.Equal(t, []string{"early-1", "early-4"}, msgBodies(msgs))

		msgs, err := admin.QueryMessagesByKey(ctx, topic, "batch-early", start, end, 4)
		require.NoError(t, err)
		require.Len(t, msgs, 4, "at most maxNum, newest first")
		require.Equal(t, []string{"early-2", "early-3", "early-4", "early-5"}, msgBodies(msgs))

		_, err = admin.QueryMessagesByKey(ctx, topic, "order-1", mid, end, 0)
		require.ErrorIs(t, err, client.ErrMessageNotFound, "sent before the range")
	})

	t.Run("by topic and time", func(t *testing.T) {
		msgs, err := admin.QueryMessagesByTime(ctx, topic, mid, end, 0)
		require.NoError(t, err)
		require.Equal(t, []string{"late-0", "late-1", "late-2", "late-3"}, msgBodies(msgs))

		msgs, err = admin.QueryMessagesByTime(ctx, topic, start, mid, 100)
		require.NoError(t, err)
		require.Len(t, msgs, 6)
		require.Equal(t, "early-0", string(msgs[0].Body), "oldest first")

		msgs, err = admin.QueryMessagesByTime(ctx, topic, start, end, 3)
		require.NoError(t, err)
		require.Equal(t, []string{"early-0", "early-1", "early-2"}, msgBodies(msgs))
	})
}
