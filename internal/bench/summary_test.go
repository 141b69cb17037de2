package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecordersMergeIntoOneSummary(t *testing.T) {
	m := newMeter(2)
	// 990 fast sends on one producer, 10 slow ones on the other: the
	// p99 is fast, the p99.9 and the max are slow.
	for range 990 {
		m.recs[0].ok(1, 1024, 100*time.Microsecond)
	}
	m.recs[1].ok(10, 10*1024, 50*time.Millisecond+7*time.Microsecond)
	m.recs[1].fail(3, errors.New("broker busy"))
	m.recs[1].fail(1, errors.New("second error"))

	h := newHistogram()
	s := newSummary("produce", LatencySendAck, m.snapshot(h), h, 2*time.Second)

	require.Equal(t, int64(1000), s.Count)
	require.Equal(t, int64(1000*1024), s.Bytes)
	require.Equal(t, int64(4), s.Errors)
	require.Equal(t, 500.0, s.MsgsPerSec)
	require.Equal(t, 0.51, s.MBPerSec) // 1,024,000 bytes / 2 s
	require.Equal(t, int64(100), s.P50US)
	require.Equal(t, int64(100), s.P99US)
	require.InDelta(t, 50_000, s.P999US, 50) // 3 significant digits
	require.Equal(t, int64(50_007), s.MaxUS, "max is exact, not rounded to a bucket")
	require.Equal(t, "broker busy", s.FirstError)
}

func TestRecordClampsToHistogramRange(t *testing.T) {
	r := newRecorder()
	r.ok(1, 0, 0)
	r.ok(1, 0, 2*time.Minute) // beyond 60 s: counted at the top bucket
	h := newHistogram()
	tot := (&meter{recs: []*recorder{r}}).snapshot(h)
	require.Equal(t, int64(2), h.TotalCount())
	require.Equal(t, 2*time.Minute, tot.max)
}

func TestPullsRecordOneSamplePerRequest(t *testing.T) {
	r := newRecorder()
	r.record(32, 32*1024, time.Millisecond, 1)
	h := newHistogram()
	tot := (&meter{recs: []*recorder{r}}).snapshot(h)
	require.Equal(t, int64(32), tot.msgs)
	require.Equal(t, int64(1), h.TotalCount())
}

func TestSummaryJSONKeys(t *testing.T) {
	m := newMeter(1)
	m.recs[0].ok(10, 10_000, time.Millisecond)
	h := newHistogram()
	s := newSummary("produce", LatencySendAck, m.snapshot(h), h, time.Second)
	before := cpuSample{self: time.Second, mallocs: 100, server: 2 * time.Second, serverOK: true, machine: 10 * time.Second, machineOK: true}
	after := cpuSample{self: time.Second + 50*time.Microsecond, mallocs: 150, server: 2*time.Second + 30*time.Microsecond, serverOK: true,
		machine: 10*time.Second + 500*time.Millisecond, machineOK: true}
	s.setCPU(before, after, time.Second)

	var buf bytes.Buffer
	require.NoError(t, s.WriteJSON(&buf))
	require.Equal(t, 1, strings.Count(buf.String(), "\n"), "one JSON object on one line")
	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	for _, k := range []string{
		"mode", "latency", "msgs_per_sec", "mb_per_sec", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
		"errors", "count", "bytes", "elapsed_sec", "server_cpu_us_per_msg", "client_cpu_us_per_msg",
		"client_allocs_per_msg", "other_cpu_cores", "interrupted", "config",
	} {
		require.Contains(t, got, k)
	}
	require.NotContains(t, got, "send_p99_us", "send latency is e2e only")
	require.Equal(t, 3.0, got["server_cpu_us_per_msg"]) // 30 µs over 10 messages
	require.Equal(t, 5.0, got["client_cpu_us_per_msg"]) // 50 µs over 10 messages
	require.Equal(t, 5.0, got["client_allocs_per_msg"]) // 50 over 10 messages
	require.Equal(t, 0.5, got["other_cpu_cores"])       // 500 ms busy of which 80 µs ours, over 1 s
	require.Equal(t, 10.0, got["count"])
}

func TestSummaryWithoutServerPIDOmitsServerCPU(t *testing.T) {
	var s Summary
	s.Count = 1
	s.setCPU(cpuSample{}, cpuSample{}, time.Second)
	var buf bytes.Buffer
	require.NoError(t, s.WriteJSON(&buf))
	require.NotContains(t, buf.String(), "server_cpu_us_per_msg")
	require.NotContains(t, buf.String(), "other_cpu_cores")
}

func TestSummaryText(t *testing.T) {
	s := Summary{Mode: "produce", Latency: LatencySendAck, Count: 1_234_567, ElapsedSec: 5, MsgsPerSec: 246_913.4,
		MBPerSec: 252.8, P50US: 980, P99US: 12_345, MaxUS: 20_000, Interrupted: true}
	var buf bytes.Buffer
	require.NoError(t, s.WriteText(&buf))
	out := buf.String()
	require.Contains(t, out, "produce: 1,234,567 msgs in 5.00 s, 0 errors (interrupted)")
	require.Contains(t, out, "246,913 msgs/s  252.8 MB/s")
	require.Contains(t, out, "p50 980 µs")
	require.Contains(t, out, "p99 12.35 ms")
}

func TestGroup(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1_234_567: "1,234,567", -12_345: "-12,345"} {
		require.Equal(t, want, group(in))
	}
}
