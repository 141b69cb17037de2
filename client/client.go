package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// minRefreshGap spaces route refreshes asked for by failures, so that a
// broker refusing every send does not turn into a name-server storm.
const minRefreshGap = time.Second

// Client is one connection to a RocketMQ cluster, shared by the
// producers and consumers built on it. It is safe for concurrent use.
//
// New starts one background goroutine that refreshes routes and sends
// heartbeats; Close stops it and closes every connection.
type Client struct {
	opts Options
	log  *slog.Logger
	id   string
	rc   *remoting.Client
	uniq *message.UniqIDGenerator

	nsNext atomic.Uint32 // round-robin position in opts.NameServers
	routes routeCache

	mu         sync.Mutex
	producers  map[string]int           // producer group -> producers using it
	pullGroups map[string]int           // pull consumer group -> consumers using it
	consumers  map[string]*PushConsumer // push consumers by group

	ctx       context.Context // done when Close starts
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
	refreshCh chan struct{} // a failure asks for a route refresh
	beatCh    chan struct{} // a new group or broker asks for a heartbeat
}

// New returns a client of the cluster whose name servers opts lists. It
// connects lazily: the first call that needs a route or a broker dials.
func New(opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ip := localIPv4()
	if opts.ClientID == "" {
		opts.ClientID = fmt.Sprintf("%s@%d#%d", ip, os.Getpid(), time.Now().UnixNano())
	}
	log = log.With("component", "client", "clientID", opts.ClientID)

	ro := remoting.DefaultClientOptions()
	ro.DialTimeout = opts.DialTimeout
	ro.InvokeTimeout = opts.RequestTimeout
	ro.SerializeType = remoting.RocketMQ
	if opts.JSONHeaders {
		ro.SerializeType = remoting.JSON
	}
	rc, err := remoting.NewClient(ro, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts:       opts,
		log:        log,
		id:         opts.ClientID,
		rc:         rc,
		uniq:       message.NewUniqIDGenerator(ip, os.Getpid(), rand.Uint32(), nil),
		producers:  map[string]int{},
		pullGroups: map[string]int{},
		consumers:  map[string]*PushConsumer{},
		ctx:        ctx,
		cancel:     cancel,
		refreshCh:  make(chan struct{}, 1),
		beatCh:     make(chan struct{}, 1),
	}
	c.routes.init()
	if opts.Credentials != nil {
		rc.AddHook(aclHook{cred: *opts.Credentials})
	}
	rc.Register(protocol.NotifyConsumerIDsChanged, remoting.Inline, remoting.ProcessorFunc(c.onNotifyConsumerIDsChanged))
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// ID returns the client id brokers know this client by.
func (c *Client) ID() string { return c.id }

// Close closes the push consumers still running on the client (which
// commits their offsets), stops the background goroutine and closes every
// connection; calls still in flight fail. Close producers first, so that
// their pending async sends complete. Idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cancel() // under mu: no goroutine is spawned, no consumer registers, after this
		consumers := slices.Collect(maps.Values(c.consumers))
		c.mu.Unlock()
		for _, pc := range consumers {
			_ = pc.Close() // the connections are still open for their commits
		}
		c.wg.Wait()
		_ = c.rc.Close()
	})
	return nil
}

func (c *Client) isClosed() bool { return c.ctx.Err() != nil }

// spawn runs fn on a goroutine that Close waits for, unless the client is
// closed.
func (c *Client) spawn(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed() {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// run refreshes routes and sends heartbeats until Close.
func (c *Client) run() {
	defer c.wg.Done()
	refresh := time.NewTicker(c.opts.RouteRefreshInterval)
	defer refresh.Stop()
	beat := time.NewTicker(c.opts.HeartbeatInterval)
	defer beat.Stop()
	var lastRefresh time.Time
	var soon <-chan time.Time // a requested refresh, spaced by minRefreshGap
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-refresh.C:
		case <-c.refreshCh:
			if soon == nil {
				soon = time.After(time.Until(lastRefresh.Add(minRefreshGap)))
			}
			continue
		case <-soon:
			soon = nil
		case <-beat.C:
			c.heartbeat(c.ctx)
			continue
		case <-c.beatCh:
			c.heartbeat(c.ctx)
			continue
		}
		lastRefresh = time.Now()
		c.refreshRoutes(c.ctx)
	}
}

// refreshSoon asks the background goroutine to fetch every cached route
// again.
func (c *Client) refreshSoon() {
	select {
	case c.refreshCh <- struct{}{}:
	default:
	}
}

// heartbeatSoon asks the background goroutine for a heartbeat.
func (c *Client) heartbeatSoon() {
	select {
	case c.beatCh <- struct{}{}:
	default:
	}
}

// withTimeout gives ctx the default request timeout when it has no
// deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.opts.RequestTimeout)
}

// deadline returns when a request made now with ctx must be done: ctx's
// deadline, or timeout from now. The hot paths (sends, pulls) carry it
// instead of a context with a timeout, which costs a context, a timer and
// their allocations per request; the rare waits that need a context
// (route fetches) bound themselves by it.
func deadline(ctx context.Context, timeout time.Duration) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(timeout)
}

// invokeUntil is invoke bounded by deadline as well as by ctx.
func (c *Client) invokeUntil(ctx context.Context, addr string, req *remoting.Command, deadline time.Time) (*remoting.Command, error) {
	resp, err := c.rc.InvokeSyncUntil(ctx, addr, req, deadline)
	if err != nil {
		return nil, c.transportError(err)
	}
	return resp, nil
}

