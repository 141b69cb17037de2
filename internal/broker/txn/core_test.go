package txn

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var testConfig = Config{Timeout: 6000, CheckMax: 3, RenewAfter: 30_000, MaxAge: 72 * 3600_000}

func newTestCore(t testing.TB, half, op int64) *Core {
	t.Helper()
	c, err := NewCore(testConfig, half, op)
	require.NoError(t, err)
	return c
}

func key(id string) Key { return Key{Group: "pg", ID: id} }

// h is a half record of transaction id at off, born and stored at born.
func h(off int64, id string, born int64) Half {
	return Half{Offset: off, CommitLogOffset: 1000 + off, Key: key(id), Born: born, Stored: born}
}

func kinds(acts []Action) map[int64]ActionKind {
	out := map[int64]ActionKind{}
	for _, a := range acts {
		out[a.Half.Offset] = a.Kind
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, testConfig.Validate())
	for _, c := range []Config{
		{CheckMax: 1, RenewAfter: 1},
		{Timeout: 1, RenewAfter: 1},
		{Timeout: 1, CheckMax: 1},
		{Timeout: 1, CheckMax: 1, RenewAfter: 1, MaxAge: -1},
	} {
		require.ErrorIs(t, c.Validate(), ErrConfig, "%+v", c)
	}
}

// TestTickDecisions: what one pending half record gets at a tick, by age,
// immunity, check count and retention.
func TestTickDecisions(t *testing.T) {
	const now = 10_000_000
	for _, tc := range []struct {
		name string
		half Half // Offset 0
		want ActionKind
		old  bool
	}{
		{name: "young", half: Half{Born: now - 5999, Stored: now - 5999}},
		{name: "timeout reached", half: Half{Born: now - 6000, Stored: now - 6000}, want: Check},
		{name: "long past timeout", half: Half{Born: now - 60_000, Stored: now - 60_000}, want: Check},
		{name: "born in the future", half: Half{Born: now + 5000, Stored: now}, want: Check},
		{name: "checked max times, young copy", half: Half{Born: now - 60_000, Stored: now, CheckTimes: 3}, want: Discard},
		{name: "checked max times, even if newborn", half: Half{Born: now, Stored: now, CheckTimes: 3}, want: Discard},
		{name: "one check left", half: Half{Born: now - 60_000, Stored: now - 1000, CheckTimes: 2}, want: Check},
		{name: "a copy is due by its birth", half: Half{Born: now - 7000, Stored: now - 10, CheckTimes: 1}, want: Check},
		{name: "immunity holds past timeout", half: Half{Born: now - 7000, Stored: now - 7000, Immunity: 10_000}},
		{name: "immunity over", half: Half{Born: now - 10_000, Stored: now - 10_000, Immunity: 10_000}, want: Check},
		{name: "immunity shorter than timeout", half: Half{Born: now - 2000, Stored: now - 2000, Immunity: 1000}, want: Check},
		{name: "immune at the head too long: renewed", half: Half{Born: now - 40_000, Stored: now - 30_000, Immunity: 3600_000}, want: Renew},
		{name: "immune, renewed lately", half: Half{Born: now - 40_000, Stored: now - 29_999, Immunity: 3600_000}},
		{name: "beyond retention", half: Half{Born: now - 73*3600_000, Stored: now, Immunity: 100 * 3600_000}, want: Discard, old: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCore(t, 0, 0)
			hf := tc.half
			hf.Key = key("a")
			c.FeedHalf(hf)
			acts := c.Tick(now)
			if tc.want == 0 {
				require.Empty(t, acts)
				return
			}
			require.Len(t, acts, 1)
			require.Equal(t, tc.want, acts[0].Kind)
			require.Equal(t, tc.old, acts[0].TooOld)
			require.Empty(t, c.Tick(now+1e9), "a claimed record is not decided twice")
		})
	}
}

