// Package peerbench measures the official RocketMQ Go client
// (github.com/apache/rocketmq-client-go/v2 v2.1.2) against the same sink
// broker as the client package's benchmarks, so that the two clients' cost
// per message can be compared in one run:
//
//	go test -run '^$' -bench . ./client/ ./client/internal/peerbench/
//
// It lives apart from the client package because the official client
// leaves goroutines behind after Shutdown, which the client package's leak
// check would report.
package peerbench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/gorocket/gorocket/client/internal/sinkbroker"
)

func TestMain(m *testing.M) {
	if sinkbroker.RunIfChild() {
		return
	}
	rlog.SetLogLevel("error")
	os.Exit(m.Run())
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func measure(b *testing.B, fn func()) {
	b.ReportAllocs()
	b.SetBytes(1024)
	cpu0 := cpuTime()
	b.ResetTimer()
	fn()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "client-ns/msg")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

var instance atomic.Int64

func newProducer(b *testing.B, addr string) rocketmq.Producer {
	b.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{addr})),
		producer.WithInstanceName("peerbench-"+strconv.FormatInt(instance.Add(1), 10)),
		producer.WithGroupName("bench"),
		producer.WithRetry(2),
	)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Shutdown() })
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("BenchTopic", []byte("warm"))); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkOfficialSendAsync mirrors client.BenchmarkSendAsync: producers
// × 256 sends in flight (bounded here, since the official client has no
// window of its own), 1 KiB bodies.
func BenchmarkOfficialSendAsync(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, producers := range []int{1, 4} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			ps := make([]rocketmq.Producer, producers)
			for i := range ps {
				ps[i] = newProducer(b, addr)
			}
			body := make([]byte, 1024)
			measure(b, func() {
				var wg sync.WaitGroup
				wg.Add(b.N)
				var senders sync.WaitGroup
				for i, p := range ps {
					n := b.N / producers
					if i == 0 {
						n += b.N % producers
					}
					window := make(chan struct{}, 256)
					senders.Go(func() {
						for range n {
							window <- struct{}{}
							err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) {
								if err != nil {
									b.Error(err)
								}
								<-window
								wg.Done()
							}, primitive.NewMessage("BenchTopic", body))
							if err != nil {
								b.Error(err)
								<-window
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

// BenchmarkOfficialSendSync mirrors client.BenchmarkSendSync.
func BenchmarkOfficialSendSync(b *testing.B) {
	addr := sinkbroker.StartProcess(b)
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			p := newProducer(b, addr)
			body := make([]byte, 1024)
			measure(b, func() {
				var wg sync.WaitGroup
				for i := range senders {
					n := b.N / senders
					if i == 0 {
						n += b.N % senders
					}
					wg.Go(func() {
						for range n {
							if _, err := p.SendSync(context.Background(), primitive.NewMessage("BenchTopic", body)); err != nil {
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
