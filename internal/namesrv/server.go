package namesrv

import (
	"context"
	"errors"
	"fmt"
	"github.com/gorocket/gorocket/internal/ratelog"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/namesrv/kvconfig"
	"github.com/gorocket/gorocket/internal/namesrv/routeinfo"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("namesrv: server closed")

// Server is a NameServer.
type Server struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	routes   *routeinfo.Manager
	kv       *kvconfig.Manager
	remote   *remoting.Server
	refusals *ratelog.Logger

	mu        sync.Mutex
	started   bool
	closed    bool
	startedAt time.Time
	stop      chan struct{}
	scanDone  chan struct{}
}

// New returns a NameServer configured by opts. It loads the KV
// configuration from opts.KVConfigPath and refuses a file it cannot read.
func New(opts Options, log *slog.Logger) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	transportLog := log
	log = log.With("component", "namesrv")
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	routes, err := routeinfo.New(routeinfo.Options{
		BrokerExpiry:                      opts.BrokerExpiry,
		SupportActingMaster:               opts.SupportActingMaster,
		DeleteTopicWithBrokerRegistration: opts.DeleteTopicWithBrokerRegistration,
		Now:                               now,
	}, log)
	if err != nil {
		return nil, err
	}
	kv, err := kvconfig.Open(opts.KVConfigPath, log)
	if err != nil {
		return nil, fmt.Errorf("namesrv: %w", err)
	}
	so := remoting.DefaultServerOptions(opts.Addr())
	so.IdleTimeout = time.Duration(opts.ServerChannelMaxIdleTimeSeconds) * time.Second
	so.CloseTimeout = opts.CloseTimeout
	remote, err := remoting.NewServer(so, transportLog)
	if err != nil {
		return nil, fmt.Errorf("namesrv: %w", err)
	}
	s := &Server{
		opts:     opts,
		log:      log,
		now:      now,
		routes:   routes,
		kv:       kv,
		remote:   remote,
		refusals: ratelog.New(log, 10*time.Second, 10),
		stop:     make(chan struct{}),
		scanDone: make(chan struct{}),
	}
	for _, p := range s.processors() {
		remote.Register(p.code, p.mode, p.fn)
	}
	remote.SetConnEvents(remoting.ConnEvents{Close: s.connClosed})
	return s, nil
}

// Start listens and starts expiring silent brokers. ctx bounds the
// listening only.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return errors.New("namesrv: server already started")
	}
	s.startedAt = s.now()
	if err := s.remote.Start(ctx); err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	s.started = true
	go s.scanLoop()
	s.log.Info("name server started", "addr", s.Addr(), "kvConfigPath", s.opts.KVConfigPath,
		"orderMessageEnable", s.opts.OrderMessageEnable)
	return nil
}

// Addr returns the address the server listens on, or "" before Start.
func (s *Server) Addr() string {
	if a := s.remote.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// Close stops the scan, lets requests in flight finish (up to
// Options.CloseTimeout) and closes every connection. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if first && started {
		close(s.stop)
		<-s.scanDone
	}
	if err := s.remote.Close(); err != nil {
		return fmt.Errorf("namesrv: %w", err)
	}
	if first {
		s.log.Info("name server stopped")
	}
	return nil
}

// scanLoop expires silent brokers every ScanNotActiveBrokerInterval.
func (s *Server) scanLoop() {
	defer close(s.scanDone)
	t := time.NewTicker(time.Duration(s.opts.ScanNotActiveBrokerInterval) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.scan()
		}
	}
}

// scan removes the brokers past their heartbeat timeout and closes their
// connections, as Java does: a broker that stopped talking but kept its
// connection must reconnect to be trusted again.
func (s *Server) scan() {
	expired := s.routes.Scan()
	if len(expired) == 0 {
		return
	}
	stale := make(map[routeinfo.ConnID]bool, len(expired))
	for _, b := range expired {
		stale[b.Conn] = true
	}
	for _, c := range s.remote.Conns() {
		if stale[routeinfo.ConnID(c.ID())] {
			_ = c.Close()
		}
	}
}

// connClosed removes the brokers registered over c.
func (s *Server) connClosed(c *remoting.Conn) {
	s.routes.ConnClosed(routeinfo.ConnID(c.ID()))
}

// processor is one request code the NameServer serves.
type processor struct {
	code protocol.RequestCode
	mode remoting.Mode
	fn   remoting.ProcessorFunc
}

// processors lists every request code the NameServer serves. Reads of the
// in-memory tables run inline on the connection's reader; anything that
// writes a file or decodes a large body gets a goroutine.
func (s *Server) processors() []processor {
	return []processor{
		{protocol.PutKVConfig, remoting.Spawn, s.putKVConfig},
		{protocol.GetKVConfig, remoting.Inline, s.getKVConfig},
		{protocol.DeleteKVConfig, remoting.Spawn, s.deleteKVConfig},
		{protocol.GetKVListByNamespace, remoting.Inline, s.getKVListByNamespace},
		{protocol.RegisterBroker, remoting.Spawn, s.registerBroker},
		{protocol.UnregisterBroker, remoting.Spawn, s.unregisterBroker},
		{protocol.QueryDataVersion, remoting.Spawn, s.queryDataVersion},
		{protocol.BrokerHeartbeat, remoting.Inline, s.brokerHeartbeat},
		{protocol.WipeWritePermOfBroker, remoting.Spawn, s.wipeWritePermOfBroker},
		{protocol.AddWritePermOfBroker, remoting.Spawn, s.addWritePermOfBroker},
		{protocol.GetRouteInfoByTopic, remoting.Inline, s.getRouteInfoByTopic},
		{protocol.GetBrokerClusterInfo, remoting.Inline, s.getBrokerClusterInfo},
		{protocol.GetAllTopicListFromNameServer, remoting.Inline, s.getAllTopicList},
		{protocol.GetTopicsByCluster, remoting.Inline, s.getTopicsByCluster},
		{protocol.GetSystemTopicListFromNS, remoting.Inline, s.getSystemTopicList},
		{protocol.GetUnitTopicList, remoting.Inline, s.unitTopicList(routeinfo.UnitTopic)},
		{protocol.GetHasUnitSubTopicList, remoting.Inline, s.unitTopicList(routeinfo.HasUnitSubTopic)},
		{protocol.GetHasUnitSubUnunitTopicList, remoting.Inline, s.unitTopicList(routeinfo.HasUnitSubUnUnitTopic)},
		{protocol.DeleteTopicInNamesrv, remoting.Spawn, s.deleteTopic},
		{protocol.RegisterTopicInNamesrv, remoting.Spawn, s.registerTopic},
		{protocol.GetNamesrvConfig, remoting.Inline, s.getConfig},
		{protocol.UpdateNamesrvConfig, remoting.Inline, s.updateConfig},
	}
}
