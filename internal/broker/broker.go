package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/broker/clients"
	"github.com/gorocket/gorocket/internal/broker/configfile"
	"github.com/gorocket/gorocket/internal/broker/longpoll"
	"github.com/gorocket/gorocket/internal/broker/nsclient"
	"github.com/gorocket/gorocket/internal/broker/offset"
	"github.com/gorocket/gorocket/internal/broker/subscription"
	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/filter"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// Errors of the broker's lifecycle.
var (
	ErrClosed         = errors.New("broker: closed")
	ErrAlreadyStarted = errors.New("broker: already started")
)

// filterCacheSize bounds the compiled SQL92 expressions kept.
const filterCacheSize = 4096

// clientScanInterval is how often silent clients are looked for
// (ClientHousekeepingService's period).
const clientScanInterval = 10 * time.Second

// firstRegistrationWait bounds how long Start waits for the first
// registration with the NameServers.
const firstRegistrationWait = 3 * time.Second

// Close waits until no request has arrived for closeQuietPeriod (at most
// closeQuietMax) before the server starts refusing requests. A client's
// last calls are often already on the wire when the broker is told to
// stop — the Go consumer commits its offsets with oneway
// UPDATE_CONSUMER_OFFSET calls as it shuts down — and refusing them would
// lose them (re-delivery after a restart). Java gets the same from Netty's
// graceful shutdown, which keeps serving through a 2 s quiet period.
const (
	closeQuietPeriod = 50 * time.Millisecond
	closeQuietMax    = time.Second
)

// registerSyncWait bounds how long a request that created a topic waits
// for the NameServers to learn it before it is answered. Java waits up to
// registerBrokerTimeoutMills (24 s); a send answered that late would time
// out in the client (3 s by default) and be sent again.
const registerSyncWait = time.Second

// unregisterTimeout bounds UNREGISTER_BROKER at Close.
const unregisterTimeout = 3 * time.Second

// featurePollFallback is how often the delay-level and timer loops look
// at their idle queues without being told of an arrival (onArrival tells
// them of every one).
const featurePollFallback = time.Second

// Broker is one RocketMQ broker.
type Broker struct {
	opts      Options
	storeOpts store.Options
	log       *slog.Logger
	bad       *rateLog
	boot      time.Time

	store     *store.Store
	topics    *topic.Manager
	offsets   *offset.Manager
	groups    *subscription.Manager
	consumers *clients.ConsumerManager
	producers *clients.ProducerManager
	notifier  *notifier
	holds     *longpoll.Service[*pullTask]
	filters   *filter.Cache
	conns     connTable
	server    *remoting.Server
	nsRemote  *remoting.Client
	registrar *nsclient.Registrar
	storeHost atomic.Pointer[netip.AddrPort]
	uniq      *message.UniqIDGenerator // UNIQ_KEYs of sends and replies without one
	rewriters []Rewriter
	features  []feature
	pulls     pullStats
	// arrivals are the features' arrival listeners (onArrival); the
	// store's dispatch reads them, Start and Close replace them.
	arrivals atomic.Pointer[[]arrivalListener]
	// featurePoll is featurePollFallback; tests lengthen it.
	featurePoll time.Duration
	requests    requestCounter

	mu      sync.Mutex
	started bool
	closed  bool
	stop    chan struct{}
	loops   sync.WaitGroup
}

// New returns a broker with the given options; Start runs it. The store's
// brokerRole follows the broker's.
func New(opts Options, storeOpts store.Options, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	storeOpts.BrokerRole = opts.BrokerRole
	if err := storeOpts.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	log = log.With("broker", opts.BrokerName)
	return &Broker{
		opts:        opts,
		storeOpts:   storeOpts,
		log:         log,
		bad:         newRateLog(log),
		filters:     filter.NewCache(filterCacheSize),
		stop:        make(chan struct{}),
		featurePoll: featurePollFallback,
	}, nil
}

// AddRewriter appends a rewriter to the chain single sends go through
// before the store. Call it before Start.
func (b *Broker) AddRewriter(r Rewriter) { b.rewriters = append(b.rewriters, r) }

