package clients

import (
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// ConsumerInfo is what a heartbeat says about one consumer group of a
// client.
type ConsumerInfo struct {
	ConsumeType      string // protocol.ConsumeActively, ConsumePassively, ...
	MessageModel     string // protocol.Clustering or Broadcasting
	ConsumeFromWhere string
	Subscriptions    []protocol.SubscriptionData
	Language         protocol.LanguageCode
	Version          int32
}

// GroupInfo describes a consumer group as it is now.
type GroupInfo struct {
	Group            string
	ClientIDs        []string  // sorted, without duplicates
	Channels         []Channel // ordered by client id, then address
	Subscriptions    map[string]protocol.SubscriptionData
	ConsumeType      string
	MessageModel     string
	ConsumeFromWhere string
	LastUpdate       time.Time // the group's last heartbeat
}

type consumerGroup struct {
	members          map[Channel]*member
	subs             map[string]protocol.SubscriptionData
	consumeType      string
	messageModel     string
	consumeFromWhere string
	lastUpdate       time.Time
}

// event is a listener call collected under the lock and made after it.
type event struct {
	group    string
	ev       Event
	channels []Channel
}

// ConsumerManager is the registry of consumer groups.
type ConsumerManager struct {
	log *slog.Logger

	mu     sync.RWMutex
	groups map[string]*consumerGroup

	listenMu  sync.Mutex
	listeners []func(group string, ev Event, channels []Channel)
}

// NewConsumerManager returns an empty registry. A nil log discards.
func NewConsumerManager(log *slog.Logger) *ConsumerManager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ConsumerManager{log: log, groups: make(map[string]*consumerGroup)}
}

// OnGroupEvent registers a listener for group events (package comment).
func (m *ConsumerManager) OnGroupEvent(fn func(group string, ev Event, channels []Channel)) {
	m.listenMu.Lock()
	m.listeners = append(m.listeners, fn)
	m.listenMu.Unlock()
}

func (m *ConsumerManager) fire(events []event) {
	if len(events) == 0 {
		return
	}
	m.listenMu.Lock()
	listeners := slices.Clone(m.listeners)
	m.listenMu.Unlock()
	for _, e := range events {
		for _, fn := range listeners {
			fn(e.group, e.ev, e.channels)
		}
	}
}

