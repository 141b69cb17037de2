package client

import (
	"context"
	"maps"
	"slices"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// heartbeatData describes the groups of this client: producer groups,
// pull consumer groups (CONSUME_ACTIVELY, no subscriptions) and push
// consumers with their subscriptions.
func (c *Client) heartbeatData() (hb protocol.HeartbeatData, consumers bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hb.ClientID = c.id
	hb.ProducerDataSet = []protocol.ProducerData{}
	hb.ConsumerDataSet = []protocol.ConsumerData{}
	for _, g := range slices.Sorted(maps.Keys(c.producers)) {
		hb.ProducerDataSet = append(hb.ProducerDataSet, protocol.ProducerData{GroupName: g})
	}
	for _, g := range slices.Sorted(maps.Keys(c.pullGroups)) {
		if _, push := c.consumers[g]; push {
			continue
		}
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, protocol.ConsumerData{
			GroupName:           g,
			ConsumeType:         protocol.ConsumeActively,
			MessageModel:        protocol.Clustering,
			ConsumeFromWhere:    protocol.ConsumeFromLastOffset,
			SubscriptionDataSet: []protocol.SubscriptionData{},
		})
	}
	for _, g := range slices.Sorted(maps.Keys(c.consumers)) {
		hb.ConsumerDataSet = append(hb.ConsumerDataSet, c.consumers[g].consumerData())
	}
	return hb, len(hb.ConsumerDataSet) > 0
}

// heartbeat announces this client's groups to every broker of the cached
// routes: masters only when it only produces, every member when it
// consumes (consumers may pull from slaves). Failures are logged; the next
// round tries again.
func (c *Client) heartbeat(ctx context.Context) {
	hb, consumers := c.heartbeatData()
	if len(hb.ProducerDataSet) == 0 && !consumers {
		return
	}
	body, err := protocol.EncodeBody(&hb)
	if err != nil {
		c.log.Error("cannot encode heartbeat", "err", err)
		return
	}
	for _, addr := range c.routes.brokerAddrs(consumers) {
		if err := c.heartbeatTo(ctx, addr, body); err != nil && ctx.Err() == nil {
			c.log.Warn("heartbeat failed", "broker", addr, "err", err)
		}
	}
}

func (c *Client) heartbeatTo(ctx context.Context, addr string, body []byte) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	_, err := c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.HeartBeat, nil, body))
	return err
}

// heartbeatBrokers sends the heartbeat at once to the brokers of topics
// and waits: a push consumer must be known to its brokers before it asks
// them for the group's members.
func (c *Client) heartbeatBrokers(ctx context.Context, brokerNames []string) error {
	hb, _ := c.heartbeatData()
	body, err := protocol.EncodeBody(&hb)
	if err != nil {
		return err
	}
	var firstErr error
	for _, name := range brokerNames {
		addrs := c.routes.snap.Load().brokers[name]
		for _, id := range slices.Sorted(maps.Keys(addrs)) {
			if err := c.heartbeatTo(ctx, addrs[id], body); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}
