package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestLogger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &recordHandler{}
		l := New(slog.New(h), time.Second, 3)
		for range 100 {
			l.Log(slog.LevelWarn, "bad frame")
		}
		require.Len(t, h.records, 3, "a flood is cut to the burst")
		time.Sleep(2 * time.Second) // fake time inside the bubble
		l.Log(slog.LevelWarn, "bad frame")
		require.Len(t, h.records, 4)
		var suppressed int64
		h.records[3].Attrs(func(a slog.Attr) bool {
			if a.Key == "suppressed" {
				suppressed = a.Value.Int64()
			}
			return true
		})
		require.Equal(t, int64(97), suppressed, "the next line says how many were dropped")
	})
}
