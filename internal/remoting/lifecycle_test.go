package remoting

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Connection lifecycle: graceful close, idleness, slow peers, zero-copy
// release, limits.

func TestCloseDrainsInFlightRequests(t *testing.T) {
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	var s *Server
	s = startServer(t, nil, func(srv *Server) {
		srv.Register(protocol.SendMessage, Spawn, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			entered <- struct{}{}
			<-release
			return NewResponse(req, protocol.Success, "drained"), nil
		}))
		srv.Register(protocol.HeartBeat, Inline, echo)
		srv.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
			entered <- struct{}{}
			go func() { // answered later, by another goroutine
				<-release
				_ = c.Respond(req, NewResponse(req, protocol.PullNotFound, ""))
			}()
			return nil, nil
		}))
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	results := make(chan *Command, 2)
	for _, code := range []protocol.RequestCode{protocol.SendMessage, protocol.PullMessage} {
		require.NoError(t, cl.InvokeAsync(ctxTimeout(t, 10*time.Second), addr, NewRequest(code, nil, nil),
			func(resp *Command, err error) {
				require.NoError(t, err)
				results <- resp
			}))
	}
	<-entered
	<-entered
	closed := make(chan struct{})
	go func() {
		require.NoError(t, s.Close())
		close(closed)
	}()
	eventually(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-closed:
		t.Fatal("Close returned with requests in flight")
	default:
	}
	// Requests arriving now are refused with a code producers retry
	// elsewhere (the listener closes a moment before refusing starts).
	eventually(t, "new requests refused", func() bool {
		resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), addr, NewRequest(protocol.HeartBeat, nil, nil))
		require.NoError(t, err)
		return resp.Code == int32(protocol.ServiceNotAvailable)
	})
	close(release)
	got := map[int32]bool{}
	for range 2 {
		got[(<-results).Code] = true
	}
	require.Equal(t, map[int32]bool{int32(protocol.Success): true, int32(protocol.PullNotFound): true}, got)
	<-closed
}

func TestCloseTimeoutDropsStuckRequests(t *testing.T) {
	s := startServer(t, func(o *ServerOptions) { o.CloseTimeout = 100 * time.Millisecond }, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			return nil, nil // never answered
		}))
	})
	cl := newClient(t, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := cl.InvokeSync(ctxTimeout(t, 30*time.Second), s.Addr().String(), NewRequest(protocol.PullMessage, nil, nil))
		errc <- err
	}()
	eventually(t, "request in flight", func() bool {
		for _, c := range s.Conns() {
			if c.inflight.Load() == 1 {
				return true
			}
		}
		return false
	})
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-errc, ErrConnClosed)
}

func TestConnEvents(t *testing.T) {
	var connects, closes atomic.Int32
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.HeartBeat, Inline, echo)
		s.SetConnEvents(ConnEvents{
			Connect: func(*Conn) { connects.Add(1) },
			Close: func(c *Conn) {
				require.Error(t, c.Err())
				closes.Add(1)
			},
		})
	})
	cl := newClient(t, nil)
	_, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.HeartBeat, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(1), connects.Load())
	cl.CloseConn(s.Addr().String())
	eventually(t, "server saw the close", func() bool { return closes.Load() == 1 })
	require.Empty(t, s.Conns())
	// The pool redials.
	_, err = cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.HeartBeat, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(2), connects.Load())
}

// TestIdleConnectionsClose runs the idle janitor on in-memory connections
// in a synctest bubble, so that the clock is fake and the test exact.
func TestIdleConnectionsClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := DefaultConnOptions()
		opts.IdleTimeout = time.Minute
		env := newEndpoint(opts, nil)
		var idles, closes atomic.Int32
		env.events = ConnEvents{Idle: func(*Conn) { idles.Add(1) }, Close: func(*Conn) { closes.Add(1) }}
		env.router.register(protocol.HeartBeat, Inline, echo)
		env.startJanitor()
		defer env.stopJanitor()

		busyEnd, busyPeer := net.Pipe()
		idleEnd, idlePeer := net.Pipe()
		defer busyPeer.Close()
		defer idlePeer.Close()
		busy, idle := newConn(busyEnd, env), newConn(idleEnd, env)
		require.True(t, busy.start())
		require.True(t, idle.start())

		// One peer talks every 20 s, the other never.
		peer := &rawConn{t: t, nc: busyPeer, fr: frameReader{r: bufio.NewReader(busyPeer), maxFrame: MaxFrameSize}}
		for i := range 6 {
			time.Sleep(20 * time.Second)
			req := NewRequest(protocol.HeartBeat, nil, nil)
			req.Opaque = int32(i)
			frame, err := EncodeFrame(nil, req)
			require.NoError(t, err)
			_, err = busyPeer.Write(frame)
			require.NoError(t, err)
			c, err := peer.fr.read()
			require.NoError(t, err)
			require.Equal(t, int32(i), c.Opaque)
			if i == 2 {
				synctest.Wait()
				require.Equal(t, int32(0), idles.Load(), "not idle for longer than IdleTimeout yet")
			}
		}
		synctest.Wait()
		require.Equal(t, int32(1), idles.Load(), "the silent connection is gone")
		require.ErrorIs(t, idle.Err(), ErrConnClosed)
		require.NoError(t, busy.Err(), "the talking one stays")
		busy.Close()
		synctest.Wait()
		require.Equal(t, int32(2), closes.Load())
	})
}

