package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/standalone"
	"github.com/gorocket/gorocket/internal/store"
)

// The in-process benchmarks run the comparison's scenarios against a
// NameServer and Broker in the test process, so that one CPU or memory
// profile covers the client and the broker together, as they share the
// machine in `make bench-compare`. One op is one message (1 KiB). With
// GOROCKET_BENCH_PROFILES=DIR each run writes the CPU profile of its
// measured phase only (setup and, for S5, the produced backlog excluded)
// to DIR/<benchmark>.cpu:
//
//	GOROCKET_BENCH_PROFILES=/tmp/prof go test ./internal/bench -run '^$' -bench InProcess/S1 -benchtime 300000x
//	go tool pprof -top -tagfocus side=broker /tmp/prof/S1-async-4x256.cpu    # the broker's share
//	go tool pprof -top -tagignore side=broker /tmp/prof/S1-async-4x256.cpu   # the client's
//	go test ./internal/bench -run '^$' -bench InProcess/S1 -benchtime 50000x -benchmem -memprofile /tmp/s1.mem -memprofilerate 1
//
// The segment sizes are the broker's defaults (1 GiB commit log files).

func startBenchServer(b *testing.B, flush string) *standalone.Standalone {
	b.Helper()
	opts := standalone.DefaultOptions()
	opts.DataDir = b.TempDir()
	opts.Namesrv.ListenPort = 0
	opts.Broker.ListenPort = 0
	opts.Store.FlushDiskType = flush
	opts.Store.MaxTransferCountOnMessageInMemory = 256
	opts.Store.MaxTransferBytesOnMessageInMemory = 1 << 20
	// The broker's goroutines inherit the label, so that a profile splits
	// into the two sides: -tagfocus side=broker, -tagignore side=broker.
	var s *standalone.Standalone
	var err error
	pprof.Do(context.Background(), pprof.Labels("side", "broker"), func(ctx context.Context) {
		s, err = standalone.Start(ctx, opts, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	settle(b)
	return s
}

// settle waits, for at most 10 s, until the process idles (under 5% of a
// core over 100 ms): a fresh store under SYNC_FLUSH zero-fills its next
// 1 GiB segment for a few seconds after it opens, which is not what the
// scenarios measure.
func settle(b *testing.B) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c0, err := ProcessCPU(os.Getpid())
		if err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
		c1, _ := ProcessCPU(os.Getpid())
		if c1-c0 <= 5*time.Millisecond {
			return
		}
	}
}

// profile returns where the running benchmark's CPU profile goes, or "".
func profile(b *testing.B) string {
	dir := os.Getenv("GOROCKET_BENCH_PROFILES")
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	_, name, _ := strings.Cut(b.Name(), "/")
	return filepath.Join(dir, name+".cpu")
}

func report(b *testing.B, s Summary, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	if s.Errors > 0 {
		b.Fatalf("%d errors, first: %s", s.Errors, s.FirstError)
	}
	b.ReportMetric(s.MsgsPerSec, "msgs/s")
	b.ReportMetric(float64(s.P99US), "p99-µs")
}

func BenchmarkInProcess(b *testing.B) {
	produce := func(b *testing.B, flush string, cfg ProduceConfig) {
		s := startBenchServer(b, flush)
		cfg.NameServers, cfg.Topic, cfg.Count, cfg.Size = []string{s.NamesrvAddr()}, "bench_1k", int64(b.N), 1024
		cfg.CPUProfile = profile(b)
		b.ResetTimer()
		sum, err := Produce(context.Background(), cfg)
		b.StopTimer()
		report(b, sum, err)
	}
	b.Run("S1-async-4x256", func(b *testing.B) {
		produce(b, store.AsyncFlush, ProduceConfig{Producers: 4, Inflight: 256})
	})
	b.Run("S2-sync-1", func(b *testing.B) {
		produce(b, store.AsyncFlush, ProduceConfig{Producers: 1, Sync: true})
	})
	b.Run("S3-sync-64-ASYNC_FLUSH", func(b *testing.B) {
		produce(b, store.AsyncFlush, ProduceConfig{Producers: 64, Sync: true})
	})
	b.Run("S3-sync-64-SYNC_FLUSH", func(b *testing.B) {
		produce(b, store.SyncFlush, ProduceConfig{Producers: 64, Sync: true})
	})
	for _, batch := range []int{32, 256} {
		b.Run("S5-consume-"+strconv.Itoa(batch), func(b *testing.B) {
			s := startBenchServer(b, store.AsyncFlush)
			common := Common{NameServers: []string{s.NamesrvAddr()}, Topic: "bench_1k", Count: int64(b.N)}
			b.StopTimer()
			if _, err := Produce(context.Background(), ProduceConfig{Common: common, Size: 1024, Producers: 4, Inflight: 256}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			common.CPUProfile = profile(b)
			sum, err := Consume(context.Background(), ConsumeConfig{Common: common, PullBatch: batch})
			b.StopTimer()
			report(b, sum, err)
		})
	}
}
