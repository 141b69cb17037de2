package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Client keeps one connection per server address, dialled on first use and
// again after it fails, and invokes requests over them. Processors
// registered on it serve requests the servers send (NOTIFY_CONSUMER_IDS_CHANGED,
// CHECK_TRANSACTION_STATE, ...). Opaques are unique per Client.
//
// A Client needs no Start: connections start their goroutines when dialled.
type Client struct {
	opts ClientOptions
	env  *endpoint

	mu     sync.Mutex
	conns  map[string]*dialing
	closed bool
}

// dialing is a pool slot: ready closes when the dial finished, leaving
// conn or err set.
type dialing struct {
	ready chan struct{}
	conn  *Conn
	err   error
}

// NewClient returns a client.
func NewClient(opts ClientOptions, log *slog.Logger) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	env := newEndpoint(opts.ConnOptions, log)
	env.log = env.log.With("component", "remoting-client")
	cl := &Client{opts: opts, env: env, conns: map[string]*dialing{}}
	env.onClose = cl.forget
	env.startJanitor()
	return cl, nil
}

// Register routes requests from servers with code to p.
func (cl *Client) Register(code protocol.RequestCode, mode Mode, p Processor) {
	cl.env.router.register(code, mode, p)
}

// AddHook adds an RPC hook (ACL signing, for instance).
func (cl *Client) AddHook(h RPCHook) { cl.env.addHook(h) }

// SetConnEvents installs connection callbacks. Call it before first use.
func (cl *Client) SetConnEvents(ev ConnEvents) { cl.env.events = ev }

// Conn returns the connection to addr, dialling it if needed. Concurrent
// callers share one dial.
func (cl *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	for {
		cl.mu.Lock()
		if cl.closed {
			cl.mu.Unlock()
			return nil, ErrClientClosed
		}
		d := cl.conns[addr]
		if d == nil {
			d = &dialing{ready: make(chan struct{})}
			cl.conns[addr] = d
			cl.mu.Unlock()
			return cl.dial(ctx, addr, d)
		}
		cl.mu.Unlock()
		select {
		case <-d.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("remoting: connect %s: %w", addr, ctx.Err())
		}
		if d.err != nil {
			return nil, d.err
		}
		if d.conn.Err() == nil {
			return d.conn, nil
		}
		cl.forget(d.conn) // closed under us: dial again
	}
}

func (cl *Client) dial(ctx context.Context, addr string, d *dialing) (*Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, cl.opts.DialTimeout)
	defer cancel()
	var dialer net.Dialer
	nc, err := dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctxErr := dctx.Err(); ctxErr != nil {
			// Keep errors.Is(err, context.DeadlineExceeded) true, as for
			// every other timeout in this package.
			err = fmt.Errorf("remoting: connect %s: %w (%w)", addr, ctxErr, err)
		} else {
			err = fmt.Errorf("remoting: connect %s: %w", addr, err)
		}
		cl.mu.Lock()
		if cl.conns[addr] == d {
			delete(cl.conns, addr)
		}
		d.err = err
		close(d.ready)
		cl.mu.Unlock()
		return nil, err
	}
	c := newConn(nc, cl.env)
	cl.mu.Lock()
	if cl.closed {
		d.err = ErrClientClosed
		close(d.ready)
		cl.mu.Unlock()
		_ = nc.Close()
		return nil, ErrClientClosed
	}
	d.conn = c
	close(d.ready)
	cl.mu.Unlock()
	if !c.start() {
		return nil, ErrClientClosed
	}
	return c, nil
}

// forget drops c from the pool, so that the next call dials again.
func (cl *Client) forget(c *Conn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for addr, d := range cl.conns {
		if d.conn == c {
			delete(cl.conns, addr)
			return
		}
	}
}

// InvokeSync sends req to addr and waits for the response; see
// Conn.InvokeSync.
func (cl *Client) InvokeSync(ctx context.Context, addr string, req *Command) (*Command, error) {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		req.ReleaseBody()
		return nil, err
	}
	return c.InvokeSync(ctx, req)
}

// InvokeSyncUntil sends req to addr and waits for the response; see
// Conn.InvokeSyncUntil.
func (cl *Client) InvokeSyncUntil(ctx context.Context, addr string, req *Command, deadline time.Time) (*Command, error) {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		req.ReleaseBody()
		return nil, err
	}
	return c.InvokeSyncUntil(ctx, req, deadline)
}

// InvokeAsync sends req to addr; cb gets the response or error exactly
// once unless InvokeAsync returns an error. See Conn.InvokeAsync for where
// cb runs.
func (cl *Client) InvokeAsync(ctx context.Context, addr string, req *Command, cb func(resp *Command, err error)) error {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		req.ReleaseBody()
		return err
	}
	return c.InvokeAsync(ctx, req, cb)
}

// InvokeOneway sends req to addr with the oneway flag.
func (cl *Client) InvokeOneway(ctx context.Context, addr string, req *Command) error {
	c, err := cl.Conn(ctx, addr)
	if err != nil {
		req.ReleaseBody()
		return err
	}
	return c.InvokeOneway(ctx, req)
}

// CloseConn closes the connection to addr, if any; pending calls on it fail.
func (cl *Client) CloseConn(addr string) {
	cl.mu.Lock()
	d := cl.conns[addr]
	cl.mu.Unlock()
	if d != nil {
		select {
		case <-d.ready:
			if d.conn != nil {
				d.conn.Close()
			}
		default:
		}
	}
}

// Close closes every connection (pending calls fail with ErrConnClosed)
// and waits up to CloseTimeout for processors serving server requests.
// Idempotent.
func (cl *Client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cl.mu.Unlock()
	cl.env.stopJanitor()
	conns := cl.env.snapshot(true)
	for _, c := range conns {
		c.closeWith(ErrClientClosed)
	}
	for _, c := range conns {
		<-c.readerDone
		<-c.writerDone
	}
	expired, stop := closeDeadline(cl.opts.CloseTimeout)
	defer stop()
	if !cl.env.waitProcs(expired) {
		cl.env.log.Warn("close timeout: processors still running", "timeout", cl.opts.CloseTimeout)
	}
	return nil
}
