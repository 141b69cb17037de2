package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Perm is a topic's or broker's permission bits (PermName.java).
type Perm int32

// Permission bits. A normal topic is PermRead|PermWrite.
const (
	PermInherit Perm = 1 << 0 // topics created from this one take its config (TBW102)
	PermWrite   Perm = 1 << 1
	PermRead    Perm = 1 << 2
)

// Readable reports whether the read bit is set.
func (p Perm) Readable() bool { return p&PermRead != 0 }

// Writable reports whether the write bit is set.
func (p Perm) Writable() bool { return p&PermWrite != 0 }

// String renders p as mqadmin does: "RW-", "R--".
func (p Perm) String() string { return protocol.PermString(int32(p)) }

// TopicRoute says which brokers hold a topic's queues and where they
// listen (TopicRouteData).
type TopicRoute struct {
	Queues  []QueueData
	Brokers []BrokerData
	// OrderTopicConf is "brokerA:4;brokerB:4" for globally ordered topics,
	// when the name server is configured with one.
	OrderTopicConf string
}

// QueueData is a topic's queues on one broker.
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int
	WriteQueueNums int
	Perm           Perm
	TopicSysFlag   int
}

// BrokerData is one broker group: its cluster, name and the addresses of
// its members by broker id.
type BrokerData struct {
	Cluster    string
	BrokerName string
	Addrs      map[int64]string // broker id -> "host:port"; 0 is the master
}

// MasterAddr returns the master's address, or "" when there is none.
func (b BrokerData) MasterAddr() string { return b.Addrs[protocol.MasterID] }

func routeFromWire(d *protocol.TopicRouteData) TopicRoute {
	r := TopicRoute{OrderTopicConf: d.OrderTopicConf}
	for _, q := range d.QueueDatas {
		r.Queues = append(r.Queues, QueueData{
			BrokerName:     q.BrokerName,
			ReadQueueNums:  int(q.ReadQueueNums),
			WriteQueueNums: int(q.WriteQueueNums),
			Perm:           Perm(q.Perm),
			TopicSysFlag:   int(q.TopicSysFlag),
		})
	}
	for _, b := range d.BrokerDatas {
		r.Brokers = append(r.Brokers, brokerFromWire(b))
	}
	return r
}

func brokerFromWire(b protocol.BrokerData) BrokerData {
	return BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, Addrs: maps.Clone(b.BrokerAddrs)}
}

// maxQueueNums bounds the queue counts taken from a route: a hostile or
// broken name server must not make the client allocate without limit.
const maxQueueNums = 1 << 16

// route is a cached topic route with the queue lists derived from it.
// Immutable once published, except for the round-robin counter.
type route struct {
	topic string
	data  TopicRoute
	pub   []MessageQueue // write queues of brokers with a master
	sub   []MessageQueue // read queues

	// fromDefault marks a producer's borrowed route: the topic is unknown
	// and sends rely on the broker creating it from defaultTopic.
	fromDefault  bool
	defaultTopic string
	defaultNums  int

	next atomic.Uint32 // round-robin send position
}

// newRoute derives the publish and subscribe queues of topic from data.
// With defaultNums > 0 (a borrowed route) queue counts are clamped to it.
func newRoute(topic string, data TopicRoute, defaultNums int) *route {
	r := &route{topic: topic, data: data}
	masters := map[string]bool{}
	for _, b := range data.Brokers {
		if b.MasterAddr() != "" {
			masters[b.BrokerName] = true
		}
	}
	qds := slices.Clone(data.Queues)
	slices.SortStableFunc(qds, func(a, b QueueData) int { return strings.Compare(a.BrokerName, b.BrokerName) })
	clamp := func(n int) int {
		if defaultNums > 0 && n > defaultNums {
			n = defaultNums
		}
		return max(0, min(n, maxQueueNums))
	}
	if conf := data.OrderTopicConf; conf != "" && defaultNums == 0 {
		// Globally ordered topic: "brokerName:queues;..." fixes the
		// publish queues, whatever the brokers' state.
		for entry := range strings.SplitSeq(conf, ";") {
			name, num, ok := strings.Cut(entry, ":")
			n, err := strconv.Atoi(num)
			if !ok || err != nil {
				continue
			}
			for i := range clamp(n) {
				r.pub = append(r.pub, MessageQueue{Topic: topic, BrokerName: name, QueueID: i})
			}
		}
	} else {
		for _, q := range qds {
			if q.Perm.Writable() && masters[q.BrokerName] {
				for i := range clamp(q.WriteQueueNums) {
					r.pub = append(r.pub, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: i})
				}
			}
		}
	}
	for _, q := range qds {
		if q.Perm.Readable() {
			for i := range clamp(q.ReadQueueNums) {
				r.sub = append(r.sub, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: i})
			}
		}
	}
	return r
}

