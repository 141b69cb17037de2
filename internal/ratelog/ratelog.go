// Package ratelog keeps hostile input from flooding the log: a Logger lets
// at most a burst of records through per interval and counts the rest, and
// the next record let through says how many were suppressed. The NameServer,
// the broker and the remoting transport log refused requests and bad frames
// through one.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger is a rate-limited front of a *slog.Logger. It is safe for
// concurrent use.
type Logger struct {
	log      *slog.Logger
	interval time.Duration
	burst    int

	mu         sync.Mutex
	windowEnd  time.Time
	used       int
	suppressed int
}

// New returns a Logger letting burst records through per interval.
func New(log *slog.Logger, interval time.Duration, burst int) *Logger {
	return &Logger{log: log, interval: interval, burst: burst}
}

// Log logs msg at level unless this interval's budget is spent; the first
// record after suppressed ones carries "suppressed" with their count.
func (l *Logger) Log(level slog.Level, msg string, args ...any) {
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
