package main

import (
	"bytes"
	"errors"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The measurement below follows gorocket's internal/bench, so that the two
// sides of the comparison count alike: same histogram, same percentile
// rule, same CPU sources, same JSON keys.

const (
	histLowest  = 1
	histHighest = 60_000_000 // µs
	histDigits  = 3
	userHZ      = 100 // USER_HZ, the unit of /proc CPU times
	tick        = time.Second / userHZ
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recorder collects one worker's results; safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	max      time.Duration
	msgs     int64
	bytes    int64
	errors   int64
	firstErr error
}

func (r *recorder) ok(n int, bytes int64, lat time.Duration) { r.record(n, bytes, lat, n) }

// record counts msgs messages and records lat samples times.
func (r *recorder) record(msgs int, bytes int64, lat time.Duration, samples int) {
	us := min(max(lat.Microseconds(), histLowest), histHighest)
	r.mu.Lock()
	if samples > 0 {
		_ = r.hist.RecordValues(us, int64(samples))
		r.max = max(r.max, lat)
	}
	r.msgs += int64(msgs)
	r.bytes += bytes
	r.mu.Unlock()
}

func (r *recorder) fail(n int, err error) {
	r.mu.Lock()
	r.errors += int64(n)
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}

type totals struct {
	msgs, bytes, errors int64
	max                 time.Duration
	firstErr            error
}

type meter struct{ recs []*recorder }

func newMeter(n int) *meter {
	m := &meter{recs: make([]*recorder, n)}
	for i := range m.recs {
		m.recs[i] = &recorder{hist: newHistogram()}
	}
	return m
}

func (m *meter) snapshot(into *hdrhistogram.Histogram) totals {
	var t totals
	into.Reset()
	for _, r := range m.recs {
		r.mu.Lock()
		t.msgs += r.msgs
		t.bytes += r.bytes
		t.errors += r.errors
		t.max = max(t.max, r.max)
		if t.firstErr == nil {
			t.firstErr = r.firstErr
		}
		into.Merge(r.hist)
		r.mu.Unlock()
	}
	return t
}

// summary carries the keys of gorocket bench's JSON summary.
type summary struct {
	Mode               string   `json:"mode"`
	Latency            string   `json:"latency"`
	Count              int64    `json:"count"`
	Bytes              int64    `json:"bytes"`
	Errors             int64    `json:"errors"`
	ElapsedSec         float64  `json:"elapsed_sec"`
	MsgsPerSec         float64  `json:"msgs_per_sec"`
	MBPerSec           float64  `json:"mb_per_sec"`
	P50US              int64    `json:"p50_us"`
	P90US              int64    `json:"p90_us"`
	P99US              int64    `json:"p99_us"`
	P999US             int64    `json:"p999_us"`
	MaxUS              int64    `json:"max_us"`
	MeanUS             float64  `json:"mean_us"`
	ServerCPUUSPerMsg  *float64 `json:"server_cpu_us_per_msg,omitempty"`
	ClientCPUUSPerMsg  float64  `json:"client_cpu_us_per_msg"`
	ClientAllocsPerMsg float64  `json:"client_allocs_per_msg"`
	OtherCPUCores      *float64 `json:"other_cpu_cores,omitempty"`
	Interrupted        bool     `json:"interrupted"`
	FirstError         string   `json:"first_error,omitempty"`
	Config             runInfo  `json:"config"`
}

type runInfo struct {
	Topic       string  `json:"topic"`
	Group       string  `json:"group,omitempty"`
	Size        int     `json:"size,omitempty"`
	Producers   int     `json:"producers,omitempty"`
	Inflight    int     `json:"inflight,omitempty"`
	Sync        bool    `json:"sync,omitempty"`
	Batch       int     `json:"batch,omitempty"`
	PullBatch   int     `json:"pull_batch,omitempty"`
	Queues      int     `json:"queues,omitempty"`
	Count       int64   `json:"count,omitempty"`
	DurationSec float64 `json:"duration_sec,omitempty"`
}

func newSummary(mode, latency string, t totals, h *hdrhistogram.Histogram, elapsed time.Duration) summary {
	s := summary{Mode: mode, Latency: latency, Count: t.msgs, Bytes: t.bytes, Errors: t.errors, ElapsedSec: round(elapsed.Seconds(), 3)}
	if secs := elapsed.Seconds(); secs > 0 {
		s.MsgsPerSec = round(float64(t.msgs)/secs, 1)
		s.MBPerSec = round(float64(t.bytes)/secs/1e6, 2)
	}
	if h.TotalCount() > 0 {
		top := max(t.max.Microseconds(), histLowest)
		at := func(q float64) int64 { return min(h.ValueAtQuantile(q), top) }
		s.P50US, s.P90US, s.P99US, s.P999US = at(50), at(90), at(99), at(99.9)
		s.MaxUS, s.MeanUS = t.max.Microseconds(), round(h.Mean(), 1)
	}
	if t.firstErr != nil {
		s.FirstError = t.firstErr.Error()
	}
	return s
}

func (s *summary) setCPU(before, after cpuSample, elapsed time.Duration) {
	perMsg := func(d time.Duration) float64 {
		if s.Count == 0 {
			return 0
		}
		return round(float64(d.Nanoseconds())/1e3/float64(s.Count), 2)
	}
	s.ClientCPUUSPerMsg = perMsg(after.self - before.self)
	if s.Count > 0 {
		s.ClientAllocsPerMsg = round(float64(after.mallocs-before.mallocs)/float64(s.Count), 1)
	}
	used := after.self - before.self
	if before.serverOK && after.serverOK {
		v := perMsg(after.server - before.server)
		s.ServerCPUUSPerMsg = &v
		used += after.server - before.server
	}
	if before.machineOK && after.machineOK && elapsed > 0 {
		v := round(max(float64(after.machine-before.machine-used)/float64(elapsed), 0), 2)
		s.OtherCPUCores = &v
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

type cpuSample struct {
	self      time.Duration
	mallocs   uint64
	server    time.Duration
	serverOK  bool
	machine   time.Duration
	machineOK bool
}

func sampleCPU(serverPID int) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	m := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 {
		s.mallocs = m[0].Value.Uint64()
	}
	if serverPID > 0 {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(serverPID) + "/stat"); err == nil {
			if d, err := procTicks(b); err == nil {
				s.server, s.serverOK = d, true
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := bytes.Cut(b, []byte{'\n'})
		if f := bytes.Fields(line); len(f) >= 8 && string(f[0]) == "cpu" {
			var ticks int64
			ok := true
			for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
				v, err := strconv.ParseInt(string(f[i]), 10, 64)
				ok = ok && err == nil
				ticks += v
			}
			s.machine, s.machineOK = time.Duration(ticks)*tick, ok
		}
	}
	return s
}

// procTicks reads utime+stime (fields 14, 15) of /proc/PID/stat.
func procTicks(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short stat line")
	}
	var ticks int64
	for _, field := range f[11:13] {
		v, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * tick, nil
}

// rssBytes reads VmRSS of /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 2 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}