// routeSnapshot is the published state of the cache: replaced whole on
// every change, read without locks.
type routeSnapshot struct {
	topics  map[string]*route
	brokers map[string]map[int64]string // broker name -> id -> address
}

// routeCache caches routes per topic. Lookups are one atomic load and a
// map read; updates copy the (small) maps under mu.
type routeCache struct {
	snap atomic.Pointer[routeSnapshot]

	mu       sync.Mutex
	inflight map[string]*routeFetch // one fetch per topic at a time
}

type routeFetch struct {
	done chan struct{}
	r    *route
	err  error
}

func (rc *routeCache) init() {
	rc.snap.Store(&routeSnapshot{topics: map[string]*route{}, brokers: map[string]map[int64]string{}})
	rc.inflight = map[string]*routeFetch{}
}

func (rc *routeCache) lookup(topic string) *route { return rc.snap.Load().topics[topic] }

// store publishes r and merges its brokers' addresses. It reports the
// previous route of the topic and whether the route named a broker
// address not seen before.
func (rc *routeCache) store(r *route) (old *route, newAddr bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	cur := rc.snap.Load()
	next := &routeSnapshot{topics: maps.Clone(cur.topics), brokers: maps.Clone(cur.brokers)}
	old = next.topics[r.topic]
	next.topics[r.topic] = r
	for _, b := range r.data.Brokers {
		prev := next.brokers[b.BrokerName]
		for id, a := range b.Addrs {
			if prev[id] != a {
				newAddr = true
			}
		}
		next.brokers[b.BrokerName] = b.Addrs
	}
	rc.snap.Store(next)
	return old, newAddr
}

// forget drops topic's route if it is still r, so that the next lookup
// fetches it again.
func (rc *routeCache) forget(topic string, r *route) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	cur := rc.snap.Load()
	if cur.topics[topic] != r {
		return
	}
	next := &routeSnapshot{topics: maps.Clone(cur.topics), brokers: cur.brokers}
	delete(next.topics, topic)
	rc.snap.Store(next)
}

// brokerAddr returns the address of broker id of brokerName, or "".
func (rc *routeCache) brokerAddr(brokerName string, id int64) string {
	return rc.snap.Load().brokers[brokerName][id]
}

// anyAddr returns the master of brokerName, or else any member.
func (rc *routeCache) anyAddr(brokerName string) string {
	addrs := rc.snap.Load().brokers[brokerName]
	if a := addrs[protocol.MasterID]; a != "" {
		return a
	}
	for _, id := range slices.Sorted(maps.Keys(addrs)) {
		return addrs[id]
	}
	return ""
}

