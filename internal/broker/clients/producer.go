package clients

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// ProducerInfo is what a heartbeat says about the client behind a
// producer registration.
type ProducerInfo struct {
	Language protocol.LanguageCode
	Version  int32
}

// clientRef is the channel of a client id and how many producer groups
// hold it there.
type clientRef struct {
	ch   Channel
	refs int
}

// ProducerManager is the registry of producer groups.
type ProducerManager struct {
	log *slog.Logger

	mu         sync.RWMutex
	groups     map[string]map[Channel]*member
	byClientID map[string]*clientRef

	next atomic.Uint64 // round-robin cursor of AvailableChannel
}

// NewProducerManager returns an empty registry. A nil log discards.
func NewProducerManager(log *slog.Logger) *ProducerManager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ProducerManager{log: log, groups: make(map[string]map[Channel]*member), byClientID: make(map[string]*clientRef)}
}

// Register adds or refreshes ch, the connection of client clientID, as a
// member of producer group.
func (m *ProducerManager) Register(group string, ch Channel, clientID string, info ProducerInfo, now time.Time) {
	if group == "" || ch == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	members := m.groups[group]
	if members == nil {
		members = make(map[Channel]*member)
		m.groups[group] = members
	}
	mem := members[ch]
	switch {
	case mem == nil:
		mem = &member{clientID: clientID}
		members[ch] = mem
		m.refLocked(clientID, ch)
		m.log.Info("producer joined", "group", group, "clientId", clientID, "addr", ch.RemoteAddr())
	case mem.clientID != clientID:
		m.unrefLocked(mem.clientID, ch)
		mem.clientID = clientID
		m.refLocked(clientID, ch)
	}
	mem.language, mem.version, mem.lastUpdate = info.Language, info.Version, now
}

func (m *ProducerManager) refLocked(clientID string, ch Channel) {
	ref := m.byClientID[clientID]
	if ref == nil || ref.ch != ch {
		// New, or the client reconnected: the newest channel wins.
		ref = &clientRef{ch: ch}
		m.byClientID[clientID] = ref
	}
	ref.refs++
}

func (m *ProducerManager) unrefLocked(clientID string, ch Channel) {
	if ref := m.byClientID[clientID]; ref != nil && ref.ch == ch {
		if ref.refs--; ref.refs <= 0 {
			delete(m.byClientID, clientID)
		}
	}
}

// removeLocked removes ch from group; false if it was not a member.
func (m *ProducerManager) removeLocked(group string, ch Channel) bool {
	members := m.groups[group]
	mem := members[ch]
	if mem == nil {
		return false
	}
	delete(members, ch)
	m.unrefLocked(mem.clientID, ch)
	if len(members) == 0 {
		delete(m.groups, group)
	}
	return true
}

// Unregister removes ch from producer group (UNREGISTER_CLIENT).
func (m *ProducerManager) Unregister(group string, ch Channel) {
	m.mu.Lock()
	ok := m.removeLocked(group, ch)
	m.mu.Unlock()
	if ok {
		m.log.Info("producer unregistered", "group", group, "addr", ch.RemoteAddr())
	}
}

// ChannelClosed removes a closed connection from every group and returns
// those it left, sorted.
func (m *ProducerManager) ChannelClosed(ch Channel) []string {
	var left []string
	m.mu.Lock()
	for group := range m.groups {
		if m.removeLocked(group, ch) {
			left = append(left, group)
		}
	}
	m.mu.Unlock()
	slices.Sort(left)
	return left
}

// ScanExpired removes members whose last heartbeat is older than timeout
// at now, logging each, and returns the groups that lost members, sorted.
func (m *ProducerManager) ScanExpired(now time.Time, timeout time.Duration) []string {
	groups, _ := m.ScanExpiredChannels(now, timeout)
	return groups
}

// ScanExpiredChannels is ScanExpired that also returns the expired
// channels, for the broker to close (as Java does).
func (m *ProducerManager) ScanExpiredChannels(now time.Time, timeout time.Duration) (groups []string, channels []Channel) {
	seen := make(map[Channel]bool)
	m.mu.Lock()
	for group, members := range m.groups {
		lost := false
		for ch, mem := range members {
			if !expired(mem.lastUpdate, now, timeout) {
				continue
			}
			m.log.Warn("producer expired: no heartbeat", "group", group, "clientId", mem.clientID,
				"addr", ch.RemoteAddr(), "silentFor", now.Sub(mem.lastUpdate))
			m.removeLocked(group, ch)
			lost = true
			if !seen[ch] {
				seen[ch] = true
				channels = append(channels, ch)
			}
		}
		if lost {
			groups = append(groups, group)
		}
	}
	m.mu.Unlock()
	slices.Sort(groups)
	return groups, channels
}

// AvailableChannel returns a channel of the group, taking the members in
// turn (transaction check-backs spread over the group's producers).
func (m *ProducerManager) AvailableChannel(group string) (Channel, bool) {
	m.mu.RLock()
	members := m.groups[group]
	if len(members) == 0 {
		m.mu.RUnlock()
		return nil, false
	}
	chans := sortedChannels(members)
	m.mu.RUnlock()
	return chans[(m.next.Add(1)-1)%uint64(len(chans))], true
}

// FindChannel returns the channel of client clientID (request-reply pushes
// the answer to the requester). After a reconnect it is the newest
// channel.
func (m *ProducerManager) FindChannel(clientID string) (Channel, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if ref := m.byClientID[clientID]; ref != nil {
		return ref.ch, true
	}
	return nil, false
}

// Connections describes a producer group's members
// (GET_PRODUCER_CONNECTION_LIST); false if it has none.
func (m *ProducerManager) Connections(group string) (protocol.ProducerConnection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	members := m.groups[group]
	if len(members) == 0 {
		return protocol.ProducerConnection{}, false
	}
	pc := protocol.ProducerConnection{ConnectionSet: make([]protocol.Connection, 0, len(members))}
	for ch, mem := range members {
		pc.ConnectionSet = append(pc.ConnectionSet, mem.connection(ch))
	}
	sortConnections(pc.ConnectionSet)
	return pc, true
}

// Groups returns the producer groups with members, sorted.
func (m *ProducerManager) Groups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.groups))
}
