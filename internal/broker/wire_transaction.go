package broker

import (
	"context"
	"fmt"

	"github.com/gorocket/gorocket/internal/remoting"
)

// transactionFeature wires transactional messages (issue 4 item 5).
type transactionFeature struct{}

func (*transactionFeature) name() string { return "transaction" }

func (*transactionFeature) start(context.Context, *Broker) error { return nil }

func (*transactionFeature) register(*remoting.Server) {}

func (*transactionFeature) close() error { return nil }

// TransactionOptions configure transactional messages (BrokerConfig keys).
type TransactionOptions struct {
	// TransactionTimeOut is how old a half message must be, in ms, before
	// its producer is asked for its state.
	TransactionTimeOut int64 `prop:"transactionTimeOut"`
	// TransactionCheckMax is how many times a producer is asked before the
	// half message is discarded.
	TransactionCheckMax int `prop:"transactionCheckMax"`
	// TransactionCheckInterval is how often half messages are checked, in
	// ms.
	TransactionCheckInterval int64 `prop:"transactionCheckInterval"`
}

func defaultTransactionOptions() TransactionOptions {
	return TransactionOptions{TransactionTimeOut: 6000, TransactionCheckMax: 15, TransactionCheckInterval: 30_000}
}

func (o *TransactionOptions) validate() error {
	if o.TransactionTimeOut <= 0 || o.TransactionCheckMax <= 0 || o.TransactionCheckInterval <= 0 {
		return fmt.Errorf("transactionTimeOut %d, transactionCheckMax %d and transactionCheckInterval %d must be positive",
			o.TransactionTimeOut, o.TransactionCheckMax, o.TransactionCheckInterval)
	}
	return nil
}
