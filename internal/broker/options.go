package broker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store"
)

// ErrInvalidOptions is wrapped by every Validate error.
var ErrInvalidOptions = errors.New("broker: invalid options")

// Options configure a Broker. Fields tagged prop carry the broker.conf key
// of Java's BrokerConfig (or NettyServerConfig) with the same meaning and
// unit: durations are integers of milliseconds unless the name says
// seconds. The store has its own Options (MessageStoreConfig's keys).
type Options struct {
	BrokerClusterName string `prop:"brokerClusterName"`
	BrokerName        string `prop:"brokerName"`
	BrokerID          int64  `prop:"brokerId"`
	// NamesrvAddr lists the NameServers, ";"-separated ("" runs without
	// any: nothing registers the broker's topics).
	NamesrvAddr string `prop:"namesrvAddr"`
	// BindAddress is the address to listen on (NettyServerConfig, 5.x).
	BindAddress string `prop:"bindAddress"`
	// ListenPort is the remoting port; 0 picks a free one (tests).
	ListenPort int `prop:"listenPort"`
	// BrokerIP1 is the IPv4 address announced to clients. Empty: the
	// BindAddress if it is a specific IPv4 address, else the first
	// non-loopback IPv4 address of the host, else 127.0.0.1.
	BrokerIP1 string `prop:"brokerIP1"`
	// BrokerRole is ASYNC_MASTER, SYNC_MASTER or SLAVE (the store reads
	// the same key).
	BrokerRole string `prop:"brokerRole"`

	AutoCreateTopicEnable       bool   `prop:"autoCreateTopicEnable"`
	AutoCreateSubscriptionGroup bool   `prop:"autoCreateSubscriptionGroup"`
	DefaultTopicQueueNums       int32  `prop:"defaultTopicQueueNums"`
	BrokerPermission            int32  `prop:"brokerPermission"`
	ClusterTopicEnable          bool   `prop:"clusterTopicEnable"`
	BrokerTopicEnable           bool   `prop:"brokerTopicEnable"`
	TraceTopicEnable            bool   `prop:"traceTopicEnable"`
	MsgTraceTopicName           string `prop:"msgTraceTopicName"`
	RejectTransactionMessage    bool   `prop:"rejectTransactionMessage"`

	LongPollingEnable     bool  `prop:"longPollingEnable"`
	ShortPollingTimeMills int64 `prop:"shortPollingTimeMills"`
	SlaveReadEnable       bool  `prop:"slaveReadEnable"`
	// EnablePropertyFilter allows SQL92 subscriptions. On by default in
	// gorocket; RocketMQ ships it off.
	EnablePropertyFilter           bool `prop:"enablePropertyFilter"`
	NotifyConsumerIDsChangedEnable bool `prop:"notifyConsumerIdsChangedEnable"`

	// RegisterNameServerPeriod is clamped to 10 s..60 s, as Java does.
	RegisterNameServerPeriod    int   `prop:"registerNameServerPeriod"`
	RegisterBrokerTimeoutMills  int   `prop:"registerBrokerTimeoutMills"`
	FlushConsumerOffsetInterval int   `prop:"flushConsumerOffsetInterval"`
	ChannelExpiredTimeout       int64 `prop:"channelExpiredTimeout"`
	// ServerChannelMaxIdleTimeSeconds closes connections idle this long
	// (NettyServerConfig).
	ServerChannelMaxIdleTimeSeconds int `prop:"serverChannelMaxIdleTimeSeconds"`

	// RegionID is answered as MSG_REGION on sends.
	RegionID string `prop:"regionId"`
	// TraceOn is answered as TRACE_ON on sends.
	TraceOn bool `prop:"traceOn"`
	// DefaultQueryMaxNum caps a QUERY_MESSAGE by unique key
	// (MessageStoreConfig).
	DefaultQueryMaxNum int `prop:"defaultQueryMaxNum"`

	// Settings of the features wired in wire_*.go, each declared beside
	// its feature (config.Apply walks embedded structs).
	ScheduleOptions
	TransactionOptions
	OrderOptions
}

// DefaultOptions returns RocketMQ's defaults (BrokerConfig,
// NettyServerConfig as BrokerStartup sets it), except EnablePropertyFilter,
// which is on.
func DefaultOptions() Options {
	return Options{
		BrokerClusterName: "DefaultCluster",
		BrokerName:        "broker-a",
		BrokerID:          protocol.MasterID,
		BindAddress:       "0.0.0.0",
		ListenPort:        10911,
		BrokerRole:        store.RoleAsyncMaster,

		AutoCreateTopicEnable:       true,
		AutoCreateSubscriptionGroup: true,
		DefaultTopicQueueNums:       8,
		BrokerPermission:            protocol.PermRead | protocol.PermWrite,
		ClusterTopicEnable:          true,
		BrokerTopicEnable:           true,
		MsgTraceTopicName:           topic.TraceTopic,

		LongPollingEnable:              true,
		ShortPollingTimeMills:          1000,
		EnablePropertyFilter:           true,
		NotifyConsumerIDsChangedEnable: true,

		RegisterNameServerPeriod:        30_000,
		RegisterBrokerTimeoutMills:      24_000,
		FlushConsumerOffsetInterval:     5000,
		ChannelExpiredTimeout:           120_000,
		ServerChannelMaxIdleTimeSeconds: 120,

		RegionID:           "DefaultRegion",
		TraceOn:            true,
		DefaultQueryMaxNum: 32,

		ScheduleOptions:    defaultScheduleOptions(),
		TransactionOptions: defaultTransactionOptions(),
		OrderOptions:       defaultOrderOptions(),
	}
}

