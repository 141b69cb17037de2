package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Three option structs that share one file, as RocketMQ's BrokerConfig,
// NettyServerConfig and MessageStoreConfig share broker.conf.
type brokerOptions struct {
	BrokerClusterName     string   `prop:"brokerClusterName"`
	BrokerName            string   `prop:"brokerName"`
	BrokerID              int64    `prop:"brokerId"`
	NamesrvAddr           []string `prop:"namesrvAddr,sep=;"`
	BrokerIP1             string   `prop:"brokerIP1"`
	AutoCreateTopicEnable bool     `prop:"autoCreateTopicEnable"`
	DefaultTopicQueueNums int32    `prop:"defaultTopicQueueNums"`
	EnableACL             bool     `prop:"enableAcl"`
	ListenPort            int      `prop:"listenPort"` // also claimed by serverOptions
	Internal              string   // untagged: never set
}

type serverOptions struct {
	ListenPort                int `prop:"listenPort"`
	SendMessageThreadPoolNums int `prop:"sendMessageThreadPoolNums"`
}

type storeOptions struct {
	StorePathRootDir       string  `prop:"storePathRootDir"`
	FlushDiskType          string  `prop:"flushDiskType"`
	BrokerRole             string  `prop:"brokerRole"`
	DeleteWhen             string  `prop:"deleteWhen"`
	FileReservedTime       int     `prop:"fileReservedTime"`
	MappedFileSizeCommit   int64   `prop:"mapedFileSizeCommitLog"`
	DiskMaxUsedSpaceRatio  int     `prop:"diskMaxUsedSpaceRatio"`
	FlushIntervalCommitLog int     `prop:"flushIntervalCommitLog"`
	FlushLeastPagesWhen    float64 `prop:"-"`
}

func TestApplyBrokerConf(t *testing.T) {
	p, err := Load("testdata/broker.conf")
	require.NoError(t, err)
	broker := brokerOptions{ListenPort: 1, Internal: "kept", DefaultTopicQueueNums: 4}
	server := serverOptions{ListenPort: 2}
	store := storeOptions{FlushLeastPagesWhen: 4}

	unknown, err := Apply(p, &broker, &server, &store)
	require.NoError(t, err)
	require.Empty(t, unknown)
	require.Equal(t, brokerOptions{
		BrokerClusterName:     "DefaultCluster",
		BrokerName:            "broker-a",
		BrokerID:              0,
		NamesrvAddr:           []string{"127.0.0.1:9876", "127.0.0.2:9876"},
		BrokerIP1:             "10.0.0.1",
		AutoCreateTopicEnable: true,
		DefaultTopicQueueNums: 8,
		EnableACL:             true,
		ListenPort:            10911,
		Internal:              "kept",
	}, broker)
	require.Equal(t, serverOptions{ListenPort: 10911, SendMessageThreadPoolNums: 4}, server)
	require.Equal(t, storeOptions{
		StorePathRootDir:       "/var/lib/gorocket/store",
		FlushDiskType:          "ASYNC_FLUSH",
		BrokerRole:             "ASYNC_MASTER",
		DeleteWhen:             "04",
		FileReservedTime:       48,
		MappedFileSizeCommit:   1 << 30,
		DiskMaxUsedSpaceRatio:  75,
		FlushIntervalCommitLog: 500,
		FlushLeastPagesWhen:    4,
	}, store)
}

func props(t *testing.T, text string) *Properties {
	t.Helper()
	p, err := Parse([]byte(text), "test.conf")
	require.NoError(t, err)
	return p
}

func TestApplyReturnsUnknownKeysSorted(t *testing.T) {
	p := props(t, "listenPort=1\nzooKeeper=x\nbrokername=wrong-case\nabc=1")
	var server serverOptions
	unknown, err := Apply(p, &server)
	require.NoError(t, err)
	require.Equal(t, []string{"abc", "brokername", "zooKeeper"}, unknown)
	require.Equal(t, 1, server.ListenPort)
}

func TestApplyTrimsValuesLikeJava(t *testing.T) {
	p := props(t, "brokerName=  broker-a\t\nlistenPort=10911 \nenableAcl = TRUE \\u0000\nbrokerIP1=\\u0001x\\u0002")
	var b brokerOptions
	_, err := Apply(p, &b)
	require.NoError(t, err)
	require.Equal(t, "broker-a", b.BrokerName)
	require.Equal(t, 10911, b.ListenPort, "RocketMQ would silently ignore the trailing space")
	require.True(t, b.EnableACL)
	require.Equal(t, "x", b.BrokerIP1)
}

func TestApplyConvertsEveryKind(t *testing.T) {
	type kinds struct {
		S   string   `prop:"s"`
		B   bool     `prop:"b"`
		I   int      `prop:"i"`
		I8  int8     `prop:"i8"`
		I16 int16    `prop:"i16"`
		I32 int32    `prop:"i32"`
		I64 int64    `prop:"i64"`
		F32 float32  `prop:"f32"`
		F64 float64  `prop:"f64"`
		L   []string `prop:"l"`
		LS  []string `prop:"ls,sep= "`
	}
	p := props(t, strings.Join([]string{
		"s=x y", "b=False", "i=-42", "i8=-128", "i16=+32767", "i32=-2147483648", "i64=9223372036854775807",
		"f32=0.5", "f64=-1.5e3", "l= a, b ,,c ,", "ls=1s 5s  10s",
	}, "\n"))
	var k kinds
	_, err := Apply(p, &k)
	require.NoError(t, err)
	require.Equal(t, kinds{
		S: "x y", B: false, I: -42, I8: -128, I16: 32767, I32: -2147483648, I64: 9223372036854775807,
		F32: 0.5, F64: -1500, L: []string{"a", "b", "c"}, LS: []string{"1s", "5s", "10s"},
	}, k)

	k.L = []string{"stale"}
	_, err = Apply(props(t, "l="), &k)
	require.NoError(t, err)
	require.Nil(t, k.L, "an empty value is an empty list")
}