// Addr returns the address announced to clients and NameServers:
// brokerIP1 and the port actually bound. It is empty before Start.
func (b *Broker) Addr() string {
	if ap := b.storeHost.Load(); ap != nil {
		return ap.String()
	}
	return ""
}

// Start opens the store and the metadata, listens, and starts serving and
// registering with the NameServers. On error everything opened is closed
// again and the broker cannot be started anew.
func (b *Broker) Start(ctx context.Context) (err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return ErrAlreadyStarted
	}
	b.started = true
	b.boot = time.Now()
	defer func() {
		if err != nil {
			b.closed = true
			b.shutdown()
		}
	}()

	ip := b.opts.announceIP()
	if b.opts.ListenPort != 0 {
		b.setStoreHost(netip.AddrPortFrom(ip, uint16(b.opts.ListenPort)))
	}

	b.uniq = message.NewUniqIDGenerator(ip, os.Getpid(), uint32(time.Now().UnixNano()), nil)
	b.notifier = newNotifier(b.log)
	b.consumers = clients.NewConsumerManager(b.log)
	b.producers = clients.NewProducerManager(b.log)
	b.consumers.OnGroupEvent(b.groupEvent)
	lpOpts := longpoll.DefaultOptions()
	if !b.opts.LongPollingEnable {
		lpOpts.RecheckInterval = time.Duration(b.opts.ShortPollingTimeMills) * time.Millisecond
	}
	holds, err := longpoll.New(lpOpts, longpoll.Funcs[*pullTask]{
		Run:    func(t *pullTask) { t.p.rerun(t) },
		Newest: func(k longpoll.Key) int64 { return b.store.MaxOffsetInQueue(k.Topic, k.QueueID) },
		Stale:  func(t *pullTask) bool { return t.conn.Err() != nil },
	}, b.log)
	if err != nil {
		return err
	}
	b.holds = holds

	st, err := store.Open(b.storeOpts, b.log, store.Hooks{
		OnMessageArrival: func(topic string, queueID int32, offset, tagsCode, _ int64, props []byte) {
			holds.OnArrival(topic, queueID, offset, tagsCode, props)
			b.notifyArrival(topic, queueID)
		},
	})
	if err != nil {
		return fmt.Errorf("broker: open store: %w", err)
	}
	b.store = st
	if err := st.Start(ctx); err != nil {
		return fmt.Errorf("broker: start store: %w", err)
	}
	if err := b.openMetadata(ctx); err != nil {
		return err
	}
	if err := b.startFeatures(ctx); err != nil {
		return err
	}
	if err := b.startRegistrar(); err != nil {
		return err
	}
	if err := b.startServer(ctx, ip); err != nil {
		return err
	}
	holds.Start()
	b.registrar.Start()
	// As Java's start does, register before reporting the broker up, so
	// that its topics (TBW102 above all) are routable when Start returns;
	// a NameServer that does not answer delays Start only a little.
	wctx, cancel := context.WithTimeout(ctx, min(firstRegistrationWait,
		time.Duration(b.opts.RegisterBrokerTimeoutMills)*time.Millisecond))
	if err := b.registrar.WaitFirstRound(wctx); err != nil {
		b.log.Warn("not registered with every name server yet; retrying in the background", "err", err)
	}
	cancel()
	b.loops.Add(2)
	go b.scanClients()
	go b.samplePullStats()
	b.log.Info("broker started", "addr", b.Addr(), "cluster", b.opts.BrokerClusterName,
		"brokerId", b.opts.BrokerID, "role", b.opts.BrokerRole, "namesrv", b.opts.NamesrvAddr)
	return nil
}

func (b *Broker) setStoreHost(ap netip.AddrPort) { b.storeHost.Store(&ap) }

// arrivalListener is told of every message dispatched to a queue of its
// topic.
type arrivalListener struct {
	topic string
	fn    func(queueID int32)
}

// onArrival has fn called, on the store's dispatch goroutine, for every
// message that becomes readable in a queue of topic: fn must be cheap and
// must not block (a non-blocking channel send). Features call it from
// start; dispatch may already be running.
func (b *Broker) onArrival(topic string, fn func(queueID int32)) {
	var ls []arrivalListener
	if old := b.arrivals.Load(); old != nil {
		ls = append(ls, *old...)
	}
	ls = append(ls, arrivalListener{topic: topic, fn: fn})
	b.arrivals.Store(&ls)
}

