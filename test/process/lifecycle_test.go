package process

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// TestStandaloneShutsDownCleanly: messages sent to `gorocket standalone`
// and a committed consumer offset are all there after SIGTERM and a
// restart; the process says where it listens and exits 0.
func TestStandaloneShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	nsPort, brokerPort := freePort(t), freePort(t)
	p := standalone(t, dir, nsPort, brokerPort)
	require.Contains(t, p.out(), "NameServer listening on "+addr(nsPort))
	require.Contains(t, p.out(), "announced to clients as "+addr(brokerPort))

	c := newClient(t, addr(nsPort))
	const topic, n = "Lifecycle", 200
	createTopic(t, c, topic, 4)
	prod, err := client.NewProducer(c, client.ProducerOptions{Group: "lifecycle_pg"})
	require.NoError(t, err)
	ctx := context.Background()
	var last client.SendResult
	for i := range n {
		last, err = prod.Send(ctx, &client.Message{Topic: topic, Body: []byte(fmt.Sprintf("m-%03d", i))})
		require.NoError(t, err)
	}
	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: "lifecycle_cg"})
	require.NoError(t, err)
	require.NoError(t, pc.UpdateOffset(ctx, last.Queue, last.QueueOffset))
	pc.Close()
	prod.Close()

	require.NoError(t, p.stop(15*time.Second), "SIGTERM must end the process with status 0")
	require.Contains(t, p.errOut(), "broker closed")

	standalone(t, dir, nsPort, brokerPort)
	c2 := newClient(t, addr(nsPort))
	got := drain(t, c2, topic, n)
	total := 0
	for _, bodies := range got {
		total += len(bodies)
		require.IsIncreasing(t, bodies, "queue order kept")
	}
	require.Equal(t, n, total, "every message survives a clean restart")

	pc2, err := client.NewPullConsumer(c2, client.PullConsumerOptions{Group: "lifecycle_cg"})
	require.NoError(t, err)
	defer pc2.Close()
	off, err := pc2.QueryOffset(ctx, last.Queue)
	require.NoError(t, err)
	require.Equal(t, last.QueueOffset, off, "the committed offset survives a clean restart")
}

// TestBrokerConf: `gorocket broker -c broker.conf` reads RocketMQ's
// properties, flags override the file, NAMESRV_ADDR is the default, unknown
// keys warn and -p prints the effective configuration.
func TestBrokerConf(t *testing.T) {
	conf := writeConf(t,
		"# a RocketMQ broker.conf",
		"brokerClusterName = ClusterX",
		"brokerName=broker-x",
		"brokerId=0",
		"deleteWhen=04",
		"fileReservedTime=48",
		"brokerRole=ASYNC_MASTER",
		"flushDiskType=SYNC_FLUSH",
		"someFutureKey=1",
	)
	p := start(t, "broker -p", []string{"NAMESRV_ADDR=10.1.1.1:9876"}, `^brokerName=`, "broker", "-c", conf, "-p")
	<-p.done
	require.NoError(t, p.err)
	for _, want := range []string{"brokerClusterName=ClusterX", "brokerName=broker-x", "fileReservedTime=48",
		"flushDiskType=SYNC_FLUSH", "namesrvAddr=10.1.1.1:9876"} {
		require.Contains(t, p.out(), want+"\n")
	}
	require.Contains(t, p.errOut(), "someFutureKey", "an unknown key is named in a warning")

	p = start(t, "broker -p -n", []string{"NAMESRV_ADDR=10.1.1.1:9876"}, `^brokerName=`,
		"broker", "-c", conf, "-n", "10.2.2.2:9876;10.3.3.3:9876", "-p")
	<-p.done
	require.Contains(t, p.out(), "namesrvAddr=10.2.2.2:9876;10.3.3.3:9876\n", "-n overrides file and environment")

	bad := writeConf(t, "brokerName=broker-x", "listenPort=eleven")
	cmd := startNoWait(t, "broker", "-c", bad, "-p")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "a value that does not parse is an error")
	require.Contains(t, string(out), "listenPort")
}

