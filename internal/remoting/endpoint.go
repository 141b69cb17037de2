package remoting

import (
	"context"
	"errors"
	"fmt"
	"github.com/gorocket/gorocket/internal/ratelog"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Processor serves requests of the codes it is registered for.
//
// It returns the response, or nil to answer later with c.Respond (from any
// goroutine), or an error: an *Error is answered with its code and remark,
// any other error with SYSTEM_ERROR and the error text. The response's
// opaque, flag and serialization are filled in by the transport. For a
// oneway request whatever it returns is discarded.
//
// ctx is done when the connection closes.
type Processor interface {
	ProcessRequest(ctx context.Context, c *Conn, req *Command) (*Command, error)
}

// ProcessorFunc adapts a function to Processor.
type ProcessorFunc func(ctx context.Context, c *Conn, req *Command) (*Command, error)

// ProcessRequest calls f.
func (f ProcessorFunc) ProcessRequest(ctx context.Context, c *Conn, req *Command) (*Command, error) {
	return f(ctx, c, req)
}

// Mode says where a processor runs.
type Mode uint8

const (
	// Spawn runs the processor on a goroutine of its own: for anything that
	// may block. The default.
	Spawn Mode = iota
	// Inline runs the processor on the connection's reader goroutine, which
	// reads nothing else meanwhile: for hot paths that never block (send,
	// pull). It saves a goroutine per request and keeps responses in
	// request order.
	Inline
)

// RPCHook sees every request a side sends or receives, and its response.
// BeforeRequest runs before an outgoing request is sent and before an
// incoming one is processed; an error aborts the call (outgoing) or is
// answered (incoming). AfterResponse runs when an outgoing request's
// response arrives and before an incoming request's response is written;
// an error replaces the response. ACL signing and verification hook here.
type RPCHook interface {
	BeforeRequest(remoteAddr string, req *Command) error
	AfterResponse(remoteAddr string, req, resp *Command) error
}

// ConnEvents are callbacks on connection lifecycle events, each optional.
// They run synchronously on transport goroutines and must not block.
type ConnEvents struct {
	// Connect runs before the first frame is read.
	Connect func(c *Conn)
	// Close runs once, after the connection is closed for any reason;
	// c.Err says why.
	Close func(c *Conn)
	// Idle runs when a connection has been idle for IdleTimeout, just
	// before it is closed.
	Idle func(c *Conn)
}

// Error is an error that carries the response code to answer with.
type Error struct {
	Code   protocol.ResponseCode
	Remark string
}

// Errorf returns an *Error with a formatted remark.
func Errorf(code protocol.ResponseCode, format string, args ...any) *Error {
	return &Error{Code: code, Remark: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("remoting: %s: %s", e.Code, e.Remark)
}

// Err returns nil for a SUCCESS response and an *Error carrying the code
// and remark otherwise.
func (c *Command) Err() error {
	if c.Code == int32(protocol.Success) {
		return nil
	}
	return &Error{Code: c.ResponseCode(), Remark: c.Remark}
}

// Transport errors.
var (
	ErrConnClosed      = errors.New("remoting: connection closed")
	ErrServerClosed    = errors.New("remoting: server closed")
	ErrClientClosed    = errors.New("remoting: client closed")
	ErrAlreadyAnswered = errors.New("remoting: request already answered")
	ErrNotFromConn     = errors.New("remoting: request did not arrive on this connection")
)

type route struct {
	p    Processor
	mode Mode
}

// router maps request codes to processors. Reads are lock-free; writes copy
// the table, so registering while serving is safe.
type router struct {
	mu    sync.Mutex
	table atomic.Pointer[map[int32]route]
	dflt  atomic.Pointer[route]
}

func (r *router) register(code protocol.RequestCode, mode Mode, p Processor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := map[int32]route{}
	if cur := r.table.Load(); cur != nil {
		next = maps.Clone(*cur)
	}
	next[int32(code)] = route{p: p, mode: mode}
	r.table.Store(&next)
}

func (r *router) lookup(code int32) (route, bool) {
	if t := r.table.Load(); t != nil {
		if rt, ok := (*t)[code]; ok {
			return rt, true
		}
	}
	if d := r.dflt.Load(); d != nil {
		return *d, true
	}
	return route{}, false
}

// endpoint is what a Server or a Client shares with its connections.
type endpoint struct {
	opts    ConnOptions
	log     *slog.Logger
	badLog  *ratelog.Logger
	router  router
	hooks   atomic.Pointer[[]RPCHook]
	events  ConnEvents
	opaque  atomic.Int32
	nextID  atomic.Uint64
	epoch   time.Time
	onClose func(*Conn) // owner bookkeeping, before events.Close

	spawned atomic.Int64   // processors running on their own goroutine
	procs   sync.WaitGroup // the same, for Close to wait on

	mu    sync.Mutex
	conns map[*Conn]struct{}

	janitorStop chan struct{}
	janitorDone chan struct{}
}

func newEndpoint(opts ConnOptions, log *slog.Logger) *endpoint {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &endpoint{
		opts:   opts,
		log:    log,
		badLog: ratelog.New(log, 10*time.Second, 10),
		epoch:  time.Now(),
		conns:  map[*Conn]struct{}{},
	}
}

func (e *endpoint) addHook(h RPCHook) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next []RPCHook
	if cur := e.hooks.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, h)
	e.hooks.Store(&next)
}

func (e *endpoint) rpcHooks() []RPCHook {
	if h := e.hooks.Load(); h != nil {
		return *h
	}
	return nil
}

// The endpoint clock: nanoseconds since the endpoint was made, monotonic.
func (e *endpoint) now() int64 { return int64(time.Since(e.epoch)) }

// clock returns t on the endpoint clock.
func (e *endpoint) clock(t time.Time) int64 { return int64(t.Sub(e.epoch)) }

// timeAt returns the time of d on the endpoint clock.
func (e *endpoint) timeAt(d int64) time.Time { return e.epoch.Add(time.Duration(d)) }

func (e *endpoint) track(c *Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conns == nil {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *endpoint) untrack(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.conns, c)
}

// snapshot returns the tracked connections; with stop set it also stops
// tracking new ones (track then returns false).
func (e *endpoint) snapshot(stop bool) []*Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		out = append(out, c)
	}
	if stop {
		e.conns = nil
	}
	return out
}

// startJanitor closes connections idle for IdleTimeout.
func (e *endpoint) startJanitor() {
	if e.opts.IdleTimeout <= 0 {
		return
	}
	e.janitorStop = make(chan struct{})
	e.janitorDone = make(chan struct{})
	period := max(e.opts.IdleTimeout/4, 10*time.Millisecond)
	go func() {
		defer close(e.janitorDone)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-e.janitorStop:
				return
			case <-t.C:
				limit := e.now() - int64(e.opts.IdleTimeout)
				for _, c := range e.snapshot(false) {
					if c.lastActive.Load() < limit {
						c.idle()
					}
				}
			}
		}
	}()
}

func (e *endpoint) stopJanitor() {
	if e.janitorStop != nil {
		close(e.janitorStop)
		<-e.janitorDone
		e.janitorStop = nil
	}
}

// waitProcs waits for spawned processors until deadline; it reports
// whether they all finished.
func (e *endpoint) waitProcs(deadline <-chan struct{}) bool {
	done := make(chan struct{})
	go func() {
		e.procs.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-deadline:
		return false
	}
}
