package rebalance

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Unix(1_800_000_000, 0)

func mq(id int32) protocol.MessageQueue {
	return protocol.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: id}
}

func newManager(t require.TestingT) *LockManager {
	m, err := NewLockManager(DefaultOptions(), nil)
	require.NoError(t, err)
	return m
}

func TestLockRules(t *testing.T) {
	const live = 60 * time.Second
	type step struct {
		op     string // "lock", "unlock"
		client string
		at     time.Duration
		mqs    []int32
		want   []int32 // lock: granted
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"unlocked queues are granted", []step{
			{"lock", "A", 0, []int32{0, 1, 2}, []int32{0, 1, 2}},
		}},
		{"a live lock of another client is refused", []step{
			{"lock", "A", 0, []int32{0, 1}, []int32{0, 1}},
			{"lock", "B", 30 * time.Second, []int32{1, 2}, []int32{2}},
		}},
		{"the holder renews", []step{
			{"lock", "A", 0, []int32{0}, []int32{0}},
			{"lock", "A", 50 * time.Second, []int32{0}, []int32{0}},
			{"lock", "B", 100 * time.Second, []int32{0}, nil}, // 50 s after the renewal: alive
		}},
		{"exactly the max live time is still alive", []step{
			{"lock", "A", 0, []int32{0}, []int32{0}},
			{"lock", "B", live, []int32{0}, nil},
			{"lock", "B", live + time.Millisecond, []int32{0}, []int32{0}},
		}},
		{"an expired lock is taken over, then held by the new client", []step{
			{"lock", "A", 0, []int32{0}, []int32{0}},
			{"lock", "B", 61 * time.Second, []int32{0}, []int32{0}},
			{"lock", "A", 62 * time.Second, []int32{0}, nil},
		}},
		{"an expired lock is re-granted to its holder", []step{
			{"lock", "A", 0, []int32{0}, []int32{0}},
			{"lock", "A", 10 * time.Minute, []int32{0}, []int32{0}},
			{"lock", "B", 10*time.Minute + 59*time.Second, []int32{0}, nil},
		}},
		{"only the holder unlocks", []step{
			{"lock", "A", 0, []int32{0, 1}, []int32{0, 1}},
			{"unlock", "B", time.Second, []int32{0, 1}, nil},
			{"lock", "B", 2 * time.Second, []int32{0, 1}, nil},
			{"unlock", "A", 3 * time.Second, []int32{1, 5}, nil},
			{"lock", "B", 4 * time.Second, []int32{0, 1}, []int32{1}},
		}},
		{"duplicates are granted once, in the order asked", []step{
			{"lock", "A", 0, []int32{3, 1, 3, 1, 2}, []int32{3, 1, 2}},
		}},
		{"an empty client id gets nothing", []step{
			{"lock", "", 0, []int32{0}, nil},
			{"lock", "A", 0, []int32{0}, []int32{0}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				var qs []protocol.MessageQueue
				for _, id := range s.mqs {
					qs = append(qs, mq(id))
				}
				switch s.op {
				case "lock":
					got := m.TryLockBatch("cg", qs, s.client, now)
					var ids []int32
					for _, q := range got {
						ids = append(ids, q.QueueID)
					}
					require.Equal(t, s.want, ids, "step %d", i)
					for _, q := range got {
						require.True(t, m.IsLocked("cg", q, s.client, now), "step %d", i)
					}
				case "unlock":
					m.UnlockBatch("cg", qs, s.client)
				}
			}
		})
	}
}

func TestGroupsAreIndependent(t *testing.T) {
	m := newManager(t)
	require.Len(t, m.TryLockBatch("g1", []protocol.MessageQueue{mq(0)}, "A", t0), 1)
	require.Len(t, m.TryLockBatch("g2", []protocol.MessageQueue{mq(0)}, "B", t0), 1, "another group's lock does not matter")
	require.False(t, m.IsLocked("g2", mq(0), "A", t0))
	m.UnlockBatch("g3", []protocol.MessageQueue{mq(0)}, "A")
	require.True(t, m.IsLocked("g1", mq(0), "A", t0))
}

func TestIsLockedDoesNotRenew(t *testing.T) {
	m := newManager(t)
	m.TryLockBatch("cg", []protocol.MessageQueue{mq(0)}, "A", t0)
	require.True(t, m.IsLocked("cg", mq(0), "A", t0.Add(59*time.Second)))
	require.False(t, m.IsLocked("cg", mq(0), "B", t0))
	require.False(t, m.IsLocked("cg", mq(1), "A", t0))
	require.False(t, m.IsLocked("cg", mq(0), "A", t0.Add(61*time.Second)), "expired: the earlier check did not renew")
}

