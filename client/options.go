package client

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Options configure a Client.
type Options struct {
	// NameServers are "host:port" addresses of the cluster's name servers.
	// Required.
	NameServers []string
	// ClientID identifies this client to brokers; consumers of one group
	// split queues by it, so it must differ between the group's members.
	// Default: "<ip>@<pid>#<nanotime>", unique per Client.
	ClientID string
	// Logger receives the client's logs. Default: discard.
	Logger *slog.Logger
	// RequestTimeout bounds a request whose context has no deadline (and
	// a sync send with its retries).
	RequestTimeout time.Duration
	// DialTimeout bounds connecting to a server.
	DialTimeout time.Duration
	// RouteRefreshInterval is how often cached routes are fetched again.
	RouteRefreshInterval time.Duration
	// HeartbeatInterval is how often producer and consumer groups are
	// announced to every broker of the cached routes.
	HeartbeatInterval time.Duration
	// JSONHeaders sends request headers as JSON instead of RocketMQ's
	// binary form. Both are understood by gorocket and Java brokers; the
	// binary form is cheaper to write and to read.
	JSONHeaders bool
	// Credentials, when set, sign every request for a cluster with ACL
	// enabled.
	Credentials *Credentials
}

// DefaultOptions returns the defaults, with the given name servers.
func DefaultOptions(nameServers ...string) Options {
	return Options{
		NameServers:          nameServers,
		RequestTimeout:       3 * time.Second,
		DialTimeout:          3 * time.Second,
		RouteRefreshInterval: 30 * time.Second,
		HeartbeatInterval:    30 * time.Second,
	}
}

// withDefaults fills zero fields with their defaults.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.RequestTimeout == 0 {
		o.RequestTimeout = d.RequestTimeout
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.RouteRefreshInterval == 0 {
		o.RouteRefreshInterval = d.RouteRefreshInterval
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = d.HeartbeatInterval
	}
	return o
}

// Validate reports the first option out of range. Zero durations are
// valid: they mean the default.
func (o Options) Validate() error {
	if len(o.NameServers) == 0 {
		return fmt.Errorf("%w: no name server", ErrInvalidOptions)
	}
	for _, a := range o.NameServers {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: name server %q: %v", ErrInvalidOptions, a, err)
		}
	}
	if strings.ContainsAny(o.ClientID, " \t\r\n") {
		return fmt.Errorf("%w: client id %q contains white space", ErrInvalidOptions, o.ClientID)
	}
	if c := o.Credentials; c != nil && (c.AccessKey == "" || c.SecretKey == "") {
		return fmt.Errorf("%w: credentials without an access key or a secret key", ErrInvalidOptions)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"RequestTimeout", o.RequestTimeout},
		{"DialTimeout", o.DialTimeout},
		{"RouteRefreshInterval", o.RouteRefreshInterval},
		{"HeartbeatInterval", o.HeartbeatInterval},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s is negative", ErrInvalidOptions, d.name)
		}
	}
	return nil
}
