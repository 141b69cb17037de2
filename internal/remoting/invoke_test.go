package remoting

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// neverAnswers registers a processor for PullMessage that never answers
// and a HeartBeat echo.
func neverAnswers(s *Server) {
	s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(context.Context, *Conn, *Command) (*Command, error) {
		return nil, nil
	}))
	s.Register(protocol.HeartBeat, Inline, echo)
}

func requireNothingPending(t *testing.T, c *Conn) {
	t.Helper()
	c.pmu.Lock()
	defer c.pmu.Unlock()
	require.Empty(t, c.pending, "pending calls")
	require.Empty(t, c.deadlines, "deadlines")
}

// A context that can never be cancelled costs no timer per call, but the
// call still times out after InvokeTimeout, through the connection's
// deadline heap.
func TestInvokeTimeoutWithoutContextDeadline(t *testing.T) {
	s := startServer(t, nil, neverAnswers)
	const timeout = 50 * time.Millisecond
	cl := newClient(t, func(o *ClientOptions) { o.InvokeTimeout = timeout })
	ctx := context.Background()
	c, err := cl.Conn(ctx, s.Addr().String())
	require.NoError(t, err)

	start := time.Now()
	_, err = c.InvokeSync(ctx, NewRequest(protocol.PullMessage, nil, nil))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), timeout)

	start = time.Now()
	done := make(chan error, 1)
	require.NoError(t, c.InvokeAsync(ctx, NewRequest(protocol.PullMessage, nil, nil), func(_ *Command, err error) { done <- err }))
	require.ErrorIs(t, <-done, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), timeout)

	// InvokeSyncUntil's own deadline wins over a later InvokeTimeout...
	start = time.Now()
	_, err = c.InvokeSyncUntil(ctx, NewRequest(protocol.PullMessage, nil, nil), start.Add(timeout/2))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)
	// ...and replaces it when later.
	start = time.Now()
	_, err = c.InvokeSyncUntil(ctx, NewRequest(protocol.PullMessage, nil, nil), start.Add(3*timeout))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 3*timeout)

	requireNothingPending(t, c)
	resp, err := c.InvokeSync(ctx, NewRequest(protocol.HeartBeat, nil, nil))
	require.NoError(t, err, "the connection outlives timed-out calls")
	require.Equal(t, int32(protocol.Success), resp.Code)
}

// Calls with deadlines in no particular order each expire at their own;
// the answered ones never do.
func TestMixedDeadlinesExpireInOrder(t *testing.T) {
	s := startServer(t, nil, neverAnswers)
	cl := newClient(t, nil)
	c, err := cl.Conn(context.Background(), s.Addr().String())
	require.NoError(t, err)

	type outcome struct {
		timeout time.Duration
		err     error
		after   time.Duration
	}
	const n = 40
	results := make(chan outcome, 2*n)
	start := time.Now()
	for i := range n {
		timeout := time.Duration(20+rand.IntN(200)) * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		t.Cleanup(cancel)
		code := protocol.PullMessage
		if i%4 == 0 {
			code = protocol.HeartBeat // answered
			timeout = 0
		}
		require.NoError(t, c.InvokeAsync(ctx, NewRequest(code, nil, nil), func(_ *Command, err error) {
			results <- outcome{timeout, err, time.Since(start)}
		}))
	}
	for range n {
		o := <-results
		if o.timeout == 0 {
			require.NoError(t, o.err)
			continue
		}
		require.ErrorIs(t, o.err, context.DeadlineExceeded)
		require.GreaterOrEqual(t, o.after, o.timeout, "expired early")
	}
	requireNothingPending(t, c)
}

// A context without a deadline that is cancelled fails its async call at
// once with context.Canceled; the callback runs once.
func TestInvokeAsyncCancelled(t *testing.T) {
	s := startServer(t, nil, neverAnswers)
	cl := newClient(t, nil)
	c, err := cl.Conn(context.Background(), s.Addr().String())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var calls sync.WaitGroup
	calls.Add(1)
	errc := make(chan error, 2)
	require.NoError(t, c.InvokeAsync(ctx, NewRequest(protocol.PullMessage, nil, nil), func(_ *Command, err error) {
		errc <- err
		calls.Done() // panics on a second call
	}))
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	calls.Wait()
	requireNothingPending(t, c)

	// Already cancelled: the same, without waiting.
	calls.Add(1)
	require.NoError(t, c.InvokeAsync(ctx, NewRequest(protocol.PullMessage, nil, nil), func(_ *Command, err error) {
		errc <- err
		calls.Done()
	}))
	require.ErrorIs(t, <-errc, context.Canceled)
	requireNothingPending(t, c)
}

func TestCallHeap(t *testing.T) {
	var h callHeap
	live := map[*call]bool{}
	valid := func() bool {
		if len(h) != len(live) {
			return false
		}
		for i, cl := range h {
			if cl.index != i || !live[cl] || i > 0 && h[(i-1)/2].deadline > cl.deadline {
				return false
			}
		}
		return true
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		if len(h) == 0 || r.IntN(3) > 0 {
			cl := &call{deadline: r.Int64N(1000)}
			h.push(cl)
			live[cl] = true
		} else {
			cl := h[r.IntN(len(h))]
			h.remove(cl)
			if cl.index != -1 {
				t.Fatalf("step %d: removed call keeps index %d", i, cl.index)
			}
			delete(live, cl)
		}
		if !valid() {
			t.Fatalf("step %d: heap invalid", i)
		}
	}
	last := int64(-1)
	for len(h) > 0 {
		top := h[0]
		require.GreaterOrEqual(t, top.deadline, last)
		last = top.deadline
		h.remove(top)
	}
}
