package remoting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// call is an outgoing request waiting for its response. Whoever removes it
// from the pending table (the reader with the response, the deadline timer,
// a cancelled context, the connection closing) completes it; removal
// happens once, so completion does too.
type call struct {
	req      *Command
	opaque   int32
	deadline int64 // when it times out, on the endpoint clock
	index    int   // position in Conn.deadlines; guarded by Conn.pmu

	ch chan result // InvokeSync

	cb    func(*Command, error) // InvokeAsync
	watch bool                  // InvokeAsync with a context that can be cancelled
	stop  func() bool           // unregisters that context's AfterFunc; guarded by Conn.pmu
}

type result struct {
	resp *Command
	err  error
}

// errDeadline is what a call that timed out fails with, wrapped. It is
// context.DeadlineExceeded, whether the call's deadline came from its
// context or from InvokeTimeout.
var errDeadline = context.DeadlineExceeded

// syncCalls recycles the calls of InvokeSync, which alone know when nobody
// refers to their call any more: once they have taken its result, or taken
// it back from the pending table themselves.
var syncCalls = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

func getSyncCall() *call { return syncCalls.Get().(*call) }

func putSyncCall(cl *call) {
	ch := cl.ch
	*cl = call{ch: ch}
	syncCalls.Put(cl)
}

// asyncCalls recycles the calls of InvokeAsync once their callback has run
// (or InvokeAsync took them back). Whatever may still hold such a call
// after that (InvokeAsync's tail, a context's AfterFunc) only compares it
// with what the pending table holds under the call's own opaque, which is
// never pending again, so a recycled call is never mistaken for its
// successor.
var asyncCalls = sync.Pool{New: func() any { return new(call) }}

func putAsyncCall(cl *call) {
	*cl = call{}
	asyncCalls.Put(cl)
}

// deadlineOf returns when a call made now with ctx times out, on the
// endpoint clock: at ctx's deadline or until, whichever comes first, or,
// when both are unset, InvokeTimeout from now.
func (c *Conn) deadlineOf(ctx context.Context, until time.Time) int64 {
	t, ok := ctx.Deadline()
	switch {
	case ok && (until.IsZero() || t.Before(until)):
		return c.env.clock(t)
	case !until.IsZero():
		return c.env.clock(until)
	}
	return c.env.now() + int64(c.env.opts.InvokeTimeout)
}

// addPending registers cl and reports whether it is the only call pending.
func (c *Conn) addPending(cl *call) (alone bool, err error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.pclosed {
		if errors.Is(c.closeErr, ErrConnClosed) {
			return false, c.closeErr
		}
		return false, fmt.Errorf("%w: %w", ErrConnClosed, c.closeErr)
	}
	c.pending[cl.opaque] = cl
	c.deadlines.push(cl)
	c.armLocked(cl.deadline)
	return len(c.pending) == 1, nil
}

func (c *Conn) takePending(opaque int32) *call {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	cl := c.pending[opaque]
	if cl != nil {
		delete(c.pending, opaque)
		c.deadlines.remove(cl)
	}
	return cl
}

