package clients

import (
	"cmp"
	"slices"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// ChannelExpiredTimeout is RocketMQ's channelExpiredTimeout: a client
// silent this long is dropped.
const ChannelExpiredTimeout = 120 * time.Second

// Channel is the broker's connection to a client. Its dynamic type must be
// comparable (a pointer): the interface value is the connection's
// identity.
type Channel interface {
	RemoteAddr() string
}

// Event says what happened to a consumer group; see the package comment.
type Event int

// Consumer group events.
const (
	EventChange Event = iota
	EventUnregister
	EventRegister
)

func (e Event) String() string {
	switch e {
	case EventChange:
		return "CHANGE"
	case EventUnregister:
		return "UNREGISTER"
	case EventRegister:
		return "REGISTER"
	}
	return "UNKNOWN"
}

// member is one channel's registration in a group.
type member struct {
	clientID   string
	language   protocol.LanguageCode
	version    int32
	lastUpdate time.Time
}

func (m *member) connection(ch Channel) protocol.Connection {
	return protocol.Connection{ClientID: m.clientID, ClientAddr: ch.RemoteAddr(), Language: m.language.Name(), Version: m.version}
}

func sortConnections(cs []protocol.Connection) {
	slices.SortFunc(cs, func(a, b protocol.Connection) int {
		return cmp.Or(cmp.Compare(a.ClientID, b.ClientID), cmp.Compare(a.ClientAddr, b.ClientAddr))
	})
}

// expired reports whether a heartbeat at last is too old at now: older
// than timeout, as Java's "now - last > timeout".
func expired(last, now time.Time, timeout time.Duration) bool {
	return now.Sub(last) > timeout
}

// sortedChannels returns the channels of members ordered by client id and
// address, so that round-robin and listings are stable.
func sortedChannels(members map[Channel]*member) []Channel {
	out := make([]Channel, 0, len(members))
	for ch := range members {
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b Channel) int {
		return cmp.Or(cmp.Compare(members[a].clientID, members[b].clientID), cmp.Compare(a.RemoteAddr(), b.RemoteAddr()))
	})
	return out
}