// TestOpRecordsResolve: half offsets named by op records are never
// checked, whether the op record comes before or after the half record.
func TestOpRecordsResolve(t *testing.T) {
	c := newTestCore(t, 0, 0)
	for i := range int64(3) {
		c.FeedHalf(h(i, fmt.Sprint(i), 0))
	}
	c.FeedOp(0, []int64{1})
	c.FeedOp(1, []int64{4}) // before half 4 is read
	for i := int64(3); i < 6; i++ {
		c.FeedHalf(h(i, fmt.Sprint(i), 0))
	}
	require.Equal(t, map[int64]ActionKind{0: Check, 2: Check, 3: Check, 5: Check}, kinds(c.Tick(1e6)))
	require.Equal(t, 4, c.Pending())
}

// TestOffsetsAdvance: the half offset moves over finished records only;
// the op offset over op records that name only offsets below it.
func TestOffsetsAdvance(t *testing.T) {
	c := newTestCore(t, 10, 100)
	for i := int64(10); i < 14; i++ {
		c.FeedHalf(h(i, fmt.Sprint(i), 0))
	}
	c.FeedOp(100, []int64{11})
	c.FeedOp(101, []int64{10})
	half, op := c.Offsets()
	require.Equal(t, int64(12), half)
	require.Equal(t, int64(102), op)

	c.FeedOp(102, []int64{13}) // 12 is still pending
	half, op = c.Offsets()
	require.Equal(t, int64(12), half)
	require.Equal(t, int64(102), op, "op 102 names 13, not below 12")

	c.FeedOp(103, nil) // names nothing, but stays behind op 102
	c.FeedOp(104, []int64{12})
	half, op = c.Offsets()
	require.Equal(t, int64(14), half)
	require.Equal(t, int64(105), op)
	hn, on := c.Next()
	require.Equal(t, int64(14), hn)
	require.Equal(t, int64(105), on)

	// Old records are ignored.
	c.FeedHalf(h(3, "old", 0))
	c.FeedOp(50, []int64{1})
	require.Equal(t, 0, c.Pending())
}

// TestCheckWritesCopy: a check-back supersedes the record by its copy,
// which is checked again (counted) a round later and discarded after
// CheckMax rounds.
func TestCheckWritesCopy(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	now := int64(10_000)
	off := int64(0)
	for round := int32(0); round < testConfig.CheckMax; round++ {
		acts := c.Tick(now)
		require.Len(t, acts, 1)
		require.Equal(t, Check, acts[0].Kind)
		require.Equal(t, off, acts[0].Half.Offset)
		cp := acts[0].Half
		cp.Offset, cp.CheckTimes, cp.Stored = off+1, round+1, now
		c.CheckDone(off, &cp)
		half, _ := c.Offsets()
		require.Equal(t, off+1, half, "the checked record is done with")
		require.Empty(t, c.Tick(now), "the copy is not read yet")
		c.FeedHalf(cp)
		off++
		now += 30_000
	}
	acts := c.Tick(now)
	require.Len(t, acts, 1)
	require.Equal(t, Discard, acts[0].Kind)
	c.DiscardDone(off, true)
	require.Equal(t, 0, c.Pending())
	half, _ := c.Offsets()
	require.Equal(t, off+1, half)
}

// TestFailedActionsRetry: an action that could not be carried out leaves
// the record pending for the next round.
func TestFailedActionsRetry(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	c.FeedHalf(Half{Offset: 1, Key: key("b"), CheckTimes: 3})
	require.Equal(t, map[int64]ActionKind{0: Check, 1: Discard}, kinds(c.Tick(10_000)))
	c.CheckDone(0, nil)
	c.DiscardDone(1, false)
	require.Equal(t, map[int64]ActionKind{0: Check, 1: Discard}, kinds(c.Tick(10_000)))
}

