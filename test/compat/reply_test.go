package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// Request-reply with the official client (examples/producer/rpc and
// examples/consumer/rpc): Producer.Request sends a message carrying
// CORRELATION_ID, REPLY_TO_CLIENT (its client id) and TTL; the broker
// stamps CLUSTER; a consumer builds the reply with consumer.
// CreateReplyMessage and sends it to <CLUSTER>_REPLY_TOPIC (which makes
// the client use SEND_REPLY_MESSAGE); the broker stores it and pushes it to
// the requester (PUSH_REPLY_MESSAGE_TO_CLIENT), whose Request returns it.

// replier consumes requests on topic and answers each with the reply the
// given function builds; requests without a requester (plain messages)
// are consumed silently.
func (c *cluster) replier(group, topic string, build func(req *primitive.MessageExt) (*primitive.Message, error)) {
	c.t.Helper()
	replies := c.producer()
	handler := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			if consumer.GetReplyToClient(m) == "" {
				continue
			}
			reply, err := build(m)
			if err != nil {
				return consumer.ConsumeRetryLater, err
			}
			if _, err := replies.SendSync(context.Background(), reply); err != nil {
				c.t.Logf("reply not sent: %v", err)
				return consumer.ConsumeRetryLater, err
			}
		}
		return consumer.ConsumeSuccess, nil
	}
	pc, err := rocketmq.NewPushConsumer(
		consumer.WithNsResolver(c.resolver()),
		consumer.WithInstance(instance(c.t)),
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset),
	)
	require.NoError(c.t, err)
	require.NoError(c.t, pc.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: "*"}, handler))
	require.NoError(c.t, pc.Start())
	c.t.Cleanup(func() { _ = pc.Shutdown() })
}

// TestRequestReply: Request and RequestAsync get their replies, matched by
// correlation id. The client's reply helper loses the reply body
// (CreateReplyMessage parses the body as a properties string and never
// sets Body: rocketmq-client-go v2.1.2, consumer/message_util.go), so the
// requester receives an empty body unless the replier sets Body itself; the
// broker stores and pushes whatever body the replier sent.
func TestRequestReply(t *testing.T) {
	c := startCluster(t)
	const topic = "RequestTopic"
	sendN(t, c.producer(), topic, "create", 1, "") // the replier needs the route

	c.replier("CG_Replier", topic, func(req *primitive.MessageExt) (*primitive.Message, error) {
		body := []byte("re: " + string(req.Body))
		reply, err := consumer.CreateReplyMessage(req, body)
		if err != nil {
			return nil, err
		}
		if req.GetProperty("workaround") == "true" {
			reply.Body = body
		}
		return reply, nil
	})
	requester := c.producer()

	t.Run("sync", func(t *testing.T) {
		for _, workaround := range []bool{false, true} {
			msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("ping-%v", workaround)))
			msg.WithProperty("workaround", fmt.Sprint(workaround))
			reply, err := requester.Request(context.Background(), 10*time.Second, msg)
			require.NoError(t, err)
			require.NotNil(t, reply)
			require.Equal(t, msg.GetProperty(primitive.PropertyCorrelationID), reply.GetProperty(primitive.PropertyCorrelationID))
			require.Equal(t, "reply", reply.GetProperty(primitive.PropertyMsgType))
			require.NotEmpty(t, reply.GetProperty(primitive.PropertyReplyMessageArriveTime))
			if workaround {
				require.Equal(t, "re: ping-true", string(reply.Body))
			} else {
				require.Empty(t, reply.Body, "CreateReplyMessage drops the body (client bug); if this fails, the client changed")
			}
		}
	})

	t.Run("async", func(t *testing.T) {
		const n = 5
		var mu sync.Mutex
		got := map[string]string{} // correlation id -> reply body
		var errs []error
		want := map[string]string{}
		for i := range n {
			msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("async-%d", i)))
			msg.WithProperty("workaround", "true")
			err := requester.RequestAsync(context.Background(), 10*time.Second,
				func(_ context.Context, reply *primitive.Message, err error) {
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					got[reply.GetProperty(primitive.PropertyCorrelationID)] = string(reply.Body)
				}, msg)
			require.NoError(t, err)
			want[msg.GetProperty(primitive.PropertyCorrelationID)] = fmt.Sprintf("re: async-%d", i)
		}
		eventually(t, 20*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(errs) > 0 {
				return fmt.Errorf("request failed: %v", errs[0])
			}
			if len(got) < n {
				return fmt.Errorf("%d of %d replies", len(got), n)
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, want, got)
	})
}
