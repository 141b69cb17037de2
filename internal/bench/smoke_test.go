package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/standalone"
)

// The smoke tests run the tool against a NameServer and Broker in this
// process: the CI's short run of `gorocket bench`.

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func standaloneOptions(dir string) standalone.Options {
	opts := standalone.DefaultOptions()
	opts.DataDir = dir
	opts.Namesrv.ListenPort = 0
	opts.Broker.ListenPort = 0
	opts.Broker.AutoCreateTopicEnable = false // the tool creates its topic
	opts.Store.MappedFileSizeCommitLog = 64 << 20
	opts.Store.MappedFileSizeConsumeQueue = 20 * 30_000
	return opts
}

func startServer(t *testing.T) *standalone.Standalone {
	t.Helper()
	s, err := standalone.Start(context.Background(), standaloneOptions(t.TempDir()), testLogger())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSmokeProduceThenConsume(t *testing.T) {
	s := startServer(t)
	var progress syncBuffer
	common := Common{
		NameServers: []string{s.NamesrvAddr()}, Topic: "bench_smoke", Logger: testLogger(),
		Progress: &progress, ProgressInterval: 5 * time.Millisecond, ServerPID: os.Getpid(),
	}

	async := common
	async.Count = 2000
	sum, err := Produce(testCtx(t), ProduceConfig{Common: async, Queues: 4, Size: 100, Producers: 2, Inflight: 16})
	require.NoError(t, err)
	require.Equal(t, int64(2000), sum.Count, sum.FirstError)
	require.Zero(t, sum.Errors)
	require.Equal(t, int64(2000*100), sum.Bytes)
	require.Positive(t, sum.MsgsPerSec)
	require.Positive(t, sum.P50US)
	require.GreaterOrEqual(t, sum.MaxUS, sum.P999US)
	require.NotNil(t, sum.ServerCPUUSPerMsg)
	require.Equal(t, LatencySendAck, sum.Latency)
	require.Equal(t, RunInfo{Topic: "bench_smoke", Group: "bench_producer", Size: 100, Producers: 2, Inflight: 16, Batch: 1, Queues: 4, Count: 2000}, sum.Config)

	sync := common
	sync.Count = 100
	sum, err = Produce(testCtx(t), ProduceConfig{Common: sync, Queues: 4, Size: 100, Sync: true})
	require.NoError(t, err)
	require.Equal(t, int64(100), sum.Count, sum.FirstError)

	batch := common
	batch.Count = 399 // the last batch is short
	sum, err = Produce(testCtx(t), ProduceConfig{Common: batch, Queues: 4, Size: 100, Batch: 8, Inflight: 2})
	require.NoError(t, err)
	require.Equal(t, int64(399), sum.Count, sum.FirstError)

	consume := common
	consume.Count = 2499
	sum, err = Consume(testCtx(t), ConsumeConfig{Common: consume, Group: "smoke", PullBatch: 64})
	require.NoError(t, err)
	require.Equal(t, int64(2499), sum.Count, sum.FirstError)
	require.Zero(t, sum.Errors)
	require.Equal(t, LatencyPullRTT, sum.Latency)
	require.Equal(t, 4, sum.Config.Queues)

	// Offsets were committed: the group finds only what it left.
	consume.Count = 10
	sum, err = Consume(testCtx(t), ConsumeConfig{Common: consume, Group: "smoke", IdleTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, int64(0), sum.Count, "the group resumes where it committed: nothing is left")
	// That run waited 300 ms for messages: long enough for progress lines.
	require.Contains(t, progress.String(), "consume ")
}

func TestSmokeE2E(t *testing.T) {
	s := startServer(t)
	sum, err := E2E(testCtx(t), E2EConfig{
		ProduceConfig: ProduceConfig{
			Common: Common{NameServers: []string{s.NamesrvAddr()}, Topic: "bench_e2e", Count: 300, Logger: testLogger()},
			Queues: 2, Size: 64, Rate: 3000, Producers: 2, Inflight: 8,
		},
		DrainTimeout: 5 * time.Second,
	})
	require.NoError(t, err)
	require.Equal(t, int64(300), sum.Sent, sum.FirstError)
	require.Equal(t, int64(300), sum.Count, "every acknowledged message is consumed")
	require.Equal(t, LatencyBornConsume, sum.Latency)
	require.Positive(t, sum.P50US)
	require.Positive(t, sum.SendP50US)
}

func TestInterruptEndsTheRunWithAPartialSummary(t *testing.T) {
	s := startServer(t)
	var progress syncBuffer
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan Summary, 1)
	go func() {
		sum, err := Produce(ctx, ProduceConfig{
			Common: Common{NameServers: []string{s.NamesrvAddr()}, Topic: "bench_int", Duration: time.Minute, Logger: testLogger(),
				Progress: &progress, ProgressInterval: 5 * time.Millisecond},
			Size: 10, Rate: 2000,
		})
		require.NoError(t, err)
		done <- sum
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(progress.String(), "produce ") {
		require.True(t, time.Now().Before(deadline), "no progress line")
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case sum := <-done:
		require.True(t, sum.Interrupted)
		require.Positive(t, sum.Count)
		require.Zero(t, sum.Errors, "sends in flight complete")
		require.Less(t, sum.ElapsedSec, 30.0)
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not stop")
	}
}

func TestUnboundedRunsAreRefused(t *testing.T) {
	_, err := Produce(context.Background(), ProduceConfig{Common: Common{NameServers: []string{"127.0.0.1:1"}, Topic: "t"}})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = Consume(context.Background(), ConsumeConfig{Common: Common{NameServers: []string{"127.0.0.1:1"}, Topic: "t"}})
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = E2E(context.Background(), E2EConfig{ProduceConfig: ProduceConfig{Common: Common{NameServers: []string{"127.0.0.1:1"}, Topic: "t", Count: 1}}})
	require.ErrorIs(t, err, ErrInvalidConfig, "e2e needs a rate")
	require.ErrorIs(t, ProduceConfig{Common: Common{NameServers: []string{"a:1"}, Topic: "t", Count: 1}, Batch: 4096, Size: 4096}.Validate(), ErrInvalidConfig)
}

// testServerEnv makes the test binary a standalone server (for the startup
// measurement): "DATA_DIR,NAMESRV_PORT".
const testServerEnv = "GOROCKET_BENCH_TEST_SERVER"

// runTestServerIfChild serves until SIGTERM when the test binary was
// started as a server, and reports whether it was.
func runTestServerIfChild() bool {
	spec := os.Getenv(testServerEnv)
	if spec == "" {
		return false
	}
	dir, port, _ := strings.Cut(spec, ",")
	opts := standaloneOptions(dir)
	opts.Namesrv.ListenPort, _ = strconv.Atoi(port)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := standalone.Start(ctx, opts, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		panic(err)
	}
	<-ctx.Done()
	_ = s.Close()
	return true
}

func TestStartupOfAChildServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	r, err := MeasureStartup(testCtx(t), StartupConfig{
		NameServers: []string{"127.0.0.1:" + strconv.Itoa(port)},
		Command:     []string{os.Args[0]},
		Env:         []string{testServerEnv + "=" + t.TempDir() + "," + strconv.Itoa(port)},
		Idle:        50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Positive(t, r.StartupMS)
	require.Less(t, r.StartupMS, 10_000.0)
	require.Greater(t, r.RSSBytes, int64(1<<20))
	require.Positive(t, r.PID)
}
