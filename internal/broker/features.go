package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/gorocket/gorocket/internal/remoting"
)

// feature is an optional part of the broker wired in a file of its own
// (wire_*.go): the messaging features built on the core — delayed and timed
// messages, retry and dead letters, transactions, ordered-consumption locks,
// request-reply and consumer management. Each gets the broker after the
// store and the metadata are open, so it can read them and add rewriters to
// the send path; registers its processors with the server; and is closed
// after the server has drained and before the store closes.
type feature interface {
	// name names the feature in logs and errors.
	name() string
	// start runs before the server starts; rewriters added here see every
	// send.
	start(ctx context.Context, b *Broker) error
	// register adds the feature's processors; it may replace core ones.
	register(s *remoting.Server)
	// close stops the feature's goroutines and persists its state.
	close() error
}

// runtimeInfoSource is a feature that adds its figures to
// GET_BROKER_RUNTIME_INFO's table (optional: checked with a type
// assertion). It must not block; keys are Java's where Java has one.
type runtimeInfoSource interface {
	runtimeInfo(table map[string]string)
}

// The features with runtime figures.
var (
	_ runtimeInfoSource = (*scheduleFeature)(nil)
	_ runtimeInfoSource = (*transactionFeature)(nil)
)

// newFeatures lists the features in start order; they close in reverse.
func newFeatures() []feature {
	return []feature{
		&scheduleFeature{},
		&transactionFeature{},
		&orderFeature{},
		&replyFeature{},
		&consumerAdminFeature{},
	}
}

func (b *Broker) startFeatures(ctx context.Context) error {
	b.features = newFeatures()
	for i, f := range b.features {
		if err := f.start(ctx, b); err != nil {
			b.features = b.features[:i] // only the started ones close
			return fmt.Errorf("broker: %s: %w", f.name(), err)
		}
	}
	return nil
}

func (b *Broker) registerFeatures(s *remoting.Server) {
	for _, f := range b.features {
		f.register(s)
	}
}

// featuresRuntimeInfo lets every feature that has figures add them to t.
func (b *Broker) featuresRuntimeInfo(t map[string]string) {
	for _, f := range b.features {
		if r, ok := f.(runtimeInfoSource); ok {
			r.runtimeInfo(t)
		}
	}
}

func (b *Broker) closeFeatures() error {
	b.arrivals.Store(nil) // the store dispatches until it closes, after this
	var errs []error
	for i := len(b.features) - 1; i >= 0; i-- {
		if err := b.features[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.features[i].name(), err))
		}
	}
	b.features = nil
	return errors.Join(errs...)
}
