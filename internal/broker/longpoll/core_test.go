package longpoll

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tagMatcher accepts a set of tag codes and, when want is set, only
// properties containing it.
type tagMatcher struct {
	codes []int64
	want  string
}

func (m tagMatcher) MatchTagsCode(c int64) bool {
	return len(m.codes) == 0 || slices.Contains(m.codes, c)
}

func (m tagMatcher) MatchProperties(p []byte) bool {
	return m.want == "" || bytes.Contains(p, []byte(m.want))
}

var t0 = time.Unix(1_700_000_000, 0)

type hold struct {
	name   string
	key    Key
	offset int64
	after  time.Duration
	m      Matcher
}

func holdAll(c *Core[string], hs []hold) map[string]Ticket[string] {
	ts := map[string]Ticket[string]{}
	for _, h := range hs {
		ts[h.name] = c.Hold(h.key, h.offset, t0.Add(h.after), h.m, h.name)
	}
	return ts
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

var (
	qa0 = Key{Topic: "a", QueueID: 0}
	qa1 = Key{Topic: "a", QueueID: 1}
	qb0 = Key{Topic: "b", QueueID: 0}
)

func TestCoreArrive(t *testing.T) {
	holds := []hold{
		{name: "all@5", key: qa0, offset: 5, after: 20 * time.Second},
		{name: "all@7", key: qa0, offset: 7, after: 20 * time.Second},
		{name: "tagX@5", key: qa0, offset: 5, after: 20 * time.Second, m: tagMatcher{codes: []int64{88}}},
		{name: "sql@5", key: qa0, offset: 5, after: 20 * time.Second, m: tagMatcher{want: "region=eu"}},
		{name: "otherQueue", key: qa1, offset: 5, after: 20 * time.Second},
		{name: "otherTopic", key: qb0, offset: 0, after: 20 * time.Second},
	}
	tests := []struct {
		name    string
		arrival Arrival
		woken   []string
	}{
		{
			name:    "below every offset wakes nothing",
			arrival: Arrival{Key: qa0, Offset: 4, TagsCode: 88, Properties: []byte("region=eu")},
		},
		{
			name:    "at the offset wakes matching requests from there",
			arrival: Arrival{Key: qa0, Offset: 5, TagsCode: 1, Properties: []byte("x")},
			woken:   []string{"all@5"},
		},
		{
			name:    "tag code selects",
			arrival: Arrival{Key: qa0, Offset: 6, TagsCode: 88, Properties: []byte("x")},
			woken:   []string{"all@5", "tagX@5"},
		},
		{
			name:    "properties select",
			arrival: Arrival{Key: qa0, Offset: 9, TagsCode: 1, Properties: []byte("a region=eu b")},
			woken:   []string{"all@5", "all@7", "sql@5"},
		},
		{
			name:    "unknown properties check the tag code only",
			arrival: Arrival{Key: qa0, Offset: 9, TagsCode: 1},
			woken:   []string{"all@5", "all@7", "sql@5"},
		},
		{
			name:    "other queue of the same topic",
			arrival: Arrival{Key: qa1, Offset: 100},
			woken:   []string{"otherQueue"},
		},
		{
			name:    "offset zero",
			arrival: Arrival{Key: qb0, Offset: 0},
			woken:   []string{"otherTopic"},
		},
		{
			name:    "unknown queue",
			arrival: Arrival{Key: Key{Topic: "zzz"}, Offset: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCore[string]()
			holdAll(c, holds)
			got := sorted(c.Arrive(nil, tt.arrival))
			require.Equal(t, sorted(slices.Clone(tt.woken)), got)
			require.Equal(t, len(holds)-len(tt.woken), c.Len())
			// A request is returned once: the same arrival again wakes nothing.
			require.Empty(t, c.Arrive(nil, tt.arrival))
		})
	}
}

func TestCoreTickExpiresInDeadlineOrder(t *testing.T) {
	c := NewCore[string]()
	holdAll(c, []hold{
		{name: "20s", key: qa0, offset: 1, after: 20 * time.Second},
		{name: "1s", key: qa0, offset: 1, after: time.Second},
		{name: "5s", key: qa1, offset: 1, after: 5 * time.Second},
		{name: "5s-b", key: qb0, offset: 1, after: 5 * time.Second},
	})
	d, ok := c.NextDeadline()
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), d)

	require.Empty(t, c.Tick(nil, t0.Add(999*time.Millisecond)))
	require.Equal(t, []string{"1s"}, c.Tick(nil, t0.Add(time.Second)), "a deadline is inclusive")
	require.Equal(t, []string{"5s", "5s-b"}, sorted(c.Tick(nil, t0.Add(19*time.Second))))
	d, _ = c.NextDeadline()
	require.Equal(t, t0.Add(20*time.Second), d)
	require.Equal(t, []string{"20s"}, c.Tick(nil, t0.Add(time.Hour)))
	_, ok = c.NextDeadline()
	require.False(t, ok)
	require.Zero(t, c.Len())
	// Expired requests are gone from their queues too.
	require.Empty(t, c.Arrive(nil, Arrival{Key: qa0, Offset: 100}))
}

