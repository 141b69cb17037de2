package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// PushConsumer consumes the topics it subscribes to as one member of a
// clustering consumer group: the group's members split the queues, and
// each message is handled by one member (at least once). See the package
// documentation for how it rebalances and commits.
//
// Subscribe, then Start; Close stops it. Start runs one goroutine for
// rebalancing and commits plus one per owned queue.
type PushConsumer struct {
	c          *Client
	opts       PushConsumerOptions
	handler    MessageHandler
	subVersion int64

	ctx         context.Context // done when Close starts
	cancel      context.CancelFunc
	wg          sync.WaitGroup // the main loop and the queue loops
	rebalanceCh chan struct{}

	mu      sync.Mutex
	state   consumerState
	subs    map[string]Filter // fixed once started
	queues  map[MessageQueue]*queueRun
	offsets map[MessageQueue]*offsetEntry
}

type consumerState int

const (
	consumerNew consumerState = iota
	consumerStarted
	consumerClosed
)

// queueRun is the pull loop of one owned queue.
type queueRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// offsetEntry tracks one queue's progress: the next offset to consume and
// the last one stored on the broker (-1 for none).
type offsetEntry struct {
	consumed  int64
	committed int64
}

// NewPushConsumer returns a consumer of opts.Group on c that hands every
// pulled batch to handler.
func NewPushConsumer(c *Client, opts PushConsumerOptions, handler MessageHandler) (*PushConsumer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOptions)
	}
	opts = opts.withDefaults()
	if opts.ConsumeFrom == ConsumeFromTimestamp && opts.ConsumeTimestamp.IsZero() {
		opts.ConsumeTimestamp = time.Now().Add(-30 * time.Minute)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &PushConsumer{
		c:           c,
		opts:        opts,
		handler:     handler,
		subVersion:  time.Now().UnixMilli(),
		ctx:         ctx,
		cancel:      cancel,
		rebalanceCh: make(chan struct{}, 1),
		subs:        map[string]Filter{},
		queues:      map[MessageQueue]*queueRun{},
		offsets:     map[MessageQueue]*offsetEntry{},
	}, nil
}

// Subscribe adds topic, with filter f, to what the consumer consumes.
// Call it before Start; a second call for a topic replaces its filter.
func (pc *PushConsumer) Subscribe(topic string, f Filter) error {
	if err := validateTopic(topic); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state != consumerNew {
		return fmt.Errorf("%w: Subscribe after Start", ErrInvalidOptions)
	}
	pc.subs[topic] = f
	return nil
}

// subscribes reports whether topic is subscribed. subs does not change
// once started, which is when the client asks.
func (pc *PushConsumer) subscribes(topic string) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	_, ok := pc.subs[topic]
	return ok
}

// Start joins the group: it fetches the subscribed topics' routes,
// announces the subscriptions to their brokers, takes its share of the
// queues and starts consuming them. ctx bounds these first steps only.
// A consumer whose Start failed can only be closed.
func (pc *PushConsumer) Start(ctx context.Context) error {
	pc.mu.Lock()
	if pc.state != consumerNew {
		pc.mu.Unlock()
		return fmt.Errorf("%w: Start called twice or after Close", ErrInvalidOptions)
	}
	if len(pc.subs) == 0 {
		pc.mu.Unlock()
		return fmt.Errorf("%w: no subscription", ErrInvalidOptions)
	}
	pc.state = consumerStarted
	pc.mu.Unlock()

	if err := pc.c.registerConsumer(pc); err != nil {
		pc.closeState()
		return err
	}
	var brokers []string
	for _, topic := range slices.Sorted(maps.Keys(pc.subs)) {
		r, err := pc.c.route(ctx, time.Time{}, topic, "", 0)
		if err != nil {
			pc.c.unregisterConsumer(pc)
			pc.closeState()
			return fmt.Errorf("client: start consumer %q: %w", pc.opts.Group, err)
		}
		for _, q := range r.data.Queues {
			brokers = append(brokers, q.BrokerName)
		}
	}
	slices.Sort(brokers)
	if err := pc.c.heartbeatBrokers(ctx, slices.Compact(brokers)); err != nil {
		pc.c.log.Warn("first heartbeat failed; rebalancing anyway", "group", pc.opts.Group, "err", err)
	}
	pc.rebalance(ctx)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.state != consumerStarted {
		return ErrClosed // closed meanwhile
	}
	pc.wg.Add(1) // under mu: Close, which waits, sets the state under mu first
	go pc.run()
	return nil
}

