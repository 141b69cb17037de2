package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// consumerAdminFeature wires consumer management (issue 4 item 9): offsets
// reset by time for live and offline groups, consumer status, running
// info and consume-directly relays (consumerAdminProcessor). Consume
// progress (GET_CONSUME_STATS) is the core's (admin_group.go).
type consumerAdminFeature struct {
	b *Broker
}

func (*consumerAdminFeature) name() string { return "consumeradmin" }

func (f *consumerAdminFeature) start(_ context.Context, b *Broker) error {
	f.b = b
	return nil
}

func (f *consumerAdminFeature) register(s *remoting.Server) {
	b := f.b
	(&consumerAdminProcessor{
		brokerName: b.opts.BrokerName,
		topics:     b.topics,
		offsets:    b.offsets,
		store:      b.store,
		consumers:  b.consumers,
		timeout:    callClientTimeout,
		bad:        b.bad,
		log:        b.log,
	}).register(s)
}

func (*consumerAdminFeature) close() error { return nil }
