package remoting

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
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
func BenchmarkReadFrame(b *testing.B) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		b.Run(ser.String(), func(b *testing.B) {
			frame, err := EncodeFrame(nil, benchSendCommand(ser))
			if err != nil {
				b.Fatal(err)
			}
			src := &repeatReader{frame: frame}
			fr := frameReader{r: bufio.NewReaderSize(src, 64<<10), maxFrame: MaxFrameSize}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := fr.read(); err != nil {
					b.Fatal(err)
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
