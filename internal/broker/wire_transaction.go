package broker

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/internal/broker/clients"
	"github.com/gorocket/gorocket/internal/broker/txn"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// transactionFeature wires transactional messages (issue 4 item 5; see
// package txn): the half-message rewriter at the head of the send path,
// END_TRANSACTION, and the check-back service. A slave keeps the rewriter
// (it refuses sends anyway) and answers END_TRANSACTION
// SLAVE_NOT_AVAILABLE; it runs no check-backs.
type transactionFeature struct {
	b    *Broker
	half *halfRewriter
	svc  *txn.Service
	// after are the send rewriters behind the half rewriter; committed
	// messages go through them (delay levels and timers apply at commit).
	after []Rewriter
}

func (*transactionFeature) name() string { return "transaction" }

func (f *transactionFeature) start(ctx context.Context, b *Broker) error {
	f.b = b
	// First in the chain: whether a send is a half message is decided on
	// the message as sent, before a delay or timer rewriter moves it.
	f.half = &halfRewriter{reject: b.opts.RejectTransactionMessage}
	b.rewriters = append([]Rewriter{f.half}, b.rewriters...)
	if b.opts.isSlave() {
		return nil
	}
	o := b.opts.TransactionOptions
	svc, err := txn.New(txn.Options{
		TransactionTimeOut:       time.Duration(o.TransactionTimeOut) * time.Millisecond,
		TransactionCheckMax:      o.TransactionCheckMax,
		TransactionCheckInterval: time.Duration(o.TransactionCheckInterval) * time.Millisecond,
		MaxAge:                   time.Duration(b.storeOpts.FileReservedTime) * time.Hour,
		BrokerName:               b.opts.BrokerName,
		StoreHost:                b.announcedHost,
		Rewrite:                  f.rewriteCommitted,
		EnsureTopic:              f.ensureTopic,
	}, b.store, b.offsets, producerChecker{b.producers}, b.log.With("component", "transaction"))
	if err != nil {
		return err
	}
	if err := svc.Load(ctx); err != nil {
		_ = svc.Close()
		return err
	}
	f.svc = svc
	svc.Start()
	return nil
}

func (f *transactionFeature) register(s *remoting.Server) {
	// Every feature has started: the chain is complete.
	for _, rw := range f.b.rewriters {
		if rw != f.half {
			f.after = append(f.after, rw)
		}
	}
	p := &endTransactionProcessor{slave: f.b.opts.isSlave(), bad: f.b.bad}
	if f.svc != nil {
		p.ender = f.svc
	}
	s.Register(protocol.EndTransaction, remoting.Spawn, p)
}

func (f *transactionFeature) close() error {
	if f.svc == nil {
		return nil
	}
	return f.svc.Close()
}

// runtimeInfo adds the transaction counters to GET_BROKER_RUNTIME_INFO's
// table (runtimeInfoSource); a slave has none.
func (f *transactionFeature) runtimeInfo(t map[string]string) {
	st, ok := f.stats()
	if !ok {
		return
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	t["transactionHalfPending"] = strconv.Itoa(st.Pending)
	t["transactionCommitted"] = i(st.Committed)
	t["transactionRolledBack"] = i(st.RolledBack)
	t["transactionChecks"] = i(st.Checks)
	t["transactionChecksUnsent"] = i(st.NoProducer)
	t["transactionDiscarded"] = i(st.Discarded)
}

func (f *transactionFeature) stats() (txn.Stats, bool) {
	if f.svc == nil {
		return txn.Stats{}, false
	}
	return f.svc.Stats(), true
}

// TransactionStats returns the counters of transactional messages; false
// on a slave or before Start.
func (b *Broker) TransactionStats() (txn.Stats, bool) {
	for _, f := range b.features {
		if tf, ok := f.(*transactionFeature); ok {
			return tf.stats()
		}
	}
	return txn.Stats{}, false
}

// announcedHost is the store host of the records the broker writes.
func (b *Broker) announcedHost() netip.AddrPort {
	if ap := b.storeHost.Load(); ap != nil {
		return *ap
	}
	return netip.AddrPortFrom(b.opts.announceIP(), uint16(b.opts.ListenPort))
}

// rewriteCommitted passes a committed message through the rewriters
// behind the half rewriter, with its topic's configuration.
func (f *transactionFeature) rewriteCommitted(m *message.Inner) error {
	cfg, _ := f.b.topics.Get(m.Topic)
	for _, rw := range f.after {
		if err := rw.RewriteSend(m, cfg, noSendContext); err != nil {
			return err
		}
	}
	return nil
}

// ensureTopic creates a system topic the service writes to (one queue,
// read-write), as Java's createTopicOfTranCheckMaxTime does.
func (f *transactionFeature) ensureTopic(name string) error {
	if _, ok := f.b.topics.Get(name); ok {
		return nil
	}
	_, err := f.b.topics.CreateInSendMessageBack(name, 1, protocol.PermRead|protocol.PermWrite, 0)
	return err
}

// halfRewriter turns a send with TRAN_MSG=true into a half message
// (txn.PrepareHalf), or refuses it under rejectTransactionMessage.
type halfRewriter struct{ reject bool }

func (r *halfRewriter) RewriteSend(m *message.Inner, _ protocol.TopicConfig, _ SendContext) error {
	if !txn.IsTransactional(m.Properties, m.ReconsumeTimes) {
		return nil
	}
	if r.reject {
		return remoting.Errorf(protocol.NoPermission, "the broker[%s] sending transaction message is forbidden", m.StoreHost.Addr())
	}
	txn.PrepareHalf(m)
	return nil
}

// producerChecker sends check-backs to producer connections.
type producerChecker struct{ producers *clients.ProducerManager }

func (pc producerChecker) CheckTransactionState(ctx context.Context, group string, h *protocol.CheckTransactionStateRequestHeader, body []byte) error {
	ch, ok := pc.producers.AvailableChannel(group)
	if !ok {
		return txn.ErrNoProducer
	}
	conn, ok := ch.(*remoting.Conn)
	if !ok {
		return fmt.Errorf("broker: producer channel %T is not a connection", ch)
	}
	return conn.InvokeOneway(ctx, remoting.NewRequest(protocol.CheckTransactionState, protocol.EncodeHeader(nil, h), body))
}

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
