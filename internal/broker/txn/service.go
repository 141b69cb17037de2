package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

// Store is what the service needs of the message store.
type Store interface {
	GetMessage(ctx context.Context, group, topic string, queueID int32, offset int64, maxMsgNums, maxBytes int, filter store.MessageFilter) (*store.GetResult, error)
	LookMessageByOffset(commitLogOffset int64) (*message.MessageExt, error)
	PutMessage(ctx context.Context, msg *message.Inner) (store.PutResult, error)
	MinOffsetInQueue(topic string, queueID int32) int64
	MaxOffsetInQueue(topic string, queueID int32) int64
	AssignedOffsetInQueue(topic string, queueID int32) int64
}

// Offsets is where the consume offsets of CID_SYS_RMQ_TRANS persist (the
// broker's consumer offset table).
type Offsets interface {
	Query(group, topic string, queueID int32) (int64, bool)
	Commit(clientHost, group, topic string, queueID int32, offset int64)
	// Persist saves the table now.
	Persist() error
}

// Producers sends check-backs.
type Producers interface {
	// CheckTransactionState sends CHECK_TRANSACTION_STATE (oneway) to one
	// live producer of group; ErrNoProducer when the group has none.
	CheckTransactionState(ctx context.Context, group string, h *protocol.CheckTransactionStateRequestHeader, body []byte) error
}

// ErrNoProducer is returned by Producers when no producer of the group is
// connected.
var ErrNoProducer = errors.New("txn: no live producer in the group")

// Errors of End. Each names what the END_TRANSACTION got wrong, in
// RocketMQ's words; the broker answers them with SYSTEM_ERROR, except
// ErrBusy (SYSTEM_BUSY) and store failures (as the store returns them).
var (
	ErrClosed          = errors.New("txn: closed")
	ErrHalfNotFound    = errors.New("txn: find prepared transaction message failed")
	ErrProducerGroup   = errors.New("txn: the producer group wrong")
	ErrQueueOffset     = errors.New("txn: the transaction state table offset wrong")
	ErrCommitLogOffset = errors.New("txn: the commit log offset wrong")
	ErrBusy            = errors.New("txn: a check-back of this transaction is in progress; try again")
)

// Options configure a Service.
type Options struct {
	// TransactionTimeOut, TransactionCheckMax and TransactionCheckInterval
	// are the broker's keys of the same names.
	TransactionTimeOut       time.Duration
	TransactionCheckMax      int
	TransactionCheckInterval time.Duration
	// MaxAge discards half messages born longer ago (fileReservedTime); 0
	// for no limit.
	MaxAge time.Duration
	// BrokerName goes into check-backs.
	BrokerName string
	// StoreHost is the broker's address, stamped on the records it writes.
	StoreHost func() netip.AddrPort
	// Rewrite passes a committed message through the send path's other
	// rewriters (delay levels and timers apply at commit); nil for none.
	Rewrite func(*message.Inner) error
	// EnsureTopic creates TRANS_CHECK_MAX_TIME_TOPIC before the first
	// discard; nil for none.
	EnsureTopic func(topic string) error
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Validate reports an option out of range.
func (o *Options) Validate() error {
	if o.TransactionTimeOut <= 0 || o.TransactionCheckMax <= 0 || o.TransactionCheckInterval <= 0 || o.MaxAge < 0 {
		return fmt.Errorf("%w: transactionTimeOut %v, transactionCheckMax %d, transactionCheckInterval %v, max age %v",
			ErrConfig, o.TransactionTimeOut, o.TransactionCheckMax, o.TransactionCheckInterval, o.MaxAge)
	}
	if o.StoreHost == nil {
		return fmt.Errorf("%w: no store host", ErrConfig)
	}
	return nil
}

// Stats are the service's counters since it started.
type Stats struct {
	Pending     int   // half messages neither ended nor discarded
	Committed   int64 // END_TRANSACTION commits stored
	RolledBack  int64 // END_TRANSACTION rollbacks stored
	Checks      int64 // check-backs written (sent or not)
	ChecksSent  int64 // check-backs handed to a producer
	NoProducer  int64 // check-backs no producer of the group could take
	Renewed     int64 // half messages renewed in their immunity
	Discarded   int64 // half messages moved to TRANS_CHECK_MAX_TIME_TOPIC
	LostRecords int64 // pending half records that could not be read back
}

// scanBatch is how many records one read of the half or op queue asks for.
const scanBatch = 256

// endWait bounds how long an END waits for a check-back of its
// transaction to finish.
const endWait = 10 * time.Second

// sendTimeout bounds the hand-over of a check-back to a connection.
const sendTimeout = 3 * time.Second

// EndRequest is an END_TRANSACTION that commits or rolls back.
type EndRequest struct {
	ProducerGroup        string
	TranStateTableOffset int64
	CommitLogOffset      int64
	// Commit: true to commit, false to roll back.
	Commit bool
}

// EndOutcome says what an END did.
type EndOutcome uint8

// End outcomes.
const (
	// Ended: the outcome is stored (and the committed message, for a
	// commit).
	Ended EndOutcome = iota + 1
	// AlreadyEnded: the transaction was ended (or discarded) before;
	// nothing changed.
	AlreadyEnded
)

// Service is the driver around a Core: it reads the half and op queues,
// runs the check-backs every TransactionCheckInterval, carries out
// END_TRANSACTION and persists the consume offsets.
type Service struct {
	opts  Options
	store Store
	offs  Offsets
	prods Producers
	log   *slog.Logger

	mu      sync.Mutex
	core    *Core
	changed chan struct{} // closed (and replaced) whenever claims are released

	// roundMu serializes rounds (reading the queues, the actions,
	// persisting), Load and Close's last persist.
	roundMu            sync.Mutex
	savedHalf, savedOp int64 // last offsets committed to offs

	committed, rolledBack, checks, sent, noProducer, renewed, discarded, lost atomic.Int64

	life    sync.Mutex
	started bool
	closed  atomic.Bool
	stop    chan struct{}
	done    chan struct{}
}

// New returns a service; Load reads its state, Start runs its checks.
func New(opts Options, st Store, offs Offsets, prods Producers, log *slog.Logger) (*Service, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		opts: opts, store: st, offs: offs, prods: prods, log: log,
		changed:   make(chan struct{}),
		savedHalf: -1, savedOp: -1,
		stop: make(chan struct{}), done: make(chan struct{}),
	}, nil
}

