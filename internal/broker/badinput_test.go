package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// badRequests are well-framed requests a broker must refuse.
func badRequests() []*remoting.Command {
	send := func(topic string, body []byte, mod func(*protocol.ExtFields)) *remoting.Command {
		h := sendHeader(topic, 0, "")
		f := h.AppendExt(nil)
		if mod != nil {
			mod(&f)
		}
		return remoting.NewRequest(protocol.SendMessage, f, body)
	}
	pull := func(group, topic string) *remoting.Command {
		h := pullHeader(group, topic, 0, 0)
		return remoting.NewRequest(protocol.PullMessage, h.AppendExt(nil), nil)
	}
	hbBody := func(s string) *remoting.Command { return remoting.NewRequest(protocol.HeartBeat, nil, []byte(s)) }
	return []*remoting.Command{
		send("", []byte("x"), nil),
		send(strings.Repeat("x", 200), []byte("x"), nil),
		send("a/b", []byte("x"), nil),
		send("%RETRY%"+strings.Repeat("g", 300), []byte("x"), nil),
		send("rmq_sys_whatever", []byte("x"), nil),
		send("Good", make([]byte, 70<<10), nil),
		send("Good", []byte("x"), func(f *protocol.ExtFields) { f.Delete("topic") }),
		send("Good", []byte("x"), func(f *protocol.ExtFields) { f.Set("queueId", "999999999999") }),
		send("Good", []byte("x"), func(f *protocol.ExtFields) { f.Set("bornTimestamp", "soon") }),
		send("Good", []byte("x"), func(f *protocol.ExtFields) { f.Set("queueId", "12345") }),
		remoting.NewRequest(protocol.SendBatchMessage, (&protocol.SendMessageRequestHeader{Topic: "Good", ProducerGroup: "p", DefaultTopic: "TBW102"}).AppendExtV2(nil), []byte{0, 0, 0, 9, 1}),
		remoting.NewRequest(protocol.SendMessageV2, nil, []byte("x")),
		pull("", "Good"),
		pull("g", ""),
		pull("g g", "Good"),
		pull("g", "Missing"),
		remoting.NewRequest(protocol.PullMessage, protocol.ExtFields{{Key: "consumerGroup", Value: "g"}}, nil),
		hbBody(""),
		hbBody("{"),
		hbBody(`{"clientID":"x","consumerDataSet":[{"groupName":"bad group"}]}`),
		hbBody(`{"clientID":"x","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":""}]}]}`),
		hbBody(`[1,2,3]`),
		remoting.NewRequest(protocol.UpdateConsumerOffset, protocol.ExtFields{{Key: "consumerGroup", Value: "g"}, {Key: "topic", Value: "Good"}, {Key: "queueId", Value: "-1"}, {Key: "commitOffset", Value: "5"}}, nil),
		remoting.NewRequest(protocol.QueryConsumerOffset, nil, nil),
		remoting.NewRequest(protocol.UpdateAndCreateTopic, protocol.ExtFields{{Key: "topic", Value: "x y"}}, nil),
		remoting.NewRequest(protocol.UpdateAndCreateSubscriptionGroup, nil, []byte(`{"groupName":"`+strings.Repeat("g", 500)+`"}`)),
		remoting.NewRequest(protocol.ViewMessageByID, protocol.ExtFields{{Key: "offset", Value: "-7"}}, nil),
		remoting.NewRequest(protocol.QueryMessage, protocol.ExtFields{{Key: "topic", Value: "Good"}, {Key: "key", Value: "k"}, {Key: "maxNum", Value: "2147483647"}, {Key: "beginTimestamp", Value: "0"}, {Key: "endTimestamp", Value: "-1"}}, nil),
		remoting.NewRequest(protocol.RequestCode(31337), nil, nil),
	}
}

// garbage writes bytes that are not a frame stream to a fresh connection.
func garbage(addr string, rnd *rand.Rand) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var b []byte
	switch rnd.IntN(4) {
	case 0: // random bytes
		b = make([]byte, 1+rnd.IntN(256))
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
	case 1: // negative length
		b = binary.BigEndian.AppendUint32(nil, 0x80000001)
	case 2: // huge length, then hang up
		b = binary.BigEndian.AppendUint32(nil, 1<<30)
	case 3: // truncated frame
		b = binary.BigEndian.AppendUint32(nil, 100)
		b = append(b, 0, 0, 0, 10, '{')
	}
	_, _ = c.Write(b)
	_, _ = c.Read(make([]byte, 64))
}

// TestBadInputFloodLeavesGoodClientsServed floods the broker with garbage
// and refused requests from many connections while a producer and a
// consumer go about their business: every good message is stored once,
// read back in order, and every bad request gets an error answer.
func TestBadInputFloodLeavesGoodClientsServed(t *testing.T) {
	tb := startBroker(t, func(_ *Options, so *store.Options) { so.MaxMessageSize = 64 << 10 })
	tb.createTopic(t, "Good", 1)

	ctx, stop := context.WithCancel(context.Background())
	var flooders sync.WaitGroup
	var refused, wrongAnswer atomic.Int64
	var reported sync.Map
	nBad := len(badRequests())
	for w := range 4 {
		flooders.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			rc, err := remoting.NewClient(remoting.DefaultClientOptions(), nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			for i := 0; ctx.Err() == nil; i++ {
				if w == 0 {
					garbage(tb.addr, rnd)
					continue
				}
				req := badRequests()[rnd.IntN(nBad)] // fresh: a sent command belongs to the transport
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				resp, err := rc.InvokeSync(cctx, tb.addr, req)
				cancel()
				switch {
				case err != nil:
					// Only a stopping test may fail a call.
					if ctx.Err() == nil {
						t.Errorf("bad request %v: %v", req.RequestCode(), err)
					}
				case resp.ResponseCode() == protocol.Success:
					wrongAnswer.Add(1)
					if _, dup := reported.LoadOrStore(fmt.Sprint(req.ExtFields), true); !dup {
						t.Errorf("bad request accepted: %v %v", req.RequestCode(), req.ExtFields)
					}
				default:
					refused.Add(1)
				}
			}
		})
	}

	// The good pair: 300 messages sent, then read back in order.
	const n = 300
	for i := range n {
		tb.mustSend(t, "Good", 0, fmt.Sprintf("good-%03d", i), message.PropertyTags, "ok")
	}
	var got []string
	for off := int64(0); len(got) < n; {
		r := tb.pull(t, suspendedPull("consumer", "Good", 0, off, "ok", 5*time.Second))
		require.Contains(t, []protocol.ResponseCode{protocol.Success, protocol.PullNotFound}, r.code, r.resp.Remark)
		got = append(got, bodies(r.msgs)...)
		off = r.hdr.NextBeginOffset
	}
	waitFor(t, "the flood to have refused plenty", func() bool { return refused.Load() > 100 })
	stop()
	flooders.Wait()
	for i, b := range got {
		require.Equal(t, fmt.Sprintf("good-%03d", i), b)
	}
	require.Equal(t, int64(n), tb.store.MaxOffsetInQueue("Good", 0), "nothing of the flood was stored")
	require.Zero(t, wrongAnswer.Load())
}
