package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Conn is one remoting connection, on the server or the client side. It is
// safe for concurrent use.
type Conn struct {
	nc     net.Conn
	id     uint64
	remote string
	env    *endpoint
	fr     frameReader
	q      *sendQueue

	// Direct writes (queue.go): nil direct when the connection is not a
	// socket. iov, wn and werr are the state of the one direct write under
	// way, serialised by the queue; writev is c.writev, bound once.
	direct directWriter
	raw    syscall.RawConn
	iov    [][]byte
	wn     int
	werr   error
	writev func(fd uintptr) bool

	ctx    context.Context
	cancel context.CancelFunc

	pmu       sync.Mutex
	pending   map[int32]*call // outgoing requests awaiting a response
	deadlines callHeap        // the same, by deadline (deadline.go)
	timer     *time.Timer     // fires at armed to expire calls
	armed     int64           // when timer fires, on the endpoint clock; 0: not armed
	pclosed   bool

	inflight   atomic.Int64 // incoming requests not yet answered
	moreIn     atomic.Bool  // the reader holds bytes of further frames
	lastActive atomic.Int64
	draining   atomic.Bool // the server is shutting down: refuse new requests
	stopRead   atomic.Bool // the server stopped the reader to finish shutting down
	drainMu    sync.Mutex
	drainCh    chan struct{} // closed once draining and nothing is in flight
	drainShut  bool

	closeOnce  sync.Once
	closeErr   error       // written once, before closed is set
	closed     atomic.Bool // set as soon as closing starts
	done       chan struct{}
	readerDone chan struct{}
	writerDone chan struct{}
}

func newConn(nc net.Conn, env *endpoint) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		nc:         nc,
		id:         env.nextID.Add(1),
		remote:     nc.RemoteAddr().String(),
		env:        env,
		q:          newSendQueue(env.opts.MaxWriteQueue),
		ctx:        ctx,
		cancel:     cancel,
		pending:    map[int32]*call{},
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	c.fr = frameReader{r: bufio.NewReaderSize(nc, env.opts.ReadBufferSize), maxFrame: env.opts.MaxFrameSize}
	c.lastActive.Store(env.now())
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.direct = c.writeDirect
			c.writev = c.writevOnce
		}
	}
	return c
}

// writeDirect writes what the socket takes of f at once, without blocking,
// on the caller's goroutine (see sendQueue), and returns how many bytes
// that was. A failure writes nothing; the writer goroutine meets it again
// and closes the connection.
func (c *Conn) writeDirect(f *outFrame) int {
	c.iov = appendIov(c.iov[:0], f, 0)
	err := c.raw.Write(c.writev)
	clear(c.iov)
	n := c.wn
	if err != nil || c.werr != nil || n < 0 {
		n = 0
	}
	c.werr = nil
	if n > 0 {
		c.touch()
	}
	return n
}

// writevOnce makes one non-blocking writev of c.iov.
func (c *Conn) writevOnce(fd uintptr) bool {
	c.wn, c.werr = unix.Writev(int(fd), c.iov)
	return true // never wait for the socket: the writer goroutine does
}

// start registers the connection with its endpoint and starts its
// goroutines. It returns false (and closes the socket) when the endpoint no
// longer accepts connections.
func (c *Conn) start() bool {
	if !c.env.track(c) {
		close(c.readerDone)
		close(c.writerDone)
		c.closeWith(ErrConnClosed)
		return false
	}
	if f := c.env.events.Connect; f != nil {
		f(c)
	}
	go c.writeLoop()
	go c.readLoop()
	return true
}

// ID is unique among the connections of one Server or Client.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer's address as "ip:port".
func (c *Conn) RemoteAddr() string { return c.remote }

// LocalAddr returns the local end of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Context is done when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	if c.closed.Load() {
		return c.closeErr
	}
	return nil
}

// Close closes the connection at once: queued frames are dropped and
// pending invocations fail.
func (c *Conn) Close() error {
	c.closeWith(ErrConnClosed)
	return nil
}

func (c *Conn) String() string { return fmt.Sprintf("conn#%d(%s)", c.id, c.remote) }

func (c *Conn) touch() { c.lastActive.Store(c.env.now()) }

// closeWith tears the connection down once. It may run on any goroutine,
// including the reader and the writer.
func (c *Conn) closeWith(err error) {
	c.closeOnce.Do(func() {
		c.closeErr = err
		c.closed.Store(true)
		c.cancel()
		_ = c.nc.Close()
		c.q.close()
		pendingErr := err
		if !errors.Is(err, ErrConnClosed) {
			pendingErr = fmt.Errorf("%w: %w", ErrConnClosed, err)
		}
		c.failPending(pendingErr)
		c.env.untrack(c)
		if f := c.env.onClose; f != nil {
			f(c)
		}
		if f := c.env.events.Close; f != nil {
			f(c)
		}
		close(c.done)
	})
}

