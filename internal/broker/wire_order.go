package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// orderFeature wires ordered-consumption locks (issue 4 item 3).
type orderFeature struct{}

func (*orderFeature) name() string { return "order" }

func (*orderFeature) start(context.Context, *Broker) error { return nil }

func (*orderFeature) register(*remoting.Server) {}

func (*orderFeature) close() error { return nil }
