package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/mappedfile"
	"github.com/stretchr/testify/require"
)

// benchOptions are the defaults (1 GiB segments, 300,000-unit queues)
// with the index on, in a temporary directory.
func benchOptions(b *testing.B, mode string) Options {
	o := DefaultOptions()
	o.StorePathRootDir = b.TempDir()
	o.FlushDiskType = mode
	o.MaxHashSlotNum = 500_000
	o.MaxIndexNum = 2_000_000
	return o
}

// waitPrepared waits until the preallocator has prepared (and, under
// SYNC_FLUSH, warmed) the second segment, so a measurement does not
// include the one-off warming of a 1 GiB file that steady state spreads
// over every GiB written.
func waitPrepared(b *testing.B, s *Store) {
	next := filepath.Join(s.opts.commitLogDir(), mappedfile.FileName(s.opts.MappedFileSizeCommitLog))
	require.Eventually(b, func() bool {
		_, err := os.Stat(next)
		return err == nil
	}, time.Minute, 10*time.Millisecond)
}

func benchMsg(topic string, q int32, body []byte, i int) *message.Inner {
	return &message.Inner{
		Topic:         topic,
		QueueID:       q,
		Body:          body,
		Properties:    message.AppendProperty(nil, message.PropertyTags, "TagA"),
		BornTimestamp: int64(i),
		BornHost:      bornHost,
		StoreHost:     storeHost,
	}
}

// BenchmarkPut appends 1 KiB messages to 8 queues of one topic with
// `writers` goroutines each calling PutMessage (and waiting for it).
// Run: go test -run XXX -bench BenchmarkPut -benchtime 1000000x ./internal/store
func BenchmarkPut(b *testing.B) {
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				s := openStore(b, benchOptions(b, mode), Hooks{})
				defer s.Close()
				waitPrepared(b, s)
				body := make([]byte, 1024)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.SetBytes(1024)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						m := benchMsg("BenchTopic", int32(w%8), body, w)
						for next.Add(1) <= int64(b.N) {
							if _, err := s.PutMessage(context.Background(), m); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
				st := s.Stats()
				if st.CommitLogFlushes > 0 && mode == SyncFlush {
					b.ReportMetric(float64(b.N)/float64(st.CommitLogFlushes), "msgs/flush")
					b.ReportMetric(float64(st.CommitLogFlushTime.Microseconds())/float64(st.CommitLogFlushes), "µs/flush")
				}
			})
		}
	}
}

// BenchmarkGroupCommitLinger is BenchmarkPut SYNC_FLUSH with 64 writers
// for several lingers.
func BenchmarkGroupCommitLinger(b *testing.B) {
	for _, linger := range []int{-1, 50, 100, 200} {
		b.Run(fmt.Sprintf("linger=%dus", linger), func(b *testing.B) {
			o := benchOptions(b, SyncFlush)
			o.GroupCommitLingerMicros = linger
			s := openStore(b, o, Hooks{})
			defer s.Close()
			waitPrepared(b, s)
			body := make([]byte, 1024)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := benchMsg("BenchTopic", int32(w%8), body, w)
					for next.Add(1) <= int64(b.N) {
						if _, err := s.PutMessage(context.Background(), m); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(b.N)/float64(st.CommitLogFlushes), "msgs/flush")
		})
	}
}