func TestPeerThatStopsReadingIsDisconnected(t *testing.T) {
	closed := make(chan error, 1)
	big := make([]byte, 256<<10)
	s := startServer(t, func(o *ServerOptions) {
		o.WriteTimeout = 200 * time.Millisecond
		o.MaxWriteQueue = 2
	}, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			resp := NewResponse(req, protocol.Success, "")
			resp.Body = big
			return resp, nil
		}))
		s.SetConnEvents(ConnEvents{Close: func(c *Conn) { closed <- c.Err() }})
	})
	raw := dialRaw(t, s.Addr().String())
	frame, err := EncodeFrame(nil, NewRequest(protocol.PullMessage, nil, nil))
	require.NoError(t, err)
	// Keep asking, never read: the kernel buffers fill, the writer's
	// deadline passes and the server gives up on us.
	go func() {
		for {
			if _, err := raw.nc.Write(frame); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-closed:
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "closed because of %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server kept a connection that does not read")
	}
	raw.nc.Close()
}

func TestZeroCopyBodyReleasedOnce(t *testing.T) {
	var released atomic.Int32
	dead := make(chan *Command, 1)
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			resp := NewResponse(req, protocol.Success, "")
			parts := [][]byte{[]byte("a"), make([]byte, 8<<10), []byte("z")}
			resp.SetBodyParts(parts, func() { released.Add(1) })
			return resp, nil
		}))
		s.Register(protocol.QueryMessage, Inline, ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
			dead <- req
			c.Close()
			return nil, nil
		}))
	})
	cl := newClient(t, nil)
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.PullMessage, nil, nil))
	require.NoError(t, err)
	require.Len(t, resp.Body, 8<<10+2)
	require.Equal(t, byte('a'), resp.Body[0])
	require.Equal(t, byte('z'), resp.Body[len(resp.Body)-1])
	eventually(t, "release after write", func() bool { return released.Load() == 1 })

	// Answering on a closed connection drops the frame and still releases.
	_, err = cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.QueryMessage, nil, nil))
	require.ErrorIs(t, err, ErrConnClosed)
	req := <-dead
	<-req.Conn().Done() // the client saw the close before the server finished closing
	resp = NewResponse(req, protocol.Success, "")
	resp.SetBodyParts([][]byte{[]byte("x")}, func() { released.Add(1) })
	require.ErrorIs(t, req.Conn().Respond(req, resp), ErrConnClosed)
	require.Equal(t, int32(2), released.Load())
}

func TestSpawnLimitAnswersBusy(t *testing.T) {
	release := make(chan struct{})
	s := startServer(t, func(o *ServerOptions) { o.MaxConcurrentProcessors = 1 }, func(s *Server) {
		s.Register(protocol.SendMessage, Spawn, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			<-release
			return NewResponse(req, protocol.Success, ""), nil
		}))
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	first := make(chan *Command, 1)
	require.NoError(t, cl.InvokeAsync(ctxTimeout(t, 5*time.Second), addr, NewRequest(protocol.SendMessage, nil, nil),
		func(resp *Command, err error) { first <- resp }))
	eventually(t, "first request running", func() bool { return s.env.spawned.Load() == 1 })
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), addr, NewRequest(protocol.SendMessage, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(protocol.SystemBusy), resp.Code)
	close(release)
	require.Equal(t, int32(protocol.Success), (<-first).Code)
}

// TestCloseReturnsWithStuckProcessor: a processor that ignores its context
// holds up neither the in-flight drain nor the processor wait beyond
// CloseTimeout (both share one deadline).
func TestCloseReturnsWithStuckProcessor(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	opts := DefaultServerOptions("127.0.0.1:0")
	opts.CloseTimeout = 100 * time.Millisecond
	s, err := NewServer(opts, testLogger(t))
	require.NoError(t, err)
	entered := make(chan struct{})
	s.Register(protocol.SendMessage, Spawn, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
		close(entered)
		<-release // ignores ctx
		return nil, nil
	}))
	require.NoError(t, s.Start(context.Background()))
	cl := newClient(t, nil)
	require.NoError(t, cl.InvokeAsync(ctxTimeout(t, 30*time.Second), s.Addr().String(),
		NewRequest(protocol.SendMessage, nil, nil), func(*Command, error) {}))
	<-entered
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a stuck processor")
	}
}
