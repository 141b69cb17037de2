package broker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// requester is a raw client that registers a producer group by heartbeat,
// as Producer.Request does, and answers PUSH_REPLY_MESSAGE_TO_CLIENT.
type requester struct {
	rc      *remoting.Client
	id      string
	replies chan *remoting.Command
	answer  func(*remoting.Command) *remoting.Command
}

// newRequester registers a requester; answer, when not nil, answers the
// pushes (SUCCESS otherwise).
func newRequester(t *testing.T, tb *testBroker, id string, answer func(*remoting.Command) *remoting.Command) *requester {
	t.Helper()
	r := &requester{rc: newClient(t), id: id, replies: make(chan *remoting.Command, 16), answer: answer}
	if r.answer == nil {
		r.answer = func(req *remoting.Command) *remoting.Command {
			return remoting.NewResponse(req, protocol.Success, "")
		}
	}
	r.rc.Register(protocol.PushReplyMessageToClient, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			r.replies <- req
			return r.answer(req), nil
		}))
	if tb == nil {
		return r // no heartbeat
	}
	body, err := protocol.EncodeBody(&protocol.HeartbeatData{ClientID: id, ProducerDataSet: []protocol.ProducerData{{GroupName: "requesters"}}})
	require.NoError(t, err)
	resp := invokeWith(t, r.rc, tb.addr, protocol.HeartBeat, nil, body)
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	return r
}

func (r *requester) next(t *testing.T) *remoting.Command {
	t.Helper()
	select {
	case req := <-r.replies:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no reply pushed")
		return nil
	}
}

func replyTopic(tb *testBroker) string { return tb.opts.BrokerClusterName + "_REPLY_TOPIC" }

func (tb *testBroker) sendReply(t *testing.T, code protocol.RequestCode, requester, correlation, body string) *remoting.Command {
	t.Helper()
	kv := []string{message.PropertyMessageType, "reply", message.PropertyCorrelationID, correlation, message.PropertyMessageTTL, "3"}
	if requester != "" {
		kv = append(kv, message.PropertyMessageReplyToClient, requester)
	}
	h := sendHeader(replyTopic(tb), 0, props(kv...))
	h.ProducerGroup = "repliers"
	var ext protocol.ExtFields
	if code == protocol.SendReplyMessageV2 {
		ext = h.AppendExtV2(nil)
	} else {
		ext = h.AppendExt(nil)
	}
	return tb.invoke(t, code, ext, []byte(body))
}

// TestReplyPushedToRequester: a reply is stored in <cluster>_REPLY_TOPIC
// and pushed to the requesting client, which gets the reply's body and
// properties; the replier learns the push went through.
func TestReplyPushedToRequester(t *testing.T) {
	tb := startBroker(t, nil)
	r := newRequester(t, tb, "10.0.0.7@requester", nil)

	for i, code := range []protocol.RequestCode{protocol.SendReplyMessage, protocol.SendReplyMessageV2} {
		resp := tb.sendReply(t, code, r.id, "corr-"+code.String(), "pong")
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		var rh protocol.SendMessageResponseHeader
		require.NoError(t, rh.DecodeExt(resp.ExtFields))
		require.Len(t, rh.MsgID, 32, "the stored reply's offset message id")
		require.Equal(t, int64(i), rh.QueueOffset)

		push := r.next(t)
		require.Equal(t, "pong", string(push.Body))
		var ph protocol.ReplyMessageRequestHeader
		require.NoError(t, protocol.DecodeHeader(push.ExtFields, &ph))
		require.Equal(t, replyTopic(tb), ph.Topic)
		require.Equal(t, "repliers", ph.ProducerGroup)
		require.Equal(t, tb.addr, ph.StoreHost)
		require.NotEmpty(t, ph.BornHost)
		require.InDelta(t, time.Now().UnixMilli(), ph.StoreTimestamp, 10_000)
		p := message.ParseProperties([]byte(ph.Properties))
		require.Equal(t, "corr-"+code.String(), p[message.PropertyCorrelationID])
		require.Equal(t, r.id, p[message.PropertyMessageReplyToClient])
		require.NotEmpty(t, p[message.PropertyPushReplyTime])
		require.Equal(t, "reply", p[message.PropertyMessageType])
	}

	tb.waitDispatched(t, replyTopic(tb), 0, 2)
	got := tb.pull(t, pullHeader("reply_reader", replyTopic(tb), 0, 0))
	require.Equal(t, []string{"pong", "pong"}, bodies(got.msgs), "replies are stored too")
}

// TestReplyAndSendAnswerAlike: a reply is checked, built and answered with
// the send path's configuration (the answer's MSG_REGION and TRACE_ON),
// and a reply without UNIQ_KEY gets one from the broker's one generator:
// the same host, process and instance prefix as a send's.
func TestReplyAndSendAnswerAlike(t *testing.T) {
	tb := startBroker(t, func(o *Options, _ *store.Options) { o.RegionID, o.TraceOn = "EU", false })
	r := newRequester(t, tb, "10.0.0.7@requester", nil)
	tb.createTopic(t, "Plain", 1)
	send := tb.send(t, sendHeader("Plain", 0, ""), "plain")
	reply := tb.sendReply(t, protocol.SendReplyMessage, r.id, "c", "pong")
	for _, resp := range []*remoting.Command{send, reply} {
		require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
		region, _ := resp.ExtFields.Get("MSG_REGION")
		require.Equal(t, "EU", region)
		trace, _ := resp.ExtFields.Get("TRACE_ON")
		require.Equal(t, "false", trace)
	}
	r.next(t)

	tb.waitDispatched(t, "Plain", 0, 1)
	tb.waitDispatched(t, replyTopic(tb), 0, 1)
	sent := tb.pull(t, pullHeader("reader", "Plain", 0, 0)).msgs
	replied := tb.pull(t, pullHeader("reader", replyTopic(tb), 0, 0)).msgs
	require.Len(t, sent, 1)
	require.Len(t, replied, 1)
	prefix := func(m *message.MessageExt) string {
		id := m.Property(message.PropertyUniqClientMessageIDKeyIdx)
		require.Len(t, id, message.UniqIDLen)
		return id[:20] // hex of the IPv4 address, pid and instance
	}
	require.Equal(t, prefix(sent[0]), prefix(replied[0]))
}

