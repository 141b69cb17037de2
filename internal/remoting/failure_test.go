package remoting

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Failure paths of the client side and of a connection that reads garbage:
// a peer that vanishes or answers too late, a peer that sends a malformed
// frame while requests are in flight in both directions.

// prompt bounds how long a waiter may take to notice a failure: far below
// the minute every call here would otherwise wait, far above what a loaded
// machine needs.
const prompt = 20 * time.Second

// noLeaks checks, once the test and its other cleanups are done, that the
// test left no goroutine behind. Call it first.
func noLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// fakeServer accepts connections and hands each to the test, which speaks
// frames by hand on the test goroutine: to answer late, to vanish, to send
// garbage.
type fakeServer struct {
	t     *testing.T
	ln    net.Listener
	conns chan *rawConn
}

func startFake(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeServer{t: t, ln: ln, conns: make(chan *rawConn)}
	stop := make(chan struct{})
	done := make(chan struct{})
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, nc)
			mu.Unlock()
			rc := &rawConn{t: t, nc: nc, fr: frameReader{r: bufio.NewReader(nc), maxFrame: MaxFrameSize}}
			select {
			case f.conns <- rc:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range accepted {
			nc.Close()
		}
	})
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

// accept returns the next connection a client made.
func (f *fakeServer) accept() *rawConn {
	f.t.Helper()
	select {
	case rc := <-f.conns:
		return rc
	case <-time.After(prompt):
		f.t.Fatal("no connection to the fake server")
		return nil
	}
}

// recvRequests reads n requests and returns them by their "n" extField.
func (r *rawConn) recvRequests(n int) map[string]*Command {
	r.t.Helper()
	got := map[string]*Command{}
	for range n {
		req := r.recv()
		require.False(r.t, req.IsResponse())
		got[req.ExtFields.Value("n")] = req
	}
	require.Len(r.t, got, n)
	return got
}

// named returns a PullMessage request (a code servers may hold) tagged
// with its name, so that a hand-written peer can tell requests apart.
func named(name string) *Command {
	return NewRequest(protocol.PullMessage, protocol.ExtFields{{Key: "n", Value: name}}, nil)
}

// outcome is what a waiter got.
type outcome struct {
	name string
	resp *Command
	err  error
}

// waiters invokes requests on c and collects their outcomes: the sync
// ones each on a goroutine of their own, the async ones counting their
// callbacks.
type waiters struct {
	t       *testing.T
	out     chan outcome
	cbCalls sync.Map // name -> *atomic.Int32
	cancels []context.CancelFunc
	n       int
}

func newWaiters(t *testing.T) *waiters {
	w := &waiters{t: t, out: make(chan outcome, 64)}
	t.Cleanup(w.cancel)
	return w
}

func (w *waiters) sync(c *Conn, name string) {
	w.n++
	go func() {
		resp, err := c.InvokeSync(context.Background(), named(name))
		w.out <- outcome{name, resp, err}
	}()
}

// async invokes name; with watched set its context can be cancelled (the
// call then watches it with an AfterFunc), else it is Background (the
// deadline heap alone bounds it).
func (w *waiters) async(c *Conn, name string, watched bool) {
	w.t.Helper()
	ctx := context.Background()
	if watched {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		w.cancels = append(w.cancels, cancel)
	}
	w.asyncCtx(ctx, c, name)
}

// asyncCtx invokes name under ctx.
func (w *waiters) asyncCtx(ctx context.Context, c *Conn, name string) {
	w.t.Helper()
	w.n++
	calls := new(atomic.Int32)
	w.cbCalls.Store(name, calls)
	require.NoError(w.t, c.InvokeAsync(ctx, named(name), func(resp *Command, err error) {
		calls.Add(1)
		w.out <- outcome{name, resp, err}
	}))
}

// cancel cancels the contexts of the watched calls.
func (w *waiters) cancel() {
	for _, c := range w.cancels {
		c()
	}
}

