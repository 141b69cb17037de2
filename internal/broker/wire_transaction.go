package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// transactionFeature wires transactional messages (issue 4 item 5).
type transactionFeature struct{}

func (*transactionFeature) name() string { return "transaction" }

func (*transactionFeature) start(context.Context, *Broker) error { return nil }

func (*transactionFeature) register(*remoting.Server) {}

func (*transactionFeature) close() error { return nil }