// TestEndLifecycle: an END may name a record not read yet; once it is
// done, the record is not checked and a second END changes nothing.
func TestEndLifecycle(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	claim, st := c.BeginEnd(h(1, "b", 0), 2) // not read yet
	require.Equal(t, EndClaimed, st)
	require.Equal(t, []int64{1}, claim)
	c.FeedHalf(h(1, "b", 0))
	require.Equal(t, map[int64]ActionKind{0: Check}, kinds(c.Tick(10_000)), "an END in progress is not checked")

	_, st = c.BeginEnd(h(1, "b", 0), 2)
	require.Equal(t, EndBusy, st, "a duplicate END waits for the first")
	c.EndDone(key("b"), claim, true, 2)
	_, st = c.BeginEnd(h(1, "b", 0), 2)
	require.Equal(t, EndAlready, st)
	require.Equal(t, 1, c.Pending())

	// An END that failed to store leaves the transaction pending.
	c.CheckDone(0, nil)
	claim, st = c.BeginEnd(h(0, "a", 0), 2)
	require.Equal(t, EndClaimed, st)
	c.EndDone(key("a"), claim, false, 2)
	require.Equal(t, map[int64]ActionKind{0: Check}, kinds(c.Tick(10_000)))
}

// TestEndDuringCheck: an END that arrives while a check-back copies the
// record waits, and then resolves the transaction through its copy, even
// though it names the record the copy superseded.
func TestEndDuringCheck(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	require.Len(t, c.Tick(10_000), 1)
	_, st := c.BeginEnd(h(0, "a", 0), 1)
	require.Equal(t, EndBusy, st)
	cp := h(1, "a", 0)
	cp.CheckTimes = 1
	c.CheckDone(0, &cp)
	claim, st := c.BeginEnd(h(0, "a", 0), 2)
	require.Equal(t, EndClaimed, st)
	require.Equal(t, []int64{1}, claim, "the op record names the copy")
	c.EndDone(key("a"), claim, true, 2)
	c.FeedHalf(cp)
	require.Empty(t, c.Tick(1e9))
	require.Equal(t, 0, c.Pending())
	half, _ := c.Offsets()
	require.Equal(t, int64(2), half)
}

// TestProducerRetryDuplicates: two half records of one transaction (a
// send retried after a timeout) are one transaction: the newer supersedes
// the older, an END resolves both, and a duplicate read after the END is
// resolved as it is read.
func TestProducerRetryDuplicates(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	c.FeedHalf(h(1, "a", 0))
	require.Equal(t, map[int64]ActionKind{1: Check}, kinds(c.Tick(10_000)), "only the newest copy is checked")
	c.CheckDone(1, nil)

	// Both pending (restart: the older one is fed after an END claimed the
	// newer one ahead of the queue).
	c2 := newTestCore(t, 0, 0)
	claim, st := c2.BeginEnd(h(1, "b", 0), 2)
	require.Equal(t, EndClaimed, st)
	c2.FeedHalf(h(0, "b", 0))
	c2.FeedHalf(h(1, "b", 0))
	c2.EndDone(key("b"), claim, true, 2)
	require.Equal(t, 0, c2.Pending(), "the duplicate fed meanwhile is resolved with it")

	// The duplicate is read after the END.
	c3 := newTestCore(t, 0, 0)
	claim, st = c3.BeginEnd(h(0, "c", 0), 2)
	require.Equal(t, EndClaimed, st)
	c3.EndDone(key("c"), claim, true, 2)
	c3.FeedHalf(h(0, "c", 0))
	c3.FeedHalf(h(1, "c", 0))
	require.Equal(t, 0, c3.Pending())
	_, st = c3.BeginEnd(h(1, "c", 0), 2)
	require.Equal(t, EndAlready, st)
}

// TestRestartFromOps: a new core fed the op records from the persisted op
// offset and the half records from the persisted half offset knows
// exactly what is pending, with its check count.
func TestRestartFromOps(t *testing.T) {
	// Half queue: 0 a, 1 b, 2 c, 3 a' (copy of a, checked once), 4 d.
	// Op queue: 0 names 1 (b ended), 1 names 4 (d ended).
	halves := []Half{h(0, "a", 0), h(1, "b", 0), h(2, "c", 0), h(3, "a", 0), h(4, "d", 0)}
	halves[3].CheckTimes = 1
	ops := [][]int64{{1}, {4}}
	c := newTestCore(t, 0, 0)
	for i, o := range ops {
		c.FeedOp(int64(i), o)
	}
	for _, x := range halves {
		c.FeedHalf(x)
	}
	require.Equal(t, 2, c.Pending())
	acts := c.Tick(1e6)
	require.Equal(t, map[int64]ActionKind{2: Check, 3: Check}, kinds(acts))
	for _, a := range acts {
		if a.Half.Offset == 3 {
			require.Equal(t, int32(1), a.Half.CheckTimes)
		}
	}
	half, op := c.Offsets()
	require.Equal(t, int64(2), half)
	require.Equal(t, int64(1), op)
}

