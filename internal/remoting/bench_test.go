package remoting

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/gorocket/gorocket/internal/protocol"
)

// benchSendCommand is a SEND_MESSAGE request as the Go client sends it:
// 13 extFields, a properties string with three entries.
func benchSendCommand(ser SerializeType) *Command {
	h := protocol.SendMessageRequestHeader{
		ProducerGroup: "please_rename_unique_group_name", Topic: "TopicTest", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: 3, BornTimestamp: 1700000000123,
		Properties:           "KEYS\x01order-1234\x02TAGS\x01TagA\x02UNIQ_KEY\x017F000001B2A018B4AAC2330E79F30000\x02",
		HasMaxReconsumeTimes: true, MaxReconsumeTimes: 16,
	}
	c := NewRequest(protocol.SendMessage, h.AppendExt(nil), make([]byte, 1024))
	c.Version = int32(protocol.V4_5_2)
	c.Opaque = 123456
	c.SerializeType = ser
	return c
}

func BenchmarkHeader(b *testing.B) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		c := benchSendCommand(ser)
		hdr, err := AppendHeader(nil, c)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("encode/"+ser.String(), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(hdr)))
			for b.Loop() {
				buf, _ = AppendHeader(buf[:0], c)
			}
		})
		b.Run("decode/"+ser.String(), func(b *testing.B) {
			s := string(hdr)
			var fields []protocol.ExtField
			b.ReportAllocs()
			b.SetBytes(int64(len(hdr)))
			for b.Loop() {
				d := Command{SerializeType: ser}
				if err := decodeHeader(s, &d, &fields); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadFrame reads SEND_MESSAGE frames from memory: frame head,
// header decode, body copy, Command — everything the reader goroutine
// does per request except dispatch.
//
// With release=true the command is released after each read, as a
// processor that releases its requests does: what is left is the header's
// own memory.
func BenchmarkReadFrame(b *testing.B) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		for _, release := range []bool{false, true} {
			benchReadFrame(b, ser, release)
		}
	}
}

func benchReadFrame(b *testing.B, ser SerializeType, release bool) {
	{
		b.Run(fmt.Sprintf("%s/release=%v", ser, release), func(b *testing.B) {
			frame, err := EncodeFrame(nil, benchSendCommand(ser))
			if err != nil {
				b.Fatal(err)
			}
			src := &repeatReader{frame: frame}
			fr := frameReader{r: bufio.NewReaderSize(src, 64<<10), maxFrame: MaxFrameSize}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				c, err := fr.read()
				if err != nil {
					b.Fatal(err)
				}
				if release {
					c.Release()
				}
			}
		})
	}
}

type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], r.frame[r.off:])
		n += m
		r.off = (r.off + m) % len(r.frame)
	}
	return n, nil
}

func benchServer(b *testing.B, ser SerializeType) (*Server, *Client) {
	b.Helper()
	log := slog.New(slog.DiscardHandler)
	s, err := NewServer(DefaultServerOptions("127.0.0.1:0"), log)
	if err != nil {
		b.Fatal(err)
	}
	// A send-like processor: decode the typed header, answer with the
	// typed response header, no body.
	s.Register(protocol.SendMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
		var h protocol.SendMessageRequestHeader
		if err := h.DecodeExt(req.ExtFields); err != nil {
			return nil, err
		}
		resp := NewResponse(req, protocol.Success, "")
		rh := protocol.SendMessageResponseHeader{MsgID: "7F00000100002A9F0000000000001234", QueueID: h.QueueID, QueueOffset: 42}
		resp.ExtFields = rh.AppendExt(make(protocol.ExtFields, 0, 4))
		return resp, nil
	}))
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	copts := DefaultClientOptions()
	copts.SerializeType = ser // requests use the client's serialization
	cl, err := NewClient(copts, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cl.Close()
		s.Close()
	})
	return s, cl
}

