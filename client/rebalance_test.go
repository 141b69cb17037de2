package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func queuesN(n int) []MessageQueue {
	var qs []MessageQueue
	for i := range n {
		qs = append(qs, MessageQueue{Topic: "T", BrokerName: "b", QueueID: i})
	}
	return qs
}

func ids(qs []MessageQueue) []int {
	var out []int
	for _, q := range qs {
		out = append(out, q.QueueID)
	}
	return out
}

func TestAllocateAveragely(t *testing.T) {
	// The cases of RocketMQ's AllocateMessageQueueAveragely.
	for _, tc := range []struct {
		queues  int
		members []string
		me      string
		want    []int
	}{
		{8, []string{"a", "b"}, "a", []int{0, 1, 2, 3}},
		{8, []string{"a", "b"}, "b", []int{4, 5, 6, 7}},
		{8, []string{"a", "b", "c"}, "a", []int{0, 1, 2}},
		{8, []string{"a", "b", "c"}, "b", []int{3, 4, 5}},
		{8, []string{"a", "b", "c"}, "c", []int{6, 7}},
		{2, []string{"a", "b", "c"}, "b", []int{1}},
		{2, []string{"a", "b", "c"}, "c", nil},
		{4, []string{"a"}, "a", []int{0, 1, 2, 3}},
		{4, []string{"a"}, "stranger", nil},
		{0, []string{"a"}, "a", nil},
	} {
		t.Run(fmt.Sprintf("%d/%v/%s", tc.queues, tc.members, tc.me), func(t *testing.T) {
			require.Equal(t, tc.want, ids(allocateAveragely(queuesN(tc.queues), tc.members, tc.me)))
		})
	}
}

// Every member computes its share alone; the shares must cover every
// queue exactly once and differ in size by at most one.
func TestAllocateAveragelyPartitions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 64).Draw(t, "queues")
		k := rapid.IntRange(1, 20).Draw(t, "members")
		var members []string
		for i := range k {
			members = append(members, fmt.Sprintf("10.0.0.%d@%d", i, i))
		}
		slices.Sort(members)
		all := queuesN(n)
		owner := map[int]string{}
		minShare, maxShare := n, 0
		for _, m := range members {
			share := allocateAveragely(all, members, m)
			minShare, maxShare = min(minShare, len(share)), max(maxShare, len(share))
			for _, q := range share {
				if prev, dup := owner[q.QueueID]; dup {
					t.Fatalf("queue %d owned by %s and %s", q.QueueID, prev, m)
				}
				owner[q.QueueID] = m
			}
		}
		if len(owner) != n {
			t.Fatalf("%d of %d queues owned", len(owner), n)
		}
		if n > 0 && maxShare-minShare > 1 {
			t.Fatalf("shares from %d to %d", minShare, maxShare)
		}
	})
}

func TestDiffQueues(t *testing.T) {
	q := queuesN(5)
	add, remove := diffQueues([]MessageQueue{q[3], q[0], q[1]}, []MessageQueue{q[4], q[1], q[2]})
	require.Equal(t, []MessageQueue{q[2], q[4]}, add)
	require.Equal(t, []MessageQueue{q[0], q[3]}, remove)
	add, remove = diffQueues(nil, nil)
	require.Empty(t, add)
	require.Empty(t, remove)
}