func (c *Conn) idle() {
	c.env.log.Info("closing idle connection", "conn", c.remote, "idle", c.env.opts.IdleTimeout)
	if f := c.env.events.Idle; f != nil {
		f(c)
	}
	c.closeWith(fmt.Errorf("%w: idle for %v", ErrConnClosed, c.env.opts.IdleTimeout))
}

// readLoop reads frames until the connection fails or the server stops
// reading for shutdown.
func (c *Conn) readLoop() {
	defer close(c.readerDone)
	more := false
	for n := 1; ; n++ {
		cmd, err := c.fr.read()
		if err != nil {
			c.readFailed(err)
			return
		}
		// Idleness is the time since the last frame, but reading the
		// clock for every frame of a pipelined stream costs more than the
		// rest of the bookkeeping: touch when the reader is about to wait
		// for the socket, and at least every 64 frames.
		if m := c.fr.r.Buffered() > 0; m != more {
			more = m
			c.moreIn.Store(more)
		}
		if n%64 == 0 || !more {
			c.touch()
		}
		if cmd.IsResponse() {
			c.complete(cmd)
			continue
		}
		c.serve(cmd)
	}
}

func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case c.stopRead.Load() && errors.As(err, &ne) && ne.Timeout():
		return // shutdown stopped reading; the server closes the connection
	case errors.Is(err, ErrBadFrame):
		c.env.badLog.Log(slog.LevelWarn, "bad frame, closing connection", "conn", c.remote, "err", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.env.badLog.Log(slog.LevelInfo, "connection closed inside a frame", "conn", c.remote)
	case err == io.EOF, errors.Is(err, net.ErrClosed):
	default:
		c.env.log.Debug("read failed", "conn", c.remote, "err", err)
	}
	c.closeWith(err)
}

// serve dispatches an incoming request.
func (c *Conn) serve(req *Command) {
	req.conn = c
	if !req.IsOneway() {
		c.inflight.Add(1)
	}

	// Requests the transport answers itself are released here; the others
	// belong to their processor (see Command.Release).
	for _, h := range c.env.rpcHooks() {
		if err := h.BeforeRequest(c.remote, req); err != nil {
			c.finish(req, nil, err)
			req.recycle()
			return
		}
	}
	if c.draining.Load() {
		c.finish(req, NewResponse(req, protocol.ServiceNotAvailable, "server is shutting down"), nil)
		req.recycle()
		return
	}
	rt, ok := c.env.router.lookup(req.Code)
	if !ok {
		c.finish(req, NewResponse(req, protocol.RequestCodeNotSupported,
			fmt.Sprintf(" request type %d not supported", req.Code)), nil)
		req.recycle()
		return
	}
	if rt.mode == Inline {
		c.run(rt.p, req)
		return
	}
	if c.env.spawned.Add(1) > int64(c.env.opts.MaxConcurrentProcessors) {
		c.env.spawned.Add(-1)
		c.env.badLog.Log(slog.LevelWarn, "too many requests in flight, answering SYSTEM_BUSY",
			"conn", c.remote, "code", req.RequestCode())
		c.finish(req, NewResponse(req, protocol.SystemBusy,
			"[OVERLOAD]system busy, start flow control for a while"), nil)
		req.recycle()
		return
	}
	c.env.procs.Add(1)
	go func() {
		defer c.env.procs.Done()
		defer c.env.spawned.Add(-1)
		c.run(rt.p, req)
	}()
}

// run calls a processor, turning a panic into a SYSTEM_ERROR answer.
func (c *Conn) run(p Processor, req *Command) {
	var resp *Command
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				c.env.log.Error("processor panicked", "conn", c.remote, "code", req.RequestCode(),
					"panic", r, "stack", string(debug.Stack()))
				resp, err = nil, fmt.Errorf("remoting: processor panicked: %v", r)
			}
		}()
		resp, err = p.ProcessRequest(c.ctx, c, req)
	}()
	c.finish(req, resp, err)
}

func errorResponse(req *Command, err error) *Command {
	var e *Error
	if errors.As(err, &e) {
		return NewResponse(req, e.Code, e.Remark)
	}
	return NewResponse(req, protocol.SystemError, err.Error())
}

// finish answers req with what its processor returned.
func (c *Conn) finish(req *Command, resp *Command, err error) {
	if err != nil {
		if resp != nil {
			resp.ReleaseBody()
		}
		resp = errorResponse(req, err)
	}
	if resp == nil {
		return // answered later, or a oneway request
	}
	if err := c.Respond(req, resp); err != nil && !errors.Is(err, ErrConnClosed) {
		c.env.log.Warn("cannot answer request", "conn", c.remote, "code", req.RequestCode(), "err", err)
	}
}