// TestSkipAndBroken: records lost to retention and unreadable records are
// finished; what was pending below the loss is counted.
func TestSkipAndBroken(t *testing.T) {
	c := newTestCore(t, 0, 0)
	c.FeedHalf(h(0, "a", 0))
	c.FeedBroken(1)
	c.FeedHalf(h(5, "b", 0)) // 2..4 gone: a is given up with them
	require.Equal(t, 1, c.Pending())
	half, _ := c.Offsets()
	require.Equal(t, int64(5), half)
	require.Equal(t, 0, c.SkipHalfTo(3), "nothing below what was read")
	c.SkipOpsTo(40)
	_, op := c.Offsets()
	require.Equal(t, int64(40), op)
}

// TestCoreModel drives a core with random sends, retries, ENDs, ticks and
// restarts against a model of what producers and the broker's log do, and
// checks the invariants: every transaction is resolved at most once, never
// after a rollback or discard it is committed, and a core rebuilt from
// any persisted pair of offsets knows exactly the pending transactions.
func TestCoreModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m := newModel(rt)
		n := rapid.IntRange(1, 120).Draw(rt, "steps")
		for range n {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1:
				m.send()
			case 2:
				m.retry()
			case 3, 4:
				m.end()
			case 5:
				m.scan()
				m.check()
			case 6:
				m.tick()
			case 7:
				m.persist()
			case 8:
				m.restart()
			case 9:
				m.now += rapid.Int64Range(0, 20_000).Draw(rt, "dt")
			}
		}
		m.scan()
		m.check()
	})
}

type model struct {
	t    *rapid.T
	core *Core
	now  int64

	halves []Half    // the half queue
	ops    [][]int64 // the op queue
	ids    int

	lastSent map[Key]int64 // the producer's latest send result per transaction
	ended    map[Key]int   // ENDs stored per transaction
	gone     map[Key]bool  // rolled back, committed or discarded: must not be pending
	endedAt  map[Key]int64 // op offset count when resolved

	saved [][2]int64 // persisted (half, op) pairs, in order
}

func newModel(t *rapid.T) *model {
	m := &model{t: t, lastSent: map[Key]int64{}, ended: map[Key]int{}, gone: map[Key]bool{}, endedAt: map[Key]int64{}}
	m.core, _ = NewCore(testConfig, 0, 0)
	m.saved = [][2]int64{{0, 0}}
	return m
}

func (m *model) append(x Half) Half {
	x.Offset = int64(len(m.halves))
	x.CommitLogOffset = 1000 + x.Offset
	x.Stored = m.now
	m.halves = append(m.halves, x)
	return x
}

func (m *model) send() {
	m.ids++
	k := key(fmt.Sprint(m.ids))
	var immunity int64
	if rapid.Bool().Draw(m.t, "immune") {
		immunity = rapid.Int64Range(1, 90_000).Draw(m.t, "immunity")
	}
	x := m.append(Half{Key: k, Born: m.now, Immunity: immunity})
	m.lastSent[k] = x.Offset
}

// retry stores a transaction's half message again, as a producer whose
// send timed out does, before it ends the transaction.
func (m *model) retry() {
	k, ok := m.pickOpen()
	if !ok || m.ended[k] > 0 || m.gone[k] {
		return
	}
	x := m.halves[m.lastSent[k]]
	x = m.append(Half{Key: k, Born: x.Born, Immunity: x.Immunity})
	m.lastSent[k] = x.Offset
}

