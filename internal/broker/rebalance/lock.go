package rebalance

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Options configure a LockManager.
type Options struct {
	// LockMaxLiveTime is how long a lock lives after its last renewal, in
	// ms (Java's system property rocketmq.broker.rebalance.lockMaxLiveTime).
	LockMaxLiveTime int64 `prop:"rebalanceLockMaxLiveTime"`
}

// DefaultOptions returns Java's default: 60 s.
func DefaultOptions() Options { return Options{LockMaxLiveTime: 60_000} }

// Validate reports invalid settings.
func (o *Options) Validate() error {
	if o.LockMaxLiveTime <= 0 {
		return fmt.Errorf("rebalance: lockMaxLiveTime %d must be positive", o.LockMaxLiveTime)
	}
	return nil
}

type lockEntry struct {
	clientID string
	last     time.Time // last grant or renewal
}

// LockManager is the table of queue locks. All methods are safe for
// concurrent use.
type LockManager struct {
	maxLive time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	groups map[string]map[protocol.MessageQueue]*lockEntry
}

// NewLockManager returns an empty lock table. A nil log discards.
func NewLockManager(opts Options, log *slog.Logger) (*LockManager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LockManager{
		maxLive: time.Duration(opts.LockMaxLiveTime) * time.Millisecond,
		log:     log,
		groups:  make(map[string]map[protocol.MessageQueue]*lockEntry),
	}, nil
}

func (m *LockManager) expired(e *lockEntry, now time.Time) bool {
	return now.Sub(e.last) > m.maxLive
}

// TryLockBatch locks for clientID the queues of mqs it can have (package
// comment) and returns them, in the order asked, without duplicates. An
// empty clientID gets nothing.
func (m *LockManager) TryLockBatch(group string, mqs []protocol.MessageQueue, clientID string, now time.Time) []protocol.MessageQueue {
	if clientID == "" || len(mqs) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	locks := m.groups[group]
	if locks == nil {
		locks = make(map[protocol.MessageQueue]*lockEntry, len(mqs))
		m.groups[group] = locks
	}
	granted := make([]protocol.MessageQueue, 0, len(mqs))
	seen := make(map[protocol.MessageQueue]bool, len(mqs))
	for _, mq := range mqs {
		if seen[mq] {
			continue
		}
		seen[mq] = true
		e := locks[mq]
		switch {
		case e == nil:
			locks[mq] = &lockEntry{clientID: clientID, last: now}
			m.log.Debug("queue locked", "group", group, "clientId", clientID, "mq", mq)
		case e.clientID == clientID: // renewal, or a re-grant after expiry
			e.last = now
		case m.expired(e, now):
			m.log.Info("expired queue lock taken over", "group", group, "mq", mq, "old", e.clientID, "new", clientID)
			e.clientID, e.last = clientID, now
		default:
			m.log.Debug("queue locked by another client", "group", group, "mq", mq, "holder", e.clientID, "clientId", clientID)
			continue
		}
		granted = append(granted, mq)
	}
	return granted
}

// UnlockBatch releases the queues of mqs that clientID holds in group.
// Queues held by others or not locked are left alone.
func (m *LockManager) UnlockBatch(group string, mqs []protocol.MessageQueue, clientID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	locks := m.groups[group]
	if locks == nil {
		return
	}
	for _, mq := range mqs {
		e := locks[mq]
		switch {
		case e == nil:
		case e.clientID != clientID:
			m.log.Debug("unlock refused: queue held by another client", "group", group, "mq", mq, "holder", e.clientID, "clientId", clientID)
		default:
			delete(locks, mq)
			m.log.Debug("queue unlocked", "group", group, "clientId", clientID, "mq", mq)
		}
	}
	if len(locks) == 0 {
		delete(m.groups, group)
	}
}

// IsLocked reports whether clientID holds a live lock on mq in group. It
// does not renew the lock.
func (m *LockManager) IsLocked(group string, mq protocol.MessageQueue, clientID string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.groups[group][mq]
	return e != nil && e.clientID == clientID && !m.expired(e, now)
}

// HasLiveLocks reports whether any queue of group is locked by anyone
// and not expired (Java's !isLockAllExpired: a message sent back by an
// orderly group goes straight to its dead-letter queue).
func (m *LockManager) HasLiveLocks(group string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.groups[group] {
		if !m.expired(e, now) {
			return true
		}
	}
	return false
}

// Prune removes expired locks and returns how many it removed.
func (m *LockManager) Prune(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for group, locks := range m.groups {
		for mq, e := range locks {
			if m.expired(e, now) {
				delete(locks, mq)
				n++
			}
		}
		if len(locks) == 0 {
			delete(m.groups, group)
		}
	}
	return n
}
