package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Producer sends messages for one producer group. It is safe for
// concurrent use and owns no goroutines.
type Producer struct {
	c    *Client
	opts ProducerOptions

	window    chan struct{} // a token per async send in flight
	closing   chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	zlibPool  sync.Pool

	// sendV1 sends single messages with SEND_MESSAGE and full header
	// names instead of SEND_MESSAGE_V2; only benchmarks set it, to show
	// why V2 is the default.
	sendV1 bool
}

// NewProducer returns a producer of group opts.Group on c. Brokers learn
// of the group from c's heartbeats.
func NewProducer(c *Client, opts ProducerOptions) (*Producer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	opts = opts.withDefaults()
	if opts.DisableTopicFallback {
		opts.CreateTopicKey = ""
	}
	p := &Producer{
		c:       c,
		opts:    opts,
		window:  make(chan struct{}, opts.MaxInFlight),
		closing: make(chan struct{}),
	}
	c.registerProducer(opts.Group)
	return p, nil
}

// Group returns the producer group.
func (p *Producer) Group() string { return p.opts.Group }

// Close waits for the async sends in flight to complete (each within its
// own deadline), then stops announcing the group. Sends after Close fail
// with ErrClosed. Idempotent.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.closing)
		for range cap(p.window) {
			p.window <- struct{}{}
		}
		p.c.unregisterProducer(p.opts.Group)
	})
	return nil
}

func (p *Producer) checkOpen() error {
	if p.closed.Load() || p.c.isClosed() {
		return ErrClosed
	}
	return nil
}

// publishRoute returns the route sends of topic use, waiting for a fetch
// until ctx is done or deadline passes (zero: only ctx).
func (p *Producer) publishRoute(ctx context.Context, deadline time.Time, topic string) (*route, error) {
	r, err := p.c.route(ctx, deadline, topic, p.opts.CreateTopicKey, p.opts.DefaultTopicQueueNums)
	if err != nil {
		return nil, err
	}
	if len(r.pub) == 0 {
		return nil, fmt.Errorf("%w: topic %q has no writable queue on a broker with a master", ErrNoQueue, topic)
	}
	return r, nil
}

// pick chooses a queue of r for out, avoiding broker avoid (the one that
// just failed) when another broker has queues, and returns it with its
// master's address.
func (p *Producer) pick(r *route, out *outgoing, avoid string) (MessageQueue, string, error) {
	var q MessageQueue
	switch {
	case p.opts.Selector != nil:
		q = p.opts.Selector.Select(out.msg, r.pub)
	default:
		n := uint32(len(r.pub))
		q = r.pub[r.next.Add(1)%n]
		for i := uint32(1); i < n && avoid != "" && q.BrokerName == avoid; i++ {
			q = r.pub[r.next.Add(1)%n]
		}
	}
	addr := p.c.routes.brokerAddr(q.BrokerName, 0)
	if addr == "" {
		p.c.refreshSoon()
		return q, "", fmt.Errorf("%w: no master for %q", ErrBrokerNotFound, q.BrokerName)
	}
	return q, addr, nil
}

// Send sends msg and waits until the broker stored it. It retries on
// another broker after a transport failure or a retryable refusal (see
// the package documentation), up to MaxAttempts attempts within ctx's
// deadline (Options.RequestTimeout when ctx has none).
//
// A broker that stored the message but could not flush it in time gives
// a result whose Status says so, and no error.
func (p *Producer) Send(ctx context.Context, msg *Message) (SendResult, error) {
	if err := p.checkOpen(); err != nil {
		return SendResult{}, err
	}
	out, err := p.prepare(msg)
	if err != nil {
		return SendResult{}, err
	}
	return p.sendSync(ctx, &out)
}

// SendBatch sends msgs, which must share one topic and have no delay
// level, in one request (SEND_BATCH_MESSAGE) to one queue, where they get
// consecutive offsets. Retries as Send does. The result's QueueOffset is
// the first message's.
func (p *Producer) SendBatch(ctx context.Context, msgs ...*Message) (SendResult, error) {
	if err := p.checkOpen(); err != nil {
		return SendResult{}, err
	}
	out, err := p.prepareBatch(msgs)
	if err != nil {
		return SendResult{}, err
	}
	return p.sendSync(ctx, &out)
}

func (p *Producer) sendSync(ctx context.Context, out *outgoing) (SendResult, error) {
	until := deadline(ctx, p.c.opts.RequestTimeout) // shared by the attempts
	var avoid string
	var lastErr error
	for attempt := 1; attempt <= p.opts.MaxAttempts; attempt++ {
		r, err := p.publishRoute(ctx, until, out.topic)
		if err != nil {
			return SendResult{}, err
		}
		q, addr, err := p.pick(r, out, avoid)
		if err == nil {
			sc := p.getSendCall(out, q)
			var resp *remoting.Command
			resp, err = p.c.invokeUntil(ctx, addr, &sc.cmd, until)
			sc.free() // the transport is done with the command
			if err == nil {
				var res SendResult
				res, err = sendResult(out.msgID, q, addr, resp)
				resp.Release() // res holds strings of the header, which outlive it
				if err == nil {
					return res, nil
				}
			} else {
				err = fmt.Errorf("client: send to %s (%s): %w", q, addr, err)
			}
		}
		lastErr = err
		if !p.retryable(ctx, until, err) {
			break
		}
		if r.fromDefault {
			// The borrowed route was a guess; the name servers may know
			// the topic by now (created by an admin, or by this send).
			p.c.routes.forget(out.topic, r)
		}
		avoid = q.BrokerName
		p.c.log.Debug("send failed, retrying", "queue", q, "attempt", attempt, "err", err)
	}
	return SendResult{}, lastErr
}

