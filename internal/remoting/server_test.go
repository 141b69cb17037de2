package remoting

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func startServer(t *testing.T, tune func(*ServerOptions), setup func(*Server)) *Server {
	t.Helper()
	opts := DefaultServerOptions("127.0.0.1:0")
	if tune != nil {
		tune(&opts)
	}
	s, err := NewServer(opts, testLogger(t))
	require.NoError(t, err)
	if setup != nil {
		setup(s)
	}
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func newClient(t *testing.T, tune func(*ClientOptions)) *Client {
	t.Helper()
	opts := DefaultClientOptions()
	if tune != nil {
		tune(&opts)
	}
	cl, err := NewClient(opts, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cl.Close()) })
	return cl
}

// echo answers with the request's extFields and body.
var echo = ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
	resp := NewResponse(req, protocol.Success, "")
	resp.ExtFields = req.ExtFields
	resp.Body = req.Body
	return resp, nil
})

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRequestResponse(t *testing.T) {
	for _, mode := range []Mode{Inline, Spawn} {
		for _, ser := range []SerializeType{JSON, RocketMQ} {
			t.Run(fmt.Sprintf("mode%d/%s", mode, ser), func(t *testing.T) {
				s := startServer(t, nil, func(s *Server) { s.Register(protocol.SendMessage, mode, echo) })
				cl := newClient(t, func(o *ClientOptions) { o.SerializeType = ser })
				req := NewRequest(protocol.SendMessage, protocol.ExtFields{{Key: "topic", Value: "TopicTest"}}, []byte("hello"))
				resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), req)
				require.NoError(t, err)
				require.True(t, resp.IsResponse())
				require.Equal(t, req.Opaque, resp.Opaque)
				require.Equal(t, int32(protocol.Success), resp.Code)
				require.Equal(t, ser, resp.SerializeType, "server answers in the request's serialization")
				require.Equal(t, "TopicTest", resp.ExtFields.Value("topic"))
				require.Equal(t, "hello", string(resp.Body))
			})
		}
	}
}

func TestUnknownCode(t *testing.T) {
	s := startServer(t, nil, nil)
	cl := newClient(t, nil)
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(9999, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(protocol.RequestCodeNotSupported), resp.Code)
	require.Contains(t, resp.Remark, "9999")
}

func TestDefaultProcessor(t *testing.T) {
	s := startServer(t, nil, func(s *Server) { s.RegisterDefault(Spawn, echo) })
	cl := newClient(t, nil)
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(9999, nil, []byte("x")))
	require.NoError(t, err)
	require.Equal(t, int32(protocol.Success), resp.Code)
}

func TestProcessorErrors(t *testing.T) {
	s := startServer(t, nil, func(s *Server) {
		s.Register(1, Spawn, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			return nil, errors.New("disk on fire")
		}))
		s.Register(2, Inline, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			return nil, fmt.Errorf("wrapped: %w", Errorf(protocol.TopicNotExist, "topic %s not exist", "t"))
		}))
		s.Register(3, Spawn, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			panic("bug")
		}))
		s.Register(4, Inline, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			var h protocol.PullMessageRequestHeader
			return nil, protocol.DecodeHeader(protocol.ExtFields{}, &h)
		}))
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	for code, want := range map[protocol.RequestCode]struct {
		code   protocol.ResponseCode
		remark string
	}{
		1: {protocol.SystemError, "disk on fire"},
		2: {protocol.TopicNotExist, "topic t not exist"},
		3: {protocol.SystemError, "panicked"},
		4: {protocol.SystemError, `missing required header field "consumerGroup"`},
	} {
		resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), addr, NewRequest(code, nil, nil))
		require.NoError(t, err)
		require.Equal(t, int32(want.code), resp.Code, "request %d", code)
		require.Contains(t, resp.Remark, want.remark)
		require.ErrorContains(t, resp.Err(), want.remark)
	}
}

