package commitlog

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/message"
)

// FlushMode is when an append is acknowledged.
type FlushMode int

// Flush modes.
const (
	AsyncFlush FlushMode = iota // in the page cache
	SyncFlush                   // on disk (group commit)
)

// Options configure a CommitLog.
type Options struct {
	Dir         string
	SegmentSize int64
	// MaxMessageSize bounds the encoded size of one record, or of all the
	// records of one batch.
	MaxMessageSize int
	// AllowV2 lets topics longer than 127 bytes be written as V2 records.
	AllowV2 bool

	FlushMode             FlushMode
	FlushInterval         time.Duration
	FlushLeastPages       int
	FlushThoroughInterval time.Duration
	SyncFlushTimeout      time.Duration
	// GroupCommitLinger is how long, at most, the SyncFlush committer
	// waits after completing a group for the writers it woke to append
	// again (0: 50 µs; negative: no linger).
	GroupCommitLinger time.Duration

	// Warm zero-fills and syncs new segments before use.
	Warm bool
	// WriteBufferSize is the size of each of the two write buffers; it is
	// raised to MaxMessageSize+8 if smaller.
	WriteBufferSize int

	// OnPublish is called (from the committer or flusher goroutine) when
	// DispatchableOffset may have grown. It must not block.
	OnPublish func()
	// Now returns the store time in ms; nil means the wall clock.
	Now func() int64
}

// Errors.
var (
	ErrClosed          = errors.New("commitlog: closed")
	ErrBroken          = errors.New("commitlog: a write or flush failed; refusing writes until restart")
	ErrMessageTooLarge = errors.New("commitlog: message too large")
	ErrBadMessage      = errors.New("commitlog: illegal message")
	ErrDiskFull        = errors.New("commitlog: disk full")
	ErrFlushTimeout    = errors.New("commitlog: flush timed out (message stored, not yet durable)")
	ErrOffsetMismatch  = errors.New("commitlog: append offset does not match the log end")
	ErrCorrupt         = errors.New("commitlog: corrupt record")
)

func (o *Options) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("commitlog: empty directory"))
	}
	if o.SegmentSize < 4096 {
		errs = append(errs, fmt.Errorf("commitlog: segment size %d below 4096", o.SegmentSize))
	}
	if o.MaxMessageSize < message.MinRecordSize {
		errs = append(errs, fmt.Errorf("commitlog: max message size %d", o.MaxMessageSize))
	}
	if int64(o.MaxMessageSize)+message.BlankMarkerSize > o.SegmentSize {
		errs = append(errs, fmt.Errorf("commitlog: segment size %d cannot hold a message of %d bytes", o.SegmentSize, o.MaxMessageSize))
	}
	if o.FlushMode == SyncFlush && o.SyncFlushTimeout <= 0 {
		errs = append(errs, errors.New("commitlog: sync flush timeout must be positive"))
	}
	if o.FlushMode == AsyncFlush && (o.FlushInterval <= 0 || o.FlushThoroughInterval <= 0) {
		errs = append(errs, errors.New("commitlog: flush intervals must be positive"))
	}
	return errors.Join(errs...)
}
