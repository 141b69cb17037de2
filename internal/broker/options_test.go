package broker

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/store"
)

func TestDefaultOptionsAreRocketMQs(t *testing.T) {
	o := DefaultOptions()
	require.NoError(t, o.Validate())
	require.Equal(t, 10911, o.ListenPort)
	require.Equal(t, int32(8), o.DefaultTopicQueueNums)
	require.Equal(t, int32(6), o.BrokerPermission)
	require.True(t, o.AutoCreateTopicEnable)
	require.True(t, o.LongPollingEnable)
	require.True(t, o.EnablePropertyFilter, "SQL92 is on by default in gorocket")
	require.Equal(t, 30*time.Second, o.registerPeriod())
}

func TestOptionsValidate(t *testing.T) {
	for name, mod := range map[string]func(*Options){
		"cluster name":     func(o *Options) { o.BrokerClusterName = "a b" },
		"broker name":      func(o *Options) { o.BrokerName = "" },
		"broker id":        func(o *Options) { o.BrokerID = -1 },
		"namesrv no port":  func(o *Options) { o.NamesrvAddr = "127.0.0.1" },
		"namesrv bad port": func(o *Options) { o.NamesrvAddr = "a:1;b:99999" },
		"bind address":     func(o *Options) { o.BindAddress = "localhost" },
		"port":             func(o *Options) { o.ListenPort = 70000 },
		"ipv6 brokerIP1":   func(o *Options) { o.BrokerIP1 = "::1" },
		"role":             func(o *Options) { o.BrokerRole = "LEADER" },
		"queue nums":       func(o *Options) { o.DefaultTopicQueueNums = 0 },
		"permission":       func(o *Options) { o.BrokerPermission = 16 },
		"trace topic":      func(o *Options) { o.MsgTraceTopicName = "" },
		"short polling":    func(o *Options) { o.ShortPollingTimeMills = 0 },
		"flush interval":   func(o *Options) { o.FlushConsumerOffsetInterval = -1 },
	} {
		o := DefaultOptions()
		mod(&o)
		require.ErrorIs(t, o.Validate(), ErrInvalidOptions, name)
		_, err := New(o, store.DefaultOptions(), nil)
		require.ErrorIs(t, err, ErrInvalidOptions, name)
	}
	o := DefaultOptions()
	o.NamesrvAddr = " 10.0.0.1:9876 ; 10.0.0.2:9876;"
	require.NoError(t, o.Validate())
	addrs, err := o.namesrvAddrs()
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:9876", "10.0.0.2:9876"}, addrs)

	o.RegisterNameServerPeriod = 1000
	require.Equal(t, 10*time.Second, o.registerPeriod(), "clamped as Java clamps it")
	o.RegisterNameServerPeriod = 600_000
	require.Equal(t, 60*time.Second, o.registerPeriod())
}

func TestOptionsFromBrokerConf(t *testing.T) {
	p, err := config.Parse([]byte("brokerName=broker-b\nbrokerId=1\nlistenPort=20911\nbrokerRole=SLAVE\n"+
		"namesrvAddr=10.0.0.1:9876;10.0.0.2:9876\nenablePropertyFilter=false\nflushDiskType=SYNC_FLUSH\n"), "broker.conf")
	require.NoError(t, err)
	o, so := DefaultOptions(), store.DefaultOptions()
	unknown, err := config.Apply(p, &o, &so)
	require.NoError(t, err)
	require.Empty(t, unknown)
	require.Equal(t, "broker-b", o.BrokerName)
	require.Equal(t, int64(1), o.BrokerID)
	require.Equal(t, 20911, o.ListenPort)
	require.True(t, o.isSlave())
	require.Equal(t, store.RoleSlave, so.BrokerRole, "brokerRole is the store's key too")
	require.False(t, o.EnablePropertyFilter)
	require.Equal(t, store.SyncFlush, so.FlushDiskType)
}

func TestAnnounceIP(t *testing.T) {
	o := DefaultOptions()
	o.BrokerIP1 = "10.1.2.3"
	require.Equal(t, "10.1.2.3", o.announceIP().String())
	o.BrokerIP1 = ""
	o.BindAddress = "127.0.0.1"
	require.Equal(t, "127.0.0.1", o.announceIP().String(), "a specific bind address is announced")
	o.BindAddress = "0.0.0.0"
	require.True(t, o.announceIP().Is4())
}

func TestStartFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	o := DefaultOptions()
	o.BindAddress, o.BrokerIP1, o.ListenPort = "127.0.0.1", "127.0.0.1", port
	b, err := New(o, testStoreOptions(t.TempDir()), nil)
	require.NoError(t, err)
	err = b.Start(context.Background())
	require.ErrorContains(t, err, strconv.Itoa(port), "the port is taken")
	require.ErrorIs(t, b.Start(context.Background()), ErrClosed, "a failed broker does not start again")
	require.NoError(t, b.Close())

	// A second broker on the same store directory is refused (the store's
	// lock), and the first keeps running.
	tb := startBroker(t, nil)
	o.ListenPort = 0
	b2, err := New(o, testStoreOptions(tb.dir), nil)
	require.NoError(t, err)
	require.ErrorIs(t, b2.Start(context.Background()), store.ErrLocked)
	require.NoError(t, b2.Close())
	tb.mustSend(t, "StillUp", 0, "x")
}

func TestParseAttributes(t *testing.T) {
	m, err := parseAttributes("+message.type=FIFO, +a=1,-a,+b=")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"message.type": "FIFO", "b": ""}, m)
	for _, bad := range []string{"a=1", "+=1", "+a", "-"} {
		_, err := parseAttributes(bad)
		require.ErrorIs(t, err, errBadAttributes, bad)
	}
}
