package remoting

import (
	"context"
	"errors"
	"fmt"
)

// call is an outgoing request waiting for its response. Whoever removes it
// from the pending table (the reader with the response, the timeout, the
// connection closing) completes it; removal happens once, so completion
// does too.
type call struct {
	req    *Command
	ch     chan result           // InvokeSync
	cb     func(*Command, error) // InvokeAsync
	cancel context.CancelFunc    // InvokeAsync: releases the timeout
	stop   func() bool           // InvokeAsync: unregisters the timeout; guarded by Conn.pmu
}

type result struct {
	resp *Command
	err  error
}

func (c *Conn) addPending(opaque int32, cl *call) error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pclosed {
		if errors.Is(c.closeErr, ErrConnClosed) {
			return c.closeErr
		}
		return fmt.Errorf("%w: %w", ErrConnClosed, c.closeErr)
	}
	c.pending[opaque] = cl
	return nil
}

func (c *Conn) takePending(opaque int32) *call {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	cl := c.pending[opaque]
	if cl != nil {
		delete(c.pending, opaque)
	}
	return cl
}

func (c *Conn) failPending(err error) {
	c.pmu.Lock()
	calls := c.pending
	c.pending = nil
	c.pclosed = true
	c.pmu.Unlock()
	for _, cl := range calls {
		c.completeCall(cl, nil, err)
	}
}

// complete hands a response read from the peer to its call.
func (c *Conn) complete(resp *Command) {
	cl := c.takePending(resp.Opaque)
	if cl == nil {
		// Timed out already, or a response nobody asked for.
		c.env.log.Debug("response for unknown opaque", "conn", c.remote, "opaque", resp.Opaque, "code", resp.Code)
		return
	}
	c.completeCall(cl, resp, nil)
}

func (c *Conn) completeCall(cl *call, resp *Command, err error) {
	if err == nil {
		for _, h := range c.env.rpcHooks() {
			if err = h.AfterResponse(c.remote, cl.req, resp); err != nil {
				resp = nil
				break
			}
		}
	}
	if cl.ch != nil {
		cl.ch <- result{resp, err}
		return
	}
	c.pmu.Lock()
	stop := cl.stop
	c.pmu.Unlock()
	if stop != nil {
		stop() // cancel must not wake the timeout callback for nothing
	}
	cl.cancel()
	cl.cb(resp, err)
}

// prepare stamps an outgoing request and runs the before-request hooks.
func (c *Conn) prepare(req *Command, oneway bool) error {
	req.Opaque = c.env.opaque.Add(1)
	req.Flag &^= FlagResponse | FlagOneway
	if oneway {
		req.Flag |= FlagOneway
	}
	req.SerializeType = c.env.opts.SerializeType
	for _, h := range c.env.rpcHooks() {
		if err := h.BeforeRequest(c.remote, req); err != nil {
			req.ReleaseBody()
			return err
		}
	}
	return nil
}

// InvokeSync sends req and waits for its response. A ctx without deadline
// gets InvokeTimeout. When ctx ends first the error wraps ctx.Err()
// (context.DeadlineExceeded for a timeout), and a late response is dropped.
func (c *Conn) InvokeSync(ctx context.Context, req *Command) (*Command, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.env.opts.InvokeTimeout)
		defer cancel()
	}
	if err := c.prepare(req, false); err != nil {
		return nil, err
	}
	opaque := req.Opaque
	cl := &call{req: req, ch: make(chan result, 1)}
	if err := c.addPending(opaque, cl); err != nil {
		req.ReleaseBody()
		return nil, err
	}
	if err := c.send(ctx, req); err != nil {
		if c.takePending(opaque) != nil {
			return nil, c.invokeErr(req, err)
		}
		// Completed meanwhile (the connection closed): report that.
	}
	select {
	case r := <-cl.ch:
		return r.resp, r.err
	case <-ctx.Done():
		if c.takePending(opaque) != nil {
			return nil, c.invokeErr(req, ctx.Err())
		}
		r := <-cl.ch
		return r.resp, r.err
	}
}

func (c *Conn) invokeErr(req *Command, err error) error {
	return fmt.Errorf("remoting: invoke %s (opaque %d) on %s: %w", req.RequestCode(), req.Opaque, c.remote, err)
}

// InvokeAsync sends req and returns; cb receives the response or the
// error (timeout, connection closed) exactly once, unless InvokeAsync
// itself returns an error, in which case cb is never called.
//
// cb runs on the connection's reader goroutine (or on a timer or closing
// goroutine) and must not block: hand anything slow to another goroutine.
// In particular it must not InvokeSync on the same connection.
func (c *Conn) InvokeAsync(ctx context.Context, req *Command, cb func(resp *Command, err error)) error {
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, c.env.opts.InvokeTimeout)
	}
	if err := c.prepare(req, false); err != nil {
		cancel()
		return err
	}
	opaque := req.Opaque
	cl := &call{req: req, cb: cb, cancel: cancel}
	if err := c.addPending(opaque, cl); err != nil {
		cancel()
		req.ReleaseBody()
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		if c.takePending(opaque) == cl {
			c.completeCall(cl, nil, c.invokeErr(req, ctx.Err()))
		}
	})
	c.pmu.Lock()
	cl.stop = stop
	c.pmu.Unlock()
	if err := c.send(ctx, req); err != nil {
		if c.takePending(opaque) == cl {
			cancel()
			return c.invokeErr(req, err)
		}
		// Someone else completed the call and ran cb.
	}
	return nil
}

// InvokeOneway sends req with the oneway flag set; no response comes back.
// ctx bounds the wait for room in the write queue.
func (c *Conn) InvokeOneway(ctx context.Context, req *Command) error {
	if err := c.prepare(req, true); err != nil {
		return err
	}
	return c.send(ctx, req)
}
