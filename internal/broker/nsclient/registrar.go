package nsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// ErrInvalidOptions is wrapped by every Validate error.
var ErrInvalidOptions = errors.New("nsclient: invalid options")

// RegistrarOptions configure a Registrar.
type RegistrarOptions struct {
	// Addrs are the NameServers, each "host:port".
	Addrs []string
	// Period is registerNameServerPeriod.
	Period time.Duration
	// Timeout bounds one registration with one NameServer
	// (registerBrokerTimeoutMills).
	Timeout time.Duration
}

// Validate reports the first option out of range.
func (o RegistrarOptions) Validate() error {
	switch {
	case o.Period <= 0:
		return fmt.Errorf("%w: period %v must be positive", ErrInvalidOptions, o.Period)
	case o.Timeout <= 0:
		return fmt.Errorf("%w: timeout %v must be positive", ErrInvalidOptions, o.Timeout)
	}
	for _, a := range o.Addrs {
		if a == "" {
			return fmt.Errorf("%w: empty name server address", ErrInvalidOptions)
		}
	}
	return nil
}

// Status is the registration state with one NameServer.
type Status struct {
	Addr     string
	LastOK   time.Time // zero until the first success
	LastErr  error     // of the latest round; nil when it succeeded
	Rounds   int64     // registrations attempted
	Response protocol.RegisterBrokerResponseHeader
}

// Registrar keeps a broker registered with every NameServer.
type Registrar struct {
	opts   RegistrarOptions
	client *Client
	build  func() (*Registration, error)
	log    *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	workers []*worker
	wg      sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
}

type worker struct {
	addr       string
	kick       chan struct{}
	firstRound chan struct{} // closed once the first round has ended

	mu        sync.Mutex
	status    Status
	started   uint64        // rounds started
	finished  uint64        // rounds finished (rounds of a worker are sequential)
	roundDone chan struct{} // closed, and replaced, when a round finishes
}

// NewRegistrar returns a registrar; build returns what to register and is
// called for every round with every NameServer.
func NewRegistrar(client *Client, opts RegistrarOptions, build func() (*Registration, error), log *slog.Logger) (*Registrar, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Registrar{opts: opts, client: client, build: build, log: log, ctx: ctx, cancel: cancel}
	for _, a := range opts.Addrs {
		r.workers = append(r.workers, &worker{
			addr: a, kick: make(chan struct{}, 1), firstRound: make(chan struct{}),
			status: Status{Addr: a}, roundDone: make(chan struct{}),
		})
	}
	return r, nil
}

// Start registers with every NameServer now and then every period.
func (r *Registrar) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	for _, w := range r.workers {
		r.wg.Add(1)
		go r.run(w)
	}
}

// Kick asks for a registration with every NameServer as soon as possible.
// It never blocks; kicks during a round collapse into one more round.
func (r *Registrar) Kick() {
	for _, w := range r.workers {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Status returns the state with each NameServer, in namesrvAddr order.
func (r *Registrar) Status() []Status {
	out := make([]Status, 0, len(r.workers))
	for _, w := range r.workers {
		w.mu.Lock()
		out = append(out, w.status)
		w.mu.Unlock()
	}
	return out
}

// Sync registers with every NameServer now and waits until each that
// answered its last registration has had a round that started after the
// call, successfully or not, or ctx ends. The broker calls it after
// creating a topic, as Java registers synchronously then, so that a client
// that created a topic by sending to it finds its route as soon as the
// send is answered. A NameServer that is down or has not answered yet is
// kicked but not waited for.
func (r *Registrar) Sync(ctx context.Context) error {
	targets := make([]uint64, len(r.workers))
	for i, w := range r.workers {
		w.mu.Lock()
		if w.status.Rounds > 0 && w.status.LastErr == nil {
			targets[i] = w.started + 1 // a round in flight may predate the change
		}
		w.mu.Unlock()
	}
	r.Kick()
	for i, w := range r.workers {
		for targets[i] > 0 {
			w.mu.Lock()
			done, ch := w.finished >= targets[i], w.roundDone
			w.mu.Unlock()
			if done {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("nsclient: registration with %s: %w", w.addr, ctx.Err())
			}
		}
	}
	return nil
}

// WaitFirstRound waits until the first registration with every NameServer
// has ended, successfully or not, or ctx ends. A broker waits for it in
// its start, as Java's does, so that its topics are routable once it is
// up; a NameServer that does not answer delays that only until ctx ends.
func (r *Registrar) WaitFirstRound(ctx context.Context) error {
	for _, w := range r.workers {
		select {
		case <-w.firstRound:
		case <-ctx.Done():
			return fmt.Errorf("nsclient: first registration with %s: %w", w.addr, ctx.Err())
		}
	}
	return nil
}

// Close stops registering, cancelling rounds in flight. Idempotent.
func (r *Registrar) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// Unregister sends UNREGISTER_BROKER to every NameServer in parallel and
// waits for all of them, each bounded by the registration timeout and ctx.
// It returns the failures joined.
func (r *Registrar) Unregister(ctx context.Context, h protocol.UnregisterBrokerRequestHeader) error {
	errs := make([]error, len(r.workers))
	var wg sync.WaitGroup
	for i, w := range r.workers {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
			defer cancel()
			errs[i] = r.client.UnregisterBroker(cctx, w.addr, h)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Registrar) run(w *worker) {
	defer r.wg.Done()
	ticker := time.NewTicker(r.opts.Period)
	defer ticker.Stop()
	r.registerOnce(w)
	close(w.firstRound)
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-ticker.C:
		case <-w.kick:
		}
		r.registerOnce(w)
	}
}

func (r *Registrar) registerOnce(w *worker) {
	w.mu.Lock()
	w.started++
	round := w.started
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.finished = round
		close(w.roundDone)
		w.roundDone = make(chan struct{})
		w.mu.Unlock()
	}()
	if r.ctx.Err() != nil {
		return
	}
	reg, err := r.build()
	var resp protocol.RegisterBrokerResponseHeader
	if err == nil {
		var ext protocol.ExtFields
		var body []byte
		ext, body, err = EncodeRegistration(reg)
		if err == nil {
			ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
			resp, err = r.client.RegisterBroker(ctx, w.addr, ext, body)
			cancel()
		}
	}
	w.mu.Lock()
	w.status.Rounds++
	first := w.status.Rounds == 1
	prevErr := w.status.LastErr
	w.status.LastErr = err
	if err == nil {
		w.status.LastOK = time.Now()
		w.status.Response = resp
	}
	w.mu.Unlock()
	switch {
	case err != nil && r.ctx.Err() != nil:
	case err != nil && (prevErr == nil || first):
		r.log.Warn("register with name server failed", "namesrv", w.addr, "err", err)
	case err != nil:
		r.log.Debug("register with name server failed again", "namesrv", w.addr, "err", err)
	case prevErr != nil:
		r.log.Info("registered with name server again", "namesrv", w.addr)
	case first:
		r.log.Info("registered with name server", "namesrv", w.addr)
	}
}