// Respond sends resp as the answer to req, which must have arrived on c. It
// may be called from any goroutine, once per request; it fills in resp's
// opaque, response flag and serialization. A oneway request's response is
// discarded. It waits while the write queue is full.
func (c *Conn) Respond(req, resp *Command) error {
	if req.conn != c {
		resp.ReleaseBody()
		return ErrNotFromConn
	}
	if !req.answered.CompareAndSwap(false, true) {
		resp.ReleaseBody()
		return ErrAlreadyAnswered
	}
	if req.IsOneway() {
		resp.ReleaseBody()
		return nil
	}
	defer c.requestDone()
	resp.Opaque = req.Opaque
	resp.Flag |= FlagResponse
	resp.SerializeType = req.SerializeType
	for _, h := range c.env.rpcHooks() {
		if err := h.AfterResponse(c.remote, req, resp); err != nil {
			resp.ReleaseBody()
			resp = errorResponse(req, err)
		}
	}
	// The last request in flight is answered directly when the socket is
	// idle; answers to pipelined requests (more in flight, or more already
	// read and about to be dispatched) queue up for one writev.
	return c.send(nil, time.Time{}, resp, c.inflight.Load() == 1 && !c.moreIn.Load())
}

func (c *Conn) requestDone() {
	if c.inflight.Add(-1) == 0 && c.draining.Load() {
		c.drainMu.Lock()
		if c.drainCh != nil && !c.drainShut {
			close(c.drainCh)
			c.drainShut = true
		}
		c.drainMu.Unlock()
	}
}

// idleRequests returns a channel closed once no request is in flight. Only
// meaningful once draining, when new requests are refused and the count only
// falls.
func (c *Conn) idleRequests() <-chan struct{} {
	c.drainMu.Lock()
	defer c.drainMu.Unlock()
	if c.drainCh == nil {
		c.drainCh = make(chan struct{})
	}
	if !c.drainShut && c.inflight.Load() == 0 {
		close(c.drainCh)
		c.drainShut = true
	}
	return c.drainCh
}

// send encodes cmd and queues it, or with direct set writes it itself when
// the socket is idle. ctx (may be nil) and deadline (zero for none) bound
// the wait for room in the queue. On failure cmd's body is released.
func (c *Conn) send(ctx context.Context, deadline time.Time, cmd *Command, direct bool) error {
	f, err := c.encode(cmd)
	if err != nil {
		return err
	}
	return c.push(ctx, deadline, f, direct)
}

// push queues f, or writes it directly (see sendQueue) when direct is set:
// when f is the only exchange in flight on the connection, so that nothing
// is lost by not waiting for company in the writer's next writev.
func (c *Conn) push(ctx context.Context, deadline time.Time, f *outFrame, direct bool) error {
	var w directWriter
	if direct {
		w = c.direct
	}
	return c.q.push(ctx, deadline, f, w)
}

// encode returns cmd's frame, which refers to nothing of cmd but its body
// (and takes over the release callback of SetBodyParts). On failure cmd's
// body is released.
func (c *Conn) encode(cmd *Command) (*outFrame, error) {
	f := getFrame()
	bodyLen := cmd.BodyLen()
	buf, err := appendFrameHead(f.buf[:0], cmd, bodyLen, c.env.opts.MaxFrameSize)
	if err != nil {
		f.buf = buf
		f.finish()
		cmd.ReleaseBody()
		return nil, err
	}
	switch {
	case cmd.parts != nil:
		f.parts = append(f.parts, cmd.parts...)
		f.release, cmd.release = cmd.release, nil
	case bodyLen <= copyBodyMax:
		buf = append(buf, cmd.Body...)
	default:
		f.parts = append(f.parts, cmd.Body)
	}
	f.buf = buf
	return f, nil
}

// writeLoop writes whatever is queued in one writev per round.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	var batch []*outFrame
	var iov net.Buffers
	for {
		var ok bool
		var skip int
		batch, skip, ok = c.q.take(batch[:0])
		if !ok {
			return
		}
		iov = iov[:0]
		for i, f := range batch {
			if i > 0 {
				skip = 0
			}
			iov = appendIov(iov, f, skip)
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.env.opts.WriteTimeout))
		w := iov
		_, err := w.WriteTo(c.nc)
		clear(iov)
		for _, f := range batch {
			f.finish()
		}
		clear(batch)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.env.log.Debug("write failed", "conn", c.remote, "err", err)
			}
			c.closeWith(err)
			return
		}
		c.touch()
	}
}
