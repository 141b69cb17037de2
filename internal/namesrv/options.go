package namesrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/internal/namesrv/routeinfo"
)

// ErrInvalidOptions is wrapped by every Validate error.
var ErrInvalidOptions = errors.New("namesrv: invalid options")

// Options configure a Server. Fields tagged `prop` carry the names of
// RocketMQ's NamesrvConfig and NettyServerConfig keys, so that
// internal/config applies namesrv.conf to them; durations are integers of
// the unit RocketMQ uses, as there.
type Options struct {
	// ListenPort is the TCP port (NettyServerConfig.listenPort); 0 picks
	// a free one (tests).
	ListenPort int `prop:"listenPort"`
	// BindAddress is the interface to listen on (NettyServerConfig
	// .bindAddress); "0.0.0.0" is every interface.
	BindAddress string `prop:"bindAddress"`
	// ServerChannelMaxIdleTimeSeconds closes connections idle for this
	// long; 0 never does.
	ServerChannelMaxIdleTimeSeconds int `prop:"serverChannelMaxIdleTimeSeconds"`

	// KVConfigPath is kvConfig.json; empty keeps the KV configuration in
	// memory only.
	KVConfigPath string `prop:"kvConfigPath"`
	// OrderMessageEnable adds orderTopicConf (from the KV namespace
	// ORDER_TOPIC_CONFIG) to routes.
	OrderMessageEnable bool `prop:"orderMessageEnable"`
	// ReturnOrderTopicConfigToBroker answers REGISTER_BROKER with the
	// ORDER_TOPIC_CONFIG namespace.
	ReturnOrderTopicConfigToBroker bool `prop:"returnOrderTopicConfigToBroker"`
	// ScanNotActiveBrokerInterval is how often silent brokers are looked
	// for, in milliseconds.
	ScanNotActiveBrokerInterval int64 `prop:"scanNotActiveBrokerInterval"`
	// SupportActingMaster names the lowest-id slave of a master-less group
	// its acting master in routes (RIP-32).
	SupportActingMaster bool `prop:"supportActingMaster"`
	// EnableAllTopicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
	EnableAllTopicList bool `prop:"enableAllTopicList"`
	// EnableTopicList serves GET_TOPICS_BY_CLUSTER and the unit topic
	// lists.
	EnableTopicList bool `prop:"enableTopicList"`
	// NeedWaitForService refuses routes for WaitSecondsForService after
	// start, so that a restarted NameServer does not hand out partial
	// routes before every broker has registered again.
	NeedWaitForService    bool `prop:"needWaitForService"`
	WaitSecondsForService int  `prop:"waitSecondsForService"`
	// DeleteTopicWithBrokerRegistration drops a broker's queues of topics
	// missing from its registration.
	DeleteTopicWithBrokerRegistration bool `prop:"deleteTopicWithBrokerRegistration"`

	// BrokerExpiry is how long a broker stays in routes without
	// registering, unless it sends its own heartbeatTimeoutMillis. Not a
	// RocketMQ key: Java hard-codes 120 s.
	BrokerExpiry time.Duration
	// CloseTimeout bounds how long Close waits for requests in flight.
	CloseTimeout time.Duration
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// DefaultOptions returns RocketMQ's defaults. kvConfigPath is
// $HOME/namesrv/kvConfig.json, as in Java.
func DefaultOptions() Options {
	kvPath := "kvConfig.json"
	if home, err := os.UserHomeDir(); err == nil {
		kvPath = filepath.Join(home, "namesrv", "kvConfig.json")
	}
	return Options{
		ListenPort:                      9876,
		BindAddress:                     "0.0.0.0",
		ServerChannelMaxIdleTimeSeconds: 120,
		KVConfigPath:                    kvPath,
		ReturnOrderTopicConfigToBroker:  true,
		ScanNotActiveBrokerInterval:     5000,
		EnableAllTopicList:              true,
		EnableTopicList:                 true,
		WaitSecondsForService:           45,
		BrokerExpiry:                    routeinfo.DefaultBrokerExpiry,
		CloseTimeout:                    5 * time.Second,
	}
}

// Addr returns the listen address, host:port.
func (o Options) Addr() string {
	return net.JoinHostPort(o.BindAddress, strconv.Itoa(o.ListenPort))
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	switch {
	case o.ListenPort < 0 || o.ListenPort > 65535:
		return fmt.Errorf("%w: listenPort %d outside [0, 65535]", ErrInvalidOptions, o.ListenPort)
	case o.BindAddress != "" && net.ParseIP(o.BindAddress) == nil:
		return fmt.Errorf("%w: bindAddress %q is not an IP address", ErrInvalidOptions, o.BindAddress)
	case o.ServerChannelMaxIdleTimeSeconds < 0:
		return fmt.Errorf("%w: serverChannelMaxIdleTimeSeconds %d is negative", ErrInvalidOptions, o.ServerChannelMaxIdleTimeSeconds)
	case o.ScanNotActiveBrokerInterval <= 0:
		return fmt.Errorf("%w: scanNotActiveBrokerInterval %d ms must be positive", ErrInvalidOptions, o.ScanNotActiveBrokerInterval)
	case o.WaitSecondsForService < 0:
		return fmt.Errorf("%w: waitSecondsForService %d is negative", ErrInvalidOptions, o.WaitSecondsForService)
	case o.BrokerExpiry <= 0:
		return fmt.Errorf("%w: BrokerExpiry must be positive", ErrInvalidOptions)
	case o.CloseTimeout < 0:
		return fmt.Errorf("%w: CloseTimeout is negative", ErrInvalidOptions)
	}
	return nil
}
