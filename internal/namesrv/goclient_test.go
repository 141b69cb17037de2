package namesrv

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// The official Go client (rocketmq-client-go v2.1.2), unchanged, against
// our NameServer: its admin API fetches topic lists and routes, parsing
// our answers with its own code (gjson and a hand-written brokerAddrs
// parser for routes, encoding/json for topic lists).

func newGoAdmin(t *testing.T, namesrvs ...string) admin.Admin {
	t.Helper()
	rlog.SetLogLevel("fatal") // its expected "route not found" errors are noise here
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(namesrvs)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, adm.Close()) })
	return adm
}

// queueNames lists "broker/queueId" of mqs, sorted.
func queueNames(mqs []*primitive.MessageQueue) []string {
	out := make([]string, 0, len(mqs))
	for _, mq := range mqs {
		out = append(out, mq.BrokerName+"/"+string(rune('0'+mq.QueueId)))
	}
	slices.Sort(out)
	return out
}

func TestGoClientReadsTopicListsAndRoutes(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	a := newFakeBroker(t, "DefaultCluster", "broker-a", 0, "TopicTest", "Other")
	a.register(t, s.Addr())
	newFakeBroker(t, "DefaultCluster", "broker-a", 1, "TopicTest", "Other").register(t, s.Addr())
	b := newFakeBroker(t, "DefaultCluster", "broker-b", 0, "TopicTest")
	tc := b.topics["TopicTest"]
	tc.WriteQueueNums, tc.ReadQueueNums = 2, 2
	b.topics["TopicTest"] = tc
	b.register(t, s.Addr())
	ctx := context.Background()

	adm := newGoAdmin(t, s.Addr())
	list, err := adm.FetchAllTopicList(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"Other", "TopicTest"}, list.TopicList)

	mqs, err := adm.FetchPublishMessageQueues(ctx, "TopicTest")
	require.NoError(t, err, "the client must parse our fastjson-form route")
	require.Equal(t, []string{"broker-a/0", "broker-a/1", "broker-a/2", "broker-a/3", "broker-b/0", "broker-b/1"}, queueNames(mqs))
	for _, mq := range mqs {
		require.Equal(t, "TopicTest", mq.Topic)
	}

	_, err = adm.FetchPublishMessageQueues(ctx, "NoSuchTopic")
	require.Error(t, err, "TOPIC_NOT_EXIST reaches the client as an error")

	// broker-a's master goes away; its slave stays. The client must not
	// publish to a group without master.
	a.cl.CloseConn(s.Addr())
	cl := newClient(t)
	waitFor(t, "broker-a's master to leave", func() bool {
		var r protocol.TopicRouteData
		require.NoError(t, protocol.DecodeBody(route(t, cl, s.Addr(), "TopicTest").Body, &r))
		return len(r.BrokerDatas) == 2 && r.BrokerDatas[0].MasterAddr() == ""
	})
	fresh := newGoAdmin(t, s.Addr()) // the first one caches routes
	mqs, err = fresh.FetchPublishMessageQueues(ctx, "TopicTest")
	require.NoError(t, err)
	require.Equal(t, []string{"broker-b/0", "broker-b/1"}, queueNames(mqs))
}

func TestGoClientDeletesTopic(t *testing.T) {
	s := startServer(t, testOptions(t), nil)
	newFakeBroker(t, "DefaultCluster", "broker-a", 0, "Keep", "Drop").register(t, s.Addr())

	// DeleteTopic first asks the broker to delete it: a stand-in that says
	// yes.
	brokerOpts := remoting.DefaultServerOptions("127.0.0.1:0")
	brokerOpts.CloseTimeout = time.Second
	broker, err := remoting.NewServer(brokerOpts, discard)
	require.NoError(t, err)
	broker.Register(protocol.DeleteTopicInBroker, remoting.Inline, remoting.ProcessorFunc(
		func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
			return remoting.NewResponse(req, protocol.Success, ""), nil
		}))
	require.NoError(t, broker.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, broker.Close()) })

	ctx := context.Background()
	adm := newGoAdmin(t, s.Addr())
	require.NoError(t, adm.DeleteTopic(ctx, admin.WithTopicDelete("Drop"),
		admin.WithBrokerAddrDelete(broker.Addr().String()), admin.WithNameSrvAddr([]string{s.Addr()})))
	list, err := adm.FetchAllTopicList(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"Keep"}, list.TopicList)
}
