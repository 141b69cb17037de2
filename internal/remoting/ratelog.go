package remoting

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimiter lets through at most burst records per interval and counts
// the rest, so that a flood of bad frames cannot flood the log. The next
// record let through reports how many were suppressed.
type logLimiter struct {
	log      *slog.Logger
	interval time.Duration
	burst    int

	mu         sync.Mutex
	windowEnd  time.Time
	used       int
	suppressed int
}

func newLogLimiter(log *slog.Logger, interval time.Duration, burst int) *logLimiter {
	return &logLimiter{log: log, interval: interval, burst: burst}
}

func (l *logLimiter) Log(level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	now := time.Now()
	l.mu.Lock()
	if now.After(l.windowEnd) {
		l.windowEnd = now.Add(l.interval)
		l.used = 0
	}
	if l.used >= l.burst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.used++
	suppressed := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