// collect waits for n outcomes, each within prompt of the call.
func (w *waiters) collect(n int) map[string]outcome {
	w.t.Helper()
	got := map[string]outcome{}
	timeout := time.After(prompt)
	for range n {
		select {
		case o := <-w.out:
			require.NotContains(w.t, got, o.name, "%s completed twice", o.name)
			got[o.name] = o
		case <-timeout:
			w.t.Fatalf("only %d of %d calls completed within %v: %v", len(got), n, prompt, got)
		}
	}
	return got
}

// requireCallbacksOnce checks that every async callback ran exactly once
// and that nothing else completed.
func (w *waiters) requireCallbacksOnce() {
	w.t.Helper()
	w.cbCalls.Range(func(k, v any) bool {
		require.Equal(w.t, int32(1), v.(*atomic.Int32).Load(), "callback of %s", k)
		return true
	})
	select {
	case o := <-w.out:
		w.t.Fatalf("%s completed once more: %v", o.name, o.err)
	default:
	}
}

func pendingCount(c *Conn) int {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return len(c.pending)
}

// TestPendingCallsFailWhenPeerVanishes: the server goes away (FIN, RST, or
// in the middle of a frame) while a sync call and several async calls wait
// on the connection. Each fails at once with ErrConnClosed, far ahead of
// its minute-long timeout; each callback runs once; the client redials on
// the next call; nothing is left running.
func TestPendingCallsFailWhenPeerVanishes(t *testing.T) {
	for _, how := range []string{"close", "reset", "inside a frame"} {
		t.Run(how, func(t *testing.T) {
			noLeaks(t)
			f := startFake(t)
			cl := newClient(t, func(o *ClientOptions) { o.InvokeTimeout = time.Minute })
			c, err := cl.Conn(ctxTimeout(t, prompt), f.addr())
			require.NoError(t, err)
			peer := f.accept()

			w := newWaiters(t)
			w.sync(c, "sync")
			for i, name := range []string{"a0", "a1", "a2", "a3", "a4"} {
				w.async(c, name, i%2 == 0)
			}
			reqs := peer.recvRequests(w.n) // every request reached the peer
			require.Equal(t, w.n, pendingCount(c))

			switch how {
			case "close":
				require.NoError(t, peer.nc.Close())
			case "reset":
				require.NoError(t, peer.nc.(*net.TCPConn).SetLinger(0))
				require.NoError(t, peer.nc.Close())
			case "inside a frame":
				frame, err := EncodeFrame(nil, NewResponse(reqs["a0"], protocol.Success, "cut short"))
				require.NoError(t, err)
				_, err = peer.nc.Write(frame[:len(frame)/2])
				require.NoError(t, err)
				require.NoError(t, peer.nc.Close())
			}

			got := w.collect(w.n)
			for name, o := range got {
				require.ErrorIs(t, o.err, ErrConnClosed, name)
				require.NotErrorIs(t, o.err, context.DeadlineExceeded, name)
				require.Nil(t, o.resp, name)
			}
			select {
			case <-c.Done():
			case <-time.After(prompt):
				t.Fatal("connection not closed")
			}
			require.Error(t, c.Err())
			if how == "inside a frame" {
				require.ErrorIs(t, c.Err(), io.ErrUnexpectedEOF, "a cut frame is reported as such")
			}
			requireNothingPending(t, c)
			w.cancel() // a watched context ending now must not call back again
			w.requireCallbacksOnce()

			// The dead connection refuses new calls at once...
			_, err = c.InvokeSync(ctxTimeout(t, time.Minute), named("late"))
			require.ErrorIs(t, err, ErrConnClosed)
			require.ErrorIs(t, c.InvokeAsync(ctxTimeout(t, time.Minute), named("late"), func(*Command, error) {
				t.Error("callback of a refused call")
			}), ErrConnClosed)
			// ...and the client dials again.
			again := make(chan outcome, 1)
			go func() {
				resp, err := cl.InvokeSync(ctxTimeout(t, prompt), f.addr(), named("again"))
				again <- outcome{"again", resp, err}
			}()
			peer2 := f.accept()
			req := peer2.recvRequests(1)["again"]
			require.NotNil(t, req)
			peer2.send(NewResponse(req, protocol.Success, "redialled"))
			o := <-again
			require.NoError(t, o.err)
			require.Equal(t, "redialled", o.resp.Remark)
		})
	}
}