func (m *model) pickOpen() (Key, bool) {
	if len(m.lastSent) == 0 {
		return Key{}, false
	}
	keys := make([]Key, 0, len(m.lastSent))
	for k := range m.lastSent {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int { return len(a.ID) - len(b.ID) + 10*cmpStr(a.ID, b.ID) })
	return rapid.SampledFrom(keys).Draw(m.t, "key"), true
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// end sends an END naming what a producer would name: its send result or
// the copy the latest check-back asked about.
func (m *model) end() {
	k, ok := m.pickOpen()
	if !ok {
		return
	}
	x := m.halves[m.lastSent[k]]
	claim, st := m.core.BeginEnd(x, int64(len(m.halves)))
	switch st {
	case EndBusy, EndAlready:
		return
	}
	if rapid.IntRange(0, 5).Draw(m.t, "endFails") == 0 {
		m.core.EndDone(k, claim, false, int64(len(m.halves)))
		return
	}
	require.False(m.t, m.gone[k], "transaction %v ended after it was resolved", k)
	m.ops = append(m.ops, claim)
	m.core.EndDone(k, claim, true, int64(len(m.halves)))
	m.ended[k]++
	m.gone[k] = true
	require.Equal(m.t, 1, m.ended[k])
}

func (m *model) scan() {
	_, opNext := m.core.Next()
	for i := opNext; i < int64(len(m.ops)); i++ {
		m.core.FeedOp(i, m.ops[i])
	}
	halfNext, _ := m.core.Next()
	for i := halfNext; i < int64(len(m.halves)); i++ {
		m.core.FeedHalf(m.halves[i])
	}
}

func (m *model) tick() {
	m.scan()
	for _, a := range m.core.Tick(m.now) {
		switch a.Kind {
		case Check, Renew:
			if rapid.IntRange(0, 5).Draw(m.t, "checkFails") == 0 {
				m.core.CheckDone(a.Half.Offset, nil)
				continue
			}
			cp := a.Half
			if a.Kind == Check {
				cp.CheckTimes++
			}
			cp = m.append(cp)
			m.core.CheckDone(a.Half.Offset, &cp)
			if a.Kind == Check {
				m.lastSent[cp.Key] = cp.Offset // the producer answers about the copy
			}
		case Discard:
			require.False(m.t, m.gone[a.Half.Key], "discarding a resolved transaction")
			m.ops = append(m.ops, []int64{a.Half.Offset})
			m.core.DiscardDone(a.Half.Offset, true)
			m.gone[a.Half.Key] = true
		}
	}
}

// persist saves the offsets as the service does: the half offset, then
// the op offset. A crash may keep the new half offset with an older op
// offset.
func (m *model) persist() {
	half, op := m.core.Offsets()
	m.saved = append(m.saved, [2]int64{half, op})
}

// restart rebuilds the core from a persisted half offset and an op
// offset saved no later.
func (m *model) restart() {
	i := rapid.IntRange(0, len(m.saved)-1).Draw(m.t, "halfSave")
	j := rapid.IntRange(0, i).Draw(m.t, "opSave")
	// Whatever was claimed is lost with the process: ENDs in flight never
	// answered, checks never written.
	c, err := NewCore(testConfig, m.saved[i][0], m.saved[j][1])
	require.NoError(m.t, err)
	m.core = c
	m.saved = m.saved[:i+1]
	m.scan()
	m.check()
}

// check, after a full scan: the pending transactions are exactly those
// neither ended nor discarded.
func (m *model) check() {
	pending := map[Key]bool{}
	for _, ks := range m.core.keys {
		for _, e := range ks {
			if !e.state.finished() {
				pending[e.Key] = true
			}
		}
	}
	for k := range m.lastSent {
		require.Equal(m.t, !m.gone[k], pending[k], "transaction %v", k)
	}
	n := 0
	for _, ks := range m.core.keys {
		n += len(ks)
	}
	require.Equal(m.t, n, m.core.Pending())
}
