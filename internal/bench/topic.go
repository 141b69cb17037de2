package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/protocol"
)

// setupTimeout bounds connecting, creating the topic and waiting for its
// route before a run.
const setupTimeout = 30 * time.Second

// pollEvery is how often a condition is polled during setup.
const pollEvery = 10 * time.Millisecond

// ensureTopic creates (or updates) topic with queues read and write queues
// on every master of every cluster the name servers know, then waits until
// the name servers route it that way, so that a run never depends on the
// broker creating topics on first use. It returns the topic's masters.
func ensureTopic(ctx context.Context, c *client.Client, topic string, queues int) ([]string, error) {
	a := client.NewAdmin(c)
	masters, err := waitMasters(ctx, a)
	if err != nil {
		return nil, err
	}
	cfg := client.TopicConfig{Name: topic, ReadQueueNums: queues, WriteQueueNums: queues}
	for _, name := range slices.Sorted(maps.Keys(masters)) {
		if err := a.CreateTopic(ctx, masters[name], cfg); err != nil {
			return nil, err
		}
	}
	for {
		r, err := a.TopicRoute(ctx, topic)
		if err == nil && routed(r, masters, queues) {
			return slices.Sorted(maps.Values(masters)), nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("the route does not show the queues yet")
			}
			return nil, fmt.Errorf("bench: waiting for the route of %q: %w (%w)", topic, err, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// waitMasters returns the broker masters registered with the name servers
// (broker name -> address), waiting for one to register: a broker that
// has just been started may still be opening its store.
func waitMasters(ctx context.Context, a *client.Admin) (map[string]string, error) {
	for {
		ci, err := a.ClusterInfo(ctx)
		if err == nil {
			masters := map[string]string{}
			for name, b := range ci.Brokers {
				if addr := b.MasterAddr(); addr != "" {
					masters[name] = addr
				}
			}
			if len(masters) > 0 {
				return masters, nil
			}
			err = errors.New("no broker master is registered with the name servers")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bench: %w (%w)", err, ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// routed reports whether r has queues write and read queues on every master.
func routed(r client.TopicRoute, masters map[string]string, queues int) bool {
	seen := 0
	for _, q := range r.Queues {
		if _, ok := masters[q.BrokerName]; ok && q.WriteQueueNums == queues && q.ReadQueueNums == queues && q.Perm.Writable() {
			seen++
		}
	}
	return seen == len(masters)
}

// dial opens c's connections to the masters before the measured phase, so
// that the first send does not pay for them: a GET_MAX_OFFSET of the
// topic's queue 0, whose answer does not matter.
func dial(ctx context.Context, c *client.Client, topic string, masters []string) error {
	a := client.NewAdmin(c)
	ext := map[string]string{"topic": topic, "queueId": strconv.Itoa(0)}
	for _, addr := range masters {
		if _, err := a.Invoke(ctx, addr, client.RequestCode(protocol.GetMaxOffset), ext, nil); err != nil {
			return fmt.Errorf("bench: connecting to %s: %w", addr, err)
		}
	}
	return nil
}