// logRecorder is a slog.Handler that keeps every record, debug included.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (*logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// droppedOpaques returns the opaques of the responses logged as dropped.
func (l *logRecorder) droppedOpaques() map[int64]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int64]bool{}
	for _, r := range l.records {
		if r.Message != "response for unknown opaque" {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "opaque" {
				out[a.Value.Int64()] = true
			}
			return true
		})
	}
	return out
}

// TestLateResponseIsDropped: the peer answers a sync and an async call
// only after both timed out, while later calls are pending on the same
// connection (the sync one most likely in the pooled call of the first).
// The late answers are dropped and logged; they reach neither the timed-out
// callers (each callback ran once, with the timeout) nor the later calls,
// which get their own answers.
func TestLateResponseIsDropped(t *testing.T) {
	noLeaks(t)
	f := startFake(t)
	logs := &logRecorder{}
	opts := DefaultClientOptions()
	opts.InvokeTimeout = time.Minute
	cl, err := NewClient(opts, slog.New(logs))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cl.Close()) })
	c, err := cl.Conn(ctxTimeout(t, prompt), f.addr())
	require.NoError(t, err)
	peer := f.accept()

	// Two calls time out: the peer holds their answers.
	const short = 100 * time.Millisecond
	_, err = c.InvokeSync(ctxTimeout(t, short), named("sync-1"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	w := newWaiters(t)
	w.asyncCtx(ctxTimeout(t, short), c, "async-1")
	o := w.collect(1)["async-1"]
	require.ErrorIs(t, o.err, context.DeadlineExceeded)
	late := peer.recvRequests(2)
	requireNothingPending(t, c)

	// Later calls on the same connection, pending when the late answers come.
	w.sync(c, "sync-2")
	w.async(c, "async-2", true)
	w.async(c, "async-3", false)
	next := peer.recvRequests(3)
	for _, name := range []string{"sync-1", "async-1"} {
		peer.send(NewResponse(late[name], protocol.Success, "late answer to "+name))
	}
	dropped := func() bool {
		d := logs.droppedOpaques()
		return d[int64(late["sync-1"].Opaque)] && d[int64(late["async-1"].Opaque)]
	}
	eventually(t, "late answers handled", func() bool { return dropped() || len(w.out) > 0 })
	select {
	case o := <-w.out:
		t.Fatalf("%s completed with a late answer: %q %v", o.name, remarkOf(o.resp), o.err)
	default:
	}
	require.True(t, dropped(), "both late answers logged as dropped")
	require.Equal(t, 3, pendingCount(c), "the later calls still wait for their own answers")

	for _, name := range []string{"async-3", "sync-2", "async-2"} {
		peer.send(NewResponse(next[name], protocol.Success, "answer to "+name))
	}
	for name, o := range w.collect(3) {
		require.NoError(t, o.err, name)
		require.Equal(t, "answer to "+name, o.resp.Remark)
		require.Equal(t, next[name].Opaque, o.resp.Opaque)
	}
	w.cancel()
	w.requireCallbacksOnce()
	requireNothingPending(t, c)
	require.NoError(t, c.Err(), "a late answer is no reason to drop the connection")
	again, err := cl.Conn(ctxTimeout(t, prompt), f.addr())
	require.NoError(t, err)
	require.Equal(t, c.ID(), again.ID())
}

func remarkOf(c *Command) string {
	if c == nil {
		return ""
	}
	return c.Remark
}

// badFrames are byte strings no peer may send; each closes the connection
// that reads it.
func badFrames() map[string][]byte {
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	hdr := []byte(`{"code":0,"flag":1,"opaque":`)
	return map[string][]byte{
		"huge length":         cat(u32(1<<30), u32(0)),
		"length past maximum": cat(u32(MaxFrameSize-3), u32(2), []byte("{}")),
		"negative length":     cat(u32(0xFFFFFFF0), u32(0)),
		"header past frame":   cat(u32(8), u32(100), []byte("abcd")),
		"truncated json":      cat(u32(4+uint32(len(hdr))), u32(uint32(len(hdr))), hdr),
		"bad binary header":   cat(u32(4+5), u32(1<<24|5), []byte{0, 10, 9, 1, 61}),
	}
}

// TestBadFrameFromServerFailsCallsInFlight: a server answers one request,
// then sends a malformed frame on the same connection. The calls still in
// flight there fail at once with an error saying why; the client closes
// that connection; its connection to another server and the calls waiting
// on it carry on.
func TestBadFrameFromServerFailsCallsInFlight(t *testing.T) {
	for name, bad := range badFrames() {
		t.Run(name, func(t *testing.T) {
			noLeaks(t)
			held := make(chan *Command, 8)
			good := startServer(t, nil, func(s *Server) {
				s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
					held <- req // answered below
					return nil, nil
				}))
			})
			f := startFake(t)
			cl := newClient(t, func(o *ClientOptions) { o.InvokeTimeout = time.Minute })
			cBad, err := cl.Conn(ctxTimeout(t, prompt), f.addr())
			require.NoError(t, err)
			peer := f.accept()
			cGood, err := cl.Conn(ctxTimeout(t, prompt), good.Addr().String())
			require.NoError(t, err)

			wBad, wGood := newWaiters(t), newWaiters(t)
			wBad.sync(cBad, "sync")
			wBad.async(cBad, "a0", true)
			wBad.async(cBad, "a1", false)
			wBad.async(cBad, "a2", true)
			wGood.sync(cGood, "sync")
			wGood.async(cGood, "a0", true)
			wGood.async(cGood, "a1", false)
			reqs := peer.recvRequests(wBad.n)
			var heldReqs []*Command
			for range wGood.n {
				select {
				case r := <-held:
					heldReqs = append(heldReqs, r)
				case <-time.After(prompt):
					t.Fatal("request did not reach the good server")
				}
			}

			// One good answer, then garbage, in one write.
			frame, err := EncodeFrame(nil, NewResponse(reqs["a1"], protocol.Success, "fine"))
			require.NoError(t, err)
			_, err = peer.nc.Write(append(frame, bad...))
			require.NoError(t, err)

			got := wBad.collect(wBad.n)
			require.NoError(t, got["a1"].err, "answered before the garbage")
			require.Equal(t, "fine", got["a1"].resp.Remark)
			delete(got, "a1")
			for n, o := range got {
				require.ErrorIs(t, o.err, ErrConnClosed, n)
				require.ErrorIs(t, o.err, ErrBadFrame, n)
			}
			select {
			case <-cBad.Done():
			case <-time.After(prompt):
				t.Fatal("connection that read garbage not closed")
			}
			require.ErrorIs(t, cBad.Err(), ErrBadFrame)
			peer.requireClosed()
			requireNothingPending(t, cBad)
			wBad.cancel()
			wBad.requireCallbacksOnce()

			// The other connection never noticed.
			require.NoError(t, cGood.Err())
			require.Equal(t, wGood.n, pendingCount(cGood))
			for _, r := range heldReqs {
				require.NoError(t, r.Conn().Respond(r, NewResponse(r, protocol.Success, "held "+r.ExtFields.Value("n"))))
			}
			for n, o := range wGood.collect(wGood.n) {
				require.NoError(t, o.err, n)
				require.Equal(t, "held "+n, o.resp.Remark)
			}
			wGood.requireCallbacksOnce()
			requireNothingPending(t, cGood)
		})
	}
}

