package longpoll

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// JavaRecheckInterval is how often Java's PullRequestHoldService re-checks
// held requests when long polling is on.
const JavaRecheckInterval = 5 * time.Second

// ErrInvalidOptions is wrapped by every Validate error.
var ErrInvalidOptions = errors.New("longpoll: invalid options")

// Options configure a Service.
type Options struct {
	// RecheckInterval is how often every held request is checked against
	// its queue's head: JavaRecheckInterval with long polling, Java's
	// shortPollingTimeMills without.
	RecheckInterval time.Duration
	// Workers is the number of goroutines that re-run woken requests.
	Workers int
}

// DefaultOptions returns Java's re-check interval and two workers.
func DefaultOptions() Options {
	return Options{RecheckInterval: JavaRecheckInterval, Workers: 2}
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	switch {
	case o.RecheckInterval <= 0:
		return fmt.Errorf("%w: RecheckInterval %v must be positive", ErrInvalidOptions, o.RecheckInterval)
	case o.Workers < 1:
		return fmt.Errorf("%w: Workers %d below 1", ErrInvalidOptions, o.Workers)
	}
	return nil
}

// Funcs connect a Service to the broker.
type Funcs[P any] struct {
	// Run re-executes a woken request and answers it. It runs on a worker
	// goroutine and may block briefly (writing the answer).
	Run func(P)
	// Newest returns a queue's next offset to be written.
	Newest func(Key) int64
	// Stale reports a request whose connection has gone; the periodic
	// re-check releases it early. May be nil.
	Stale func(P) bool
}

// Service holds pull requests and re-runs them when a matching message
// arrives, at the periodic re-check, at their deadline, or at Close.
type Service[P any] struct {
	opts Options
	fn   Funcs[P]
	log  *slog.Logger
	now  func() time.Time

	held atomic.Int64 // lets OnArrival skip the lock when nothing is held

	mu         sync.Mutex
	core       *Core[P]
	closed     bool
	started    bool
	wakeAt     time.Time // when the timer loop next wakes
	arriveBuf  []P       // scratch for OnArrival, under mu
	poke       chan struct{}
	stop       chan struct{}
	loopDone   chan struct{}
	runMu      sync.Mutex
	runCond    *sync.Cond
	runQueue   []P
	runClosing bool
	workers    sync.WaitGroup
}

// New returns a service; Start it before use.
func New[P any](opts Options, fn Funcs[P], log *slog.Logger) (*Service[P], error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if fn.Run == nil || fn.Newest == nil {
		return nil, fmt.Errorf("%w: Run and Newest are required", ErrInvalidOptions)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service[P]{
		opts:     opts,
		fn:       fn,
		log:      log.With("component", "longpoll"),
		now:      time.Now,
		core:     NewCore[P](),
		poke:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	s.runCond = sync.NewCond(&s.runMu)
	return s, nil
}

// Start starts the timer loop and the workers.
func (s *Service[P]) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.workers.Add(s.opts.Workers)
	for range s.opts.Workers {
		go s.worker()
	}
	go s.loop()
}

// Len returns the number of held requests.
func (s *Service[P]) Len() int { return int(s.held.Load()) }

// Hold holds p, a request for key from offset, for at most timeout. It
// returns false, holding nothing, once the service is closed: the caller
// answers the request itself.
func (s *Service[P]) Hold(key Key, offset int64, timeout time.Duration, m Matcher, p P) bool {
	deadline := s.now().Add(timeout)
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return false
	}
	t := s.core.Hold(key, offset, deadline, m, p)
	s.held.Add(1)
	// A message may have landed between the caller's empty read and now,
	// and its arrival found nothing held. Read the head after publishing
	// the hold (held is sequentially consistent): either this read sees
	// such a message, or its arrival sees the request.
	if s.fn.Newest(key) > offset && s.core.Cancel(t) {
		s.held.Add(-1)
		s.mu.Unlock()
		s.enqueue([]P{p})
		return true
	}
	early := deadline.Before(s.wakeAt)
	s.mu.Unlock()
	if early {
		s.pokeLoop()
	}
	return true
}

// OnArrival is the store's arrival hook: it never blocks, and takes no
// lock when nothing is held. properties may alias memory that is valid
// only during the call.
func (s *Service[P]) OnArrival(topic string, queueID int32, offset, tagsCode int64, properties []byte) {
	if s.held.Load() == 0 {
		return
	}
	s.mu.Lock()
	woken := s.core.Arrive(s.arriveBuf[:0], Arrival{
		Key: Key{Topic: topic, QueueID: queueID}, Offset: offset, TagsCode: tagsCode, Properties: properties,
	})
	s.held.Add(-int64(len(woken)))
	if len(woken) > 0 {
		s.enqueue(woken) // copies; safe under mu (runMu nests inside mu only)
	}
	s.arriveBuf = clearTail(woken)
	s.mu.Unlock()
}

// clearTail zeroes a scratch slice so it pins no payloads, and returns it
// for reuse.
func clearTail[P any](b []P) []P {
	clear(b)
	return b[:0]
}

// Close stops holding, re-runs every held request so that each gets an
// answer, waits for the workers to finish and stops. Idempotent.
func (s *Service[P]) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	rest := s.core.Drain(nil)
	s.held.Store(0)
	s.mu.Unlock()
	if !started {
		return
	}
	close(s.stop)
	<-s.loopDone
	s.enqueue(rest)
	s.runMu.Lock()
	s.runClosing = true
	s.runCond.Broadcast()
	s.runMu.Unlock()
	s.workers.Wait()
}

func (s *Service[P]) pokeLoop() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// loop fires deadlines and the periodic re-check.
func (s *Service[P]) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nextRecheck := s.now().Add(s.opts.RecheckInterval)
	var due []P
	for {
		now := s.now()
		s.mu.Lock()
		due = s.core.Tick(due[:0], now)
		if !now.Before(nextRecheck) {
			due = s.core.Recheck(due, s.fn.Newest, s.fn.Stale)
			nextRecheck = now.Add(s.opts.RecheckInterval)
		}
		s.held.Add(-int64(len(due)))
		wake := nextRecheck
		if d, ok := s.core.NextDeadline(); ok && d.Before(wake) {
			wake = d
		}
		s.wakeAt = wake
		s.mu.Unlock()
		s.enqueue(due)
		due = clearTail(due)

		timer.Reset(max(wake.Sub(now), time.Millisecond))
		select {
		case <-s.stop:
			return
		case <-s.poke:
		case <-timer.C:
		}
	}
}

// enqueue hands requests to the workers.
func (s *Service[P]) enqueue(ps []P) {
	if len(ps) == 0 {
		return
	}
	s.runMu.Lock()
	s.runQueue = append(s.runQueue, ps...)
	s.runCond.Signal()
	if len(ps) > 1 {
		s.runCond.Broadcast()
	}
	s.runMu.Unlock()
}

func (s *Service[P]) worker() {
	defer s.workers.Done()
	for {
		s.runMu.Lock()
		for len(s.runQueue) == 0 && !s.runClosing {
			s.runCond.Wait()
		}
		if len(s.runQueue) == 0 {
			s.runMu.Unlock()
			return
		}
		p := s.runQueue[0]
		var zero P
		s.runQueue[0] = zero
		s.runQueue = s.runQueue[1:]
		if len(s.runQueue) == 0 {
			s.runQueue = s.runQueue[:0:0] // let the backing array go
		}
		s.runMu.Unlock()
		s.runOne(p)
	}
}

func (s *Service[P]) runOne(p P) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("re-running a held pull panicked", "panic", r)
		}
	}()
	s.fn.Run(p)
}