func (pc *PushConsumer) closeState() {
	pc.mu.Lock()
	pc.state = consumerClosed
	pc.mu.Unlock()
	pc.cancel()
}

// Close stops consuming: queue loops stop (their handlers see their
// context end), consumed offsets are committed, and the brokers are told
// the member left, so that the others take its queues at once.
// Idempotent.
func (pc *PushConsumer) Close() error {
	pc.mu.Lock()
	st := pc.state
	pc.state = consumerClosed
	pc.mu.Unlock()
	if st == consumerClosed {
		return nil
	}
	pc.cancel()
	pc.wg.Wait()
	pc.mu.Lock()
	clear(pc.queues) // every loop has ended; the offsets stay for the commit
	pc.mu.Unlock()
	if st != consumerStarted {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pc.c.opts.RequestTimeout)
	defer cancel()
	pc.commitOffsets(ctx)
	pc.c.unregisterConsumer(pc)
	// The brokers notify the other members, which take the queues at once.
	pc.c.unregisterClient(ctx, &protocol.UnregisterClientRequestHeader{ClientID: pc.c.id, ConsumerGroup: pc.opts.Group}, true)
	return nil
}

// Assigned returns the queues the consumer owns now, sorted.
func (pc *PushConsumer) Assigned() []MessageQueue {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return slices.SortedFunc(maps.Keys(pc.queues), MessageQueue.compare)
}

// rebalanceSoon asks for a rebalance without waiting for it.
func (pc *PushConsumer) rebalanceSoon() {
	select {
	case pc.rebalanceCh <- struct{}{}:
	default:
	}
}

// run rebalances and commits offsets until Close.
func (pc *PushConsumer) run() {
	defer pc.wg.Done()
	rebalance := time.NewTicker(pc.opts.RebalanceInterval)
	defer rebalance.Stop()
	commit := time.NewTicker(pc.opts.CommitInterval)
	defer commit.Stop()
	for {
		select {
		case <-pc.ctx.Done():
			return
		case <-rebalance.C:
			pc.rebalance(pc.ctx)
		case <-pc.rebalanceCh:
			pc.rebalance(pc.ctx)
		case <-commit.C:
			pc.commitOffsets(pc.ctx)
		}
	}
}

// consumerData is this consumer's entry in heartbeats.
func (pc *PushConsumer) consumerData() protocol.ConsumerData {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	cd := protocol.ConsumerData{
		GroupName:           pc.opts.Group,
		ConsumeType:         protocol.ConsumePassively,
		MessageModel:        protocol.Clustering,
		ConsumeFromWhere:    pc.opts.ConsumeFrom.wire(),
		SubscriptionDataSet: []protocol.SubscriptionData{},
	}
	for _, topic := range slices.Sorted(maps.Keys(pc.subs)) {
		f := pc.subs[topic]
		sd := protocol.SubscriptionData{
			Topic:          topic,
			SubString:      f.expression(),
			TagsSet:        []string{},
			CodeSet:        protocol.CodeSet{},
			SubVersion:     pc.subVersion,
			ExpressionType: string(f.typ()),
		}
		for _, t := range f.tagSet() {
			sd.TagsSet = append(sd.TagsSet, t)
			sd.CodeSet = append(sd.CodeSet, int32(message.TagsHashCode(t)))
		}
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, sd)
	}
	return cd
}

