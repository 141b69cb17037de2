package compat

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/stretchr/testify/require"
)

// TestAdminTopics drives the official admin client: CreateTopic,
// FetchAllTopicList, DeleteTopic.
func TestAdminTopics(t *testing.T) {
	c := startCluster(t)
	adm, err := admin.NewAdmin(admin.WithResolver(c.resolver()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = adm.Close() })
	ctx := context.Background()

	require.NoError(t, adm.CreateTopic(ctx, admin.WithTopicCreate("newOne"), admin.WithBrokerAddrCreate(c.s.BrokerAddr())))
	eventually(t, 10*time.Second, func() error {
		list, err := adm.FetchAllTopicList(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(list.TopicList, "newOne") {
			return errNotYet("newOne not listed")
		}
		return nil
	})

	queues, err := adm.FetchPublishMessageQueues(ctx, "newOne")
	require.NoError(t, err)
	require.Len(t, queues, 8, "the admin client creates 8 write queues")

	require.NoError(t, adm.DeleteTopic(ctx, admin.WithTopicDelete("newOne"),
		admin.WithBrokerAddrDelete(c.s.BrokerAddr()), admin.WithNameSrvAddr([]string{c.s.NamesrvAddr()})))
	eventually(t, 10*time.Second, func() error {
		list, err := adm.FetchAllTopicList(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(list.TopicList, "newOne") {
			return errNotYet("newOne still listed")
		}
		return nil
	})
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) }
