// Package standalone runs a NameServer and a Broker in one process: what
// `gorocket standalone` serves and what the integration tests start.
//
// The broker registers with the embedded NameServer only. Both listen on
// loopback by default; a port of 0 picks a free one and Addr methods report
// the port actually bound.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/gorocket/gorocket/internal/broker"
	"github.com/gorocket/gorocket/internal/namesrv"
	"github.com/gorocket/gorocket/internal/store"
)

// Options configure a standalone process.
type Options struct {
	// DataDir holds the store (DataDir/store unless Store.StorePathRootDir
	// says otherwise) and the NameServer's KV config (DataDir/namesrv).
	DataDir string
	Namesrv namesrv.Options
	Broker  broker.Options
	Store   store.Options
}

// DefaultOptions listen on 127.0.0.1:9876 and 127.0.0.1:10911, announce the
// broker as 127.0.0.1, create topics on first use and keep data in ./data:
// the store in data/store, the NameServer's KV configuration in
// data/namesrv/kvConfig.json.
func DefaultOptions() Options {
	o := Options{
		DataDir: "data",
		Namesrv: namesrv.DefaultOptions(),
		Broker:  broker.DefaultOptions(),
		Store:   store.DefaultOptions(),
	}
	o.Namesrv.BindAddress = "127.0.0.1"
	o.Broker.BindAddress = "127.0.0.1"
	o.Broker.BrokerIP1 = "127.0.0.1"
	o.Broker.AutoCreateTopicEnable = true
	o.Namesrv.KVConfigPath = ""   // derived from DataDir, not $HOME
	o.Store.StorePathRootDir = "" // derived from DataDir
	return o
}

// Standalone is a running NameServer and Broker.
type Standalone struct {
	ns *namesrv.Server
	b  *broker.Broker
}

// Start starts the NameServer, then the Broker registered with it. A nil
// log discards.
func Start(ctx context.Context, opts Options, log *slog.Logger) (*Standalone, error) {
	if opts.DataDir == "" {
		return nil, errors.New("standalone: empty data dir")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Namesrv.KVConfigPath == "" {
		opts.Namesrv.KVConfigPath = filepath.Join(opts.DataDir, "namesrv", "kvConfig.json")
	}
	if opts.Store.StorePathRootDir == "" {
		opts.Store.StorePathRootDir = filepath.Join(opts.DataDir, "store")
	}
	ns, err := namesrv.New(opts.Namesrv, log)
	if err != nil {
		return nil, err
	}
	if err := ns.Start(ctx); err != nil {
		return nil, fmt.Errorf("standalone: namesrv: %w", err)
	}
	// The embedded NameServer is the broker's, whatever the file says.
	opts.Broker.NamesrvAddr = ns.Addr()
	b, err := broker.New(opts.Broker, opts.Store, log.With("component", "broker"))
	if err == nil {
		err = b.Start(ctx)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("standalone: broker: %w", err), ns.Close())
	}
	return &Standalone{ns: ns, b: b}, nil
}

// NamesrvAddr is the NameServer's address.
func (s *Standalone) NamesrvAddr() string { return s.ns.Addr() }

// BrokerAddr is the address the broker announces to clients.
func (s *Standalone) BrokerAddr() string { return s.b.Addr() }

// Broker is the embedded broker.
func (s *Standalone) Broker() *broker.Broker { return s.b }

// Close stops the broker (which unregisters and flushes), then the NameServer.
func (s *Standalone) Close() error {
	return errors.Join(s.b.Close(), s.ns.Close())
}