// TestTwoMastersAndTwoNameServers: two NameServers and two brokers of one
// cluster (multi-master sharding) as separate processes. A topic spans both
// brokers; losing one broker leaves the other serving; losing one
// NameServer leaves the other routing.
func TestTwoMastersAndTwoNameServers(t *testing.T) {
	ns1, ns2 := freePort(t), freePort(t)
	nsList := addr(ns1) + ";" + addr(ns2)
	start(t, "namesrv1", nil, `^NameServer listening on`, "namesrv", "-c", writeConf(t, fmt.Sprintf("listenPort=%d", ns1), "kvConfigPath="+t.TempDir()+"/kv.json"))
	n2 := start(t, "namesrv2", nil, `^NameServer listening on`, "namesrv", "-c", writeConf(t, fmt.Sprintf("listenPort=%d", ns2), "kvConfigPath="+t.TempDir()+"/kv.json"))
	brokers := map[string]*proc{}
	for _, name := range []string{"broker-a", "broker-b"} {
		conf := writeConf(t, "brokerClusterName=DefaultCluster", "brokerName="+name, "brokerId=0",
			"brokerIP1=127.0.0.1", fmt.Sprintf("listenPort=%d", freePort(t)), "namesrvAddr="+nsList,
			"storePathRootDir="+t.TempDir(), "mappedFileSizeCommitLog=67108864")
		brokers[name] = start(t, name, nil, `^Broker .* listening on`, "broker", "-c", conf)
	}

	c := newClient(t, addr(ns1), addr(ns2))
	const topic = "Sharded"
	createTopic(t, c, topic, 4)
	adm := client.NewAdmin(c)
	route, err := adm.TopicRoute(context.Background(), topic)
	require.NoError(t, err)
	require.Len(t, route.Brokers, 2, "the topic spans both masters")

	prod, err := client.NewProducer(c, client.ProducerOptions{Group: "sharded_pg"})
	require.NoError(t, err)
	defer prod.Close()
	perBroker := map[string]int{}
	for i := range 80 {
		res, err := prod.Send(context.Background(), &client.Message{Topic: topic, Body: []byte(fmt.Sprintf("a-%02d", i))})
		require.NoError(t, err)
		perBroker[res.Queue.BrokerName]++
	}
	require.Len(t, perBroker, 2, "sends spread over both brokers: %v", perBroker)

	// broker-b dies: its connections close, the NameServers drop it at
	// once, and sends keep succeeding on broker-a.
	brokers["broker-b"].kill()
	eventually(t, 20*time.Second, func() error {
		r, err := adm.TopicRoute(context.Background(), topic)
		if err != nil {
			return err
		}
		if len(r.Brokers) != 1 {
			return fmt.Errorf("route still names %d brokers", len(r.Brokers))
		}
		return nil
	})
	for i := range 40 {
		res, err := prod.Send(context.Background(), &client.Message{Topic: topic, Body: []byte(fmt.Sprintf("b-%02d", i))})
		require.NoError(t, err, "send %d after broker-b died", i)
		require.Equal(t, "broker-a", res.Queue.BrokerName)
	}

	// One NameServer goes away: the other still routes.
	require.NoError(t, n2.stop(10*time.Second))
	c2 := newClient(t, addr(ns2), addr(ns1))
	got := drain(t, c2, topic, perBroker["broker-a"]+40)
	total := 0
	for q, bodies := range got {
		require.Equal(t, "broker-a", q.BrokerName)
		total += len(bodies)
	}
	require.Equal(t, perBroker["broker-a"]+40, total)
	for _, bodies := range got {
		for _, b := range bodies {
			require.True(t, strings.HasPrefix(b, "a-") || strings.HasPrefix(b, "b-"))
		}
	}
}

// TestPprofFlag: `gorocket --pprof ADDR` serves the Go runtime profiles of
// the server, for profiling a broker under load.
func TestPprofFlag(t *testing.T) {
	pprofAddr := addr(freePort(t))
	start(t, "standalone --pprof", nil, `^Broker .* listening on`,
		"--pprof", pprofAddr, "standalone", "--data-dir", t.TempDir(),
		"--namesrv-port", strconv.Itoa(freePort(t)), "--broker-port", strconv.Itoa(freePort(t)))
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/cmdline")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "standalone", "the profile endpoints are the server's own")
}