// Validate reports every invalid field.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if err := topic.ValidateTopic(o.BrokerClusterName); err != nil {
		bad("brokerClusterName: %v", err)
	}
	if err := topic.ValidateTopic(o.BrokerName); err != nil {
		bad("brokerName: %v", err)
	}
	if o.BrokerID < 0 {
		bad("brokerId %d is negative", o.BrokerID)
	}
	if _, err := o.namesrvAddrs(); err != nil {
		bad("namesrvAddr: %v", err)
	}
	if o.BindAddress != "" {
		if _, err := netip.ParseAddr(o.BindAddress); err != nil {
			bad("bindAddress %q is not an IP address", o.BindAddress)
		}
	}
	if o.ListenPort < 0 || o.ListenPort > 65535 {
		bad("listenPort %d outside 0..65535", o.ListenPort)
	}
	if o.BrokerIP1 != "" {
		if a, err := netip.ParseAddr(o.BrokerIP1); err != nil || !a.Is4() {
			// The official Go client parses only IPv4 offset message ids.
			bad("brokerIP1 %q is not an IPv4 address", o.BrokerIP1)
		}
	}
	switch o.BrokerRole {
	case store.RoleAsyncMaster, store.RoleSyncMaster, store.RoleSlave:
	default:
		bad("brokerRole %q: want %s, %s or %s", o.BrokerRole, store.RoleAsyncMaster, store.RoleSyncMaster, store.RoleSlave)
	}
	if o.DefaultTopicQueueNums < 1 || o.DefaultTopicQueueNums > topic.MaxQueueNums {
		bad("defaultTopicQueueNums %d outside 1..%d", o.DefaultTopicQueueNums, topic.MaxQueueNums)
	}
	if o.BrokerPermission&^(protocol.PermPriority|protocol.PermRead|protocol.PermWrite|protocol.PermInherit) != 0 {
		bad("brokerPermission %d has unknown bits", o.BrokerPermission)
	}
	if err := topic.ValidateTopic(o.MsgTraceTopicName); err != nil {
		bad("msgTraceTopicName: %v", err)
	}
	for name, v := range map[string]int64{
		"shortPollingTimeMills":           o.ShortPollingTimeMills,
		"registerNameServerPeriod":        int64(o.RegisterNameServerPeriod),
		"registerBrokerTimeoutMills":      int64(o.RegisterBrokerTimeoutMills),
		"flushConsumerOffsetInterval":     int64(o.FlushConsumerOffsetInterval),
		"channelExpiredTimeout":           o.ChannelExpiredTimeout,
		"serverChannelMaxIdleTimeSeconds": int64(o.ServerChannelMaxIdleTimeSeconds),
		"defaultQueryMaxNum":              int64(o.DefaultQueryMaxNum),
	} {
		if v <= 0 {
			bad("%s %d must be positive", name, v)
		}
	}
	for _, err := range []error{o.ScheduleOptions.validate(), o.TransactionOptions.validate(), o.OrderOptions.validate()} {
		if err != nil {
			bad("%v", err)
		}
	}
	return errors.Join(errs...)
}

// namesrvAddrs splits NamesrvAddr into host:port addresses.
func (o *Options) namesrvAddrs() ([]string, error) {
	var out []string
	for a := range strings.SplitSeq(o.NamesrvAddr, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%q is not host:port", a)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("%q: bad port", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// registerPeriod is registerNameServerPeriod clamped as Java clamps it.
func (o *Options) registerPeriod() time.Duration {
	return time.Duration(min(max(o.RegisterNameServerPeriod, 10_000), 60_000)) * time.Millisecond
}

// announceIP picks the IPv4 address announced to clients.
func (o *Options) announceIP() netip.Addr {
	if a, err := netip.ParseAddr(o.BrokerIP1); err == nil && a.Is4() {
		return a
	}
	if a, err := netip.ParseAddr(o.BindAddress); err == nil && a.Is4() && !a.IsUnspecified() {
		return a
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if pn, ok := ad.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(pn.IP); ok {
					a = a.Unmap()
					if a.Is4() && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
						return a
					}
				}
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// isSlave reports whether the broker is a slave.
func (o *Options) isSlave() bool { return o.BrokerRole == store.RoleSlave }