// BenchmarkPutAsyncPipelined is one goroutine calling PutMessageAsync with
// up to `window` appends in flight, as a broker connection reader does.
func BenchmarkPutAsyncPipelined(b *testing.B) {
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		for _, window := range []int{256, 4096} {
			b.Run(fmt.Sprintf("%s/window=%d", mode, window), func(b *testing.B) {
				s := openStore(b, benchOptions(b, mode), Hooks{})
				defer s.Close()
				waitPrepared(b, s)
				body := make([]byte, 1024)
				sem := make(chan struct{}, window)
				var failed atomic.Int64
				done := func(r PutResult, err error) {
					if err != nil {
						failed.Add(1)
					}
					<-sem
				}
				msgs := make([]*message.Inner, window)
				for i := range msgs {
					msgs[i] = benchMsg("BenchTopic", int32(i%8), body, i)
				}
				b.SetBytes(1024)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					sem <- struct{}{}
					s.PutMessageAsync(context.Background(), msgs[i%window], done)
				}
				for range window {
					sem <- struct{}{}
				}
				el := time.Since(start)
				b.StopTimer()
				if failed.Load() > 0 {
					b.Fatalf("%d appends failed", failed.Load())
				}
				b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkGetMessage reads a backlog of 1 KiB messages sequentially, 32
// per GetMessage, as a pull consumer does. "slices" only takes the
// record slices (the store's cost); "copy" also copies every record once,
// as writing them to a socket would.
// Run: go test -run XXX -bench BenchmarkGetMessage -benchtime 1000000x ./internal/store
func BenchmarkGetMessage(b *testing.B) {
	for _, touch := range []string{"slices", "copy"} {
		b.Run(touch, func(b *testing.B) {
			s := openStore(b, benchOptions(b, AsyncFlush), Hooks{})
			defer s.Close()
			body := make([]byte, 1024)
			sem := make(chan struct{}, 1024)
			done := func(PutResult, error) { <-sem }
			m := benchMsg("BenchTopic", 0, body, 0)
			for i := 0; i < b.N; i++ {
				sem <- struct{}{}
				s.PutMessageAsync(context.Background(), m, done)
			}
			for range cap(sem) {
				sem <- struct{}{}
			}
			waitDispatched(b, s)
			runtime.GC()
			scratch := make([]byte, 64<<10)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var off int64
			n := 0
			for n < b.N {
				r, err := s.GetMessage(context.Background(), "g", "BenchTopic", 0, off, 32, 0, nil)
				if err != nil || r.Status != GetFound {
					b.Fatalf("status %v err %v at %d", r.Status, err, off)
				}
				if touch == "copy" {
					p := 0
					for _, rec := range r.Messages {
						if p+len(rec) > len(scratch) {
							p = 0
						}
						p += copy(scratch[p:], rec)
					}
				}
				n += len(r.Messages)
				off = r.NextBeginOffset
				r.Release()
			}
			el := time.Since(start)
			b.StopTimer() // keep Close out of ns/op
			b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkPutWritersAsync is 64 producers (goroutines, one per
// connection in a broker), each with up to `window` PutMessageAsync
// appends in flight.
func BenchmarkPutWritersAsync(b *testing.B) {
	const writers = 64
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		for _, window := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d/window=%d", mode, writers, window), func(b *testing.B) {
				s := openStore(b, benchOptions(b, mode), Hooks{})
				defer s.Close()
				waitPrepared(b, s)
				body := make([]byte, 1024)
				var next atomic.Int64
				var failed atomic.Int64
				var wg sync.WaitGroup
				b.SetBytes(1024)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sem := make(chan struct{}, window)
						done := func(_ PutResult, err error) {
							if err != nil {
								failed.Add(1)
							}
							<-sem
						}
						msgs := make([]*message.Inner, window)
						for i := range msgs {
							msgs[i] = benchMsg("BenchTopic", int32(w%8), body, w)
						}
						for i := 0; next.Add(1) <= int64(b.N); i++ {
							sem <- struct{}{}
							s.PutMessageAsync(context.Background(), msgs[i%window], done)
						}
						for range window {
							sem <- struct{}{}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				if failed.Load() > 0 {
					b.Fatalf("%d appends failed", failed.Load())
				}
				b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
				if st := s.Stats(); mode == SyncFlush && st.CommitLogFlushes > 0 {
					b.ReportMetric(float64(b.N)/float64(st.CommitLogFlushes), "msgs/flush")
				}
			})
		}
	}
}
