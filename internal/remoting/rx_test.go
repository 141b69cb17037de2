package remoting

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Frames read and released one after another reuse the same memory, and
// every frame still reads as it was written.
func TestReleasedFramesReadCorrectly(t *testing.T) {
	var stream []byte
	var want []*Command
	for i := range 200 {
		c := goldenCommand()
		c.Opaque = int32(i)
		c.SerializeType = SerializeType(i % 2)
		c.Body = bytes.Repeat([]byte{byte(i)}, (i*97)%3000)
		var err error
		stream, err = EncodeFrame(stream, c)
		require.NoError(t, err)
		want = append(want, c)
	}
	fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(stream), 4096), maxFrame: MaxFrameSize}
	var keep []string
	for _, w := range want {
		got, err := fr.read()
		require.NoError(t, err)
		requireSameCommand(t, w, got)
		keep = append(keep, got.ExtFields.Value("topic"))
		got.Release()
	}
	for _, s := range keep {
		require.Equal(t, goldenCommand().ExtFields.Value("topic"), s, "header strings outlive Release")
	}
}

func TestBodyClasses(t *testing.T) {
	for _, n := range []int{1, 255, 256, 257, 1000, 1024, 1025, 4096, 65535, maxPooledBody} {
		b := getBody(n)
		require.NotNil(t, b, "%d", n)
		require.GreaterOrEqual(t, len(b), n)
		require.Less(t, len(b), 2*max(n, 1<<minBodyShift), "class of %d", n)
		putBody(b)
	}
	require.Nil(t, getBody(maxPooledBody+1))
}

// releasingEcho answers with a CRC of the body and releases the request,
// from another goroutine half of the time.
var releasingEcho = ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
	answer := func() {
		resp := NewResponse(req, protocol.Success, "")
		resp.ExtFields = protocol.ExtFields{{Key: "crc", Value: strconv.FormatUint(uint64(crc32.ChecksumIEEE(req.Body)), 10)}}
		if err := c.Respond(req, resp); err != nil {
			panic(err)
		}
		req.Release()
	}
	if req.Opaque%2 == 0 {
		go answer()
	} else {
		answer()
	}
	return nil, nil
})

// A processor that releases its requests after answering gets intact
// bodies however many frames reuse the pooled memory, and so does a
// client that releases its responses.
func TestProcessorReleasingRequests(t *testing.T) {
	s := startServer(t, nil, func(s *Server) { s.Register(protocol.SendMessage, Inline, releasingEcho) })
	cl := newClient(t, func(o *ClientOptions) { o.SerializeType = RocketMQ })
	addr := s.Addr().String()
	const senders, perSender = 8, 200
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range perSender {
				body := bytes.Repeat([]byte{byte(g), byte(i)}, (g*perSender+i)%2500)
				resp, err := cl.InvokeSync(ctxTimeout(t, 10*time.Second), addr, NewRequest(protocol.SendMessage, nil, body))
				if err != nil {
					t.Error(err)
					return
				}
				if got, want := resp.ExtFields.Value("crc"), strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10); got != want {
					t.Errorf("sender %d message %d: crc %s, want %s", g, i, got, want)
				}
				resp.Release()
			}
		})
	}
	wg.Wait()
}

func TestReleaseBeforeAnswerPanics(t *testing.T) {
	panicked := make(chan any, 1)
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.SendMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			func() {
				defer func() { panicked <- recover() }()
				req.Release()
			}()
			return NewResponse(req, protocol.Success, ""), nil
		}))
	})
	cl := newClient(t, nil)
	_, err := cl.InvokeSync(ctxTimeout(t, 5*time.Second), s.Addr().String(), NewRequest(protocol.SendMessage, nil, []byte("x")))
	require.NoError(t, err)
	require.Equal(t, "remoting: request released before it was answered", fmt.Sprint(<-panicked))
}

func TestReleaseOfALocalCommandDoesNothing(t *testing.T) {
	c := NewRequest(protocol.SendMessage, protocol.ExtFields{{Key: "k", Value: "v"}}, []byte("body"))
	c.Release()
	c.Release()
	require.Equal(t, "v", c.ExtFields.Value("k"))
	require.Equal(t, "body", string(c.Body))
}

// Under the race detector a released command is poisoned, not reused: a
// processor that reads its request after releasing it reads garbage, and a
// second Release panics.
func TestMisuseIsDetectedUnderRace(t *testing.T) {
	if !raceEnabled {
		t.Skip("poisoning is on under the race detector")
	}
	frame, err := EncodeFrame(nil, NewRequest(protocol.SendMessage, protocol.ExtFields{{Key: "k", Value: "v"}}, []byte("payload")))
	require.NoError(t, err)
	fr := frameReader{r: bufio.NewReader(bytes.NewReader(frame)), maxFrame: MaxFrameSize}
	c, err := fr.read()
	require.NoError(t, err)
	body, ext := c.Body, c.ExtFields
	c.Release()
	require.Equal(t, bytes.Repeat([]byte{poison}, len(body)), body, "a released body is poisoned")
	require.Equal(t, protocol.ExtField{}, ext[0], "released extFields are cleared")
	require.Equal(t, int32(-1), c.Code)
	require.Nil(t, c.Body)
	require.PanicsWithValue(t, "remoting: command released twice", c.Release)
}
