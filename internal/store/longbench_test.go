package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Long benchmarks, run by hand (they write gigabytes):
//
//	GOROCKET_STORE_LONGBENCH=1 go test -run 'TestLong' -v -timeout 60m ./internal/store
//
// GOROCKET_STORE_LONGBENCH_DIR chooses the directory (default: a
// temporary one). Figures are printed as key=value lines.
const (
	longBenchEnv  = "GOROCKET_STORE_LONGBENCH"
	fillChildEnv  = "GOROCKET_STORE_FILL_CHILD"
	fillBytesEnv  = "GOROCKET_STORE_FILL_BYTES"
	fillTopic     = "Fill"
	fillQueues    = 8
	fillBodyBytes = 1024
)

func longBenchDir(t *testing.T) string {
	if os.Getenv(longBenchEnv) == "" {
		t.Skip("set " + longBenchEnv + "=1 to run")
	}
	if d := os.Getenv(longBenchEnv + "_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "longbench")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

// longOptions are the defaults: 1 GiB segments, 300,000-unit queues,
// 5M-slot / 20M-entry index files.
func longOptions(dir string) Options {
	o := DefaultOptions()
	o.StorePathRootDir = dir
	return o
}

// runFillChild appends 1 KiB messages (with UNIQ_KEY and KEYS, as Java
// producers send) with up to 4096 in flight, prints "filled" once the
// log holds the requested bytes and keeps writing until killed.
func runFillChild(dir string) {
	target, _ := strconv.ParseInt(os.Getenv(fillBytesEnv), 10, 64)
	s, err := Open(longOptions(dir), nil, Hooks{})
	if err == nil {
		err = s.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fill child:", err)
		os.Exit(2)
	}
	body := make([]byte, fillBodyBytes)
	gen := message.NewUniqIDGenerator(storeHost.Addr(), os.Getpid(), 1, nil)
	sem := make(chan struct{}, 4096)
	var failed atomic.Bool
	done := func(_ PutResult, err error) {
		if err != nil && !failed.Swap(true) {
			fmt.Fprintln(os.Stderr, "fill child put:", err)
			os.Exit(3)
		}
		<-sem
	}
	announced := false
	for i := 0; ; i++ {
		sem <- struct{}{}
		var props []byte
		props = message.AppendProperty(props, message.PropertyTags, "TagA")
		props = message.AppendProperty(props, message.PropertyKeys, "order-"+strconv.Itoa(i))
		props = gen.AppendNext(append(append(props, message.PropertyUniqClientMessageIDKeyIdx...), message.NameValueSeparator))
		props = append(props, message.PropertySeparator)
		m := &message.Inner{Topic: fillTopic, QueueID: int32(i % fillQueues), Body: body, Properties: props,
			BornTimestamp: time.Now().UnixMilli(), BornHost: bornHost, StoreHost: storeHost}
		s.PutMessageAsync(context.Background(), m, done)
		if !announced && i%1024 == 0 && s.MaxPhyOffset() >= target {
			os.Stdout.WriteString("filled\n")
			announced = true
		}
	}
}

// fillAndKill runs the fill child until the log holds bytes (more past
// what is there), kills it with SIGKILL and returns how long it ran.
func fillAndKill(t *testing.T, dir string, bytes int64) time.Duration {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fillChildEnv+"="+dir, fillBytesEnv+"="+strconv.FormatInt(bytes, 10))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), "fill child: %s", stderr.String())
	took := time.Since(start)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	return took
}

// evict writes back and drops every store file from the page cache, so
// the next open reads from disk (without dropping other processes'
// caches).
func evict(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return err
		}
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
	require.NoError(t, err)
}

func timedOpen(t *testing.T, o Options) (*Store, time.Duration) {
	t.Helper()
	start := time.Now()
	s, err := Open(o, nil, Hooks{})
	require.NoError(t, err)
	return s, time.Since(start)
}