func TestAnswerLater(t *testing.T) {
	held := make(chan *Command, 1)
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			held <- req
			return nil, nil
		}))
	})
	cl := newClient(t, nil)
	got := make(chan *Command, 1)
	require.NoError(t, cl.InvokeAsync(ctxTimeout(t, 5*time.Second), s.Addr().String(),
		NewRequest(protocol.PullMessage, nil, nil), func(resp *Command, err error) {
			require.NoError(t, err)
			got <- resp
		}))
	req := <-held
	go func() {
		resp := NewResponse(req, protocol.PullNotFound, "")
		require.NoError(t, req.Conn().Respond(req, resp))
		require.ErrorIs(t, req.Conn().Respond(req, NewResponse(req, protocol.Success, "")), ErrAlreadyAnswered)
	}()
	resp := <-got
	require.Equal(t, int32(protocol.PullNotFound), resp.Code)
	require.Equal(t, req.Opaque, resp.Opaque)
}

// rawConn speaks frames by hand, for tests that need to misbehave.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr frameReader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, fr: frameReader{r: bufio.NewReader(nc), maxFrame: MaxFrameSize}}
}

func (r *rawConn) send(c *Command) {
	frame, err := EncodeFrame(nil, c)
	require.NoError(r.t, err)
	_, err = r.nc.Write(frame)
	require.NoError(r.t, err)
}

func (r *rawConn) recv() *Command {
	require.NoError(r.t, r.nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	c, err := r.fr.read()
	require.NoError(r.t, err)
	return c
}

// requireClosed checks that the server closed the connection.
func (r *rawConn) requireClosed() {
	require.NoError(r.t, r.nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := io.Copy(io.Discard, r.nc)
	var ne net.Error
	require.False(r.t, errors.As(err, &ne) && ne.Timeout(), "server did not close the connection")
}

func TestOnewayGetsNoResponse(t *testing.T) {
	var seen atomic.Int32
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.UpdateConsumerOffset, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			seen.Add(1)
			return NewResponse(req, protocol.Success, ""), nil
		}))
	})
	raw := dialRaw(t, s.Addr().String())
	oneway := NewRequest(protocol.UpdateConsumerOffset, nil, nil)
	oneway.Opaque, oneway.Flag = 1, FlagOneway
	raw.send(oneway)
	normal := NewRequest(protocol.UpdateConsumerOffset, nil, nil)
	normal.Opaque = 2
	raw.send(normal)
	resp := raw.recv()
	require.Equal(t, int32(2), resp.Opaque, "the first frame back answers the second request")
	require.Equal(t, int32(2), seen.Load())

	// And through the client API.
	cl := newClient(t, nil)
	require.NoError(t, cl.InvokeOneway(ctxTimeout(t, 5*time.Second), s.Addr().String(),
		NewRequest(protocol.UpdateConsumerOffset, nil, nil)))
	eventually(t, "oneway request processed", func() bool { return seen.Load() == 3 })
}

func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	s := startServer(t, nil, func(s *Server) { s.Register(protocol.SendMessage, Inline, echo) })
	addr := s.Addr().String()

	// A well-behaved client keeps working throughout.
	cl := newClient(t, nil)
	stop := make(chan struct{})
	var good atomic.Int64
	healthy := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				healthy <- nil
				return
			default:
			}
			resp, err := cl.InvokeSync(context.Background(), addr, NewRequest(protocol.SendMessage, nil, []byte("ok")))
			if err == nil && resp.Code != 0 {
				err = fmt.Errorf("code %d", resp.Code)
			}
			if err != nil {
				healthy <- err
				return
			}
			good.Add(1)
		}
	}()

	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	jsonHdr := []byte(`{"code":10,"flag":0}`)
	bad := map[string][]byte{
		"garbage":             []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"negative length":     cat(u32(0xFFFFFFF0), u32(0)),
		"huge length":         cat(u32(1<<30), u32(0)),
		"header past frame":   cat(u32(8), u32(100), []byte("abcd")),
		"unknown serialize":   cat(u32(4+uint32(len(jsonHdr))), u32(5<<24|uint32(len(jsonHdr))), jsonHdr),
		"unparsable json":     cat(u32(4+6), u32(6), []byte("{code:")),
		"bad binary header":   cat(u32(4+5), u32(1<<24|5), []byte{0, 10, 9, 1, 61}),
		"truncated then quit": cat(u32(100), u32(20), []byte(`{"code":10`)),
	}
	for name, payload := range bad {
		t.Run(name, func(t *testing.T) {
			raw := dialRaw(t, addr)
			_, err := raw.nc.Write(payload)
			require.NoError(t, err)
			if name == "truncated then quit" {
				require.NoError(t, raw.nc.(*net.TCPConn).CloseWrite())
			}
			raw.requireClosed()
		})
	}
	before := good.Load()
	eventually(t, "healthy client makes progress after the abuse", func() bool { return good.Load() > before+10 })
	close(stop)
	require.NoError(t, <-healthy)
}