// rebalance recomputes the owned queues of every subscribed topic. A topic
// whose queues or members cannot be fetched keeps its current queues.
func (pc *PushConsumer) rebalance(ctx context.Context) {
	for _, topic := range slices.Sorted(maps.Keys(pc.subs)) {
		if ctx.Err() != nil {
			return
		}
		mqAll, err := pc.c.subscribeQueues(ctx, topic)
		if err != nil {
			pc.c.log.Warn("rebalance: no queues", "group", pc.opts.Group, "topic", topic, "err", err)
			continue
		}
		cids, err := pc.c.consumerIDs(ctx, topic, pc.opts.Group)
		if err != nil {
			pc.c.log.Warn("rebalance: no member list", "group", pc.opts.Group, "topic", topic, "err", err)
			continue
		}
		slices.Sort(cids)
		cids = slices.Compact(cids)
		if !slices.Contains(cids, pc.c.id) {
			// The brokers do not know us (yet, or any more): the others
			// split the queues without us, so we give ours up.
			pc.c.heartbeatSoon()
		}
		pc.assign(topic, allocateAveragely(sortedQueues(mqAll), cids, pc.c.id), len(cids))
	}
}

// assign makes want the owned queues of topic: it stops the loops of
// queues no longer owned, commits their offsets, and starts loops for new
// ones.
func (pc *PushConsumer) assign(topic string, want []MessageQueue, members int) {
	pc.mu.Lock()
	var have []MessageQueue
	for q := range pc.queues {
		if q.Topic == topic {
			have = append(have, q)
		}
	}
	add, remove := diffQueues(have, want)
	runs := make([]*queueRun, len(remove))
	for i, q := range remove {
		runs[i] = pc.queues[q]
		runs[i].cancel()
	}
	pc.mu.Unlock()
	if len(add) == 0 && len(remove) == 0 {
		return
	}
	pc.c.log.Info("rebalanced", "group", pc.opts.Group, "topic", topic, "members", members,
		"owned", len(want), "added", len(add), "removed", len(remove))

	for _, run := range runs {
		<-run.done
	}
	if len(remove) > 0 {
		// Not pc.ctx: the offsets of released queues are worth storing
		// even while closing.
		ctx, cancel := context.WithTimeout(context.Background(), pc.c.opts.RequestTimeout)
		for _, q := range remove {
			pc.commitQueue(ctx, q)
		}
		cancel()
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, q := range remove {
		delete(pc.queues, q)
		delete(pc.offsets, q)
	}
	if pc.state == consumerClosed {
		return // Close may be waiting already: start nothing
	}
	f := pc.subs[topic]
	for _, q := range add {
		qctx, cancel := context.WithCancel(pc.ctx)
		run := &queueRun{cancel: cancel, done: make(chan struct{})}
		pc.queues[q] = run
		pc.wg.Add(1)
		go pc.consumeQueue(qctx, run, q, f)
	}
}

// consumerIDs asks a broker of topic for the ids of the group's members.
func (c *Client) consumerIDs(ctx context.Context, topic, group string) ([]string, error) {
	r := c.routes.lookup(topic)
	if r == nil {
		return nil, fmt.Errorf("%w: %q", ErrTopicNotExist, topic)
	}
	ext := protocol.EncodeHeader(nil, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: group})
	var lastErr error = ErrBrokerNotFound
	for _, b := range r.data.Brokers {
		addr := c.routes.anyAddr(b.BrokerName)
		if addr == "" {
			continue
		}
		actx, cancel := c.withTimeout(ctx)
		resp, err := c.invokeBrokerOK(actx, addr, remoting.NewRequest(protocol.GetConsumerListByGroup, ext, nil))
		cancel()
		if err == nil {
			var body protocol.ConsumerListByGroup
			if err = protocol.DecodeBody(resp.Body, &body); err == nil {
				return body.ConsumerIDList, nil
			}
			err = fmt.Errorf("%w: consumer list from %s: %w", ErrBadResponse, addr, err)
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("client: members of group %q: %w", group, lastErr)
}

// sleep waits d or until ctx is done, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// warn logs a failure of a queue loop unless the loop is stopping.
func (pc *PushConsumer) warn(ctx context.Context, msg string, q MessageQueue, err error) {
	if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
		pc.c.log.Warn(msg, "group", pc.opts.Group, "queue", q, "err", err)
	}
}
