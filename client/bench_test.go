package client

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client/internal/sinkbroker"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Benchmarks of the client's own cost per message. The server is the sink
// (internal/sinkbroker) in a child process: allocs/op and client-ns/msg are this
// process's alone; ns/op and msgs/s are end to end over loopback on a
// machine the two processes share.

// cpuTime returns the user plus system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn for b.N messages and reports throughput and the
// client's CPU per message.
func measure(b *testing.B, bytesPerMsg int64, fn func()) {
	b.ReportAllocs()
	b.SetBytes(bytesPerMsg)
	cpu0 := cpuTime()
	b.ResetTimer()
	fn()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "client-ns/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchClient(b *testing.B, addr string, tune func(*Options)) *Client {
	b.Helper()
	opts := DefaultOptions(addr)
	if tune != nil {
		tune(&opts)
	}
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func benchProducer(b *testing.B, c *Client, inflight int) *Producer {
	b.Helper()
	p, err := NewProducer(c, ProducerOptions{Group: "bench", MaxInFlight: inflight})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	// Fetch the route and dial before measuring.
	if _, err := p.Send(context.Background(), &Message{Topic: "BenchTopic", Body: []byte("warm")}); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSendAsync is scenario S1's client side: producers × 256
// async sends in flight, 1 KiB bodies, one connection per producer.
func BenchmarkSendAsync(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, hdr := range []string{"binary", "json"} {
		for _, producers := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/producers=%d", hdr, producers), func(b *testing.B) {
				ps := make([]*Producer, producers)
				for i := range ps {
					c := benchClient(b, addr, func(o *Options) { o.JSONHeaders = hdr == "json" })
					ps[i] = benchProducer(b, c, 256)
				}
				msg := &Message{Topic: "BenchTopic", Body: make([]byte, 1024)}
				ctx := context.Background()
				measure(b, 1024, func() {
					var wg sync.WaitGroup
					wg.Add(b.N)
					cb := func(_ SendResult, err error) {
						if err != nil {
							b.Error(err)
						}
						wg.Done()
					}
					var senders sync.WaitGroup
					for i, p := range ps {
						n := b.N / producers
						if i == 0 {
							n += b.N % producers
						}
						senders.Go(func() {
							for range n {
								if err := p.SendAsync(ctx, msg, cb); err != nil {
									b.Error(err)
									wg.Done()
								}
							}
						})
					}
					senders.Wait()
					wg.Wait()
				})
			})
		}
	}
}

// BenchmarkSendSync is scenarios S2 (one sender) and S3 (64 concurrent
// senders) from the client's side.
func BenchmarkSendSync(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			p := benchProducer(b, benchClient(b, addr, nil), 1)
			msg := &Message{Topic: "BenchTopic", Body: make([]byte, 1024)}
			ctx := context.Background()
			measure(b, 1024, func() {
				var wg sync.WaitGroup
				for i := range senders {
					n := b.N / senders
					if i == 0 {
						n += b.N % senders
					}
					wg.Go(func() {
						for range n {
							if _, err := p.Send(ctx, msg); err != nil {
								b.Error(err)
							}
						}
					})
				}
				wg.Wait()
			})
		})
	}
}

// BenchmarkPull is scenario S5's client side: pull batches of 1 KiB
// messages and decode them, from one queue at a time or eight at once.
func BenchmarkPull(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, batch := range []int{32, 256} {
		for _, queues := range []int{1, 8} {
			b.Run(fmt.Sprintf("batch=%d/queues=%d", batch, queues), func(b *testing.B) {
				c := benchClient(b, addr, nil)
				pc, err := NewPullConsumer(c, PullConsumerOptions{Group: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				defer pc.Close()
				ctx := context.Background()
				qs, err := pc.Queues(ctx, "BenchTopic")
				if err != nil {
					b.Fatal(err)
				}
				measure(b, 1024, func() {
					var wg sync.WaitGroup
					per := (b.N + queues - 1) / queues
					for _, q := range qs[:queues] {
						wg.Go(func() {
							var offset int64
							for got := 0; got < per; {
								res, err := pc.Pull(ctx, PullRequest{Queue: q, Offset: offset, MaxNums: batch})
								if err != nil {
									b.Error(err)
									return
								}
								got += len(res.Messages)
								offset = res.NextBeginOffset
							}
						})
					}
					wg.Wait()
				})
			})
		}
	}
}

// BenchmarkPushConsumer is scenario S5 through the push consumer: one
// member owning the topic's 8 queues drains an endless backlog, the
// handler only counting.
func BenchmarkPushConsumer(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, batch := range []int{32, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			c := benchClient(b, addr, nil)
			var got atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			opts := DefaultPushConsumerOptions("bench")
			opts.PullBatchSize = batch
			pc, err := NewPushConsumer(c, opts, func(_ context.Context, msgs []MessageExt) error {
				if got.Add(int64(len(msgs))) >= target && got.Load()-int64(len(msgs)) < target {
					close(done)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := pc.Subscribe("BenchTopic", Filter{}); err != nil {
				b.Fatal(err)
			}
			measure(b, 1024, func() {
				if err := pc.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				<-done
			})
			_ = pc.Close()
		})
	}
}

// BenchmarkSendHeader compares the four ways to write a send request's
// header: SEND_MESSAGE (full names) or SEND_MESSAGE_V2 (single letters),
// in JSON or the binary form. Per message: the client builds the header
// and encodes it, the broker decodes it; the body, the same in all four,
// is left out.
func BenchmarkSendHeader(b *testing.B) {
	c := &Client{}
	c.uniq = newTestUniq()
	p := &Producer{c: c, opts: DefaultProducerOptions()}
	msg := &Message{Topic: "BenchTopic", Body: make([]byte, 1024), Tags: "TagA", Keys: []string{"order-1"}}
	q := MessageQueue{Topic: "BenchTopic", BrokerName: "broker-a", QueueID: 3}
	for _, code := range []protocol.RequestCode{protocol.SendMessage, protocol.SendMessageV2} {
		for _, ser := range []remoting.SerializeType{remoting.JSON, remoting.RocketMQ} {
			b.Run(fmt.Sprintf("%s/%s", code, ser), func(b *testing.B) {
				p.sendV1 = code == protocol.SendMessage
				out, err := p.prepare(msg)
				if err != nil {
					b.Fatal(err)
				}
				var frame []byte
				var h protocol.SendMessageRequestHeader
				b.ReportAllocs()
				for b.Loop() {
					req := p.request(&out, q)
					req.Body = nil
					req.SerializeType = ser
					if frame, err = remoting.EncodeFrame(frame[:0], req); err != nil {
						b.Fatal(err)
					}
					// The broker's side.
					got, err := remoting.DecodeFrame(frame)
					if err != nil {
						b.Fatal(err)
					}
					if err := protocol.DecodeSendMessageHeader(got.RequestCode(), got.ExtFields, &h); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(frame)), "header-bytes")
			})
		}
	}
}

func newTestUniq() *message.UniqIDGenerator {
	return message.NewUniqIDGenerator(netip.MustParseAddr("10.0.0.1"), 1234, 5, nil)
}

// BenchmarkDecodePull decodes a pull body of 32 records of 1 KiB.
func BenchmarkDecodePull(b *testing.B) {
	body := sinkbroker.Records("BenchTopic", 32)
	q := MessageQueue{Topic: "BenchTopic", BrokerName: sinkbroker.BrokerName}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		msgs, err := decodeMessages(body, q, nil)
		if err != nil || len(msgs) != 32 {
			b.Fatal(err)
		}
	}
}