// Register adds or refreshes ch, the connection of client clientID, as a
// member of group and reconciles the group's subscriptions (package
// comment). It reports whether the membership and whether the
// subscriptions changed; listeners get EventChange if either did, then
// EventRegister.
func (m *ConsumerManager) Register(group string, ch Channel, clientID string, info ConsumerInfo, now time.Time) (membersChanged, subsChanged bool) {
	if group == "" || ch == nil {
		return false, false
	}
	m.mu.Lock()
	g := m.groups[group]
	if g == nil {
		g = &consumerGroup{members: make(map[Channel]*member), subs: make(map[string]protocol.SubscriptionData)}
		m.groups[group] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere = info.ConsumeType, info.MessageModel, info.ConsumeFromWhere
	g.lastUpdate = now

	mem := g.members[ch]
	switch {
	case mem == nil:
		mem = &member{clientID: clientID}
		g.members[ch] = mem
		membersChanged = true
		m.log.Info("consumer joined", "group", group, "clientId", clientID, "addr", ch.RemoteAddr(),
			"messageModel", info.MessageModel, "consumeType", info.ConsumeType)
	case mem.clientID != clientID:
		m.log.Warn("consumer channel changed client id", "group", group, "addr", ch.RemoteAddr(), "old", mem.clientID, "new", clientID)
		mem.clientID = clientID
		membersChanged = true
	}
	mem.language, mem.version, mem.lastUpdate = info.Language, info.Version, now

	subsChanged = g.updateSubscriptionsLocked(group, info.Subscriptions, m.log)
	var events []event
	if membersChanged || subsChanged {
		events = append(events, event{group, EventChange, sortedChannels(g.members)})
	}
	events = append(events, event{group, EventRegister, sortedChannels(g.members)})
	m.mu.Unlock()

	m.fire(events)
	return membersChanged, subsChanged
}

// updateSubscriptionsLocked reconciles the group's subscriptions with a
// heartbeat's set and reports whether topics were added or removed.
func (g *consumerGroup) updateSubscriptionsLocked(group string, set []protocol.SubscriptionData, log *slog.Logger) bool {
	changed := false
	seen := make(map[string]bool, len(set))
	for _, sd := range set {
		seen[sd.Topic] = true
		old, ok := g.subs[sd.Topic]
		switch {
		case !ok:
			g.subs[sd.Topic] = sd
			changed = true
			log.Info("subscription added", "group", group, "topic", sd.Topic, "expression", sd.SubString, "type", sd.ExpressionType)
		case sd.SubVersion > old.SubVersion:
			g.subs[sd.Topic] = sd
			if sd.SubString != old.SubString || sd.ExpressionType != old.ExpressionType {
				log.Info("subscription changed", "group", group, "topic", sd.Topic, "old", old.SubString, "new", sd.SubString)
			}
		}
	}
	for topic, old := range g.subs {
		if !seen[topic] {
			delete(g.subs, topic)
			changed = true
			log.Warn("subscription removed", "group", group, "topic", topic, "expression", old.SubString)
		}
	}
	return changed
}

// Unregister removes ch from group (UNREGISTER_CLIENT). Listeners get
// EventUnregister if the group became empty, then EventChange with the
// members left.
func (m *ConsumerManager) Unregister(group string, ch Channel) {
	m.mu.Lock()
	events, ok := m.removeLocked(group, ch)
	m.mu.Unlock()
	if ok {
		m.log.Info("consumer unregistered", "group", group, "addr", ch.RemoteAddr())
	}
	m.fire(events)
}

// removeLocked removes channels from group and returns the events to
// fire: one EventUnregister if the group became empty, then one
// EventChange. false if none of them was a member.
func (m *ConsumerManager) removeLocked(group string, chs ...Channel) ([]event, bool) {
	g := m.groups[group]
	if g == nil {
		return nil, false
	}
	removed := false
	for _, ch := range chs {
		if g.members[ch] != nil {
			delete(g.members, ch)
			removed = true
		}
	}
	if !removed {
		return nil, false
	}
	var events []event
	if len(g.members) == 0 {
		delete(m.groups, group)
		m.log.Info("consumer group has no member left", "group", group)
		events = append(events, event{group, EventUnregister, nil})
	}
	return append(events, event{group, EventChange, sortedChannels(g.members)}), true
}

// ChannelClosed removes a closed connection from every group and returns
// those it left, sorted.
func (m *ConsumerManager) ChannelClosed(ch Channel) []string {
	var (
		events []event
		left   []string
	)
	m.mu.Lock()
	for group := range m.groups {
		if evs, ok := m.removeLocked(group, ch); ok {
			events = append(events, evs...)
			left = append(left, group)
		}
	}
	m.mu.Unlock()
	for _, group := range left {
		m.log.Info("consumer connection closed", "group", group, "addr", ch.RemoteAddr())
	}
	m.fire(events)
	slices.Sort(left)
	return left
}

// ScanExpired removes members whose last heartbeat is older than timeout
// at now, logging each, and returns the groups that lost members, sorted.
func (m *ConsumerManager) ScanExpired(now time.Time, timeout time.Duration) []string {
	groups, _ := m.ScanExpiredChannels(now, timeout)
	return groups
}

// ScanExpiredChannels is ScanExpired that also returns the expired
// channels, for the broker to close (as Java does).
func (m *ConsumerManager) ScanExpiredChannels(now time.Time, timeout time.Duration) (groups []string, channels []Channel) {
	var events []event
	seen := make(map[Channel]bool)
	m.mu.Lock()
	for group, g := range m.groups {
		var stale []Channel
		for ch, mem := range g.members {
			if expired(mem.lastUpdate, now, timeout) {
				stale = append(stale, ch)
				m.log.Warn("consumer expired: no heartbeat", "group", group, "clientId", mem.clientID,
					"addr", ch.RemoteAddr(), "silentFor", now.Sub(mem.lastUpdate))
			}
		}
		if len(stale) == 0 {
			continue
		}
		evs, _ := m.removeLocked(group, stale...)
		events = append(events, evs...)
		for _, ch := range stale {
			if !seen[ch] {
				seen[ch] = true
				channels = append(channels, ch)
			}
		}
		groups = append(groups, group)
	}
	m.mu.Unlock()
	m.fire(events)
	slices.Sort(groups)
	return groups, channels
}

// Group describes a group; false if it has no member.
func (m *ConsumerManager) Group(group string) (GroupInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return GroupInfo{}, false
	}
	return GroupInfo{
		Group:            group,
		ClientIDs:        g.clientIDsLocked(),
		Channels:         sortedChannels(g.members),
		Subscriptions:    maps.Clone(g.subs),
		ConsumeType:      g.consumeType,
		MessageModel:     g.messageModel,
		ConsumeFromWhere: g.consumeFromWhere,
		LastUpdate:       g.lastUpdate,
	}, true
}