func TestApplyRefusesBadValuesAndChangesNothing(t *testing.T) {
	p := props(t, strings.Join([]string{
		"brokerName=fine",
		"listenPort=10911x",
		"brokerId=",
		"defaultTopicQueueNums=2147483648",
		"autoCreateTopicEnable=yes",
		"enableAcl=1",
		"sendMessageThreadPoolNums=1.5",
		"unknownKey=whatever",
	}, "\n"))
	broker := brokerOptions{BrokerName: "before", ListenPort: 7}
	server := serverOptions{ListenPort: 8}
	unknown, err := Apply(p, &broker, &server)
	require.ErrorIs(t, err, ErrValue)
	require.Equal(t, []string{"unknownKey"}, unknown)
	require.Equal(t, brokerOptions{BrokerName: "before", ListenPort: 7}, broker, "nothing is set when a value is bad")
	require.Equal(t, serverOptions{ListenPort: 8}, server)

	// Every bad value is reported, in key order; listenPort, claimed by
	// both targets as an int, once.
	require.Equal(t, strings.Join([]string{
		`config: test.conf:5: autoCreateTopicEnable: "yes" is not a boolean (true or false)`,
		`config: test.conf:3: brokerId: "" is not an integer (int64)`,
		`config: test.conf:4: defaultTopicQueueNums: "2147483648" is not an integer (int32)`,
		`config: test.conf:6: enableAcl: "1" is not a boolean (true or false)`,
		`config: test.conf:2: listenPort: "10911x" is not an integer (int)`,
		`config: test.conf:7: sendMessageThreadPoolNums: "1.5" is not an integer (int)`,
	}, "\n"), err.Error())

	var ve *ValueError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, ValueError{Key: "autoCreateTopicEnable", Value: "yes", Origin: "test.conf:5", Want: "a boolean (true or false)"}, *ve)
}

func TestApplyRefusesBadFloats(t *testing.T) {
	type f struct {
		F float64 `prop:"f"`
	}
	for _, bad := range []string{"inf", "NaN", "0x1p3", "1_0", "1e", "", "1.5f"} {
		_, err := Apply(props(t, "f="+bad), &f{})
		require.ErrorIs(t, err, ErrValue, bad)
	}
}

func TestCommandLineOverridesFile(t *testing.T) {
	p, err := Load("testdata/broker.conf")
	require.NoError(t, err)
	require.NoError(t, p.Override("command line", "listenPort=10921", "brokerName=broker-b"))
	var b brokerOptions
	_, err = Apply(p, &b)
	require.NoError(t, err)
	require.Equal(t, 10921, b.ListenPort)
	require.Equal(t, "broker-b", b.BrokerName)

	require.NoError(t, p.Override("command line", "listenPort=nope"))
	_, err = Apply(p, &b)
	require.ErrorContains(t, err, `config: command line: listenPort: "nope" is not an integer (int)`)
}

type Common struct {
	Cluster string `prop:"brokerClusterName"`
}

type tuning struct {
	Threads int `prop:"threads"`
}

type composed struct {
	Common          // embedded: walked into
	Tuning  tuning  // named struct field without a tag: walked into
	Skipped tuning  `prop:"-"`
	hidden  tuning  // unexported: ignored
	Ptr     *tuning // pointers are not followed
}

func TestApplyWalksNestedStructs(t *testing.T) {
	c := composed{Ptr: &tuning{}}
	unknown, err := Apply(props(t, "brokerClusterName=c1\nthreads=16"), &c)
	require.NoError(t, err)
	require.Empty(t, unknown)
	require.Equal(t, "c1", c.Cluster)
	require.Equal(t, 16, c.Tuning.Threads)
	require.Zero(t, c.Skipped.Threads)
	require.Zero(t, c.Ptr.Threads)
	require.Zero(t, c.hidden.Threads)
}

func TestApplyRefusesBadTargets(t *testing.T) {
	type withDuration struct {
		D time.Duration `prop:"d"`
	}
	type withMap struct {
		M map[string]string `prop:"m"`
	}
	type withUint struct {
		U uint `prop:"u"`
	}
	type withStruct struct {
		T tuning `prop:"t"`
	}
	type withEmptyTag struct {
		S string `prop:""`
	}
	type withBadOption struct {
		S string `prop:"s,sep=;"`
	}
	type withUnknownOption struct {
		L []string `prop:"l,omitempty"`
	}
	type withDuplicate struct {
		A      string `prop:"x"`
		Tuning struct {
			B string `prop:"x"`
		}
	}
	var nilPtr *serverOptions
	for _, target := range []any{
		serverOptions{}, nilPtr, new(int), nil, &withDuration{}, &withMap{}, &withUint{}, &withStruct{},
		&withEmptyTag{}, &withBadOption{}, &withUnknownOption{}, &withDuplicate{},
	} {
		_, err := Apply(props(t, "d=1"), target)
		require.ErrorIs(t, err, ErrTarget, "%T", target)
		_, err = Dump(target)
		require.ErrorIs(t, err, ErrTarget, "%T", target)
	}
	_, err := Apply(props(t, ""), &withDuration{})
	require.ErrorContains(t, err, "use an integer of milliseconds")
}