// TestBadFrameFromClientClosesOnlyItsConnection: a client with requests
// held by the server, and requests of the server's own in flight to it,
// sends a malformed frame. The server's calls to it fail at once, its held
// requests see their connection's context end and can no longer be
// answered, and its connection is closed. Another client of the same
// server, with requests in flight both ways, carries on.
func TestBadFrameFromClientClosesOnlyItsConnection(t *testing.T) {
	for _, name := range []string{"huge length", "truncated json", "bad binary header"} {
		bad := badFrames()[name]
		t.Run(name, func(t *testing.T) {
			noLeaks(t)
			held := make(chan *Command, 8)
			connected := make(chan *Conn, 4)
			s := startServer(t, func(o *ServerOptions) { o.InvokeTimeout = time.Minute }, func(s *Server) {
				s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
					held <- req
					return nil, nil
				}))
				s.SetConnEvents(ConnEvents{Connect: func(c *Conn) { connected <- c }})
			})
			nextConn := func() *Conn {
				t.Helper()
				select {
				case c := <-connected:
					return c
				case <-time.After(prompt):
					t.Fatal("no connection")
					return nil
				}
			}
			nextHeld := func() *Command {
				t.Helper()
				select {
				case r := <-held:
					return r
				case <-time.After(prompt):
					t.Fatal("request not held")
					return nil
				}
			}

			// The good client: a request held by the server, and a
			// processor the server's request to it waits on.
			release := make(chan struct{})
			var releaseOnce sync.Once
			releaseGood := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(releaseGood)
			good := newClient(t, func(o *ClientOptions) { o.InvokeTimeout = time.Minute })
			good.Register(protocol.GetConsumerRunningInfo, Spawn, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
				<-release
				return NewResponse(req, protocol.Success, "running"), nil
			}))
			wGood := newWaiters(t)
			cGood, err := good.Conn(ctxTimeout(t, prompt), s.Addr().String())
			require.NoError(t, err)
			scGood := nextConn()
			wGood.async(cGood, "pull", true)
			heldGood := nextHeld()
			toGood := make(chan outcome, 1)
			require.NoError(t, scGood.InvokeAsync(ctxTimeout(t, time.Minute), NewRequest(protocol.GetConsumerRunningInfo, nil, nil),
				func(resp *Command, err error) { toGood <- outcome{"to good", resp, err} }))

			// The bad client: two requests held, two of the server's in flight.
			raw := dialRaw(t, s.Addr().String())
			scBad := nextConn()
			for i := range 2 {
				req := named("held")
				req.Opaque = int32(i + 1)
				raw.send(req)
			}
			heldBad := []*Command{nextHeld(), nextHeld()}
			wBad := newWaiters(t)
			wBad.sync(scBad, "sync")
			wBad.async(scBad, "async", true)
			raw.recvRequests(2) // both reached the client

			_, err = raw.nc.Write(bad)
			require.NoError(t, err)

			for n, o := range wBad.collect(wBad.n) {
				require.ErrorIs(t, o.err, ErrConnClosed, n)
				require.ErrorIs(t, o.err, ErrBadFrame, n)
			}
			wBad.cancel()
			wBad.requireCallbacksOnce()
			raw.requireClosed()
			require.ErrorIs(t, scBad.Err(), ErrBadFrame)
			for _, r := range heldBad {
				select {
				case <-r.Conn().Context().Done():
				case <-time.After(prompt):
					t.Fatal("a held request's context outlived its connection")
				}
				require.ErrorIs(t, r.Conn().Respond(r, NewResponse(r, protocol.Success, "")), ErrConnClosed)
			}
			requireNothingPending(t, scBad)
			eventually(t, "only the good connection left", func() bool {
				conns := s.Conns()
				return len(conns) == 1 && conns[0] == scGood
			})

			// The good client's exchanges complete both ways.
			require.NoError(t, scGood.Err())
			releaseGood()
			select {
			case o := <-toGood:
				require.NoError(t, o.err)
				require.Equal(t, "running", o.resp.Remark)
			case <-time.After(prompt):
				t.Fatal("the server's request to the good client did not complete")
			}
			require.NoError(t, heldGood.Conn().Respond(heldGood, NewResponse(heldGood, protocol.PullNotFound, "later")))
			o := wGood.collect(1)["pull"]
			require.NoError(t, o.err)
			require.Equal(t, int32(protocol.PullNotFound), o.resp.Code)
			wGood.requireCallbacksOnce()
		})
	}
}
