// Package clients is the broker's registry of connected clients: which
// connections belong to which producer and consumer groups, what each
// consumer group subscribes to, and when each client last sent a
// heartbeat. It is RocketMQ's ProducerManager, ConsumerManager and
// ConsumerGroupInfo, in memory only (clients re-register by heartbeat
// every 30 s, so nothing needs to survive a restart).
//
// # Channels
//
// A Channel is the broker's connection to a client. The package never
// reads from or writes to it; it only needs RemoteAddr for connection
// lists and logs, and uses the interface value itself as the identity of
// the connection (map key). The broker's connection type must therefore
// be comparable — a pointer, in practice.
//
// # Consumer groups (ConsumerManager)
//
// A group exists while it has at least one member (channel). Register
// adds or refreshes a member and reconciles the group's subscriptions
// with the heartbeat's set, as Java does:
//
//   - a topic not held yet is added (subscriptions changed);
//   - a topic no longer in the set is removed (subscriptions changed);
//   - a topic held with an older subVersion is replaced silently.
//
// The group's consume type, message model and consume-from-where are the
// latest heartbeat's. Membership changes when a channel joins or leaves,
// and when a channel's client id changes (Java only logs that; we count
// it, since the group's id list changed).
//
// # Events
//
// OnGroupEvent listeners are called after the registry changed, outside
// its locks, in the calling goroutine:
//
//   - EventChange: the members or subscriptions of a group changed; the
//     channels are the group's members now (possibly none). The broker
//     sends NOTIFY_CONSUMER_IDS_CHANGED to each when the group's
//     notifyConsumerIdsChangedEnable is on.
//   - EventUnregister: the group's last member left; no channels.
//   - EventRegister: a heartbeat (re-)registered the group, changed or
//     not, as Java's REGISTER event; the channels are the members. It
//     lets a SQL92 filter manager keep up with subscriptions.
//
// One call gives at most one EventChange per group (ScanExpired removing
// several members of a group reports them together). Events of
// concurrent calls may reach listeners in any order; each carries the
// membership as it was right after its own change.
// Listeners must not block (push notifications asynchronously).
//
// # Producer groups (ProducerManager)
//
// Producer groups are used to find a live producer for transaction
// check-backs (AvailableChannel: round-robin over the group's channels)
// and a client's channel for request-reply answers (FindChannel).
//
// # Expiry
//
// A member whose last heartbeat is older than the timeout
// (channelExpiredTimeout, 120 s: four missed heartbeats) is removed by
// ScanExpired, which logs each removal. Java then closes the channel;
// ScanExpiredChannels returns the expired channels so the broker can do
// the same. Closed channels are removed at once through ChannelClosed.
//
// All methods are safe for concurrent use.
package clients
