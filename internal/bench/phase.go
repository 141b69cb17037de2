package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

// phase is the measured part of a run: it samples CPU, runs the CPU
// profile, prints progress, and halts the run at its duration or when the
// context ends.
type phase struct {
	mode   string
	c      *Common
	m      *meter
	second *meter // E2E: the sends, shown beside the receipts
	halt   func()

	start       time.Time
	cpu0        cpuSample
	profile     *os.File
	timer       *time.Timer
	stopWatch   func() bool
	interrupted atomic.Bool

	progressStop chan struct{}
	progressDone sync.WaitGroup
}

// startPhase starts measuring. halt stops the run; it is called at the
// duration's end or when ctx ends, and must be safe to call more than once.
func startPhase(ctx context.Context, mode string, c *Common, m, second *meter, halt func()) (*phase, error) {
	p := &phase{mode: mode, c: c, m: m, second: second, halt: halt}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		p.profile = f
	}
	p.cpu0 = sampleCPU(c.ServerPID)
	p.start = time.Now()
	if c.Duration > 0 {
		p.timer = time.AfterFunc(c.Duration, halt)
	}
	p.stopWatch = context.AfterFunc(ctx, func() {
		p.interrupted.Store(true)
		halt()
	})
	if c.Progress != nil {
		interval := c.ProgressInterval
		if interval == 0 {
			interval = time.Second
		}
		p.progressStop = make(chan struct{})
		p.progressDone.Add(1)
		go p.progress(interval)
	}
	return p, nil
}

// end stops measuring; elapsed is the run's measured time. It returns the
// CPU samples for the summary and the profile's error, if any.
func (p *phase) end() (cpu0, cpu1 cpuSample, err error) {
	cpu1 = sampleCPU(p.c.ServerPID)
	if p.timer != nil {
		p.timer.Stop()
	}
	p.stopWatch()
	if p.progressStop != nil {
		close(p.progressStop)
		p.progressDone.Wait()
	}
	if p.profile != nil {
		pprof.StopCPUProfile()
		err = p.profile.Close()
	}
	return p.cpu0, cpu1, err
}

// wasInterrupted reports whether the context ended the run.
func (p *phase) wasInterrupted() bool { return p.interrupted.Load() }

// progress prints one line per interval: the rate over the interval, the
// p99 so far, the errors and the total.
func (p *phase) progress(interval time.Duration) {
	defer p.progressDone.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	h := newHistogram()
	var last, lastSent int64
	lastAt := p.start
	for {
		select {
		case <-p.progressStop:
			return
		case now := <-t.C:
			tot := p.m.snapshot(h)
			secs := now.Sub(lastAt).Seconds()
			rate := float64(tot.msgs-last) / secs
			line := fmt.Sprintf("%s %5.0fs  %s msgs/s  %.1f MB/s  p99 %s  errors %s  total %s",
				p.mode, now.Sub(p.start).Seconds(), group(int64(rate)),
				rate*float64(tot.bytes)/float64(max(tot.msgs, 1))/1e6,
				fmtUS(h.ValueAtQuantile(99)), group(tot.errors), group(tot.msgs))
			if p.second != nil {
				st := p.second.snapshot(nil)
				line += fmt.Sprintf("  (sent %s msgs/s, %s errors)", group(int64(float64(st.msgs-lastSent)/secs)), group(st.errors))
				lastSent = st.msgs
			}
			last, lastAt = tot.msgs, now
			_, _ = io.WriteString(p.c.Progress, line+"\n")
		}
	}
}
