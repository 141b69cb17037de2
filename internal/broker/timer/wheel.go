package timer

import "container/heap"

// wheel is the slot table and its placement rules (package comment,
// "Wheel"): the pure core. It knows no clock and no file; positions are
// opaque log positions.
type wheel struct {
	precision int64  // ms per slot
	window    int64  // N: slots an entry may be placed ahead of base
	heads     []head // 2N, slot s at s mod 2N
	base      int64  // next slot to read; base-1 is being delivered
}

// head is a slot's newest entry (position + 1, so that the zero value is
// empty) and its entry count.
type head struct {
	last  int64
	count int32
}

func newWheel(precision, window, base int64) *wheel {
	return &wheel{precision: precision, window: window, heads: make([]head, 2*window), base: base}
}

// slotOf returns the slot holding time ms (floor division).
func (w *wheel) slotOf(ms int64) int64 {
	s := ms / w.precision
	if ms%w.precision != 0 && ms < 0 {
		s--
	}
	return s
}

// start returns the first ms of slot s.
func (w *wheel) start(s int64) int64 { return s * w.precision }

func (w *wheel) index(s int64) int {
	n := int64(len(w.heads))
	return int(((s % n) + n) % n)
}

// cur is the slot being delivered.
func (w *wheel) cur() int64 { return w.base - 1 }

// placement says where an entry due at deliverMs is linked.
type placement struct {
	slot int64
	late bool // due in a slot already read: deliver from memory now
	roll bool // beyond the window: linked into its last slot, placed again there
}

// place decides the slot of an entry due at deliverMs.
func (w *wheel) place(deliverMs int64) placement {
	s := w.slotOf(deliverMs)
	switch {
	case s < w.base:
		return placement{slot: w.cur(), late: true}
	case s < w.base+w.window-1:
		return placement{slot: s}
	default:
		return placement{slot: w.base + w.window - 2, roll: true}
	}
}

// live reports whether slot s may hold entries not yet delivered: it lies
// in cur..cur+2N-1 (the rebuild after a restart relies on this range).
func (w *wheel) live(s int64) bool {
	return s >= w.cur() && s < w.cur()+int64(len(w.heads))
}

// last returns the position of slot s's newest entry, -1 if none.
func (w *wheel) last(s int64) int64 { return w.heads[w.index(s)].last - 1 }

// count returns slot s's number of entries.
func (w *wheel) count(s int64) int32 { return w.heads[w.index(s)].count }

// link makes the entry at pos slot s's newest.
func (w *wheel) link(s, pos int64) {
	h := &w.heads[w.index(s)]
	h.last = pos + 1
	h.count++
}

// readable reports whether slot base may be read at time nowMs.
func (w *wheel) readable(nowMs int64) bool { return nowMs >= w.start(w.base) }

// advance retires cur, makes base the slot being delivered and returns it
// with its newest entry (-1 if empty). The head of the new cur is kept:
// late entries are linked after its chain.
func (w *wheel) advance() (slot, last int64) {
	w.heads[w.index(w.cur())] = head{}
	slot = w.base
	w.base++
	return slot, w.last(slot)
}

// rolled reports whether an entry due at deliverMs linked into slot s was
// rolled there (it is due after the slot).
func (w *wheel) rolled(s, deliverMs int64) bool { return w.slotOf(deliverMs) > s }

// due is an entry waiting in memory for its time.
type due struct {
	deliverMs int64
	offset    int64 // commit-log offset of the timer message
	size      int32
}

// holdQueue orders the entries of the slot being delivered by time (a
// min-heap; ties by commit-log offset, so delivery order is stable).
type holdQueue []due

func (h holdQueue) Len() int { return len(h) }
func (h holdQueue) Less(i, j int) bool {
	if h[i].deliverMs != h[j].deliverMs {
		return h[i].deliverMs < h[j].deliverMs
	}
	return h[i].offset < h[j].offset
}
func (h holdQueue) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *holdQueue) Push(x any)   { *h = append(*h, x.(due)) }
func (h *holdQueue) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}

func (h *holdQueue) add(d due) { heap.Push(h, d) }

// next returns the earliest entry's time; ok is false when empty.
func (h holdQueue) next() (int64, bool) {
	if len(h) == 0 {
		return 0, false
	}
	return h[0].deliverMs, true
}

// popDue removes and returns up to max entries due at or before nowMs,
// earliest first.
func (h *holdQueue) popDue(nowMs int64, max int, out []due) []due {
	for len(*h) > 0 && (*h)[0].deliverMs <= nowMs && len(out) < max {
		out = append(out, heap.Pop(h).(due))
	}
	if len(*h) == 0 && cap(*h) > 1<<16 {
		*h = nil // a huge slot is over: give its memory back
	}
	return out
}