// BenchmarkRoundTrip is one synchronous request at a time over loopback:
// a 1 KiB SEND_MESSAGE and its response.
func BenchmarkRoundTrip(b *testing.B) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		b.Run(ser.String(), func(b *testing.B) {
			s, cl := benchServer(b, ser)
			addr := s.Addr().String()
			ctx := context.Background()
			proto := benchSendCommand(ser)
			b.ReportAllocs()
			for b.Loop() {
				req := cloneRequest(proto)
				resp, err := cl.InvokeSync(ctx, addr, req)
				if err != nil || resp.Code != 0 {
					b.Fatal(err, resp)
				}
			}
		})
	}
}

// BenchmarkPipelined keeps window requests in flight on one connection
// with InvokeAsync; ns/op is the cost per request at that concurrency.
func BenchmarkPipelined(b *testing.B) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		for _, window := range []int{16, 256} {
			b.Run(fmt.Sprintf("%s/inflight=%d", ser, window), func(b *testing.B) {
				s, cl := benchServer(b, ser)
				addr := s.Addr().String()
				ctx := context.Background()
				proto := benchSendCommand(ser)
				sem := make(chan struct{}, window)
				var wg sync.WaitGroup
				var failed error
				var mu sync.Mutex
				b.ReportAllocs()
				b.SetBytes(int64(proto.BodyLen()))
				for b.Loop() {
					sem <- struct{}{}
					wg.Add(1)
					req := cloneRequest(proto)
					err := cl.InvokeAsync(ctx, addr, req, func(resp *Command, err error) {
						if err == nil && resp.Code != 0 {
							err = fmt.Errorf("code %d", resp.Code)
						}
						if err != nil {
							mu.Lock()
							failed = err
							mu.Unlock()
						}
						<-sem
						wg.Done()
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
				if failed != nil {
					b.Fatal(failed)
				}
			})
		}
	}
}

func cloneRequest(c *Command) *Command {
	return &Command{Code: c.Code, Language: c.Language, Version: c.Version, ExtFields: c.ExtFields,
		Body: c.Body, SerializeType: c.SerializeType}
}

// BenchmarkServerPath is the server's side of pipelined 1 KiB sends alone:
// a raw client writes pre-encoded ROCKETMQ SEND_MESSAGE frames, window in
// flight, and skips over the responses without decoding them, so that
// allocs/op are the server's per request (read, dispatch, answer, write)
// plus the processor's response. With release=true the processor answers
// with Respond and releases the request, as the broker's send path can.
func BenchmarkServerPath(b *testing.B) {
	for _, release := range []bool{false, true} {
		b.Run(fmt.Sprintf("release=%v", release), func(b *testing.B) {
			benchServerPath(b, release, 256)
		})
	}
}

func benchServerPath(b *testing.B, release bool, window int) {
	s, err := NewServer(DefaultServerOptions("127.0.0.1:0"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	s.Register(protocol.SendMessage, Inline, ProcessorFunc(func(_ context.Context, c *Conn, req *Command) (*Command, error) {
		var h protocol.SendMessageRequestHeader
		if err := h.DecodeExt(req.ExtFields); err != nil {
			return nil, err
		}
		resp := NewResponse(req, protocol.Success, "")
		if !release {
			return resp, nil
		}
		if err := c.Respond(req, resp); err != nil {
			return nil, err
		}
		req.Release()
		return nil, nil
	}))
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	frame, err := EncodeFrame(nil, benchSendCommand(RocketMQ))
	if err != nil {
		b.Fatal(err)
	}
	const batch = 32
	frames := bytes.Repeat(frame, batch)

	sem := make(chan struct{}, window)
	readErr := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	go func() {
		r := bufio.NewReaderSize(nc, 64<<10)
		var head [4]byte
		for range b.N {
			if _, err := io.ReadFull(r, head[:]); err != nil {
				readErr <- err
				return
			}
			if _, err := r.Discard(int(binary.BigEndian.Uint32(head[:]))); err != nil {
				readErr <- err
				return
			}
			<-sem
		}
		readErr <- nil
	}()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		for range n {
			sem <- struct{}{}
		}
		if _, err := nc.Write(frames[:n*len(frame)]); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	if err := <-readErr; err != nil {
		b.Fatal(err)
	}
}
