package nsclient

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeNamesrv records the registrations it receives.
type fakeNamesrv struct {
	srv *remoting.Server

	mu       sync.Mutex
	regs     []protocol.RegisterBrokerRequestHeader
	bodies   [][]byte
	unregs   []protocol.UnregisterBrokerRequestHeader
	received chan struct{}
}

func startFakeNamesrv(t *testing.T) *fakeNamesrv {
	t.Helper()
	srv, err := remoting.NewServer(remoting.DefaultServerOptions("127.0.0.1:0"), nil)
	require.NoError(t, err)
	f := &fakeNamesrv{srv: srv, received: make(chan struct{}, 100)}
	srv.Register(protocol.RegisterBroker, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			var h protocol.RegisterBrokerRequestHeader
			if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.regs = append(f.regs, h)
			f.bodies = append(f.bodies, req.Body)
			f.mu.Unlock()
			f.received <- struct{}{}
			resp := remoting.NewResponse(req, protocol.Success, "")
			resp.ExtFields = protocol.EncodeHeader(nil, &protocol.RegisterBrokerResponseHeader{MasterAddr: "m:1"})
			return resp, nil
		}))
	srv.Register(protocol.UnregisterBroker, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			var h protocol.UnregisterBrokerRequestHeader
			if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
				return nil, err
			}
			f.mu.Lock()
			f.unregs = append(f.unregs, h)
			f.mu.Unlock()
			return remoting.NewResponse(req, protocol.Success, ""), nil
		}))
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeNamesrv) addr() string { return f.srv.Addr().String() }

func (f *fakeNamesrv) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.regs)
}

func (f *fakeNamesrv) waitCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for f.count() < n {
		select {
		case <-f.received:
		case <-deadline:
			t.Fatalf("%s: %d registrations, want %d", f.addr(), f.count(), n)
		}
	}
}

// blackHole accepts connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func newClient(t *testing.T) *Client {
	t.Helper()
	rc, err := remoting.NewClient(remoting.DefaultClientOptions(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rc.Close() })
	return NewClient(rc)
}

func registration() (*Registration, error) {
	return &Registration{
		Header: protocol.RegisterBrokerRequestHeader{
			BrokerName: "broker-a", BrokerAddr: "127.0.0.1:10911", ClusterName: "DefaultCluster",
			HAServerAddr: "127.0.0.1:10912", BrokerID: 0,
		},
		Body: protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: protocol.TopicConfigSerializeWrapper{
			TopicConfigTable: map[string]protocol.TopicConfig{"t": protocol.DefaultTopicConfig("t")},
			DataVersion:      protocol.DataVersion{Timestamp: 1, Counter: 2},
		}},
	}, nil
}

func TestRegistrarRegistersWithEveryNameServer(t *testing.T) {
	a, b := startFakeNamesrv(t), startFakeNamesrv(t)
	r, err := NewRegistrar(newClient(t), RegistrarOptions{
		Addrs: []string{a.addr(), b.addr()}, Period: time.Hour, Timeout: 5 * time.Second,
	}, registration, nil)
	require.NoError(t, err)
	r.Start()
	defer r.Close()
	require.NoError(t, r.WaitFirstRound(context.Background()))
	require.Equal(t, 1, a.count(), "registered before WaitFirstRound returns")
	require.Equal(t, 1, b.count())
	a.mu.Lock()
	h, body := a.regs[0], a.bodies[0]
	a.mu.Unlock()
	require.Equal(t, "broker-a", h.BrokerName)
	require.Equal(t, "127.0.0.1:10911", h.BrokerAddr)
	require.Equal(t, "DefaultCluster", h.ClusterName)
	require.False(t, h.Compressed)
	require.Equal(t, BodyCRC32(body), h.BodyCrc32, "a Java name server checks the body CRC")
	var got protocol.RegisterBrokerBody
	require.NoError(t, protocol.DecodeBody(body, &got))
	require.Contains(t, got.TopicConfigSerializeWrapper.TopicConfigTable, "t")
	require.Equal(t, int64(2), got.TopicConfigSerializeWrapper.DataVersion.Counter)
	require.NotNil(t, got.FilterServerList)

	r.Kick()
	a.waitCount(t, 2)
	b.waitCount(t, 2)
	st := r.Status()
	require.Len(t, st, 2)
	require.Eventually(t, func() bool {
		st = r.Status()
		return !st[0].LastOK.IsZero() && st[0].Response.MasterAddr == "m:1"
	}, 5*time.Second, 10*time.Millisecond)
}

func TestRegistrarRegistersPeriodically(t *testing.T) {
	a := startFakeNamesrv(t)
	r, err := NewRegistrar(newClient(t), RegistrarOptions{
		Addrs: []string{a.addr()}, Period: 20 * time.Millisecond, Timeout: 5 * time.Second,
	}, registration, nil)
	require.NoError(t, err)
	r.Start()
	defer r.Close()
	a.waitCount(t, 4)
}

