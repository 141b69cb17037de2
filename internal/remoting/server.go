package remoting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Server accepts remoting connections and dispatches their requests to
// registered processors.
type Server struct {
	opts ServerOptions
	env  *endpoint

	mu         sync.Mutex
	ln         net.Listener
	started    bool
	closed     bool
	acceptDone chan struct{}
	closeDone  chan struct{}
}

// NewServer returns a server; register processors, then Start it.
func NewServer(opts ServerOptions, log *slog.Logger) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	env := newEndpoint(opts.ConnOptions, log)
	env.log = env.log.With("component", "remoting-server")
	return &Server{opts: opts, env: env, closeDone: make(chan struct{})}, nil
}

// Register routes requests with code to p, running in mode. Safe at any
// time; a later registration for the same code replaces the earlier one.
func (s *Server) Register(code protocol.RequestCode, mode Mode, p Processor) {
	s.env.router.register(code, mode, p)
}

// RegisterDefault routes requests whose code has no processor of its own
// to p (Java's registerDefaultProcessor). Without one such requests are
// answered REQUEST_CODE_NOT_SUPPORTED.
func (s *Server) RegisterDefault(mode Mode, p Processor) {
	s.env.router.dflt.Store(&route{p: p, mode: mode})
}

// AddHook adds an RPC hook, run for every request in both directions.
func (s *Server) AddHook(h RPCHook) { s.env.addHook(h) }

// SetConnEvents installs connection callbacks. Call it before Start.
func (s *Server) SetConnEvents(ev ConnEvents) { s.env.events = ev }

// Start listens on Options.Addr and starts accepting.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.started {
		return errors.New("remoting: server already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("remoting: listen: %w", err)
	}
	s.ln = ln
	s.started = true
	s.acceptDone = make(chan struct{})
	s.env.startJanitor()
	go s.acceptLoop()
	s.env.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr returns the listening address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Conns returns the open connections.
func (s *Server) Conns() []*Conn { return s.env.snapshot(false) }

func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.env.badLog.Log(slog.LevelWarn, "accept failed", "err", err, "retry", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		newConn(nc, s.env).start()
	}
}

// Close stops the server gracefully. It stops accepting; answers requests
// that arrive from now on with SERVICE_NOT_AVAILABLE (which producers retry
// on another broker); lets requests already in flight finish and waits until
// their responses are written, at most CloseTimeout in all; then closes
// every connection. Connections whose peer left do not hold it up.
// Processors should return once their context is done; Close waits for
// them only until the timeout. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeDone
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	defer close(s.closeDone)
	if !started {
		return nil
	}

	_ = s.ln.Close()
	<-s.acceptDone
	s.env.stopJanitor()
	conns := s.env.snapshot(true)
	expired, stop := closeDeadline(s.opts.CloseTimeout)
	defer stop()

	// Refuse new requests; keep reading so that responses to our own
	// invocations arrive and a peer that leaves is noticed.
	for _, c := range conns {
		c.draining.Store(true)
	}
	// Let in-flight requests finish and their responses be queued.
	drained := true
	for _, c := range conns {
		select {
		case <-c.idleRequests():
		case <-c.done: // the peer left; nobody to answer
		case <-expired:
			drained = false
		}
		if !drained {
			break
		}
	}
	// Stop the readers, then let the writers flush what is queued.
	for _, c := range conns {
		c.stopRead.Store(true)
		_ = c.nc.SetReadDeadline(time.Now())
	}
	for _, c := range conns {
		if !drained || !waitOrDeadline(c.readerDone, expired) {
			drained = false
			break
		}
		c.q.drain()
	}
	for _, c := range conns {
		if !drained || !waitOrDeadline(c.writerDone, expired) {
			drained = false
			break
		}
	}
	if !drained {
		s.env.log.Warn("close timeout: dropping connections with requests in flight", "timeout", s.opts.CloseTimeout)
	}
	for _, c := range conns {
		c.closeWith(ErrServerClosed)
	}
	for _, c := range conns {
		<-c.readerDone
		<-c.writerDone
	}
	if !s.env.waitProcs(expired) {
		s.env.log.Warn("close timeout: processors still running", "timeout", s.opts.CloseTimeout)
	}
	return nil
}

// closeDeadline returns a channel closed after d: unlike a timer's channel
// it can be waited on any number of times.
func closeDeadline(d time.Duration) (<-chan struct{}, func() bool) {
	ch := make(chan struct{})
	t := time.AfterFunc(d, func() { close(ch) })
	return ch, t.Stop
}

func waitOrDeadline(ch <-chan struct{}, deadline <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-deadline:
		return false
	}
}
