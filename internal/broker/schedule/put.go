package schedule

import (
	"context"
	"fmt"
	"sync"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store"
)

// Putter appends messages: *store.Store.
type Putter interface {
	PutMessagesAsync(ctx context.Context, msgs []*message.Inner, done func(store.PutResult, error))
}

// PutAll appends each message as a record of its own, all in flight
// together, and waits for every answer. errs[i] is nil when msgs[i] was
// stored; end is the largest commit-log end offset of the stored ones
// (0 if none). FLUSH_DISK_TIMEOUT counts as stored, as the broker answers
// it to producers.
func PutAll(ctx context.Context, p Putter, msgs []*message.Inner) (errs []error, end int64) {
	errs = make([]error, len(msgs))
	ends := make([]int64, len(msgs))
	var wg sync.WaitGroup
	wg.Add(len(msgs))
	for i, m := range msgs {
		// A one-element batch, as the send path does: it calls back
		// through the batch waiter only.
		p.PutMessagesAsync(ctx, []*message.Inner{m}, func(res store.PutResult, err error) {
			switch {
			case res.Status == store.PutOK || res.Status == store.PutFlushDiskTimeout:
				ends[i] = res.CommitLogOffset + int64(res.WroteBytes)
			case err != nil:
				errs[i] = err
			default:
				errs[i] = fmt.Errorf("schedule: put %s: %v", m.Topic, res.Status)
			}
			wg.Done()
		})
	}
	wg.Wait()
	for i := range msgs {
		if errs[i] == nil {
			end = max(end, ends[i])
		}
	}
	return errs, end
}
