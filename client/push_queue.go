package client

import (
	"context"
	"errors"
)

// consumeQueue is the pull loop of one owned queue: find where to start,
// then pull (long polling), hand each batch to the handler until it
// accepts it, advance the offset, repeat until ctx is done.
func (pc *PushConsumer) consumeQueue(ctx context.Context, run *queueRun, q MessageQueue, f Filter) {
	defer pc.wg.Done()
	defer close(run.done)
	offset, ok := pc.startOffset(ctx, q)
	if !ok {
		return
	}
	for ctx.Err() == nil {
		res, err := pc.c.pull(ctx, pc.opts.Group, pc.subVersion, PullRequest{
			Queue:        q,
			Offset:       offset,
			MaxNums:      pc.opts.PullBatchSize,
			Filter:       f,
			Suspend:      pc.opts.PollTimeout,
			CommitOffset: pc.consumedOffset(q),
		})
		if err != nil {
			pc.warn(ctx, "pull failed", q, err)
			if !sleep(ctx, pc.opts.RetryBackoff) {
				return
			}
			continue
		}
		switch res.Status {
		case PullFound:
			if !pc.deliver(ctx, q, res.Messages) {
				return
			}
		case PullOffsetIllegal:
			pc.c.log.Warn("offset out of range, moving on", "group", pc.opts.Group, "queue", q,
				"offset", offset, "next", res.NextBeginOffset, "min", res.MinOffset, "max", res.MaxOffset)
		}
		offset = res.NextBeginOffset
		pc.setConsumed(q, offset)
		if res.Status == PullOffsetIllegal {
			pc.commitQueue(ctx, q)
		}
	}
}

// deliver hands msgs to the handler until it accepts them, reporting
// false when ctx ended first.
func (pc *PushConsumer) deliver(ctx context.Context, q MessageQueue, msgs []MessageExt) bool {
	for {
		err := pc.handler(ctx, msgs)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		pc.c.log.Warn("handler failed, delivering the batch again", "group", pc.opts.Group, "queue", q,
			"offset", msgs[0].QueueOffset, "messages", len(msgs), "err", err)
		if !sleep(ctx, pc.opts.RetryBackoff) {
			return false
		}
	}
}

// startOffset returns where consuming q starts: the group's stored offset,
// or, when the broker has none, the place ConsumeFrom names. It retries
// until ctx ends (reporting false).
func (pc *PushConsumer) startOffset(ctx context.Context, q MessageQueue) (int64, bool) {
	for {
		committed := int64(-1)
		off, err := pc.c.queryOffset(ctx, pc.opts.Group, q)
		switch {
		case err == nil:
			committed = off
		case errors.Is(err, ErrOffsetNotFound):
			off, err = pc.defaultOffset(ctx, q)
		}
		if err == nil {
			pc.mu.Lock()
			pc.offsets[q] = &offsetEntry{consumed: off, committed: committed}
			pc.mu.Unlock()
			return off, true
		}
		pc.warn(ctx, "cannot find where to start", q, err)
		if !sleep(ctx, pc.opts.RetryBackoff) {
			return 0, false
		}
	}
}

func (pc *PushConsumer) defaultOffset(ctx context.Context, q MessageQueue) (int64, error) {
	switch pc.opts.ConsumeFrom {
	case ConsumeFromFirstOffset:
		return 0, nil // the broker moves a pull below its minimum up to it
	case ConsumeFromTimestamp:
		return pc.c.queueOffsetAt(ctx, q, pc.opts.ConsumeTimestamp)
	}
	return pc.c.maxOffset(ctx, q)
}

func (pc *PushConsumer) setConsumed(q MessageQueue, offset int64) {
	pc.mu.Lock()
	if e := pc.offsets[q]; e != nil {
		e.consumed = offset
	}
	pc.mu.Unlock()
}

// consumedOffset returns the offset to commit with the next pull of q, 0
// (none) before anything was consumed.
func (pc *PushConsumer) consumedOffset(q MessageQueue) int64 {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if e := pc.offsets[q]; e != nil && e.consumed > 0 {
		return e.consumed
	}
	return 0
}

// commitOffsets stores every offset that moved since its last commit.
func (pc *PushConsumer) commitOffsets(ctx context.Context) {
	pc.mu.Lock()
	qs := make([]MessageQueue, 0, len(pc.offsets))
	for q, e := range pc.offsets {
		if e.consumed >= 0 && e.consumed != e.committed {
			qs = append(qs, q)
		}
	}
	pc.mu.Unlock()
	for _, q := range sortedQueues(qs) {
		pc.commitQueue(ctx, q)
	}
}

// commitQueue stores q's consumed offset if it moved.
func (pc *PushConsumer) commitQueue(ctx context.Context, q MessageQueue) {
	pc.mu.Lock()
	e := pc.offsets[q]
	if e == nil || e.consumed < 0 || e.consumed == e.committed {
		pc.mu.Unlock()
		return
	}
	off := e.consumed
	pc.mu.Unlock()
	if err := pc.c.updateOffset(ctx, pc.opts.Group, q, off); err != nil {
		pc.warn(ctx, "offset commit failed", q, err)
		return
	}
	pc.mu.Lock()
	e.committed = off
	pc.mu.Unlock()
}