func (g *consumerGroup) clientIDsLocked() []string {
	ids := make([]string, 0, len(g.members))
	for _, mem := range g.members {
		ids = append(ids, mem.clientID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// ClientIDs returns the client ids of a group's members, sorted, without
// duplicates (GET_CONSUMER_LIST_BY_GROUP); nil if the group has none.
func (m *ConsumerManager) ClientIDs(group string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return g.clientIDsLocked()
	}
	return nil
}

// FindChannel returns the channel of client clientID in group.
func (m *ConsumerManager) FindChannel(group, clientID string) (Channel, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		for ch, mem := range g.members {
			if mem.clientID == clientID {
				return ch, true
			}
		}
	}
	return nil, false
}

// Subscription returns a group's subscription to topic. Cheap: it is on
// the pull path. The slices in the result are shared; do not modify them.
func (m *ConsumerManager) Subscription(group, topic string) (protocol.SubscriptionData, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		sd, ok := g.subs[topic]
		return sd, ok
	}
	return protocol.SubscriptionData{}, false
}

// SubscriptionCount returns how many topics a group subscribes to.
func (m *ConsumerManager) SubscriptionCount(group string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return len(g.subs)
	}
	return 0
}

// MessageModel returns a group's message model; false if it has no
// member.
func (m *ConsumerManager) MessageModel(group string) (string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if g := m.groups[group]; g != nil {
		return g.messageModel, true
	}
	return "", false
}

// GroupsSubscribing returns the groups subscribed to topic, sorted
// (QUERY_TOPIC_CONSUME_BY_WHO).
func (m *ConsumerManager) GroupsSubscribing(topic string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for name, g := range m.groups {
		if _, ok := g.subs[topic]; ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Groups returns the groups with members, sorted.
func (m *ConsumerManager) Groups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.groups))
}

// Connections describes a group's members and subscriptions
// (GET_CONSUMER_CONNECTION_LIST); false if it has no member.
func (m *ConsumerManager) Connections(group string) (protocol.ConsumerConnection, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.groups[group]
	if g == nil {
		return protocol.ConsumerConnection{}, false
	}
	cc := protocol.ConsumerConnection{
		ConnectionSet:     make([]protocol.Connection, 0, len(g.members)),
		SubscriptionTable: maps.Clone(g.subs),
		ConsumeType:       g.consumeType,
		MessageModel:      g.messageModel,
		ConsumeFromWhere:  g.consumeFromWhere,
	}
	for ch, mem := range g.members {
		cc.ConnectionSet = append(cc.ConnectionSet, mem.connection(ch))
	}
	sortConnections(cc.ConnectionSet)
	return cc, true
}
