package broker

import (
	"slices"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// registry is the broker's view of its clients: producer groups and
// consumer groups with their members (connections) and subscriptions
// (Java's ProducerManager and ConsumerManager). It calls onChange, outside
// its lock, with a group's remaining members whenever the group's
// membership or subscriptions change and the change asked for a notice.
type registry struct {
	now      func() time.Time
	onChange func(group string, members []*remoting.Conn)

	mu        sync.RWMutex
	consumers map[string]*consumerGroup
	producers map[string]map[*remoting.Conn]*member
}

type member struct {
	info       clientInfo
	lastUpdate time.Time
}

type consumerGroup struct {
	members          map[*remoting.Conn]*member
	subs             map[string]protocol.SubscriptionData
	consumeType      string
	messageModel     string
	consumeFromWhere string
	notify           bool
}

func newRegistry(now func() time.Time, onChange func(string, []*remoting.Conn)) *registry {
	return &registry{
		now:       now,
		onChange:  onChange,
		consumers: map[string]*consumerGroup{},
		producers: map[string]map[*remoting.Conn]*member{},
	}
}

// RegisterConsumer adds or refreshes a member and replaces the group's
// subscriptions with the heartbeat's (a subscription with an older
// subVersion than the one held is kept, as Java does).
func (r *registry) RegisterConsumer(c *remoting.Conn, info clientInfo, data *protocol.ConsumerData, notify bool) {
	r.mu.Lock()
	g := r.consumers[data.GroupName]
	if g == nil {
		g = &consumerGroup{members: map[*remoting.Conn]*member{}, subs: map[string]protocol.SubscriptionData{}}
		r.consumers[data.GroupName] = g
	}
	g.consumeType, g.messageModel, g.consumeFromWhere, g.notify = data.ConsumeType, data.MessageModel, data.ConsumeFromWhere, notify
	changed := false
	if m := g.members[c]; m != nil {
		m.info, m.lastUpdate = info, r.now()
	} else {
		g.members[c] = &member{info: info, lastUpdate: r.now()}
		changed = true
	}
	if updateSubscriptions(g.subs, data.SubscriptionDataSet) {
		changed = true
	}
	var members []*remoting.Conn
	if changed && notify {
		members = g.memberConns()
	}
	r.mu.Unlock()
	if members != nil {
		r.onChange(data.GroupName, members)
	}
}

func updateSubscriptions(subs map[string]protocol.SubscriptionData, set []protocol.SubscriptionData) bool {
	changed := false
	seen := make(map[string]bool, len(set))
	for _, sd := range set {
		seen[sd.Topic] = true
		old, ok := subs[sd.Topic]
		switch {
		case !ok:
			subs[sd.Topic] = sd
			changed = true
		case sd.SubVersion > old.SubVersion:
			if old.SubString != sd.SubString || old.ExpressionType != sd.ExpressionType {
				changed = true
			}
			subs[sd.Topic] = sd
		}
	}
	for t := range subs {
		if !seen[t] {
			delete(subs, t)
			changed = true
		}
	}
	return changed
}

func (g *consumerGroup) memberConns() []*remoting.Conn {
	out := make([]*remoting.Conn, 0, len(g.members))
	for c := range g.members {
		out = append(out, c)
	}
	return out
}

// UnregisterConsumer removes one member.
func (r *registry) UnregisterConsumer(c *remoting.Conn, _ clientInfo, group string, notify bool) {
	r.mu.Lock()
	members, ok := r.removeConsumerLocked(group, c)
	r.mu.Unlock()
	if ok && notify && len(members) > 0 {
		r.onChange(group, members)
	}
}

// removeConsumerLocked removes c from group and returns the members left.
func (r *registry) removeConsumerLocked(group string, c *remoting.Conn) ([]*remoting.Conn, bool) {
	g := r.consumers[group]
	if g == nil || g.members[c] == nil {
		return nil, false
	}
	delete(g.members, c)
	if len(g.members) == 0 {
		delete(r.consumers, group)
		return nil, true
	}
	return g.memberConns(), true
}

// RegisterProducer adds or refreshes a producer group member.
func (r *registry) RegisterProducer(c *remoting.Conn, info clientInfo, group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := r.producers[group]
	if ms == nil {
		ms = map[*remoting.Conn]*member{}
		r.producers[group] = ms
	}
	ms[c] = &member{info: info, lastUpdate: r.now()}
}

// UnregisterProducer removes one producer group member.
func (r *registry) UnregisterProducer(c *remoting.Conn, _ clientInfo, group string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeProducerLocked(group, c)
}

func (r *registry) removeProducerLocked(group string, c *remoting.Conn) {
	if ms := r.producers[group]; ms != nil {
		delete(ms, c)
		if len(ms) == 0 {
			delete(r.producers, group)
		}
	}
}

// ChannelClosed forgets every registration of a closed connection and
// notifies the groups it left.
func (r *registry) ChannelClosed(c *remoting.Conn) {
	type notice struct {
		group   string
		members []*remoting.Conn
	}
	var notices []notice
	r.mu.Lock()
	for group, g := range r.consumers {
		if g.members[c] == nil {
			continue
		}
		notify := g.notify
		members, _ := r.removeConsumerLocked(group, c)
		if notify && len(members) > 0 {
			notices = append(notices, notice{group, members})
		}
	}
	for group := range r.producers {
		r.removeProducerLocked(group, c)
	}
	r.mu.Unlock()
	for _, n := range notices {
		r.onChange(n.group, n.members)
	}
}

// Expired returns the connections none of whose registrations was
// refreshed within timeout (Java's ClientHousekeepingService closes them).
func (r *registry) Expired(timeout time.Duration) []*remoting.Conn {
	cutoff := r.now().Add(-timeout)
	fresh := map[*remoting.Conn]bool{}
	stale := map[*remoting.Conn]bool{}
	visit := func(c *remoting.Conn, m *member) {
		if m.lastUpdate.Before(cutoff) {
			stale[c] = true
		} else {
			fresh[c] = true
		}
	}
	r.mu.RLock()
	for _, g := range r.consumers {
		for c, m := range g.members {
			visit(c, m)
		}
	}
	for _, ms := range r.producers {
		for c, m := range ms {
			visit(c, m)
		}
	}
	r.mu.RUnlock()
	var out []*remoting.Conn
	for c := range stale {
		if !fresh[c] {
			out = append(out, c)
		}
	}
	return out
}

// ConsumerIDs returns the client ids of a group's members, sorted.
func (r *registry) ConsumerIDs(group string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.consumers[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.members))
	for _, m := range g.members {
		ids = append(ids, m.info.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Subscription returns a group's subscription to topic.
func (r *registry) Subscription(group, topic string) (protocol.SubscriptionData, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.consumers[group]
	if g == nil {
		return protocol.SubscriptionData{}, false
	}
	sd, ok := g.subs[topic]
	return sd, ok
}

// SubscriptionCount returns how many topics a group subscribes to.
func (r *registry) SubscriptionCount(group string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if g := r.consumers[group]; g != nil {
		return len(g.subs)
	}
	return 0
}

// MessageModel returns a group's message model; false when the group has
// no member.
func (r *registry) MessageModel(group string) (string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.consumers[group]
	if g == nil {
		return "", false
	}
	return g.messageModel, true
}

// GroupsSubscribing returns the online groups subscribed to topic, sorted.
func (r *registry) GroupsSubscribing(topic string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for name, g := range r.consumers {
		if _, ok := g.subs[topic]; ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func connection(c *remoting.Conn, m *member) protocol.Connection {
	return protocol.Connection{ClientID: m.info.ID, ClientAddr: c.RemoteAddr(), Language: m.info.Language.Name(), Version: m.info.Version}
}

// ConsumerConnection describes a group's members and subscriptions.
func (r *registry) ConsumerConnection(group string) (protocol.ConsumerConnection, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.consumers[group]
	if g == nil {
		return protocol.ConsumerConnection{}, false
	}
	cc := protocol.ConsumerConnection{
		SubscriptionTable: make(map[string]protocol.SubscriptionData, len(g.subs)),
		ConsumeType:       g.consumeType,
		MessageModel:      g.messageModel,
		ConsumeFromWhere:  g.consumeFromWhere,
	}
	for c, m := range g.members {
		cc.ConnectionSet = append(cc.ConnectionSet, connection(c, m))
	}
	slices.SortFunc(cc.ConnectionSet, func(a, b protocol.Connection) int { return compareConn(a, b) })
	for t, sd := range g.subs {
		cc.SubscriptionTable[t] = sd
	}
	return cc, true
}

// ProducerConnection describes a producer group's members.
func (r *registry) ProducerConnection(group string) (protocol.ProducerConnection, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ms := r.producers[group]
	if len(ms) == 0 {
		return protocol.ProducerConnection{}, false
	}
	var pc protocol.ProducerConnection
	for c, m := range ms {
		pc.ConnectionSet = append(pc.ConnectionSet, connection(c, m))
	}
	slices.SortFunc(pc.ConnectionSet, func(a, b protocol.Connection) int { return compareConn(a, b) })
	return pc, true
}

func compareConn(a, b protocol.Connection) int {
	switch {
	case a.ClientID < b.ClientID:
		return -1
	case a.ClientID > b.ClientID:
		return 1
	case a.ClientAddr < b.ClientAddr:
		return -1
	case a.ClientAddr > b.ClientAddr:
		return 1
	}
	return 0
}