// invoke sends req to addr and waits for the response. Transport errors
// are returned as they are (wrapping ErrClosed once the client is closed);
// the response code is the caller's to judge.
func (c *Client) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := c.rc.InvokeSync(ctx, addr, req)
	if err != nil {
		return nil, c.transportError(err)
	}
	return resp, nil
}

func (c *Client) transportError(err error) error {
	if errors.Is(err, remoting.ErrClientClosed) || c.isClosed() {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// invokeNameServer sends a request to the name servers, starting at the
// next one round-robin and moving on while a server cannot be reached.
// Each attempt gets at most RequestTimeout of ctx's time.
func (c *Client) invokeNameServer(ctx context.Context, code protocol.RequestCode, ext protocol.ExtFields, body []byte) (*remoting.Command, string, error) {
	addrs := c.opts.NameServers
	start := int(c.nsNext.Add(1))
	var lastErr error
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		actx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
		resp, err := c.invoke(actx, addr, remoting.NewRequest(code, ext, body))
		cancel()
		if err == nil {
			return resp, addr, nil
		}
		lastErr = err
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			break
		}
		c.log.Debug("name server unreachable, trying the next", "addr", addr, "err", err)
	}
	return nil, "", fmt.Errorf("client: name servers %v: %w", addrs, lastErr)
}

// invokeAllNameServers sends a request to every name server and returns
// the first error.
func (c *Client) invokeAllNameServers(ctx context.Context, code protocol.RequestCode, ext protocol.ExtFields) error {
	var firstErr error
	for _, addr := range c.opts.NameServers {
		resp, err := c.invoke(ctx, addr, remoting.NewRequest(code, ext, nil))
		if err == nil && resp.Code != int32(protocol.Success) {
			err = brokerError(addr, resp.Code, resp.Remark)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// invokeBrokerOK sends a request to a broker and turns a response code
// other than SUCCESS into a *BrokerError.
func (c *Client) invokeBrokerOK(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := c.invoke(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if resp.Code != int32(protocol.Success) {
		return nil, brokerError(addr, resp.Code, resp.Remark)
	}
	return resp, nil
}

// onNotifyConsumerIDsChanged serves NOTIFY_CONSUMER_IDS_CHANGED: a member
// joined or left a group; its push consumer rebalances.
func (c *Client) onNotifyConsumerIDsChanged(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	group := req.ExtFields.Value("consumerGroup")
	c.mu.Lock()
	pc := c.consumers[group]
	c.mu.Unlock()
	if pc != nil {
		c.log.Debug("consumer ids changed, rebalancing", "group", group)
		pc.rebalanceSoon()
	}
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

// register and unregister track the groups heartbeats announce.
func (c *Client) registerProducer(group string) {
	c.mu.Lock()
	c.producers[group]++
	c.mu.Unlock()
	c.heartbeatSoon()
}

// unregisterProducer forgets one producer of group and, when it was the
// last one on this client, tells the brokers (UNREGISTER_CLIENT), as Java
// clients do on shutdown.
func (c *Client) unregisterProducer(group string) {
	c.mu.Lock()
	c.producers[group]--
	last := c.producers[group] <= 0
	if last {
		delete(c.producers, group)
	}
	c.mu.Unlock()
	if last && !c.isClosed() {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
		defer cancel()
		c.unregisterClient(ctx, &protocol.UnregisterClientRequestHeader{ClientID: c.id, ProducerGroup: group}, false)
	}
}

// unregisterClient sends UNREGISTER_CLIENT to the known brokers (masters
// only unless all), best effort: brokers also forget a client whose
// heartbeats stop.
func (c *Client) unregisterClient(ctx context.Context, h *protocol.UnregisterClientRequestHeader, all bool) {
	ext := protocol.EncodeHeader(nil, h)
	for _, addr := range c.routes.brokerAddrs(all) {
		if _, err := c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.UnregisterClient, ext, nil)); err != nil {
			c.log.Debug("unregister failed", "broker", addr, "err", err)
		}
	}
}

func (c *Client) registerPullGroup(group string) {
	c.mu.Lock()
	c.pullGroups[group]++
	c.mu.Unlock()
	c.heartbeatSoon()
}

func (c *Client) unregisterPullGroup(group string) {
	c.mu.Lock()
	if c.pullGroups[group]--; c.pullGroups[group] <= 0 {
		delete(c.pullGroups, group)
	}
	c.mu.Unlock()
}

func (c *Client) registerConsumer(pc *PushConsumer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed() {
		return ErrClosed
	}
	if _, dup := c.consumers[pc.opts.Group]; dup {
		return fmt.Errorf("%w: a push consumer of group %q already runs on this client", ErrInvalidOptions, pc.opts.Group)
	}
	c.consumers[pc.opts.Group] = pc
	return nil
}

func (c *Client) unregisterConsumer(pc *PushConsumer) {
	c.mu.Lock()
	if c.consumers[pc.opts.Group] == pc {
		delete(c.consumers, pc.opts.Group)
	}
	c.mu.Unlock()
}

// routeChanged tells push consumers of topic that its queues changed.
func (c *Client) routeChanged(topic string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.consumers {
		if pc.subscribes(topic) {
			pc.rebalanceSoon()
		}
	}
}

// localIPv4 returns the first non-loopback IPv4 address of this host, or
// 127.0.0.1. It goes into client ids and message ids.
func localIPv4() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				ip = ip.Unmap()
				if ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
					return ip
				}
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}
