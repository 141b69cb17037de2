package timer

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestSlotOf(t *testing.T) {
	w := newWheel(1000, 10, 0)
	for ms, want := range map[int64]int64{0: 0, 999: 0, 1000: 1, 1999: 1, -1: -1, -1000: -1, -1001: -2} {
		require.Equal(t, want, w.slotOf(ms), "ms %d", ms)
	}
	require.Equal(t, int64(5000), w.start(5))
	for _, s := range []int64{-21, -1, 0, 19, 20, 1 << 40} {
		i := w.index(s)
		require.True(t, i >= 0 && i < 20, "index of %d is %d", s, i)
	}
}

func TestPlace(t *testing.T) {
	w := newWheel(1000, 10, 100) // base 100: cur 99, own slots 100..108, roll slot 108
	require.Equal(t, placement{slot: 99, late: true}, w.place(99_999))
	require.Equal(t, placement{slot: 99, late: true}, w.place(5))
	require.Equal(t, placement{slot: 100}, w.place(100_000))
	require.Equal(t, placement{slot: 108}, w.place(108_999))
	require.Equal(t, placement{slot: 108, roll: true}, w.place(109_000))
	require.Equal(t, placement{slot: 108, roll: true}, w.place(1e12))
	require.False(t, w.rolled(108, 108_999))
	require.True(t, w.rolled(108, 109_000))
	require.True(t, w.readable(100_000))
	require.False(t, w.readable(99_999))
}

func TestAdvanceKeepsTheNewSlotAndClearsTheOld(t *testing.T) {
	w := newWheel(1000, 4, 10)
	w.link(9, 40) // a late entry of cur
	w.link(10, 0)
	w.link(10, 80)
	require.Equal(t, int64(80), w.last(10))
	require.Equal(t, int32(2), w.count(10))
	slot, last := w.advance()
	require.Equal(t, int64(10), slot)
	require.Equal(t, int64(80), last)
	require.Equal(t, int64(-1), w.last(9), "the old slot is retired")
	require.Equal(t, int64(80), w.last(10), "the slot being delivered keeps its chain for late entries")
	slot, last = w.advance()
	require.Equal(t, int64(11), slot)
	require.Equal(t, int64(-1), last)
	require.Equal(t, int64(-1), w.last(10))
}

func TestHoldQueueOrdersByTime(t *testing.T) {
	var h holdQueue
	for _, d := range []due{{5, 3, 1}, {1, 9, 1}, {5, 1, 1}, {3, 0, 1}} {
		h.add(d)
	}
	next, ok := h.next()
	require.True(t, ok)
	require.Equal(t, int64(1), next)
	got := h.popDue(4, 10, nil)
	require.Equal(t, []due{{1, 9, 1}, {3, 0, 1}}, got)
	got = h.popDue(5, 1, nil)
	require.Equal(t, []due{{5, 1, 1}}, got, "ties by offset, at most max")
	got = h.popDue(100, 10, got[:0])
	require.Equal(t, []due{{5, 3, 1}}, got)
	_, ok = h.next()
	require.False(t, ok)
}

// simulation runs the wheel's placement and reading rules over an
// in-memory log, as the service does, without a clock: time is the slot
// being read.
type simulation struct {
	w         *wheel
	log       []entry
	delivered map[int64]int64 // id (offset) -> slot read when it was held
}

func (sim *simulation) place(d due) {
	p := sim.w.place(d.deliverMs)
	pos := int64(len(sim.log))
	sim.log = append(sim.log, entry{slot: p.slot, prev: sim.w.last(p.slot), deliverMs: d.deliverMs, offset: d.offset, size: 1})
	sim.w.link(p.slot, pos)
	if p.late {
		sim.hold(d, sim.w.cur())
	}
}

func (sim *simulation) hold(d due, at int64) {
	if _, dup := sim.delivered[d.offset]; dup {
		panic("delivered twice")
	}
	sim.delivered[d.offset] = at
}

func (sim *simulation) read() {
	slot, pos := sim.w.advance()
	var chain []entry
	for pos >= 0 {
		e := sim.log[pos]
		if e.slot != slot {
			panic("chain crosses slots")
		}
		chain = append(chain, e)
		pos = e.prev
	}
	slices.Reverse(chain)
	for _, e := range chain {
		d := due{deliverMs: e.deliverMs, offset: e.offset, size: e.size}
		if sim.w.rolled(slot, e.deliverMs) {
			sim.place(d)
		} else {
			sim.hold(d, slot)
		}
	}
}

// TestWheelDeliversEveryEntryOnceInItsSlot: whatever the mix of times
// (late, in the window, far beyond it) and of reads, every entry is taken
// exactly once, in the slot of its time, or — if its time had passed when
// it arrived — at once; never in an earlier slot.
func TestWheelDeliversEveryEntryOnceInItsSlot(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		precision := rapid.Int64Range(1, 1000).Draw(t, "precision")
		window := rapid.Int64Range(2, 12).Draw(t, "window")
		base := rapid.Int64Range(-50, 50).Draw(t, "base")
		sim := &simulation{w: newWheel(precision, window, base), delivered: map[int64]int64{}}
		sim.read()                    // Open reads the first slot
		arrivals := map[int64]int64{} // id -> cur when it arrived
		times := map[int64]int64{}
		var id int64
		steps := rapid.IntRange(1, 300).Draw(t, "steps")
		for range steps {
			if rapid.Bool().Draw(t, "advance") {
				sim.read()
				continue
			}
			ahead := rapid.Int64Range(-3*precision, 6*window*precision).Draw(t, "ahead")
			at := sim.w.start(sim.w.base) + ahead
			arrivals[id], times[id] = sim.w.cur(), at
			sim.place(due{deliverMs: at, offset: id})
			id++
		}
		last := sim.w.slotOf(sim.w.start(sim.w.base) + 6*window*precision)
		for sim.w.cur() <= last+1 {
			sim.read()
		}
		require.Len(t, sim.delivered, int(id))
		for i := range id {
			at, want := sim.delivered[i], sim.w.slotOf(times[i])
			if want <= arrivals[i] {
				require.Equal(t, arrivals[i], at, "late entry %d held at once", i)
			} else {
				require.Equal(t, want, at, "entry %d due in slot %d held in slot %d", i, want, at)
			}
		}
	})
}