// brokerAddrs returns every known broker address; masters only unless
// all is set.
func (rc *routeCache) brokerAddrs(all bool) []string {
	var out []string
	for _, addrs := range rc.snap.Load().brokers {
		for id, a := range addrs {
			if all || id == protocol.MasterID {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fetchRoute asks the name servers for topic's route. TOPIC_NOT_EXIST
// comes back as a *BrokerError matching ErrTopicNotExist.
func (c *Client) fetchRoute(ctx context.Context, topic string) (TopicRoute, error) {
	ext := protocol.EncodeHeader(nil, &protocol.GetRouteInfoRequestHeader{Topic: topic})
	resp, addr, err := c.invokeNameServer(ctx, protocol.GetRouteInfoByTopic, ext, nil)
	if err != nil {
		return TopicRoute{}, err
	}
	if resp.Code != int32(protocol.Success) {
		return TopicRoute{}, fmt.Errorf("client: route of %q: %w", topic, brokerError(addr, resp.Code, resp.Remark))
	}
	if len(resp.Body) == 0 {
		return TopicRoute{}, fmt.Errorf("%w: route of %q from %s has no body", ErrBadResponse, topic, addr)
	}
	var data protocol.TopicRouteData
	if err := protocol.DecodeBody(resp.Body, &data); err != nil {
		return TopicRoute{}, fmt.Errorf("%w: route of %q from %s: %w", ErrBadResponse, topic, addr, err)
	}
	return routeFromWire(&data), nil
}

// loadRoute fetches topic's route, falling back to defaultTopic's (clamped
// to defaultNums queues per broker) when the topic does not exist and
// defaultTopic is set, and caches it.
func (c *Client) loadRoute(ctx context.Context, topic, defaultTopic string, defaultNums int) (*route, error) {
	data, err := c.fetchRoute(ctx, topic)
	var r *route
	switch {
	case err == nil:
		r = newRoute(topic, data, 0)
	case defaultTopic != "" && isTopicNotExist(err):
		data, derr := c.fetchRoute(ctx, defaultTopic)
		if derr != nil {
			return nil, fmt.Errorf("%w; default topic %q: %w", err, defaultTopic, derr)
		}
		r = newRoute(topic, data, defaultNums)
		r.fromDefault, r.defaultTopic, r.defaultNums = true, defaultTopic, defaultNums
	default:
		return nil, err
	}
	old, newAddr := c.routes.store(r)
	if newAddr {
		c.heartbeatSoon()
	}
	if old != nil && !slices.Equal(old.sub, r.sub) {
		c.routeChanged(topic)
	}
	return r, nil
}

func isTopicNotExist(err error) bool {
	var be *BrokerError
	return errors.As(err, &be) && be.Code == CodeTopicNotExist
}

// route returns the cached route of topic, or fetches it. With
// defaultTopic set a missing topic borrows that topic's route (producers);
// without, a borrowed route in the cache is not good enough and the topic
// is fetched again (consumers). Concurrent callers share one fetch, which
// runs on the client's context so that one caller giving up does not fail
// the others. The wait for a fetch ends with ctx or at deadline (zero for
// none).
func (c *Client) route(ctx context.Context, deadline time.Time, topic, defaultTopic string, defaultNums int) (*route, error) {
	if r := c.routes.lookup(topic); r != nil && (defaultTopic != "" || !r.fromDefault) {
		return r, nil
	}
	rc := &c.routes
	rc.mu.Lock()
	f := rc.inflight[topic]
	if f == nil {
		f = &routeFetch{done: make(chan struct{})}
		rc.inflight[topic] = f
		started := c.spawn(func() {
			fctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout*time.Duration(len(c.opts.NameServers)+1))
			defer cancel()
			f.r, f.err = c.loadRoute(fctx, topic, defaultTopic, defaultNums)
			rc.mu.Lock()
			delete(rc.inflight, topic)
			rc.mu.Unlock()
			close(f.done)
		})
		if !started {
			delete(rc.inflight, topic)
			rc.mu.Unlock()
			return nil, ErrClosed
		}
	}
	rc.mu.Unlock()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("client: route of %q: %w", topic, ctx.Err())
	case <-expired:
		return nil, fmt.Errorf("client: route of %q: %w", topic, context.DeadlineExceeded)
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.r.fromDefault && defaultTopic == "" {
		return nil, fmt.Errorf("client: route of %q: %w", topic, ErrTopicNotExist)
	}
	return f.r, nil
}

// refreshRoutes fetches every cached route again. A route that cannot be
// fetched keeps its cached value.
func (c *Client) refreshRoutes(ctx context.Context) {
	for topic, r := range c.routes.snap.Load().topics {
		if ctx.Err() != nil {
			return
		}
		if _, err := c.loadRoute(ctx, topic, r.defaultTopic, r.defaultNums); err != nil && !isTopicNotExist(err) {
			c.log.Warn("route refresh failed, keeping the cached route", "topic", topic, "err", err)
		}
	}
}
