package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPullStatsTpsOverTheLastMinute: consumeTps is what the group got over
// the samples of the last minute; a group that stopped pulling falls to 0
// once its pulls are a minute old.
func TestPullStatsTpsOverTheLastMinute(t *testing.T) {
	var s pullStats
	start := time.Now()
	s.record("T", "g", 0, 30, 30)
	require.InDelta(t, 30, s.tps("g", "T", start), 0.001, "within the first second: over one second")
	require.Zero(t, s.tps("g", "T2", start))
	require.Zero(t, s.tps("g2", "T", start))

	at := start
	for range pullSamples {
		at = at.Add(pullSampleInterval)
		s.sample(at)
	}
	require.Zero(t, s.tps("g", "T", at), "nothing got since the oldest sample")

	s.record("T", "g", 0, 90, 60)
	at = at.Add(pullSampleInterval)
	s.sample(at)
	// The oldest sample is 50 s old, taken before the 60 messages.
	require.InDelta(t, 60.0/50, s.tps("g", "T", at), 0.001)
	require.InDelta(t, 60.0/60, s.tps("g", "T", at.Add(pullSampleInterval)), 0.001)
}

// TestPullStatsOffsets: the offset each queue was pulled to, queues added
// later included; deleted groups and topics are forgotten.
func TestPullStatsOffsets(t *testing.T) {
	var s pullStats
	s.record("T", "g", 1, 7, 7)
	s.record("T", "g", 40, 3, 3) // beyond the first entry's room
	s.record("T", "g", -1, 9, 9) // ignored
	s.record("U", "g", 0, 4, 4)
	s.record("T", "h", 0, 5, 0) // nothing found: the offset still counts
	require.Equal(t, int64(7), s.pulledOffset("g", "T", 1))
	require.Equal(t, int64(3), s.pulledOffset("g", "T", 40))
	require.Zero(t, s.pulledOffset("g", "T", 0))
	require.Zero(t, s.pulledOffset("g", "T", 1000))
	require.Zero(t, s.pulledOffset("g", "T", -1))
	require.Equal(t, int64(5), s.pulledOffset("h", "T", 0))
	require.Zero(t, s.tps("h", "T", time.Now()))

	s.deleteGroup("g")
	require.Zero(t, s.pulledOffset("g", "T", 1))
	require.Zero(t, s.pulledOffset("g", "U", 0))
	require.Equal(t, int64(5), s.pulledOffset("h", "T", 0))
	s.deleteTopic("T")
	require.Zero(t, s.pulledOffset("h", "T", 0))
}

// BenchmarkPullStatsRecord is what every pull pays for GET_CONSUME_STATS'
// pull offset and consumeTps.
func BenchmarkPullStatsRecord(b *testing.B) {
	var s pullStats
	topic, group := string([]byte("TopicTest")), string([]byte("consumer-group-1"))
	s.record(topic, group, 3, 1, 1)
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		s.record(topic, group, 3, i, 32)
	}
}