// TestLongRecovery4GiB: recovery time of a 4 GiB commit log after kill -9
// while writing at full speed, with the page cache cold and warm; and the
// worst case, no checkpoint and no ConsumeQueues or index (everything is
// rebuilt from the log).
func TestLongRecovery4GiB(t *testing.T) {
	dir := longBenchDir(t)
	const size = 4 << 30
	o := longOptions(dir)
	took := fillAndKill(t, dir, size)
	t.Logf("fill bytes=%d took=%v rate=%.0fmsgs/s", int64(size), took, float64(size)/float64(fillBodyBytes+200)/took.Seconds())

	evict(t, dir)
	s, cold := timedOpen(t, o)
	logRecovered(t, "kill9-cold", s, cold)
	require.NoError(t, s.Close())

	fillAndKill(t, dir, 0) // append a little more at full speed, then kill
	s, warm := timedOpen(t, o)
	logRecovered(t, "kill9-warm", s, warm)
	s.crash()

	for _, sub := range []string{"checkpoint", "consumequeue", "index"} {
		require.NoError(t, os.RemoveAll(filepath.Join(dir, sub)))
	}
	evict(t, dir)
	s, full := timedOpen(t, o)
	logRecovered(t, "rebuild-all-cold", s, full)
	require.NoError(t, s.Close())
}

func logRecovered(t *testing.T, name string, s *Store, took time.Duration) {
	var n int64
	for q := range int32(fillQueues) {
		n += s.MaxOffsetInQueue(fillTopic, q)
	}
	t.Logf("key=recovery case=%s commitlog_bytes=%d messages=%d seconds=%.2f", name, s.MaxPhyOffset()-s.MinPhyOffset(), n, took.Seconds())
}

// TestLongBacklogMemory: Go heap and RSS while a backlog of 10M messages
// accumulates, after reopening it, and after reading all of it.
func TestLongBacklogMemory(t *testing.T) {
	dir := longBenchDir(t)
	const total = 10_000_000
	body := make([]byte, 128) // RocketMQ's benchmark size
	o := longOptions(dir)
	s, err := Open(o, nil, Hooks{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	sem := make(chan struct{}, 4096)
	done := func(_ PutResult, err error) {
		if err != nil {
			panic(err)
		}
		<-sem
	}
	gen := message.NewUniqIDGenerator(storeHost.Addr(), os.Getpid(), 1, nil)
	start := time.Now()
	var peakHeap uint64
	for i := range total {
		sem <- struct{}{}
		props := message.AppendProperty(nil, message.PropertyTags, "TagA")
		props = gen.AppendNext(append(append(props, message.PropertyUniqClientMessageIDKeyIdx...), message.NameValueSeparator))
		props = append(props, message.PropertySeparator)
		s.PutMessageAsync(context.Background(), &message.Inner{Topic: fillTopic, QueueID: int32(i % fillQueues), Body: body,
			Properties: props, BornHost: bornHost, StoreHost: storeHost}, done)
		if i%1_000_000 == 0 {
			peakHeap = max(peakHeap, heapInUse())
		}
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	waitDispatched(t, s)
	t.Logf("fill messages=%d took=%v", total, time.Since(start))
	logMemory(t, "after-fill", max(peakHeap, heapInUse()))
	require.NoError(t, s.Close())

	s, took := timedOpen(t, o)
	require.NoError(t, s.Start(context.Background()))
	t.Logf("reopen seconds=%.2f", took.Seconds())
	logMemory(t, "after-reopen", heapInUse())
	start = time.Now()
	n := 0
	peakHeap = 0
	for q := range int32(fillQueues) {
		for off := int64(0); ; {
			r, err := s.GetMessage(context.Background(), "g", fillTopic, q, off, 32, 0, nil)
			require.NoError(t, err)
			if r.Status != GetFound {
				r.Release()
				break
			}
			n += len(r.Messages)
			off = r.NextBeginOffset
			r.Release()
			if n%1_000_000 < 32 {
				peakHeap = max(peakHeap, heapInUse())
			}
		}
	}
	require.Equal(t, total, n)
	t.Logf("read messages=%d took=%v rate=%.0fmsgs/s", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	logMemory(t, "after-read", max(peakHeap, heapInUse()))
	require.NoError(t, s.Close())
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func logMemory(t *testing.T, phase string, peakHeap uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	t.Logf("key=memory phase=%s heap_inuse_peak_mib=%.1f heap_inuse_after_gc_mib=%.1f go_sys_mib=%.1f VmRSS=%q RssAnon=%q RssFile=%q",
		phase, float64(peakHeap)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20),
		fields["VmRSS"], fields["RssAnon"], fields["RssFile"])
}
