package client

import (
	"slices"
)

// This file is the pure core of rebalancing: which queues a member of a
// consumer group owns, and what changes. No I/O, no clocks; push.go drives
// it.

// allocateAveragely returns the queues member me owns when mqAll is split
// among cidAll as RocketMQ's AllocateMessageQueueAveragely splits it: each
// member takes a contiguous run of queues, the first len(mqAll) %
// len(cidAll) members one more than the others. Both lists must be sorted
// the same way on every member (queues by topic, broker, id; ids as
// strings), or members disagree. A member not in cidAll owns nothing.
func allocateAveragely(mqAll []MessageQueue, cidAll []string, me string) []MessageQueue {
	idx := slices.Index(cidAll, me)
	if idx < 0 || len(mqAll) == 0 {
		return nil
	}
	n, k := len(mqAll), len(cidAll)
	mod := n % k
	avg := n / k
	switch {
	case n <= k:
		avg = 1
	case mod > 0 && idx < mod:
		avg++
	}
	start := idx*avg + mod
	if mod > 0 && idx < mod {
		start = idx * avg
	}
	var out []MessageQueue
	for i := range max(0, min(avg, n-start)) {
		out = append(out, mqAll[(start+i)%n])
	}
	return out
}

// sortedQueues returns a sorted copy of qs.
func sortedQueues(qs []MessageQueue) []MessageQueue {
	out := slices.Clone(qs)
	slices.SortFunc(out, MessageQueue.compare)
	return slices.CompactFunc(out, func(a, b MessageQueue) bool { return a == b })
}

// diffQueues returns the queues of want missing from have (to start) and
// the queues of have missing from want (to stop), each sorted.
func diffQueues(have, want []MessageQueue) (add, remove []MessageQueue) {
	h := make(map[MessageQueue]bool, len(have))
	for _, q := range have {
		h[q] = true
	}
	w := make(map[MessageQueue]bool, len(want))
	for _, q := range want {
		w[q] = true
		if !h[q] {
			add = append(add, q)
		}
	}
	for _, q := range have {
		if !w[q] {
			remove = append(remove, q)
		}
	}
	return sortedQueues(add), sortedQueues(remove)
}