func TestRegistrarDeadNameServerDoesNotDelayOthers(t *testing.T) {
	live := startFakeNamesrv(t)
	dead := blackHole(t)
	r, err := NewRegistrar(newClient(t), RegistrarOptions{
		Addrs: []string{dead, live.addr()}, Period: time.Hour, Timeout: time.Hour,
	}, registration, nil)
	require.NoError(t, err)
	r.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.WaitFirstRound(ctx), context.DeadlineExceeded, "the dead name server's round is still in flight")
	live.waitCount(t, 1)
	// The dead one's first round hangs (its timeout is an hour); the live
	// one keeps registering on every kick.
	for i := 2; i <= 4; i++ {
		r.Kick()
		live.waitCount(t, i)
	}
	st := r.Status()
	require.Zero(t, st[0].Rounds, "the dead name server's round is still in flight")

	// Close cancels the hung round instead of waiting an hour.
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a hung registration")
	}
}

func TestRegistrarUnregistersFromAll(t *testing.T) {
	a, b := startFakeNamesrv(t), startFakeNamesrv(t)
	dead := blackHole(t)
	r, err := NewRegistrar(newClient(t), RegistrarOptions{
		Addrs: []string{a.addr(), dead, b.addr()}, Period: time.Hour, Timeout: 300 * time.Millisecond,
	}, registration, nil)
	require.NoError(t, err)
	r.Start()
	a.waitCount(t, 1)
	b.waitCount(t, 1)
	r.Close()
	h := protocol.UnregisterBrokerRequestHeader{BrokerName: "broker-a", BrokerAddr: "127.0.0.1:10911", ClusterName: "DefaultCluster"}
	err = r.Unregister(context.Background(), h)
	require.Error(t, err, "the dead name server times out")
	for _, f := range []*fakeNamesrv{a, b} {
		f.mu.Lock()
		require.Equal(t, []protocol.UnregisterBrokerRequestHeader{h}, f.unregs)
		f.mu.Unlock()
	}
}

func TestRegistrarOptionsValidate(t *testing.T) {
	ok := RegistrarOptions{Period: time.Second, Timeout: time.Second}
	require.NoError(t, ok.Validate())
	bad := ok
	bad.Period = 0
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
	bad = ok
	bad.Timeout = 0
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
	bad = ok
	bad.Addrs = []string{""}
	require.ErrorIs(t, bad.Validate(), ErrInvalidOptions)
}

func TestRegisterRefused(t *testing.T) {
	srv, err := remoting.NewServer(remoting.DefaultServerOptions("127.0.0.1:0"), nil)
	require.NoError(t, err)
	srv.Register(protocol.RegisterBroker, remoting.Spawn, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			return nil, remoting.Errorf(protocol.SystemError, "crc mismatch")
		}))
	require.NoError(t, srv.Start(context.Background()))
	defer srv.Close()
	reg, _ := registration()
	ext, body, err := EncodeRegistration(reg)
	require.NoError(t, err)
	_, err = newClient(t).RegisterBroker(context.Background(), srv.Addr().String(), ext, body)
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "crc mismatch")
}

func TestRegistrarSyncWaitsForAFreshRound(t *testing.T) {
	a := startFakeNamesrv(t)
	var version atomic.Int64
	build := func() (*Registration, error) {
		reg, _ := registration()
		reg.Body.TopicConfigSerializeWrapper.DataVersion.Counter = version.Load()
		return reg, nil
	}
	r, err := NewRegistrar(newClient(t), RegistrarOptions{Addrs: []string{a.addr()}, Period: time.Hour, Timeout: 5 * time.Second}, build, nil)
	require.NoError(t, err)
	r.Start()
	defer r.Close()
	require.NoError(t, r.WaitFirstRound(context.Background()))
	for v := int64(1); v <= 3; v++ {
		version.Store(v)
		require.NoError(t, r.Sync(context.Background()))
		a.mu.Lock()
		var got protocol.RegisterBrokerBody
		require.NoError(t, protocol.DecodeBody(a.bodies[len(a.bodies)-1], &got))
		a.mu.Unlock()
		require.Equal(t, v, got.TopicConfigSerializeWrapper.DataVersion.Counter, "the change made before Sync reached the name server")
	}

	// A name server that never answered is not waited for.
	mixed, err := NewRegistrar(newClient(t), RegistrarOptions{
		Addrs: []string{blackHole(t), a.addr()}, Period: time.Hour, Timeout: time.Hour,
	}, build, nil)
	require.NoError(t, err)
	mixed.Start()
	defer mixed.Close()
	require.Eventually(t, func() bool { return !mixed.Status()[1].LastOK.IsZero() }, 10*time.Second, time.Millisecond)
	version.Store(9)
	require.NoError(t, mixed.Sync(context.Background()))
	a.mu.Lock()
	var got protocol.RegisterBrokerBody
	require.NoError(t, protocol.DecodeBody(a.bodies[len(a.bodies)-1], &got))
	a.mu.Unlock()
	require.Equal(t, int64(9), got.TopicConfigSerializeWrapper.DataVersion.Counter)
}