func (s *Service) coreConfig() Config {
	return Config{
		Timeout:    s.opts.TransactionTimeOut.Milliseconds(),
		CheckMax:   int32(min(s.opts.TransactionCheckMax, 1<<30)),
		RenewAfter: s.opts.TransactionCheckInterval.Milliseconds(),
		MaxAge:     s.opts.MaxAge.Milliseconds(),
	}
}

// Load builds the state from the persisted consume offsets of
// CID_SYS_RMQ_TRANS and the records past them: the op records first (what
// was ended), then the half records (what is pending). The store must
// have dispatched every record it holds (store.Open does, before it
// returns).
func (s *Service) Load(ctx context.Context) error {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	half, op := s.startOffset(HalfTopic), s.startOffset(OpTopic)
	core, err := NewCore(s.coreConfig(), half, op)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.core = core
	s.mu.Unlock()
	s.scan(ctx)
	s.mu.Lock()
	pending := core.Pending()
	halfNext, opNext := core.Next()
	s.mu.Unlock()
	s.log.Info("transactions loaded", "pending", pending, "halfOffset", half, "halfNext", halfNext,
		"opOffset", op, "opNext", opNext)
	return nil
}

// startOffset is the persisted consume offset of a queue, clamped to what
// the queue holds: past its end (a store that lost its tail) the offsets
// would be handed out again to records the state counts as done.
func (s *Service) startOffset(topic string) int64 {
	lo, hi := max(s.store.MinOffsetInQueue(topic, 0), 0), max(s.store.MaxOffsetInQueue(topic, 0), 0)
	off, ok := s.offs.Query(ConsumerGroup, topic, 0)
	switch {
	case !ok || off < lo:
		return lo
	case off > hi:
		s.log.Warn("transaction consume offset past the end of its queue: the store lost records",
			"topic", topic, "offset", off, "max", hi)
		return hi
	}
	return off
}

// Start runs a round every TransactionCheckInterval until Close.
func (s *Service) Start() {
	s.life.Lock()
	defer s.life.Unlock()
	if s.started || s.closed.Load() {
		return
	}
	s.started = true
	go s.run()
}

