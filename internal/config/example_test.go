package config_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/gorocket/gorocket/internal/config"
)

// Two components' options, both configured from one broker.conf.
type BrokerOptions struct {
	BrokerName  string   `prop:"brokerName"`
	NamesrvAddr []string `prop:"namesrvAddr,sep=;"`
	ListenPort  int      `prop:"listenPort"`
}

type StoreOptions struct {
	FileReservedTime int  `prop:"fileReservedTime"` // hours
	FlushIntervalMs  int  `prop:"flushIntervalCommitLog"`
	DuplicationOn    bool `prop:"duplicationEnable"`
}

func Example() {
	conf := `
# broker.conf
brokerName = broker-a
namesrvAddr = 10.0.0.1:9876;10.0.0.2:9876
listenPort = 10911
fileReservedTime = 48
rocketmqHome = /opt/rocketmq
`
	props, err := config.LoadReader(strings.NewReader(conf), "broker.conf")
	if err != nil {
		fmt.Println(err)
		return
	}
	// Flags override the file.
	if err := props.Override("command line", "listenPort=10921"); err != nil {
		fmt.Println(err)
		return
	}

	broker := BrokerOptions{ListenPort: 10911}
	store := StoreOptions{FileReservedTime: 72, FlushIntervalMs: 500}
	unknown, err := config.Apply(props, &broker, &store)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range unknown {
		fmt.Printf("warning: unknown key %s (%s)\n", key, props.Origin(key))
	}
	if err := config.Print(os.Stdout, &broker, &store); err != nil {
		fmt.Println(err)
	}
	// Output:
	// warning: unknown key rocketmqHome (broker.conf:7)
	// brokerName=broker-a
	// duplicationEnable=false
	// fileReservedTime=48
	// flushIntervalCommitLog=500
	// listenPort=10921
	// namesrvAddr=10.0.0.1:9876;10.0.0.2:9876
}