// notifyArrival tells the listeners of topic; with none it costs one
// atomic load.
func (b *Broker) notifyArrival(topic string, queueID int32) {
	ls := b.arrivals.Load()
	if ls == nil {
		return
	}
	for _, l := range *ls {
		if l.topic == topic {
			l.fn(queueID)
		}
	}
}

// registerWait is how long a request that created a topic waits for the
// NameServers.
func (b *Broker) registerWait() time.Duration {
	return min(registerSyncWait, time.Duration(b.opts.RegisterBrokerTimeoutMills)*time.Millisecond)
}

func (b *Broker) openMetadata(ctx context.Context) error {
	dir := configfile.Dir(b.storeOpts.StorePathRootDir)
	to := topic.DefaultOptions()
	to.BrokerName = b.opts.BrokerName
	to.ClusterName = b.opts.BrokerClusterName
	to.AutoCreateTopicEnable = b.opts.AutoCreateTopicEnable
	to.DefaultTopicQueueNums = b.opts.DefaultTopicQueueNums
	to.BrokerPermission = b.opts.BrokerPermission
	to.TraceTopicName = b.opts.MsgTraceTopicName
	to.ClusterTopicEnable = b.opts.ClusterTopicEnable
	to.BrokerTopicEnable = b.opts.BrokerTopicEnable
	to.FS = b.storeOpts.FS
	topics, err := topic.Open(dir, to, b.log)
	if err != nil {
		return fmt.Errorf("broker: topics: %w", err)
	}
	b.topics = topics

	oo := offset.DefaultOptions()
	oo.FlushConsumerOffsetInterval = int64(b.opts.FlushConsumerOffsetInterval)
	oo.FS = b.storeOpts.FS
	offsets, err := offset.Open(dir, oo, b.log)
	if err != nil {
		return fmt.Errorf("broker: consumer offsets: %w", err)
	}
	b.offsets = offsets
	if err := offsets.Start(ctx); err != nil {
		return fmt.Errorf("broker: consumer offsets: %w", err)
	}

	so := subscription.DefaultOptions()
	so.AutoCreateSubscriptionGroup = b.opts.AutoCreateSubscriptionGroup
	so.FS = b.storeOpts.FS
	groups, err := subscription.Open(dir, so, b.log)
	if err != nil {
		return fmt.Errorf("broker: subscription groups: %w", err)
	}
	b.groups = groups
	return nil
}

func (b *Broker) startRegistrar() error {
	addrs, _ := b.opts.namesrvAddrs() // validated by New
	rc, err := remoting.NewClient(remoting.DefaultClientOptions(), b.log)
	if err != nil {
		return err
	}
	b.nsRemote = rc
	r, err := nsclient.NewRegistrar(nsclient.NewClient(rc), nsclient.RegistrarOptions{
		Addrs:   addrs,
		Period:  b.opts.registerPeriod(),
		Timeout: time.Duration(b.opts.RegisterBrokerTimeoutMills) * time.Millisecond,
	}, b.registration, b.log)
	if err != nil {
		return err
	}
	b.registrar = r
	b.topics.OnChange(r.Kick)
	return nil
}

// registration is what the broker registers with each NameServer.
func (b *Broker) registration() (*nsclient.Registration, error) {
	ap := b.storeHost.Load()
	if ap == nil {
		return nil, errors.New("broker: address not known yet")
	}
	return &nsclient.Registration{
		Header: protocol.RegisterBrokerRequestHeader{
			BrokerName:   b.opts.BrokerName,
			BrokerAddr:   ap.String(),
			ClusterName:  b.opts.BrokerClusterName,
			HAServerAddr: netip.AddrPortFrom(ap.Addr(), ap.Port()+1).String(),
			BrokerID:     b.opts.BrokerID,
		},
		Body: protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: b.topics.RegistrationWrapper()},
	}, nil
}