// Close stops the rounds, waits for one in progress and persists the
// consume offsets. Idempotent.
func (s *Service) Close() error {
	s.life.Lock()
	if s.closed.Swap(true) {
		s.life.Unlock()
		return nil
	}
	started := s.started
	s.life.Unlock()
	close(s.stop)
	if started {
		<-s.done
	}
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	return s.persist()
}

// maxScanInterval bounds how long records wait to be read between rounds:
// an END registers the record it ends when it has not been read yet, and
// the sooner it is read the sooner the core lets go of it.
const maxScanInterval = time.Second

func (s *Service) run() {
	defer close(s.done)
	check := time.NewTicker(s.opts.TransactionCheckInterval)
	defer check.Stop()
	scan := time.NewTicker(min(s.opts.TransactionCheckInterval, maxScanInterval))
	defer scan.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-check.C:
			s.round(context.Background())
		case <-scan.C:
			s.roundMu.Lock()
			s.scan(context.Background())
			s.roundMu.Unlock()
		}
	}
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Committed: s.committed.Load(), RolledBack: s.rolledBack.Load(), Checks: s.checks.Load(),
		ChecksSent: s.sent.Load(), NoProducer: s.noProducer.Load(), Renewed: s.renewed.Load(),
		Discarded: s.discarded.Load(), LostRecords: s.lost.Load(),
	}
	s.mu.Lock()
	if s.core != nil {
		st.Pending = s.core.Pending()
	}
	s.mu.Unlock()
	return st
}

// update runs fn on the core under the lock and wakes the ENDs waiting
// for a claim.
func (s *Service) update(fn func(c *Core)) {
	s.mu.Lock()
	fn(s.core)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// round reads what is new in the op and half queues, decides, carries the
// decisions out and persists the consume offsets.
func (s *Service) round(ctx context.Context) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	if s.core == nil {
		return
	}
	s.scan(ctx)
	s.mu.Lock()
	acts := s.core.Tick(s.opts.Now().UnixMilli())
	s.mu.Unlock()
	noProducer := map[string]int{}
	for i, a := range acts {
		select {
		case <-s.stop:
			// Closing: hand the rest back untouched.
			s.update(func(c *Core) {
				for _, a := range acts[i:] {
					if a.Kind == Discard {
						c.DiscardDone(a.Half.Offset, false)
					} else {
						c.CheckDone(a.Half.Offset, nil)
					}
				}
			})
			return
		default:
		}
		switch a.Kind {
		case Check, Renew:
			if s.check(ctx, a) {
				noProducer[a.Half.Key.Group]++
			}
		case Discard:
			s.discard(ctx, a)
		}
	}
	for g, n := range noProducer {
		s.log.Warn("transaction check-backs not sent: no producer of the group is connected",
			"group", g, "checks", n)
	}
	if err := s.persist(); err != nil {
		s.log.Warn("cannot persist the transaction consume offsets", "err", err)
	}
}

// scan feeds the core what the op and half queues hold past what it has
// read: op records first, so that a half record already ended is known as
// such when it is fed.
func (s *Service) scan(ctx context.Context) {
	s.mu.Lock()
	_, opNext := s.core.Next()
	s.mu.Unlock()
	s.scanQueue(ctx, OpTopic, opNext)
	s.mu.Lock()
	halfNext, _ := s.core.Next()
	s.mu.Unlock()
	s.scanQueue(ctx, HalfTopic, halfNext)
}

// scanned is one record read from the half or op queue.
type scanned struct {
	off    int64
	half   Half
	refs   []int64
	broken bool
}

func (s *Service) scanQueue(ctx context.Context, topic string, from int64) {
	// An op record can only name half records that exist.
	halfEnd := s.store.AssignedOffsetInQueue(HalfTopic, 0)
	for {
		res, err := s.store.GetMessage(ctx, ConsumerGroup, topic, 0, from, scanBatch, 0, nil)
		if err != nil {
			s.log.Warn("cannot read the transaction queue", "topic", topic, "offset", from, "err", err)
			return
		}
		status, next := res.Status, res.NextBeginOffset
		var items []scanned
		if status == store.GetFound {
			items = make([]scanned, len(res.Messages))
			for i, b := range res.Messages {
				items[i] = s.decode(topic, res.QueueOffsets[i], b, halfEnd)
			}
		}
		res.Release()
		switch status {
		case store.GetFound:
			s.update(func(c *Core) {
				for _, it := range items {
					switch {
					case topic == OpTopic:
						c.FeedOp(it.off, it.refs)
					case it.broken:
						c.FeedBroken(it.off)
					default:
						c.FeedHalf(it.half)
					}
				}
			})
		case store.GetOffsetTooSmall, store.GetMessageWasRemoving, store.GetOffsetFoundNull:
			if next <= from {
				return
			}
			// Records below next are gone (retention).
			s.update(func(c *Core) {
				if topic == OpTopic {
					c.SkipOpsTo(next)
				} else if lost := c.SkipHalfTo(next); lost > 0 {
					s.lost.Add(int64(lost))
					s.log.Error("pending half messages deleted by retention before they were resolved",
						"count", lost, "before", next)
				}
			})
		default: // nothing new
			return
		}
		if next <= from {
			return
		}
		from = next
	}
}