func TestHasLiveLocksAndPrune(t *testing.T) {
	m := newManager(t)
	require.False(t, m.HasLiveLocks("cg", t0))
	m.TryLockBatch("cg", []protocol.MessageQueue{mq(0)}, "A", t0)
	m.TryLockBatch("cg", []protocol.MessageQueue{mq(1)}, "B", t0.Add(30*time.Second))
	m.TryLockBatch("other", []protocol.MessageQueue{mq(0)}, "C", t0)

	require.True(t, m.HasLiveLocks("cg", t0.Add(61*time.Second)), "B's lock is alive")
	require.False(t, m.HasLiveLocks("cg", t0.Add(91*time.Second)))
	require.False(t, m.HasLiveLocks("nope", t0))

	require.Equal(t, 2, m.Prune(t0.Add(61*time.Second)))
	require.True(t, m.IsLocked("cg", mq(1), "B", t0.Add(61*time.Second)))
	require.Equal(t, 1, m.Prune(t0.Add(91*time.Second)))
	require.Empty(t, m.groups, "empty groups are dropped")
}

func TestOptions(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	o.LockMaxLiveTime = 1000
	m, err := NewLockManager(o, nil)
	require.NoError(t, err)
	m.TryLockBatch("cg", []protocol.MessageQueue{mq(0)}, "A", t0)
	require.Len(t, m.TryLockBatch("cg", []protocol.MessageQueue{mq(0)}, "B", t0.Add(1001*time.Millisecond)), 1)
	o.LockMaxLiveTime = 0
	_, err = NewLockManager(o, nil)
	require.Error(t, err)
}

// TestNeverTwoHolders drives random clients locking, renewing and
// unlocking random queues while time moves on, and checks after every
// step that no queue has two clients with a live lock, and that the
// manager grants exactly what a plain model of the rules grants.
func TestNeverTwoHolders(t *testing.T) {
	const live = 60 * time.Second
	rapid.Check(t, func(t *rapid.T) {
		m := newManager(t)
		clients := []string{"A", "B", "C"}
		type hold struct {
			client string
			last   time.Time
		}
		model := map[int32]hold{}
		now := t0
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(40*time.Second)).Draw(t, "advance")))
			client := rapid.SampledFrom(clients).Draw(t, "client")
			ids := rapid.SliceOfN(rapid.Int32Range(0, 3), 0, 5).Draw(t, "queues")
			qs := make([]protocol.MessageQueue, len(ids))
			for i, id := range ids {
				qs[i] = mq(id)
			}
			if rapid.Bool().Draw(t, "unlock") {
				m.UnlockBatch("cg", qs, client)
				for _, id := range ids {
					if h, ok := model[id]; ok && h.client == client {
						delete(model, id)
					}
				}
			} else {
				got := m.TryLockBatch("cg", qs, client, now)
				var want []protocol.MessageQueue
				seen := map[int32]bool{}
				for _, id := range ids {
					if seen[id] {
						continue
					}
					seen[id] = true
					h, ok := model[id]
					if !ok || h.client == client || now.Sub(h.last) > live {
						model[id] = hold{client, now}
						want = append(want, mq(id))
					}
				}
				require.ElementsMatch(t, want, got)
			}
			for id := range int32(4) {
				holders := 0
				for _, c := range clients {
					if m.IsLocked("cg", mq(id), c, now) {
						holders++
						h := model[id]
						require.Equal(t, h.client, c)
					}
				}
				require.LessOrEqual(t, holders, 1, "queue %d at %v", id, now.Sub(t0))
			}
		}
	})
}

func TestConcurrentClientsNeverShareAQueue(t *testing.T) {
	m := newManager(t)
	all := []protocol.MessageQueue{mq(0), mq(1), mq(2), mq(3)}
	var mu sync.Mutex
	owner := map[protocol.MessageQueue]string{}
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			id := fmt.Sprint("client-", c)
			for range 200 {
				got := m.TryLockBatch("cg", all, id, t0)
				mu.Lock()
				for _, q := range got {
					if o, ok := owner[q]; ok && o != id {
						mu.Unlock()
						t.Errorf("queue %v granted to %s while %s holds it", q, id, o)
						return
					}
					owner[q] = id
				}
				mu.Unlock()
				m.HasLiveLocks("cg", t0)
			}
		})
	}
	wg.Wait()
	require.Len(t, owner, len(all))
}

func BenchmarkTryLockBatchRenew(b *testing.B) {
	m := newManager(b)
	qs := make([]protocol.MessageQueue, 16)
	for i := range qs {
		qs[i] = mq(int32(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		m.TryLockBatch("cg", qs, "client", t0)
	}
}
