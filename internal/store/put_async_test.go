package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPutMessageAsyncConcurrent: many goroutines appending asynchronously
// each get their own message stored — a waiter handed back to the pool by
// one completion is never written by the put that used it (run with -race).
func TestPutMessageAsyncConcurrent(t *testing.T) {
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		t.Run(mode, func(t *testing.T) {
			o := testOptions(t.TempDir())
			o.FlushDiskType = mode
			s := openStore(t, o, Hooks{})
			defer s.Close()

			const writers, each = 8, 200
			var wg sync.WaitGroup
			offsets := make(chan int64, writers*each)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						done := make(chan struct{})
						s.PutMessageAsync(context.Background(), msg("T", int32(w), fmt.Sprintf("%d-%d", w, i)),
							func(r PutResult, err error) {
								if err == nil {
									offsets <- r.CommitLogOffset
								}
								close(done)
							})
						<-done
					}
				})
			}
			wg.Wait()
			close(offsets)
			require.Len(t, offsets, writers*each)
			// The ConsumeQueue is built behind the commit log.
			for w := range writers {
				require.Eventually(t, func() bool { return s.MaxOffsetInQueue("T", int32(w)) == each },
					10*time.Second, time.Millisecond)
			}
			for off := range offsets {
				m, err := s.LookMessageByOffset(off)
				require.NoError(t, err)
				require.Equal(t, fmt.Sprint(m.QueueID), string(m.Body[:len(fmt.Sprint(m.QueueID))]))
			}
		})
	}
}
