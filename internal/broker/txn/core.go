package txn

import (
	"errors"
	"fmt"
	"slices"
)

// Key names one transaction: the producer group that owns it (PGROUP) and
// its id (the UNIQ_KEY its producer gave the message, which the broker
// copies into __transactionId__). Every copy of a half message — the
// original, the copies a check-back or a renewal writes, a duplicate a
// producer's retry stored — has the same Key.
type Key struct {
	Group string
	ID    string
}

// Half is what the core knows of one half record in the half queue.
type Half struct {
	// Offset is the record's offset in RMQ_SYS_TRANS_HALF_TOPIC queue 0.
	Offset int64
	// CommitLogOffset is where the record is in the commit log.
	CommitLogOffset int64
	Key             Key
	// Born is the producer's BORNTIMESTAMP, ms; copies keep the original's.
	Born int64
	// Stored is this record's STORETIMESTAMP, ms.
	Stored int64
	// CheckTimes is TRANSACTION_CHECK_TIMES: how many check-backs were
	// sent for the transaction before this copy was written.
	CheckTimes int32
	// Immunity is CHECK_IMMUNITY_TIME_IN_SECONDS in ms; 0 when the
	// producer set none (transactionTimeOut applies).
	Immunity int64
}

// Config holds the decisions' parameters, in ms.
type Config struct {
	// Timeout is transactionTimeOut: how old (since its birth) a half
	// message without immunity must be before its producer is asked.
	Timeout int64
	// CheckMax is transactionCheckMax: a copy that has been checked this
	// many times is discarded instead of checked again.
	CheckMax int32
	// RenewAfter is how long a half record in its immunity may stay at the
	// head of the queue before it is renewed (copied to the tail, not
	// checked), so that the queue's consumed offset can move past it
	// (transactionCheckInterval).
	RenewAfter int64
	// MaxAge discards half messages born longer ago than this, checked or
	// not (the commit log's fileReservedTime: past it their records may be
	// gone). 0: no limit.
	MaxAge int64
}

// Validate reports a parameter out of range.
func (c Config) Validate() error {
	if c.Timeout <= 0 || c.CheckMax <= 0 || c.RenewAfter <= 0 || c.MaxAge < 0 {
		return fmt.Errorf("%w: timeout %d, check max %d, renew after %d, max age %d",
			ErrConfig, c.Timeout, c.CheckMax, c.RenewAfter, c.MaxAge)
	}
	return nil
}

// ErrConfig is wrapped by Config.Validate errors.
var ErrConfig = errors.New("txn: invalid configuration")

// ActionKind says what the driver must do with a half record.
type ActionKind uint8

// Action kinds.
const (
	// Check: copy the record to the tail of the half queue with
	// TRANSACTION_CHECK_TIMES+1, then ask a producer of the group for the
	// state of the copy (CHECK_TRANSACTION_STATE). Report with CheckDone.
	Check ActionKind = iota + 1
	// Renew: copy the record to the tail unchanged (it is in its immunity
	// and must not hold the queue's consumed offset back). Report with
	// CheckDone.
	Renew
	// Discard: move the record to TRANS_CHECK_MAX_TIME_TOPIC and write its
	// op record: the transaction is abandoned. Report with DiscardDone.
	Discard
)