// decode extracts what the core needs of a record of the half or op queue.
// An op record's references at or past halfEnd name nothing.
func (s *Service) decode(topic string, off int64, b []byte, halfEnd int64) scanned {
	it := scanned{off: off}
	r, err := message.DecodeRecord(b)
	if err != nil || string(r.Topic) != topic {
		s.log.Error("unreadable record in a transaction queue", "topic", topic, "offset", off, "err", err)
		it.broken = true
		return it
	}
	if topic == HalfTopic {
		it.half = HalfOf(off, &r)
		return it
	}
	if tag, _ := message.PropertyValue(r.Properties, message.PropertyTags); string(tag) != RemoveTag {
		s.log.Error("op record with an unknown tag", "offset", off, "tag", string(tag))
		return it
	}
	refs, err := ParseOpBody(r.Body)
	if err != nil {
		s.log.Error("unreadable op record", "offset", off, "err", err)
	}
	for _, ref := range refs {
		if ref >= halfEnd {
			s.log.Error("op record names a half offset that does not exist", "offset", off, "halfOffset", ref, "halfEnd", halfEnd)
			return it
		}
	}
	it.refs = refs
	return it
}

// storeHost is the broker's address for the records it writes.
func (s *Service) storeHost() netip.AddrPort { return s.opts.StoreHost() }

// put appends m and waits; a FLUSH_DISK_TIMEOUT counts as stored. The
// append is not abandoned when ctx ends: an append that completes after
// its caller stopped waiting would leave the state unsure of it.
func (s *Service) put(ctx context.Context, m *message.Inner) (store.PutResult, error) {
	res, err := s.store.PutMessage(context.WithoutCancel(ctx), m)
	if err != nil && res.Status == store.PutFlushDiskTimeout {
		err = nil
	}
	return res, err
}

// check carries out a Check or Renew: the copy at the tail of the half
// queue, then (Check) the question to a producer of the group. It reports
// whether no producer could be asked.
func (s *Service) check(ctx context.Context, a Action) (noProducer bool) {
	off := a.Half.Offset
	ext, err := s.readHalf(a.Half)
	if err != nil {
		s.lost.Add(1)
		s.log.Error("cannot read back a pending half message; giving it up", "offset", off,
			"commitLogOffset", a.Half.CommitLogOffset, "err", err)
		s.update(func(c *Core) { c.DiscardDone(off, true) }) // claimed: finished for good
		return false
	}
	times, prepared := int32(-1), int64(-1)
	if a.Kind == Check {
		times = a.Half.CheckTimes + 1
	} else if _, ok := message.PropertyValue(ext.RawProperties, message.PropertyTransactionPreparedQueueOffset); !ok {
		prepared = off
	}
	cp := CopyMessage(ext, s.storeHost(), times, prepared)
	res, err := s.put(ctx, cp)
	if err != nil {
		s.log.Warn("cannot write the half message's copy for its check-back; retrying next round",
			"offset", off, "err", err)
		s.update(func(c *Core) { c.CheckDone(off, nil) })
		return false
	}
	y := a.Half
	y.Offset, y.CommitLogOffset, y.Stored = res.QueueOffset, res.CommitLogOffset, res.StoreTimestamp
	if a.Kind == Check {
		y.CheckTimes = times
	}
	s.update(func(c *Core) { c.CheckDone(off, &y) })
	if a.Kind == Renew {
		s.renewed.Add(1)
		return false
	}
	s.checks.Add(1)
	return s.sendCheck(ctx, a.Half.Key, cp, res)
}

