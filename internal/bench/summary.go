package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// What a summary's percentiles measure (its "latency" key).
const (
	LatencySendAck      = "send_to_ack"      // from the send's start to its acknowledgement
	LatencyScheduledAck = "scheduled_to_ack" // from when the send was due (open loop) to its acknowledgement
	LatencyPullRTT      = "pull_round_trip"  // one pull request's round trip
	LatencyBornConsume  = "born_to_consume"  // from the producer's stamp to the consumer's receipt
)

// Summary is the result of a run. Its JSON keys are the tool's interface
// to scripts: keep them stable.
type Summary struct {
	Mode    string `json:"mode"`    // produce, consume or e2e
	Latency string `json:"latency"` // what the percentiles measure (Latency… constants)

	Count      int64   `json:"count"`  // messages acknowledged (produce) or received (consume, e2e)
	Bytes      int64   `json:"bytes"`  // their body bytes
	Errors     int64   `json:"errors"` // messages whose send failed or was not acknowledged SEND_OK, and failed pulls
	ElapsedSec float64 `json:"elapsed_sec"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // 10^6 body bytes per second

	P50US  int64   `json:"p50_us"`
	P90US  int64   `json:"p90_us"`
	P99US  int64   `json:"p99_us"`
	P999US int64   `json:"p999_us"`
	MaxUS  int64   `json:"max_us"`
	MeanUS float64 `json:"mean_us"`

	// E2E only: the producing side.
	Sent       int64 `json:"sent,omitempty"` // messages acknowledged
	SendP50US  int64 `json:"send_p50_us,omitempty"`
	SendP99US  int64 `json:"send_p99_us,omitempty"`
	SendP999US int64 `json:"send_p999_us,omitempty"`
	SendMaxUS  int64 `json:"send_max_us,omitempty"`

	// ServerCPUUSPerMsg is the server's CPU time (user+system) per
	// message over the measured phase; present with Config.ServerPID.
	ServerCPUUSPerMsg *float64 `json:"server_cpu_us_per_msg,omitempty"`
	// ClientCPUUSPerMsg is this tool's CPU time per message.
	ClientCPUUSPerMsg float64 `json:"client_cpu_us_per_msg"`
	// ClientAllocsPerMsg is this tool's heap allocations per message
	// (client package included).
	ClientAllocsPerMsg float64 `json:"client_allocs_per_msg"`
	// OtherCPUCores is the machine's busy CPU not used by this tool or
	// the server (when its pid is given), in cores: other load that makes
	// the run suspect. Absent when /proc/stat cannot be read.
	OtherCPUCores *float64 `json:"other_cpu_cores,omitempty"`

	Interrupted bool   `json:"interrupted"`           // stopped by a signal before its bound
	FirstError  string `json:"first_error,omitempty"` // the first error seen, to tell what failed

	Config RunInfo `json:"config"`
}

// RunInfo echoes a run's configuration in its summary.
type RunInfo struct {
	Topic       string  `json:"topic"`
	Group       string  `json:"group,omitempty"`
	Size        int     `json:"size,omitempty"`
	Producers   int     `json:"producers,omitempty"`
	Inflight    int     `json:"inflight,omitempty"`
	Sync        bool    `json:"sync,omitempty"`
	Batch       int     `json:"batch,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	PullBatch   int     `json:"pull_batch,omitempty"`
	Queues      int     `json:"queues,omitempty"`
	Count       int64   `json:"count,omitempty"`
	DurationSec float64 `json:"duration_sec,omitempty"`
}

// latencies are the percentiles of one histogram.
type latencies struct {
	p50, p90, p99, p999, max int64
	mean                     float64
}

func percentiles(h *hdrhistogram.Histogram, exactMax time.Duration) latencies {
	if h.TotalCount() == 0 {
		return latencies{}
	}
	// The histogram answers a bucket's upper bound; none is above the
	// exact maximum.
	top := max(exactMax.Microseconds(), histLowest)
	at := func(q float64) int64 { return min(h.ValueAtQuantile(q), top) }
	return latencies{
		p50:  at(50),
		p90:  at(90),
		p99:  at(99),
		p999: at(99.9),
		max:  exactMax.Microseconds(),
		mean: round(h.Mean(), 1),
	}
}

// newSummary fills the throughput and latency fields from a run's totals
// and merged histogram.
func newSummary(mode, latency string, t totals, h *hdrhistogram.Histogram, elapsed time.Duration) Summary {
	s := Summary{
		Mode:       mode,
		Latency:    latency,
		Count:      t.msgs,
		Bytes:      t.bytes,
		Errors:     t.errors,
		ElapsedSec: round(elapsed.Seconds(), 3),
	}
	if secs := elapsed.Seconds(); secs > 0 {
		s.MsgsPerSec = round(float64(t.msgs)/secs, 1)
		s.MBPerSec = round(float64(t.bytes)/secs/1e6, 2)
	}
	l := percentiles(h, t.max)
	s.P50US, s.P90US, s.P99US, s.P999US, s.MaxUS, s.MeanUS = l.p50, l.p90, l.p99, l.p999, l.max, l.mean
	if t.firstErr != nil {
		s.FirstError = t.firstErr.Error()
	}
	return s
}

// setCPU fills the CPU fields from samples taken around the measured phase.
func (s *Summary) setCPU(before, after cpuSample, elapsed time.Duration) {
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
		other := float64(after.machine-before.machine-used) / float64(elapsed)
		v := round(max(other, 0), 2)
		s.OtherCPUCores = &v
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// WriteJSON writes s as one JSON object on one line.
func (s Summary) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes s for a person to read.
func (s Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	state := ""
	if s.Interrupted {
		state = " (interrupted)"
	}
	fmt.Fprintf(&b, "%s: %s msgs in %.2f s, %s errors%s\n", s.Mode, group(s.Count), s.ElapsedSec, group(s.Errors), state)
	fmt.Fprintf(&b, "  throughput  %s msgs/s  %.1f MB/s\n", group(int64(s.MsgsPerSec)), s.MBPerSec)
	fmt.Fprintf(&b, "  latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (%s)\n",
		fmtUS(s.P50US), fmtUS(s.P90US), fmtUS(s.P99US), fmtUS(s.P999US), fmtUS(s.MaxUS), s.Latency)
	if s.Mode == "e2e" {
		fmt.Fprintf(&b, "  send        %s acked; p50 %s  p99 %s  p99.9 %s  max %s  (%s)\n",
			group(s.Sent), fmtUS(s.SendP50US), fmtUS(s.SendP99US), fmtUS(s.SendP999US), fmtUS(s.SendMaxUS), LatencyScheduledAck)
	}
	fmt.Fprintf(&b, "  cpu         client %.2f µs/msg (%.1f allocs/msg)", s.ClientCPUUSPerMsg, s.ClientAllocsPerMsg)
	if s.ServerCPUUSPerMsg != nil {
		fmt.Fprintf(&b, ", server %.2f µs/msg", *s.ServerCPUUSPerMsg)
	}
	if s.OtherCPUCores != nil {
		fmt.Fprintf(&b, ", other processes %.2f cores", *s.OtherCPUCores)
	}
	b.WriteByte('\n')
	if s.FirstError != "" {
		fmt.Fprintf(&b, "  first error %s\n", s.FirstError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtUS renders microseconds as µs below a millisecond and ms above.
func fmtUS(us int64) string {
	if us < 1000 {
		return strconv.FormatInt(us, 10) + " µs"
	}
	return strconv.FormatFloat(float64(us)/1000, 'f', 2, 64) + " ms"
}

// group renders n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
