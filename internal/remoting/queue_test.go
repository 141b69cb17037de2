package remoting

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

func testFrame(buf string, parts ...string) *outFrame {
	f := &outFrame{buf: []byte(buf)}
	for _, p := range parts {
		f.parts = append(f.parts, []byte(p))
	}
	return f
}

func TestAppendIovSkips(t *testing.T) {
	f := testFrame("head", "ab", "", "cdef")
	for skip, want := range []string{"headabcdef", "eadabcdef", "adabcdef", "dabcdef", "abcdef", "bcdef", "cdef", "def", "ef", "f", ""} {
		require.Equal(t, want, string(bytes.Join(appendIov(nil, f, skip), nil)), "skip %d", skip)
	}
	require.Equal(t, 10, f.size())
}

// A direct write that the socket takes only part of leaves the rest at the
// front of the queue, ahead of what was queued meanwhile; the writer picks
// it up with the offset.
func TestDirectWriteRemainderGoesFirst(t *testing.T) {
	q := newSendQueue(16)
	queued := testFrame("second")
	partial := func(f *outFrame) int {
		// Meanwhile another goroutine queues a frame: the socket is busy.
		require.NoError(t, q.push(context.Background(), time.Time{}, queued, func(*outFrame) int {
			t.Fatal("a second direct write while one is under way")
			return 0
		}))
		return 3
	}
	first := testFrame("first", "-body")
	require.NoError(t, q.push(context.Background(), time.Time{}, first, partial))
	got, skip, ok := q.take(nil)
	require.True(t, ok)
	require.Equal(t, []*outFrame{first, queued}, got)
	require.Equal(t, 3, skip)

	// While the writer has the socket, pushes queue up even when direct.
	third := testFrame("third")
	require.NoError(t, q.push(context.Background(), time.Time{}, third, func(*outFrame) int {
		t.Fatal("direct write while the writer writes")
		return 0
	}))
	got, skip, ok = q.take(got[:0])
	require.True(t, ok)
	require.Equal(t, []*outFrame{third}, got)
	require.Zero(t, skip)

	// Once the writer is back in take, an idle socket is written directly
	// and the frame is finished (returned to the pool) by push.
	wrote := make(chan struct{})
	go func() {
		_, _, _ = q.take(nil) // parks: nothing queued
	}()
	require.Eventually(t, func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return !q.writer
	}, 5*time.Second, time.Millisecond)
	whole := getFrame()
	whole.buf = append(whole.buf, "whole"...)
	require.NoError(t, q.push(context.Background(), time.Time{}, whole, func(f *outFrame) int {
		close(wrote)
		return f.size()
	}))
	<-wrote
	q.close()
}

// Large answers written directly when the peer reads slowly arrive whole
// and in order, the writer goroutine finishing what the socket did not take
// at once.
func TestDirectWritesOfLargeAnswersStayInOrder(t *testing.T) {
	const big = 8 << 20
	answered := make(chan struct{}, 1)
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.PullMessage, Inline, ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
			n := big
			if req.ExtFields.Value("small") == "true" {
				n = 10
			}
			resp := NewResponse(req, protocol.Success, "")
			resp.Body = bytes.Repeat([]byte{byte(req.Opaque)}, n)
			err := c.Respond(req, resp)
			answered <- struct{}{}
			return nil, err
		}))
	})
	raw := dialRaw(t, s.Addr().String())
	for i := range 4 {
		req := NewRequest(protocol.PullMessage, protocol.ExtFields{{Key: "small", Value: []string{"false", "true"}[i%2]}}, nil)
		req.Opaque = int32(i + 1)
		raw.send(req)
		<-answered // one in flight at a time: each answer is written directly
	}
	for i := range 4 {
		resp := raw.recv()
		require.Equal(t, int32(i+1), resp.Opaque)
		n := big
		if i%2 == 1 {
			n = 10
		}
		require.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, n), resp.Body)
	}
}
