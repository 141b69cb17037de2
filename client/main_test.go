package client

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gorocket/gorocket/client/internal/sinkbroker"
)

func TestMain(m *testing.M) {
	if sinkbroker.RunIfChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

// newTestClient returns a client of fc closed when the test ends.
func newTestClient(t *testing.T, fc *fakeCluster, tune ...func(*Options)) *Client {
	t.Helper()
	opts := DefaultOptions(fc.addr())
	opts.Logger = testLogger(t)
	for _, f := range tune {
		f(&opts)
	}
	c, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func newTestProducer(t *testing.T, c *Client, opts ProducerOptions) *Producer {
	t.Helper()
	p, err := NewProducer(c, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every few milliseconds until it holds, failing
// the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