func TestServerInvokesClient(t *testing.T) {
	connected := make(chan *Conn, 1)
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.HeartBeat, Inline, echo)
		s.SetConnEvents(ConnEvents{Connect: func(c *Conn) { connected <- c }})
	})
	notified := make(chan string, 1)
	cl := newClient(t, nil)
	cl.Register(protocol.NotifyConsumerIDsChanged, Spawn, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
		notified <- req.ExtFields.Value("consumerGroup")
		return nil, nil
	}))
	cl.Register(protocol.GetConsumerRunningInfo, Spawn, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
		resp := NewResponse(req, protocol.Success, "")
		resp.Body = []byte(`{"properties":{}}`)
		return resp, nil
	}))
	_, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.HeartBeat, nil, nil))
	require.NoError(t, err)
	sc := <-connected

	require.NoError(t, sc.InvokeOneway(ctxTimeout(t, 5*time.Second),
		NewRequest(protocol.NotifyConsumerIDsChanged, protocol.ExtFields{{Key: "consumerGroup", Value: "cg"}}, nil)))
	require.Equal(t, "cg", <-notified)

	resp, err := sc.InvokeSync(ctxTimeout(t, 5*time.Second), NewRequest(protocol.GetConsumerRunningInfo, nil, nil))
	require.NoError(t, err)
	require.Equal(t, `{"properties":{}}`, string(resp.Body))

	// A client without a processor for the code says so.
	resp, err = sc.InvokeSync(ctxTimeout(t, 5*time.Second), NewRequest(protocol.ConsumeMessageDirectly, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(protocol.RequestCodeNotSupported), resp.Code)
}

func TestInvokeTimeout(t *testing.T) {
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
			return nil, nil // never answers
		}))
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	_, err := cl.Conn(ctxTimeout(t, 10*time.Second), addr) // dial outside the short deadline
	require.NoError(t, err)
	start := time.Now()
	_, err = cl.InvokeSync(ctxTimeout(t, 50*time.Millisecond), addr, NewRequest(protocol.PullMessage, nil, nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	done := make(chan error, 1)
	require.NoError(t, cl.InvokeAsync(ctxTimeout(t, 50*time.Millisecond), addr, NewRequest(protocol.PullMessage, nil, nil),
		func(resp *Command, err error) { done <- err }))
	require.ErrorIs(t, <-done, context.DeadlineExceeded)

	c, err := cl.Conn(context.Background(), addr)
	require.NoError(t, err)
	c.pmu.Lock()
	require.Empty(t, c.pending, "timed-out calls leave nothing behind")
	c.pmu.Unlock()
}

func TestPendingCallsFailWhenConnectionDies(t *testing.T) {
	var calls atomic.Int32
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
			if calls.Add(1) == 3 {
				c.Close() // the third request kills the connection
			}
			return nil, nil
		}))
		s.Register(protocol.HeartBeat, Inline, echo)
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := cl.InvokeSync(ctxTimeout(t, 10*time.Second), addr, NewRequest(protocol.PullMessage, nil, nil))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, ErrConnClosed)
	}
	// The pool redials.
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), addr, NewRequest(protocol.HeartBeat, nil, nil))
	require.NoError(t, err)
	require.Equal(t, int32(0), resp.Code)
}

