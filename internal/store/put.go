package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/store/commitlog"
)

// PutStatus is Java's PutMessageStatus; the broker maps it to a response
// code.
type PutStatus int

// Put statuses.
const (
	PutOK                     PutStatus = iota
	PutFlushDiskTimeout                 // stored, not durable in time: FLUSH_DISK_TIMEOUT (10)
	PutServiceNotAvailable              // disk full, slave, closed, write error: SERVICE_NOT_AVAILABLE (14)
	PutCreateMappedFileFailed           // a new segment could not be created
	PutMessageIllegal                   // bad topic, too large: MESSAGE_ILLEGAL (13)
	PutPropertiesSizeExceeded           // properties over 32767 bytes: MESSAGE_ILLEGAL (13)
	PutUnknownError
)

func (p PutStatus) String() string {
	switch p {
	case PutOK:
		return "PUT_OK"
	case PutFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case PutServiceNotAvailable:
		return "SERVICE_NOT_AVAILABLE"
	case PutCreateMappedFileFailed:
		return "CREATE_MAPPED_FILE_FAILED"
	case PutMessageIllegal:
		return "MESSAGE_ILLEGAL"
	case PutPropertiesSizeExceeded:
		return "PROPERTIES_SIZE_EXCEEDED"
	}
	return "UNKNOWN_ERROR"
}

// PutResult describes an append. On success every message's
// CommitLogOffset, QueueOffset and StoreTimestamp are set as well (a
// batch's records are contiguous, in order).
type PutResult struct {
	Status          PutStatus
	CommitLogOffset int64 // of the first record
	WroteBytes      int   // all records
	QueueOffset     int64 // of the first record
	MsgCount        int
	StoreTimestamp  int64
}

// PutStatusOf maps an append error to its status (PutOK for nil).
func PutStatusOf(err error) PutStatus {
	switch {
	case err == nil:
		return PutOK
	case errors.Is(err, commitlog.ErrFlushTimeout):
		return PutFlushDiskTimeout
	case errors.Is(err, message.ErrPropertiesTooLong):
		return PutPropertiesSizeExceeded
	case errors.Is(err, ErrMessageIllegal), errors.Is(err, ErrMessageTooLarge):
		return PutMessageIllegal
	case errors.Is(err, ErrDiskFull), errors.Is(err, ErrSlave), errors.Is(err, ErrClosed), errors.Is(err, ErrWriteFailed):
		return PutServiceNotAvailable
	}
	return PutCreateMappedFileFailed
}

// putWaiter carries one append to its completion. Pooled: the sync path
// and the async path allocate nothing per message.
type putWaiter struct {
	s   *Store
	one [1]*message.Inner
	fn  func(PutResult, error)
	ch  chan struct{}
	res PutResult
	err error
}

var waiterPool = sync.Pool{New: func() any { return &putWaiter{ch: make(chan struct{}, 1)} }}

func (w *putWaiter) AppendDone(r commitlog.Result, err error) {
	if err != nil {
		err = w.s.wrapErr(err)
	}
	res := PutResult{
		Status:          PutStatusOf(err),
		CommitLogOffset: r.Offset,
		WroteBytes:      r.Size,
		QueueOffset:     r.QueueOffset,
		MsgCount:        r.Count,
		StoreTimestamp:  r.StoreTimestamp,
	}
	if err != nil && res.Status != PutFlushDiskTimeout {
		w.s.stats.putFailed.Add(1)
	}
	if fn := w.fn; fn != nil {
		// The caller may not touch w once done can run: clear it here,
		// before another put takes it from the pool.
		w.fn, w.s, w.one[0] = nil, nil, nil
		waiterPool.Put(w)
		fn(res, err)
		return
	}
	w.res, w.err = res, err
	w.ch <- struct{}{}
}

// wrapErr turns commit-log errors into the store's.
func (s *Store) wrapErr(err error) error {
	switch {
	case errors.Is(err, commitlog.ErrBadMessage):
		return fmt.Errorf("%w: %w", ErrMessageIllegal, err)
	case errors.Is(err, commitlog.ErrMessageTooLarge):
		return fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
	case errors.Is(err, commitlog.ErrDiskFull):
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	case errors.Is(err, commitlog.ErrClosed):
		return ErrClosed
	}
	return err
}