func (b *Broker) startServer(ctx context.Context, ip netip.Addr) error {
	so := remoting.DefaultServerOptions(net.JoinHostPort(b.opts.BindAddress, strconv.Itoa(b.opts.ListenPort)))
	so.IdleTimeout = time.Duration(b.opts.ServerChannelMaxIdleTimeSeconds) * time.Second
	srv, err := remoting.NewServer(so, b.log)
	if err != nil {
		return err
	}
	b.server = srv
	srv.SetConnEvents(remoting.ConnEvents{Close: b.connClosed})
	srv.AddHook(&b.requests)
	b.registerProcessors(srv)
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if ta, ok := srv.Addr().(*net.TCPAddr); ok {
		b.setStoreHost(netip.AddrPortFrom(ip, uint16(ta.Port)))
	}
	return nil
}

func (b *Broker) connClosed(c *remoting.Conn) {
	b.conns.remove(c)
	b.consumers.ChannelClosed(c)
	b.producers.ChannelClosed(c)
}

// groupEvent pushes NOTIFY_CONSUMER_IDS_CHANGED to the members of a group
// whose membership or subscriptions changed, when the broker and the group
// allow it.
func (b *Broker) groupEvent(group string, ev clients.Event, channels []clients.Channel) {
	if ev != clients.EventChange || len(channels) == 0 || !b.opts.NotifyConsumerIDsChangedEnable {
		return
	}
	if g, ok := b.groups.Get(group); ok && !g.NotifyConsumerIDsChangedEnable {
		return
	}
	members := make([]*remoting.Conn, 0, len(channels))
	for _, ch := range channels {
		if c, ok := ch.(*remoting.Conn); ok {
			members = append(members, c)
		}
	}
	b.notifier.notify(group, members)
}

func (b *Broker) registerProcessors(s *remoting.Server) {
	sp := newSendProcessor(b)
	for _, code := range []protocol.RequestCode{
		protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage,
		protocol.SendReplyMessage, protocol.SendReplyMessageV2,
	} {
		s.Register(code, remoting.Inline, sp)
	}

	pp := &pullProcessor{
		cfg: pullConfig{
			slave:                b.opts.isSlave(),
			slaveReadEnable:      b.opts.SlaveReadEnable,
			offsetCheckInSlave:   b.storeOpts.OffsetCheckInSlave,
			longPolling:          b.opts.LongPollingEnable,
			shortPolling:         time.Duration(b.opts.ShortPollingTimeMills) * time.Millisecond,
			enablePropertyFilter: b.opts.EnablePropertyFilter,
		},
		topics:    b.topics,
		groups:    b.groups,
		consumers: b.consumers,
		offsets:   b.offsets,
		store:     b.store,
		holds:     b.holds,
		filters:   b.filters,
		conns:     &b.conns,
		storeHost: &b.storeHost,
		bad:       b.bad,
		stats:     &b.pulls,
	}
	s.Register(protocol.PullMessage, remoting.Inline, pp)

	(&clientManageProcessor{
		consumers: b.consumers, producers: b.producers, groups: b.groups, topics: b.topics,
		filters: b.filters, now: time.Now, enablePropertyFilter: b.opts.EnablePropertyFilter, bad: b.bad,
		registrar: b.registrar, registerWait: b.registerWait(),
	}).register(s)
	(&consumerManageProcessor{
		topics: b.topics, groups: b.groups, offsets: b.offsets, store: b.store, slave: b.opts.isSlave(), bad: b.bad,
	}).register(s)
	(&adminTopicProcessor{
		brokerName: b.opts.BrokerName, topics: b.topics, store: b.store, offsets: b.offsets, pulls: &b.pulls, bad: b.bad,
		registrar: b.registrar, registerWait: b.registerWait(),
	}).register(s)
	(&adminGroupProcessor{
		brokerName: b.opts.BrokerName, groups: b.groups, topics: b.topics, offsets: b.offsets,
		consumers: b.consumers, producers: b.producers, store: b.store, pulls: &b.pulls, now: time.Now, bad: b.bad,
	}).register(s)
	(&adminBrokerProcessor{
		opts: &b.opts, storeOpts: &b.storeOpts, boot: b.boot, stats: b.store.Stats,
		extra: func(t map[string]string) {
			t["heldPullRequests"] = strconv.Itoa(b.holds.Len())
			b.featuresRuntimeInfo(t)
		},
	}).register(s)
	(&queryProcessor{store: b.store, defaultQueryMaxNum: b.opts.DefaultQueryMaxNum, bad: b.bad}).register(s)
	b.registerFeatures(s)
}