func TestCoreRecheck(t *testing.T) {
	c := NewCore[string]()
	holdAll(c, []hold{
		{name: "a0@5", key: qa0, offset: 5, after: time.Minute, m: tagMatcher{codes: []int64{1}}},
		{name: "a0@9", key: qa0, offset: 9, after: time.Minute},
		{name: "a1@3", key: qa1, offset: 3, after: time.Minute},
		{name: "dead", key: qb0, offset: 0, after: time.Minute},
	})
	heads := map[Key]int64{qa0: 6, qa1: 3, qb0: 0}
	got := c.Recheck(nil, func(k Key) int64 { return heads[k] }, func(p string) bool { return p == "dead" })
	// The filter is not consulted: the re-run applies it.
	require.Equal(t, []string{"a0@5", "dead"}, sorted(got))
	require.Equal(t, 2, c.Len())
	heads[qa0], heads[qa1] = 10, 4
	require.Equal(t, []string{"a0@9", "a1@3"}, sorted(c.Recheck(nil, func(k Key) int64 { return heads[k] }, nil)))
	require.Zero(t, c.Len())
}

func TestCoreCancelAndDrain(t *testing.T) {
	c := NewCore[string]()
	ts := holdAll(c, []hold{
		{name: "x", key: qa0, offset: 1, after: time.Second},
		{name: "y", key: qa0, offset: 1, after: 2 * time.Second},
		{name: "z", key: qb0, offset: 1, after: 3 * time.Second},
	})
	require.True(t, c.Cancel(ts["y"]))
	require.False(t, c.Cancel(ts["y"]), "a request is cancelled once")
	require.Equal(t, []string{"x"}, c.Arrive(nil, Arrival{Key: qa0, Offset: 1}))
	require.False(t, c.Cancel(ts["x"]), "a woken request cannot be cancelled")
	require.Equal(t, []string{"z"}, c.Drain(nil))
	require.False(t, c.Cancel(ts["z"]), "a drained request cannot be cancelled")
	require.Zero(t, c.Len())
	require.Empty(t, c.Tick(nil, t0.Add(time.Hour)))
}

// TestCoreManyInOneQueue exercises the swap-removal bookkeeping: requests
// removed by different paths in arbitrary order leave the others intact.
func TestCoreManyInOneQueue(t *testing.T) {
	c := NewCore[string]()
	var hs []hold
	for i := range 50 {
		hs = append(hs, hold{
			name: string(rune('A' + i)), key: qa0, offset: int64(i),
			after: time.Duration(50-i) * time.Second,
		})
	}
	holdAll(c, hs)
	// Deadlines 1..10 s belong to offsets 49..40.
	require.Len(t, c.Tick(nil, t0.Add(10*time.Second)), 10)
	// An arrival at 19 wakes offsets 0..19.
	require.Len(t, c.Arrive(nil, Arrival{Key: qa0, Offset: 19}), 20)
	require.Equal(t, 20, c.Len())
	var rest []string
	for _, h := range hs[20:40] {
		rest = append(rest, h.name)
	}
	require.Equal(t, sorted(rest), sorted(c.Arrive(nil, Arrival{Key: qa0, Offset: 1000})))
	require.Zero(t, c.Len())
}