// readHalf reads the record of a half message back by its commit-log
// offset.
func (s *Service) readHalf(h Half) (*message.MessageExt, error) {
	ext, err := s.store.LookMessageByOffset(h.CommitLogOffset)
	if err != nil {
		return nil, err
	}
	if ext.Topic != HalfTopic || ext.QueueOffset != h.Offset {
		return nil, fmt.Errorf("%w: the record at commit-log offset %d is %s/%d",
			ErrNotHalf, h.CommitLogOffset, ext.Topic, ext.QueueOffset)
	}
	return ext, nil
}

// sendCheck asks a producer of the group for the state of the copy just
// written. It reports whether the group had no producer.
func (s *Service) sendCheck(ctx context.Context, k Key, cp *message.Inner, res store.PutResult) (noProducer bool) {
	body, err := CheckBody(cp, res.QueueOffset, res.CommitLogOffset, res.StoreTimestamp)
	if err != nil {
		s.log.Error("cannot encode a check-back", "offset", res.QueueOffset, "err", err)
		return false
	}
	topic, _, _ := realDestination(cp.Properties)
	id := message.PropertyString(cp.Properties, message.PropertyUniqClientMessageIDKeyIdx)
	h := &protocol.CheckTransactionStateRequestHeader{
		Topic:                topic,
		TranStateTableOffset: res.QueueOffset,
		CommitLogOffset:      res.CommitLogOffset,
		MsgID:                id,
		TransactionID:        id,
		OffsetMsgID:          message.OffsetMsgID(s.storeHost(), res.CommitLogOffset),
		BrokerName:           s.opts.BrokerName,
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	switch err := s.prods.CheckTransactionState(sctx, k.Group, h, body); {
	case errors.Is(err, ErrNoProducer):
		s.noProducer.Add(1)
		return true
	case err != nil:
		s.log.Warn("cannot send a check-back", "group", k.Group, "msgId", id, "err", err)
	default:
		s.sent.Add(1)
	}
	return false
}

// discard moves an abandoned half message to TRANS_CHECK_MAX_TIME_TOPIC
// and writes its op record.
func (s *Service) discard(ctx context.Context, a Action) {
	off := a.Half.Offset
	ext, err := s.readHalf(a.Half)
	if err != nil {
		s.lost.Add(1)
		s.log.Error("cannot read back an abandoned half message", "offset", off, "err", err)
		s.update(func(c *Core) { c.DiscardDone(off, true) })
		return
	}
	if s.opts.EnsureTopic != nil {
		if err := s.opts.EnsureTopic(CheckMaxTopic); err != nil {
			s.log.Warn("cannot create the topic of discarded half messages", "topic", CheckMaxTopic, "err", err)
		}
	}
	if _, err := s.put(ctx, DiscardMessage(ext, s.storeHost())); err != nil {
		s.log.Warn("cannot discard a half message; retrying next round", "offset", off, "err", err)
		s.update(func(c *Core) { c.DiscardDone(off, false) })
		return
	}
	if _, err := s.put(ctx, OpMessage([]int64{off}, s.storeHost(), s.opts.Now().UnixMilli())); err != nil {
		// The consume offset will cover it once it moves past.
		s.log.Warn("cannot write the op record of a discarded half message", "offset", off, "err", err)
	}
	s.update(func(c *Core) { c.DiscardDone(off, true) })
	s.discarded.Add(1)
	why := "checked transactionCheckMax times"
	if a.TooOld {
		why = "older than the commit log's retention"
	}
	s.log.Warn("transaction abandoned: half message moved to "+CheckMaxTopic, "why", why,
		"group", a.Half.Key.Group, "msgId", a.Half.Key.ID, "topic", ext.Property(message.PropertyRealTopic),
		"checks", a.Half.CheckTimes, "halfOffset", off)
}

// persist commits the consume offsets: the half queue's first, saved,
// and only then the op queue's, whose advance relies on it (after a crash
// an op offset that ran ahead of its half offset would skip op records
// the state still needs).
func (s *Service) persist() error {
	if s.core == nil {
		return nil
	}
	s.mu.Lock()
	half, op := s.core.Offsets()
	s.mu.Unlock()
	host := s.storeHost().String()
	if half != s.savedHalf {
		s.offs.Commit(host, ConsumerGroup, HalfTopic, 0, half)
		s.savedHalf = half
	}
	if op != s.savedOp {
		if err := s.offs.Persist(); err != nil {
			return err
		}
		s.offs.Commit(host, ConsumerGroup, OpTopic, 0, op)
		s.savedOp = op
	}
	return nil
}

// End carries out an END_TRANSACTION that commits or rolls back. It checks
// the request against the half record, in RocketMQ's order (the record
// exists and is a half message, PGROUP equals the producer group, its
// queue offset equals tranStateTableOffset, its commit-log offset equals
// commitLogOffset), then stores the committed message (commit) and the op
// record naming every pending copy of the transaction. A transaction
// already ended is left alone (AlreadyEnded).
func (s *Service) End(ctx context.Context, r EndRequest) (EndOutcome, error) {
	s.mu.Lock()
	loaded := s.core != nil
	s.mu.Unlock()
	if !loaded || s.closed.Load() {
		return 0, ErrClosed
	}
	ext, err := s.store.LookMessageByOffset(r.CommitLogOffset)
	if err != nil {
		return 0, fmt.Errorf("%w: commitLogOffset %d: %v", ErrHalfNotFound, r.CommitLogOffset, err)
	}
	if ext.Topic != HalfTopic {
		return 0, fmt.Errorf("%w: the message at commitLogOffset %d is not a half message", ErrHalfNotFound, r.CommitLogOffset)
	}
	if g := ext.Property(message.PropertyProducerGroup); g != r.ProducerGroup {
		return 0, fmt.Errorf("%w: the half message belongs to %q, not %q", ErrProducerGroup, g, r.ProducerGroup)
	}
	if ext.QueueOffset != r.TranStateTableOffset {
		return 0, fmt.Errorf("%w: the half message is at %d, not %d", ErrQueueOffset, ext.QueueOffset, r.TranStateTableOffset)
	}
	if ext.CommitLogOffset != r.CommitLogOffset {
		return 0, fmt.Errorf("%w: the half message is at %d, not %d", ErrCommitLogOffset, ext.CommitLogOffset, r.CommitLogOffset)
	}
	var final *message.Inner
	if r.Commit {
		if final, err = CommitMessage(ext, s.storeHost()); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrHalfNotFound, err)
		}
	}
	h := HalfOfExt(ext)
	claim, bound, err := s.claim(ctx, h)
	switch {
	case err != nil:
		return 0, err
	case claim == nil:
		return AlreadyEnded, nil
	}
	ok := false
	defer func() { s.update(func(c *Core) { c.EndDone(h.Key, claim, ok, bound) }) }()
	if final != nil {
		if s.opts.Rewrite != nil {
			if err := s.opts.Rewrite(final); err != nil {
				s.log.Warn("a send rewriter refused the committed message; storing it as sent",
					"topic", final.Topic, "msgId", h.Key.ID, "err", err)
				final, _ = CommitMessage(ext, s.storeHost())
			}
		}
		if _, err := s.put(ctx, final); err != nil {
			return 0, err
		}
	}
	if _, err := s.put(ctx, OpMessage(claim, s.storeHost(), s.opts.Now().UnixMilli())); err != nil {
		if final == nil {
			return 0, err
		}
		// Committed: never commit it twice. The consume offset will cover
		// it once it moves past; a crash before could check it again.
		s.log.Error("committed message stored but not its op record", "msgId", h.Key.ID, "err", err)
	}
	ok = true
	if r.Commit {
		s.committed.Add(1)
	} else {
		s.rolledBack.Add(1)
	}
	return Ended, nil
}

// claim claims the transaction of h for an END, waiting (at most endWait)
// while a check-back holds it. A nil claim means nothing is pending.
func (s *Service) claim(ctx context.Context, h Half) (claim []int64, bound int64, err error) {
	var timeout <-chan time.Time
	for {
		bound = max(s.store.AssignedOffsetInQueue(HalfTopic, 0), h.Offset+1)
		s.mu.Lock()
		claim, st := s.core.BeginEnd(h, bound)
		ch := s.changed
		s.mu.Unlock()
		switch st {
		case EndClaimed:
			return claim, bound, nil
		case EndAlready:
			return nil, 0, nil
		}
		if timeout == nil {
			t := time.NewTimer(endWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-timeout:
			return nil, 0, ErrBusy
		}
	}
}