// precheck refuses appends the store cannot take at all.
func (s *Store) precheck(msgs []*message.Inner) error {
	switch {
	case s.closed.Load():
		return ErrClosed
	case s.opts.BrokerRole == RoleSlave:
		return ErrSlave
	case s.diskFull.Load():
		return fmt.Errorf("%w: %.1f%% used, limit %d%%", ErrDiskFull, float64(s.diskRatio.Load())/10, s.opts.DiskSpaceWarningLevelRatio)
	}
	for _, m := range msgs {
		if !validTopic(m.Topic) {
			return fmt.Errorf("%w: topic %q", ErrMessageIllegal, m.Topic)
		}
	}
	return nil
}

// waitFor reports whether the append must wait for the flush under
// SYNC_FLUSH: the WAIT property "false" says no.
func waitFor(m *message.Inner) bool {
	v, ok := message.PropertyValue(m.Properties, message.PropertyWaitStoreMsgOK)
	return !ok || string(v) != "false"
}

// PutMessageAsync appends one message. done is called exactly once: on
// the caller's goroutine before PutMessageAsync returns if the message is
// refused, else later from a store goroutine once the append is durable
// per flushDiskType (or failed, or FLUSH_DISK_TIMEOUT). done must not
// block. The store keeps no reference to msg after the call returns.
func (s *Store) PutMessageAsync(ctx context.Context, msg *message.Inner, done func(PutResult, error)) {
	w := waiterPool.Get().(*putWaiter)
	w.s, w.fn = s, done
	w.one[0] = msg
	// No access to w after append: done may already have run and
	// returned w to the pool.
	s.append(w, w.one[:], waitFor(msg))
}

// PutMessagesAsync appends a batch (one topic and queue; consecutive
// queue offsets; one lock), with done called as for PutMessageAsync.
func (s *Store) PutMessagesAsync(ctx context.Context, msgs []*message.Inner, done func(PutResult, error)) {
	w := waiterPool.Get().(*putWaiter)
	w.s, w.fn = s, done
	wait := len(msgs) == 0 || waitFor(msgs[0])
	s.append(w, msgs, wait)
}

func (s *Store) append(w *putWaiter, msgs []*message.Inner, wait bool) {
	err := s.precheck(msgs)
	if err == nil {
		err = s.cl.Append(msgs, wait, w)
	}
	if err != nil {
		w.AppendDone(commitlog.Result{}, err)
	}
}

// PutMessage appends one message and waits until it is durable per
// flushDiskType. An error comes with the matching status in PutResult;
// with FLUSH_DISK_TIMEOUT the message is stored and the result holds its
// offsets. If ctx ends first, PutMessage returns ctx's error; the append
// may still complete.
func (s *Store) PutMessage(ctx context.Context, msg *message.Inner) (PutResult, error) {
	w := waiterPool.Get().(*putWaiter)
	w.s = s
	w.one[0] = msg
	s.append(w, w.one[:], waitFor(msg))
	w.one[0] = nil
	return s.wait(ctx, w)
}

// PutMessages appends a batch and waits, as PutMessage.
func (s *Store) PutMessages(ctx context.Context, msgs []*message.Inner) (PutResult, error) {
	w := waiterPool.Get().(*putWaiter)
	w.s = s
	wait := len(msgs) == 0 || waitFor(msgs[0])
	s.append(w, msgs, wait)
	return s.wait(ctx, w)
}

func (s *Store) wait(ctx context.Context, w *putWaiter) (PutResult, error) {
	select {
	case <-w.ch:
	case <-ctx.Done():
		return PutResult{Status: PutUnknownError}, ctx.Err() // w is abandoned, not pooled
	}
	res, err := w.res, w.err
	w.s, w.err = nil, nil
	waiterPool.Put(w)
	return res, err
}