func TestAsyncCallbacksRunExactlyOnce(t *testing.T) {
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.SendMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			if req.ExtFields.Value("drop") == "true" {
				return nil, nil
			}
			return NewResponse(req, protocol.Success, ""), nil
		}))
	})
	cl := newClient(t, nil)
	addr := s.Addr().String()
	const n = 500
	var ok, failed atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		drop := "false"
		if i%5 == 0 {
			drop = "true"
		}
		req := NewRequest(protocol.SendMessage, protocol.ExtFields{{Key: "drop", Value: drop}}, nil)
		timeout := 30 * time.Second // answered ones must not time out, however loaded the machine
		if drop == "true" {
			timeout = 100 * time.Millisecond
		}
		require.NoError(t, cl.InvokeAsync(ctxTimeout(t, timeout), addr, req, func(resp *Command, err error) {
			if err != nil {
				failed.Add(1)
			} else {
				ok.Add(1)
			}
			wg.Done() // panics on a second call
		}))
	}
	wg.Wait()
	require.Equal(t, int32(n/5), failed.Load())
	require.Equal(t, int32(n-n/5), ok.Load())
}

type recordingHook struct {
	before, after atomic.Int32
	reject        string
}

func (h *recordingHook) BeforeRequest(_ string, req *Command) error {
	h.before.Add(1)
	if req.ExtFields.Value("reject") == h.reject && h.reject != "" {
		return Errorf(protocol.NoPermission, "no permission")
	}
	req.ExtFields.Set("AccessKey", "ak")
	return nil
}

func (h *recordingHook) AfterResponse(string, *Command, *Command) error {
	h.after.Add(1)
	return nil
}

func TestRPCHooks(t *testing.T) {
	serverHook := &recordingHook{reject: "yes"}
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.SendMessage, Inline, echo)
		s.AddHook(serverHook)
	})
	clientHook := &recordingHook{}
	cl := newClient(t, nil)
	cl.AddHook(clientHook)
	resp, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.SendMessage, nil, nil))
	require.NoError(t, err)
	require.Equal(t, "ak", resp.ExtFields.Value("AccessKey"), "the client hook signed the request")
	resp, err = cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(),
		NewRequest(protocol.SendMessage, protocol.ExtFields{{Key: "reject", Value: "yes"}}, nil))
	require.NoError(t, err)
	require.Equal(t, int32(protocol.NoPermission), resp.Code)
	require.Equal(t, int32(2), clientHook.before.Load())
	require.Equal(t, int32(2), clientHook.after.Load())
	require.Equal(t, int32(2), serverHook.before.Load())
	require.Equal(t, int32(2), serverHook.after.Load())
}

func TestClientDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	cl := newClient(t, nil)
	_, err = cl.InvokeSync(ctxTimeout(t, 5*time.Second), addr, NewRequest(protocol.HeartBeat, nil, nil))
	require.Error(t, err)
	require.Contains(t, err.Error(), addr)
}

func TestClosedClientAndServer(t *testing.T) {
	s := startServer(t, nil, nil)
	cl := newClient(t, nil)
	require.NoError(t, cl.Close())
	require.NoError(t, cl.Close())
	_, err := cl.InvokeSync(context.Background(), s.Addr().String(), NewRequest(protocol.HeartBeat, nil, nil))
	require.ErrorIs(t, err, ErrClientClosed)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Start(context.Background()), ErrServerClosed)
}

func TestOptionsValidate(t *testing.T) {
	require.NoError(t, DefaultServerOptions(":0").Validate())
	require.NoError(t, DefaultClientOptions().Validate())
	bad := DefaultServerOptions(":0")
	bad.MaxWriteQueue = 0
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
	bad = DefaultServerOptions("")
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
	c := DefaultClientOptions()
	c.SerializeType = 9
	require.ErrorIs(t, c.Validate(), ErrInvalidOptions)
	_, err := NewClient(c, nil)
	require.ErrorIs(t, err, ErrInvalidOptions)
}
