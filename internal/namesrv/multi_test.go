package namesrv

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Several NameServers run side by side and share nothing: a broker
// registers with each, each answers the same routes, and losing one
// leaves the other serving.
func TestTwoIndependentNameServers(t *testing.T) {
	s1 := startServer(t, testOptions(t), nil)
	s2 := startServer(t, testOptions(t), nil)
	master := newFakeBroker(t, "DefaultCluster", "broker-a", 0, "TopicTest")
	slave := newFakeBroker(t, "DefaultCluster", "broker-a", 1, "TopicTest")
	for _, ns := range []string{s1.Addr(), s2.Addr()} {
		master.register(t, ns)
		require.Equal(t, master.addr, slave.register(t, ns).ExtFields.Value("masterAddr"))
	}
	cl := newClient(t)

	r1 := route(t, cl, s1.Addr(), "TopicTest")
	r2 := route(t, cl, s2.Addr(), "TopicTest")
	require.Equal(t, protocol.Success, r1.ResponseCode())
	require.Equal(t, string(r1.Body), string(r2.Body), "both NameServers give the same route")

	// KV configuration is per NameServer.
	put := invoke(t, cl, s1.Addr(), request(protocol.PutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: "ns", Key: "k", Value: "v"}, nil))
	require.Equal(t, protocol.Success, put.ResponseCode())
	get := invoke(t, cl, s2.Addr(), request(protocol.GetKVConfig, &protocol.KVConfigRequestHeader{Namespace: "ns", Key: "k"}, nil))
	require.Equal(t, protocol.QueryNotFound, get.ResponseCode())

	// One goes down; the other keeps serving, and keeps taking
	// registrations.
	require.NoError(t, s1.Close())
	_, err := cl.InvokeSync(context.Background(), s1.Addr(), request(protocol.GetRouteInfoByTopic, &protocol.TopicRequestHeader{Topic: "TopicTest"}, nil))
	require.Error(t, err, "the closed NameServer answers nothing")
	require.Equal(t, string(r2.Body), string(route(t, cl, s2.Addr(), "TopicTest").Body))
	master.register(t, s2.Addr())
	require.Equal(t, string(r2.Body), string(route(t, cl, s2.Addr(), "TopicTest").Body))

	// The Go client fails over to the NameServer that is up.
	adm := newGoAdmin(t, s1.Addr(), s2.Addr())
	mqs, err := adm.FetchPublishMessageQueues(context.Background(), "TopicTest")
	require.NoError(t, err)
	require.Len(t, mqs, 4)
}