func (k ActionKind) String() string {
	switch k {
	case Check:
		return "check"
	case Renew:
		return "renew"
	case Discard:
		return "discard"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Action is one decision of Tick. The record is claimed until reported.
type Action struct {
	Kind ActionKind
	Half Half
	// TooOld is set on a Discard for age (MaxAge) rather than check count.
	TooOld bool
}

// EndStatus is BeginEnd's answer.
type EndStatus uint8

// End statuses.
const (
	// EndClaimed: the END may write its outcome for the offsets returned;
	// report with EndDone.
	EndClaimed EndStatus = iota + 1
	// EndBusy: a check-back or another END holds a copy of the
	// transaction; try again once it is reported.
	EndBusy
	// EndAlready: nothing of the transaction is pending: it was committed,
	// rolled back or discarded before. The END changes nothing.
	EndAlready
)

type state uint8

const (
	statePending    state = iota
	stateEnding           // claimed by an END_TRANSACTION
	stateChecking         // claimed by an Action
	stateResolved         // an op record (or its END) says it is done
	stateSuperseded       // a newer copy of its transaction stands for it
)

func (s state) finished() bool { return s >= stateResolved }

type endedKey struct {
	key   Key
	bound int64
}

type entry struct {
	Half
	state state
	known bool // Half is filled in (false: a placeholder an op record made)
}

// Core is the bookkeeping of half and op records and the check-back
// decisions (see the package documentation). It does no I/O, reads no
// clock and is not safe for concurrent use: the driver feeds it under a
// lock.
type Core struct {
	cfg Config

	halfDone int64    // every half offset below is finished
	halfNext int64    // the next half offset to feed
	win      []*entry // win[i] is half offset halfDone+i, up to halfNext
	// ahead holds offsets at or past halfNext that are known before the
	// half queue is read that far: an END names a record that is not
	// dispatched yet, an op record names one, a copy was just written.
	ahead map[int64]*entry
	// keys holds the unfinished entries of each transaction.
	keys map[Key][]*entry
	// ended holds transactions an END resolved, with a half offset every
	// copy of them lies below (the queue's next offset when the END ran):
	// a duplicate the producer's retry stored is finished when it is fed.
	// endedOrder lists them in the order they ended, which is nearly the
	// order of their bounds (the queue only grows): each is forgotten once
	// halfDone passes its bound and every one before it.
	ended      map[Key]int64
	endedOrder []endedKey

	opDone int64   // every op record below refers only to offsets < halfDone
	opNext int64   // the next op offset to feed
	opRefs []int64 // opRefs[i] is the highest half offset op opDone+i names

	unfinished int // entries neither resolved nor superseded
}

// NewCore returns a core that resumes at half offset halfDone and op
// offset opDone (the persisted consume offsets of CID_SYS_RMQ_TRANS).
func NewCore(cfg Config, halfDone, opDone int64) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	halfDone, opDone = max(halfDone, 0), max(opDone, 0)
	return &Core{
		cfg: cfg, halfDone: halfDone, halfNext: halfDone, opDone: opDone, opNext: opDone,
		ahead: map[int64]*entry{}, keys: map[Key][]*entry{}, ended: map[Key]int64{},
	}, nil
}

// Offsets returns the consume offsets to persist: every half offset below
// half and every op offset below op is done with.
func (c *Core) Offsets() (half, op int64) { return c.halfDone, c.opDone }

// Next returns the offsets the half and op queues are to be read from.
func (c *Core) Next() (half, op int64) { return c.halfNext, c.opNext }

// Pending returns how many half records are neither resolved nor
// superseded (claimed ones included).
func (c *Core) Pending() int { return c.unfinished }

// lookup returns the entry of a half offset, nil below halfDone or when
// unknown.
func (c *Core) lookup(off int64) *entry {
	switch {
	case off < c.halfDone:
		return nil
	case off < c.halfNext:
		return c.win[off-c.halfDone]
	default:
		return c.ahead[off]
	}
}

// addKey records an unfinished entry.
func (c *Core) addKey(e *entry) {
	c.keys[e.Key] = append(c.keys[e.Key], e)
	c.unfinished++
}

// finish marks e done for reason s (stateResolved or stateSuperseded).
func (c *Core) finish(e *entry, s state) {
	if e.state.finished() {
		return
	}
	e.state = s
	if !e.known {
		return
	}
	c.unfinished--
	ks := c.keys[e.Key]
	if i := slices.Index(ks, e); i >= 0 {
		ks = slices.Delete(ks, i, i+1)
	}
	if len(ks) == 0 {
		delete(c.keys, e.Key)
	} else {
		c.keys[e.Key] = ks
	}
}

// advance moves halfDone over finished entries and opDone over op records
// that name only offsets below it.
func (c *Core) advance() {
	i := 0
	for i < len(c.win) && c.win[i].state.finished() {
		c.win[i] = nil
		i++
	}
	if i > 0 {
		c.win = c.win[i:]
		c.halfDone += int64(i)
		if cap(c.win) > 64 && len(c.win) < cap(c.win)/4 {
			c.win = slices.Clone(c.win)
		}
		n := 0
		for n < len(c.endedOrder) && c.endedOrder[n].bound <= c.halfDone {
			if e := c.endedOrder[n]; c.ended[e.key] == e.bound {
				delete(c.ended, e.key)
			}
			n++
		}
		c.endedOrder = c.endedOrder[n:]
	}
	j := 0
	for j < len(c.opRefs) && c.opRefs[j] < c.halfDone {
		j++
	}
	if j > 0 {
		c.opRefs = c.opRefs[j:]
		c.opDone += int64(j)
		if cap(c.opRefs) > 64 && len(c.opRefs) < cap(c.opRefs)/4 {
			c.opRefs = slices.Clone(c.opRefs)
		}
	}
}

// FeedOp feeds the op record at op offset off, which names the half
// offsets refs as done (tag "d"; nil for a record that names nothing
// usable). Op records must be fed in order; one below the next offset is
// ignored, a gap (records lost to retention) names nothing.
func (c *Core) FeedOp(off int64, refs []int64) {
	if off < c.opNext {
		return
	}
	for c.opNext < off {
		c.opRefs = append(c.opRefs, -1)
		c.opNext++
	}
	top := int64(-1)
	for _, r := range refs {
		top = max(top, r)
		if r < c.halfDone {
			continue
		}
		if e := c.lookup(r); e != nil {
			c.finish(e, stateResolved)
		} else if r >= c.halfNext {
			c.ahead[r] = &entry{Half: Half{Offset: r}, state: stateResolved}
		}
	}
	c.opRefs = append(c.opRefs, top)
	c.opNext++
	c.advance()
}

// SkipOpsTo records that op offsets below off are gone.
func (c *Core) SkipOpsTo(off int64) {
	if off <= c.opNext {
		return
	}
	c.opRefs = c.opRefs[:0]
	c.opDone, c.opNext = off, off
}

// FeedHalf feeds the half record at h.Offset, read from the half queue.
// Records must be fed in order; one below the next offset is ignored, and
// feeding past a gap skips it (SkipHalfTo). A copy supersedes the older
// pending copies of its transaction: only the newest is ever checked.
func (c *Core) FeedHalf(h Half) {
	if h.Offset < c.halfNext {
		return
	}
	if h.Offset > c.halfNext {
		c.SkipHalfTo(h.Offset)
	}
	c.halfNext++
	if e := c.ahead[h.Offset]; e != nil {
		delete(c.ahead, h.Offset)
		c.win = append(c.win, e)
		switch {
		case !e.known:
			// An op record named it before it was read: its
			// transaction is resolved, older copies included.
			e.Half, e.known = h, true
			c.supersedeOlder(h.Key, h.Offset, stateResolved)
		case e.state == stateResolved:
			c.supersedeOlder(h.Key, h.Offset, stateResolved)
		default:
			// Known early (an END named it, a check wrote it): it
			// stands for the older copies read before it.
			c.supersedeOlder(h.Key, h.Offset, stateSuperseded)
		}
		c.advance()
		return
	}
	e := &entry{Half: h, known: true}
	c.win = append(c.win, e)
	c.addKey(e)
	if bound, ok := c.ended[h.Key]; ok && h.Offset < bound {
		// A copy of a transaction an END resolved (a producer's retry
		// stored it twice).
		c.finish(e, stateResolved)
	} else {
		c.supersedeOlder(h.Key, h.Offset, stateSuperseded)
	}
	c.advance()
}

// supersedeOlder finishes the pending copies of k below off.
func (c *Core) supersedeOlder(k Key, off int64, s state) {
	for _, o := range slices.Clone(c.keys[k]) {
		if o.state == statePending && o.Offset < off {
			c.finish(o, s)
		}
	}
}

// FeedBroken records that the half record at off cannot be read (it does
// not decode): it is finished, with nothing to check.
func (c *Core) FeedBroken(off int64) {
	if off < c.halfNext {
		return
	}
	if off > c.halfNext {
		c.SkipHalfTo(off)
	}
	c.halfNext++
	e := c.ahead[off]
	delete(c.ahead, off)
	if e == nil {
		e = &entry{Half: Half{Offset: off}}
	}
	c.finish(e, stateResolved)
	c.win = append(c.win, e)
	c.advance()
}

// SkipHalfTo records that half offsets below off are gone (retention
// deleted them): whatever was pending there can no longer be checked. It
// returns how many unfinished records were given up.
func (c *Core) SkipHalfTo(off int64) int {
	if off <= c.halfNext {
		return 0
	}
	lost := 0
	for _, e := range c.win {
		if !e.state.finished() {
			lost++
			c.finish(e, stateResolved)
		}
	}
	for o, e := range c.ahead {
		if o < off {
			if !e.state.finished() {
				lost++
				c.finish(e, stateResolved)
			}
			delete(c.ahead, o)
		}
	}
	clear(c.win)
	c.win = c.win[:0]
	c.halfDone, c.halfNext = off, off
	c.advance()
	return lost
}

// BeginEnd claims the transaction of half record h for an
// END_TRANSACTION that names it. bound is the half queue's next offset
// now (every copy the producer could have stored lies below it). It
// returns the offsets whose outcome the END writes: every pending copy of
// the transaction, h itself when it is pending (h may not have been read
// from the queue yet).
func (c *Core) BeginEnd(h Half, bound int64) ([]int64, EndStatus) {
	e := c.lookup(h.Offset)
	if e == nil && h.Offset >= c.halfNext {
		e = &entry{Half: h, known: true}
		c.ahead[h.Offset] = e
		c.addKey(e)
		if b, ok := c.ended[h.Key]; ok && h.Offset < b {
			c.finish(e, stateResolved)
		}
	}
	if e != nil && e.state == stateResolved {
		return nil, EndAlready // this very record was ended or discarded
	}
	var claim []int64
	for _, o := range c.keys[h.Key] {
		switch o.state {
		case stateEnding, stateChecking:
			return nil, EndBusy
		case statePending:
			claim = append(claim, o.Offset)
		}
	}
	if len(claim) == 0 {
		return nil, EndAlready
	}
	for _, o := range c.keys[h.Key] {
		o.state = stateEnding
	}
	slices.Sort(claim)
	return claim, EndClaimed
}

// EndDone reports the END that claimed offsets of transaction k: ok if its
// outcome is stored (the committed message and the op record), and
// bound as given to BeginEnd. On failure the offsets are pending again.
func (c *Core) EndDone(k Key, claim []int64, ok bool, bound int64) {
	for _, off := range claim {
		e := c.lookup(off)
		if e == nil || e.state != stateEnding {
			continue
		}
		if ok {
			c.finish(e, stateResolved)
		} else {
			e.state = statePending
		}
	}
	if ok {
		if bound > c.ended[k] {
			c.ended[k] = bound
			c.endedOrder = append(c.endedOrder, endedKey{k, bound})
		}
		for _, o := range slices.Clone(c.keys[k]) {
			if o.state == statePending && o.Offset < bound {
				c.finish(o, stateResolved)
			}
		}
	}
	c.advance()
}

// Tick decides, at time now (ms), what to do with each pending half
// record that has been read: discard it (checked CheckMax times, or older
// than MaxAge), check it (older than its immunity or transactionTimeOut),
// renew it (in its immunity, and at the head of the queue for RenewAfter),
// or wait. Each returned record is claimed until CheckDone or DiscardDone.
func (c *Core) Tick(now int64) []Action {
	var out []Action
	for _, e := range c.win {
		if e.state != statePending {
			continue
		}
		age := now - e.Born
		a := Action{Half: e.Half}
		switch {
		case e.CheckTimes >= c.cfg.CheckMax:
			a.Kind = Discard
		case c.cfg.MaxAge > 0 && age > c.cfg.MaxAge:
			a.Kind, a.TooOld = Discard, true
		case c.due(e, age):
			a.Kind = Check
		case e.Immunity > 0 && now-e.Stored >= c.cfg.RenewAfter:
			a.Kind = Renew
		default:
			continue
		}
		e.state = stateChecking
		out = append(out, a)
	}
	return out
}

// due reports whether a record of this age waits for its producer's
// answer no longer. A birth in the future (the producer's clock is ahead)
// counts as due, as in RocketMQ.
func (c *Core) due(e *entry, age int64) bool {
	threshold := c.cfg.Timeout
	if e.Immunity > 0 {
		threshold = e.Immunity
	}
	return age >= threshold || age < 0
}

// CheckDone reports a Check or Renew action on the record at off: cp is
// the copy written to the half queue, nil if the copy could not be
// written (the record is pending again).
func (c *Core) CheckDone(off int64, cp *Half) {
	e := c.lookup(off)
	if e == nil {
		return
	}
	next := statePending
	switch {
	case e.state == stateChecking && cp == nil:
		e.state = statePending
		return
	case e.state == stateChecking:
		c.finish(e, stateSuperseded)
	case e.state == stateResolved && cp != nil:
		// An op record resolved the transaction meanwhile: so is the copy.
		next = stateResolved
	default:
		return
	}
	n := c.lookup(cp.Offset)
	if n == nil && cp.Offset >= c.halfNext {
		n = &entry{Half: *cp, known: true}
		c.ahead[cp.Offset] = n
		c.addKey(n)
	}
	if n != nil && next == stateResolved {
		c.finish(n, stateResolved)
	}
	c.advance()
}

// DiscardDone reports a Discard action on the record at off: ok if it was
// moved, else it is pending again.
func (c *Core) DiscardDone(off int64, ok bool) {
	e := c.lookup(off)
	if e == nil || e.state != stateChecking {
		return
	}
	if !ok {
		e.state = statePending
		return
	}
	c.finish(e, stateResolved)
	c.advance()
}