// scanClients closes the connections of clients silent for longer than
// channelExpiredTimeout.
func (b *Broker) scanClients() {
	defer b.loops.Done()
	timeout := time.Duration(b.opts.ChannelExpiredTimeout) * time.Millisecond
	t := time.NewTicker(min(clientScanInterval, timeout/2+1))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		_, cs := b.consumers.ScanExpiredChannels(now, timeout)
		_, ps := b.producers.ScanExpiredChannels(now, timeout)
		for _, ch := range append(cs, ps...) {
			if c, ok := ch.(*remoting.Conn); ok && c.Err() == nil {
				b.log.Info("closing the connection of a silent client", "conn", c.RemoteAddr(), "timeout", timeout)
				_ = c.Close()
			}
		}
	}
}

// samplePullStats samples the messages each group got, for consumeTps.
func (b *Broker) samplePullStats() {
	defer b.loops.Done()
	t := time.NewTicker(pullSampleInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.pulls.sample(now)
		}
	}
}

// Close shuts the broker down: it stops accepting, answers held pulls,
// drains the requests in flight, unregisters from the NameServers,
// persists offsets and closes the store. Idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.started {
		return nil
	}
	return b.shutdown()
}

// requestCounter counts the requests that reach the server (an RPC hook).
type requestCounter struct{ n atomic.Int64 }

func (r *requestCounter) BeforeRequest(string, *remoting.Command) error {
	r.n.Add(1)
	return nil
}

func (r *requestCounter) AfterResponse(string, *remoting.Command, *remoting.Command) error {
	return nil
}

// waitQuiet waits until no request has arrived for closeQuietPeriod, or
// closeQuietMax has passed.
func (b *Broker) waitQuiet() {
	if b.server == nil {
		return
	}
	deadline := time.Now().Add(closeQuietMax)
	seen := b.requests.n.Load()
	for time.Now().Before(deadline) {
		time.Sleep(closeQuietPeriod)
		n := b.requests.n.Load()
		if n == seen {
			return
		}
		seen = n
	}
}

// shutdown closes whatever Start opened, in order.
func (b *Broker) shutdown() error {
	var errs []error
	b.waitQuiet()
	// Stop accepting first (the server refuses new connections and
	// requests at once, then waits for those in flight), answer the held
	// pulls it is waiting for, and let it drain.
	srvClosed := make(chan error, 1)
	if b.server != nil {
		go func() { srvClosed <- b.server.Close() }()
	} else {
		srvClosed <- nil
	}
	if b.holds != nil {
		b.holds.Close() // every held pull answered; new ones are not held
	}
	errs = append(errs, <-srvClosed)
	close(b.stop)
	b.loops.Wait()
	if b.notifier != nil {
		b.notifier.close()
	}
	if b.registrar != nil {
		b.registrar.Close()
		if ap := b.storeHost.Load(); ap != nil {
			ctx, cancel := context.WithTimeout(context.Background(), unregisterTimeout)
			err := b.registrar.Unregister(ctx, protocol.UnregisterBrokerRequestHeader{
				BrokerName: b.opts.BrokerName, BrokerAddr: ap.String(),
				ClusterName: b.opts.BrokerClusterName, BrokerID: b.opts.BrokerID,
			})
			cancel()
			if err != nil {
				b.log.Warn("unregister from name servers", "err", err)
			}
		}
	}
	errs = append(errs, b.closeFeatures())
	if b.nsRemote != nil {
		errs = append(errs, b.nsRemote.Close())
	}
	if b.offsets != nil {
		errs = append(errs, b.offsets.Close())
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	err := errors.Join(errs...)
	if err != nil {
		b.log.Error("broker closed with errors", "err", err)
	} else {
		b.log.Info("broker closed")
	}
	return err
}