// TestReplyPushFailures: the replier hears why a reply did not reach its
// requester; the reply is stored all the same, as in Java.
func TestReplyPushFailures(t *testing.T) {
	tb := startBroker(t, nil)

	resp := tb.sendReply(t, protocol.SendReplyMessage, "10.0.0.8@gone", "c1", "lost")
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "channel of <10.0.0.8@gone> not found")

	resp = tb.sendReply(t, protocol.SendReplyMessage, "", "c2", "anonymous")
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "no REPLY_TO_CLIENT property")

	r := newRequester(t, tb, "10.0.0.7@refuser", func(req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, protocol.SystemError, "no such request")
	})
	resp = tb.sendReply(t, protocol.SendReplyMessage, r.id, "c3", "refused")
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "no such request")
	r.next(t)

	tb.waitDispatched(t, replyTopic(tb), 0, 3)

	// A reply is checked like any send.
	h := sendHeader("bad topic", 0, props(message.PropertyMessageReplyToClient, r.id))
	resp = tb.invoke(t, protocol.SendReplyMessage, h.AppendExt(nil), []byte("x"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	resp = tb.invoke(t, protocol.SendReplyMessage, protocol.ExtFields{{Key: "topic", Value: "T"}}, []byte("x"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "bad request header")
}

// TestReplyRequesterSilent: a requester that does not answer the push is
// given up on after the push timeout.
func TestReplyRequesterSilent(t *testing.T) {
	tb := startBroker(t, nil)
	release := make(chan struct{})
	r := newRequester(t, tb, "10.0.0.7@silent", func(req *remoting.Command) *remoting.Command {
		<-release
		return remoting.NewResponse(req, protocol.Success, "")
	})
	t.Cleanup(func() { close(release) }) // before the requester's client closes
	start := time.Now()
	resp := tb.sendReply(t, protocol.SendReplyMessage, r.id, "c", "late")
	require.Equal(t, protocol.SystemError, resp.ResponseCode())
	require.Contains(t, resp.Remark, "fail")
	require.GreaterOrEqual(t, time.Since(start), replyPushTimeout)
}

// TestReplyToRequestConnection: a requester that has not sent its first
// heartbeat yet (the Go client sends it a second after it starts) gets its
// reply on the connection its request came from.
func TestReplyToRequestConnection(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "Requests", 1)
	r := newRequester(t, nil, "10.0.0.7@fresh", nil)

	// The request, sent on r's connection.
	h := sendHeader("Requests", 0, props(message.PropertyCorrelationID, "c1",
		message.PropertyMessageReplyToClient, r.id, message.PropertyMessageTTL, "3"))
	resp := invokeWith(t, r.rc, tb.addr, protocol.SendMessage, h.AppendExt(nil), []byte("ping"))
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)

	// A reply sent by the replier names r but does not register the
	// replier's connection as r's.
	other := newRequester(t, nil, "10.0.0.8@other", nil)
	h = sendHeader(replyTopic(tb), 0, props(message.PropertyMessageType, "reply", message.PropertyCorrelationID, "x",
		message.PropertyMessageReplyToClient, other.id))
	resp = invokeWith(t, r.rc, tb.addr, protocol.SendReplyMessage, h.AppendExt(nil), []byte("misrouted"))
	require.Equal(t, protocol.SystemError, resp.ResponseCode(), "other never sent a request")

	resp = tb.sendReply(t, protocol.SendReplyMessage, r.id, "c1", "pong")
	require.Equal(t, protocol.Success, resp.ResponseCode(), resp.Remark)
	require.Equal(t, "pong", string(r.next(t).Body))

	// Once r's connection is gone, so is the way to it.
	require.NoError(t, r.rc.Close())
	waitFor(t, "the connection to close", func() bool {
		return tb.sendReply(t, protocol.SendReplyMessage, r.id, "c1", "late").ResponseCode() == protocol.SystemError
	})
}

// BenchmarkRequesterTableRewrite is what the requester table adds to every
// single send: a scan of the properties for REPLY_TO_CLIENT (absent on
// ordinary messages), and a map lookup for a request.
func BenchmarkRequesterTableRewrite(b *testing.B) {
	r := newRequesterTable()
	ordinary := &message.Inner{BornHost: netip.MustParseAddrPort("10.0.0.1:50000"), Properties: []byte(props(
		message.PropertyTags, "TagA", message.PropertyKeys, "order-12345",
		message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000001234567890AB", message.PropertyCluster, "DefaultCluster",
		message.PropertyWaitStoreMsgOK, "true"))}
	request := &message.Inner{BornHost: ordinary.BornHost, Properties: []byte(props(
		message.PropertyCorrelationID, "0f8fad5b-d9cb-469f-a165-70867728950e", message.PropertyMessageReplyToClient, "10.0.0.1@requester",
		message.PropertyMessageTTL, "3", message.PropertyUniqClientMessageIDKeyIdx, "0A0000010000000000001234567890AB",
		message.PropertyCluster, "DefaultCluster"))}
	for name, m := range map[string]*message.Inner{"ordinary": ordinary, "request": request} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = r.RewriteSend(m, protocol.TopicConfig{}, SendContext{MaxReconsumeTimes: -1})
			}
		})
	}
}
