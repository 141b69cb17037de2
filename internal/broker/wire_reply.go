package broker

import (
	"context"
	"time"

	"github.com/gorocket/gorocket/internal/remoting"
)

// replyFeature wires request-reply and message trace (issue 4 items 6-7).
//
// Request-reply: SEND_REPLY_MESSAGE(_V2) store the reply and push it to the
// requester (replyProcessor); the core send path already stamps CLUSTER on
// the request. Message trace needs nothing more than the core gives: the
// trace topic (msgTraceTopicName, RMQ_SYS_TRACE_TOPIC) is created at start
// and registered with the name servers, clients' trace records are sent
// to it like any message, and their KEYS (the traced message ids and keys)
// are indexed, so QUERY_MESSAGE on the trace topic finds them.
type replyFeature struct {
	b          *Broker
	requesters *requesterTable
}

func (*replyFeature) name() string { return "reply" }

func (f *replyFeature) start(_ context.Context, b *Broker) error {
	f.b = b
	f.requesters = newRequesterTable()
	b.AddRewriter(f.requesters)
	return nil
}

func (f *replyFeature) register(s *remoting.Server) {
	(&replyProcessor{
		send:        newSendProcessor(f.b),
		producers:   f.b.producers,
		requesters:  f.requesters,
		pushTimeout: replyPushTimeout,
		now:         time.Now,
		bad:         f.b.bad,
	}).register(s)
}

func (*replyFeature) close() error { return nil }