func (c *Conn) failPending(err error) {
	c.pmu.Lock()
	calls := c.pending
	c.pending = nil
	c.deadlines = nil
	c.pclosed = true
	if c.timer != nil {
		c.timer.Stop()
	}
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
		resp.recycle()
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
	if cl.watch {
		c.pmu.Lock()
		stop := cl.stop
		c.pmu.Unlock()
		if stop != nil {
			stop() // the context's end must not wake the callback for nothing
		}
	}
	cl.cb(resp, err)
	putAsyncCall(cl)
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

// InvokeSync sends req and waits for its response, until ctx's deadline or,
// when ctx has none, for InvokeTimeout. When ctx ends first the error wraps
// ctx.Err(); a timeout wraps context.DeadlineExceeded; a late response is
// dropped.
func (c *Conn) InvokeSync(ctx context.Context, req *Command) (*Command, error) {
	return c.InvokeSyncUntil(ctx, req, time.Time{})
}

// InvokeSyncUntil is InvokeSync with a deadline of the caller's: the call
// times out at deadline or at ctx's, whichever comes first (InvokeTimeout
// is not used unless deadline is zero and ctx has none). It spares a
// caller with a budget of its own, shared by several calls, a context and a
// timer per call.
func (c *Conn) InvokeSyncUntil(ctx context.Context, req *Command, deadline time.Time) (*Command, error) {
	d := c.deadlineOf(ctx, deadline)
	if err := c.prepare(req, false); err != nil {
		return nil, err
	}
	f, err := c.encode(req)
	if err != nil {
		return nil, err
	}
	cl := getSyncCall()
	cl.req, cl.opaque, cl.deadline = req, req.Opaque, d
	alone, err := c.addPending(cl)
	if err != nil {
		putSyncCall(cl)
		f.finish()
		return nil, err
	}
	if err := c.push(ctx, c.env.timeAt(d), f, alone); err != nil {
		if c.takePending(cl.opaque) != nil {
			putSyncCall(cl)
			return nil, c.invokeErr(req, err)
		}
		// Completed meanwhile (the connection closed): report that.
	}
	var r result
	select {
	case r = <-cl.ch:
	case <-ctx.Done():
		if c.takePending(cl.opaque) != nil {
			putSyncCall(cl)
			return nil, c.invokeErr(req, ctx.Err())
		}
		r = <-cl.ch
	}
	putSyncCall(cl)
	return r.resp, r.err
}

func (c *Conn) invokeErr(req *Command, err error) error {
	return fmt.Errorf("remoting: invoke %s (opaque %d) on %s: %w", req.RequestCode(), req.Opaque, c.remote, err)
}

// InvokeAsync sends req and returns; cb receives the response or the
// error (timeout, cancelled ctx, connection closed) exactly once, unless
// InvokeAsync itself returns an error, in which case cb is never called.
// The call times out at ctx's deadline or, when ctx has none, after
// InvokeTimeout; a ctx that can never be cancelled (context.Background)
// costs nothing to watch.
//
// cb runs on the connection's reader goroutine (or on a timer or closing
// goroutine) and must not block: hand anything slow to another goroutine.
// In particular it must not InvokeSync on the same connection.
func (c *Conn) InvokeAsync(ctx context.Context, req *Command, cb func(resp *Command, err error)) error {
	d := c.deadlineOf(ctx, time.Time{})
	if err := c.prepare(req, false); err != nil {
		return err
	}
	// Encoded before it is pending: once pending, the call may complete
	// (time out, fail with the connection) at any moment, and its owner
	// may then reuse req.
	f, err := c.encode(req)
	if err != nil {
		return err
	}
	// Once pending, cl may complete and be recycled at any moment: from
	// then on only locals are read, and cl only under pmu while pending.
	opaque, code, watch := req.Opaque, req.RequestCode(), ctx.Done() != nil
	cl := asyncCalls.Get().(*call)
	cl.req, cl.opaque, cl.deadline, cl.cb, cl.watch = req, opaque, d, cb, watch
	alone, err := c.addPending(cl)
	if err != nil {
		putAsyncCall(cl)
		f.finish()
		return err
	}
	if watch {
		stop := context.AfterFunc(ctx, func() {
			if c.takePending(opaque) == cl {
				c.completeCall(cl, nil, c.invokeErr(req, ctx.Err()))
			}
		})
		c.pmu.Lock()
		if c.pending[opaque] == cl {
			cl.stop, stop = stop, nil
		}
		c.pmu.Unlock()
		if stop != nil {
			stop() // completed already
		}
	}
	if err := c.push(ctx, c.env.timeAt(d), f, alone); err != nil {
		if c.takePending(opaque) == cl {
			if cl.stop != nil {
				cl.stop()
			}
			putAsyncCall(cl)
			return fmt.Errorf("remoting: invoke %s (opaque %d) on %s: %w", code, opaque, c.remote, err)
		}
		// Someone else completed the call and ran cb.
	}
	return nil
}

// InvokeOneway sends req with the oneway flag set; no response comes back.
// ctx bounds the wait for room in the write queue (InvokeTimeout when it
// has no deadline).
func (c *Conn) InvokeOneway(ctx context.Context, req *Command) error {
	d := c.deadlineOf(ctx, time.Time{})
	if err := c.prepare(req, true); err != nil {
		return err
	}
	return c.send(ctx, c.env.timeAt(d), req, false)
}