// retryable reports whether a sync send that failed with err, and must be
// done by deadline, is tried again; it also asks for fresh routes when err
// suggests they are stale.
func (p *Producer) retryable(ctx context.Context, deadline time.Time, err error) bool {
	if ctx.Err() != nil || !time.Now().Before(deadline) || errors.Is(err, ErrClosed) {
		return false
	}
	var be *BrokerError
	if errors.As(err, &be) {
		if retryableSendCode(be.Code) {
			p.c.refreshSoon() // a refusal may come from a stale route
			return true
		}
		return false
	}
	if errors.Is(err, ErrBadResponse) {
		return false
	}
	p.c.refreshSoon() // unreachable broker, or no master: the route may have moved
	return true
}

// SendAsync sends msg and returns once the request is on its way; cb
// receives the result or the error exactly once, unless SendAsync itself
// returns an error, in which case cb is never called. Async sends are not
// retried. At most MaxInFlight are outstanding; SendAsync takes a free slot
// at once, and when there is none waits for one while ctx allows.
//
// ctx bounds the whole send, response included (Options.RequestTimeout
// when it has no deadline): cancelling it fails the send.
//
// cb runs on the connection's reader goroutine: it must return quickly
// and must not send through a producer of the same Client (it could wait
// for a response, or for room in the window, that only this goroutine can
// free). Close waits for every cb.
func (p *Producer) SendAsync(ctx context.Context, msg *Message, cb func(SendResult, error)) error {
	if cb == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidOptions)
	}
	if err := p.checkOpen(); err != nil {
		return err
	}
	out, err := p.prepare(msg)
	if err != nil {
		return err
	}
	return p.sendAsync(ctx, &out, cb)
}

// SendBatchAsync is SendBatch's asynchronous form: msgs, which must share
// one topic and have no delay level, go in one request to one queue, and
// cb receives the result as SendAsync's does (QueueOffset is the first
// message's). It takes one slot of MaxInFlight, whatever the batch's size.
func (p *Producer) SendBatchAsync(ctx context.Context, msgs []*Message, cb func(SendResult, error)) error {
	if cb == nil {
		return fmt.Errorf("%w: nil callback", ErrInvalidOptions)
	}
	if err := p.checkOpen(); err != nil {
		return err
	}
	out, err := p.prepareBatch(msgs)
	if err != nil {
		return err
	}
	return p.sendAsync(ctx, &out, cb)
}

// sendAsync takes a slot of the window and sends out.
func (p *Producer) sendAsync(ctx context.Context, out *outgoing, cb func(SendResult, error)) error {
	select {
	case p.window <- struct{}{}: // a free slot: no wait, whatever ctx says
	default:
		select {
		case p.window <- struct{}{}:
		case <-p.closing:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("client: waiting for room to send: %w", ctx.Err())
		}
	}
	if err := p.invokeAsync(ctx, out, cb); err != nil {
		<-p.window
		return err
	}
	return nil
}

func (p *Producer) invokeAsync(ctx context.Context, out *outgoing, cb func(SendResult, error)) error {
	// A route fetch is bounded by ctx and by the fetch's own timeout.
	r, err := p.publishRoute(ctx, time.Time{}, out.topic)
	if err != nil {
		return err
	}
	q, addr, err := p.pick(r, out, "")
	if err != nil {
		return err
	}
	sc := p.getSendCall(out, q)
	sc.msgID, sc.q, sc.addr, sc.cb = out.msgID, q, addr, cb
	if err := p.c.rc.InvokeAsync(ctx, addr, &sc.cmd, sc.done); err != nil {
		sc.free()
		return fmt.Errorf("client: send to %s (%s): %w", q, addr, p.c.transportError(err))
	}
	return nil
}

// Connect fetches the routes of topics and connects to every broker they
// publish to, so that the first sends pay for neither: sends do both on
// first use anyway, Connect only moves the cost up front. ctx bounds the
// whole (Options.RequestTimeout when it has no deadline).
func (p *Producer) Connect(ctx context.Context, topics ...string) error {
	if err := p.checkOpen(); err != nil {
		return err
	}
	until := deadline(ctx, p.c.opts.RequestTimeout)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	for _, topic := range topics {
		r, err := p.publishRoute(ctx, until, topic)
		if err != nil {
			return err
		}
		var brokers []string
		for _, q := range r.pub {
			brokers = append(brokers, q.BrokerName)
		}
		slices.Sort(brokers)
		for _, name := range slices.Compact(brokers) {
			addr := p.c.routes.brokerAddr(name, protocol.MasterID)
			if addr == "" {
				return fmt.Errorf("%w: no master for %q", ErrBrokerNotFound, name)
			}
			if _, err := p.c.rc.Conn(ctx, addr); err != nil {
				return fmt.Errorf("client: connect to %s (%s): %w", name, addr, p.c.transportError(err))
			}
		}
	}
	return nil
}

// SendOneway sends msg without waiting for, or getting, the broker's
// answer: it returns once the request is queued on the connection. It is
// the cheapest and the least reliable way to send; it is not retried.
func (p *Producer) SendOneway(ctx context.Context, msg *Message) error {
	if err := p.checkOpen(); err != nil {
		return err
	}
	out, err := p.prepare(msg)
	if err != nil {
		return err
	}
	r, err := p.publishRoute(ctx, deadline(ctx, p.c.opts.RequestTimeout), out.topic)
	if err != nil {
		return err
	}
	q, addr, err := p.pick(r, &out, "")
	if err != nil {
		return err
	}
	if err := p.c.rc.InvokeOneway(ctx, addr, p.request(&out, q)); err != nil {
		return fmt.Errorf("client: send to %s (%s): %w", q, addr, p.c.transportError(err))
	}
	return nil
}
