package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/gorocket/gorocket/internal/broker"
	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/namesrv"
	"github.com/gorocket/gorocket/internal/standalone"
	"github.com/gorocket/gorocket/internal/store"
)

// Flags shared by the server subcommands.
var (
	configFlag = &cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "properties file (RocketMQ's broker.conf / namesrv.conf)"}
	printFlag  = &cli.BoolFlag{Name: "print-config", Aliases: []string{"p"}, Usage: "print the effective configuration and exit"}
)

func standaloneCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "standalone",
		Usage: "run a NameServer and a Broker in one process (127.0.0.1:9876 and 127.0.0.1:10911)",
		Flags: []cli.Flag{
			configFlag, printFlag,
			&cli.StringFlag{Name: "data-dir", Value: "data", Usage: "directory for the store and the NameServer's KV config"},
			&cli.IntFlag{Name: "namesrv-port", Value: 9876, Usage: "NameServer port (0 picks a free one)"},
			&cli.IntFlag{Name: "broker-port", Value: 10911, Usage: "Broker port (0 picks a free one)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd.Root(), stderr)
			if err != nil {
				return err
			}
			opts := standalone.DefaultOptions()
			opts.DataDir = cmd.String("data-dir")
			opts.Namesrv.ListenPort = int(cmd.Int("namesrv-port"))
			opts.Broker.ListenPort = int(cmd.Int("broker-port"))
			opts.Store.StorePathRootDir = filepath.Join(opts.DataDir, "store")
			var overrides []string
			if cmd.IsSet("broker-port") {
				overrides = append(overrides, "listenPort="+strconv.Itoa(opts.Broker.ListenPort))
			}
			if cmd.IsSet("data-dir") {
				overrides = append(overrides, "storePathRootDir="+opts.Store.StorePathRootDir)
			}
			if err := loadConfig(cmd.String("config"), overrides, log, &opts.Broker, &opts.Store); err != nil {
				return err
			}
			if cmd.Bool("print-config") {
				return config.Print(stdout, &opts.Broker, &opts.Store)
			}
			if err := startPprof(ctx, cmd, log); err != nil {
				return err
			}
			s, err := standalone.Start(ctx, opts, log)
			if err != nil {
				return err
			}
			defer closeLogged(log, "standalone", s)

			fmt.Fprintf(stdout, "gorocket %s standalone\n", version)
			fmt.Fprintf(stdout, "NameServer listening on %s\n", s.NamesrvAddr())
			fmt.Fprintf(stdout, "Broker %s listening on %s, announced to clients as %s\n", opts.Broker.BrokerName, listenAddr(opts.Broker.BindAddress, s.BrokerAddr()), s.BrokerAddr())
			fmt.Fprintf(stdout, "data in %s\n", opts.DataDir)
			return waitForSignal(ctx, log)
		},
	}
}

func namesrvCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "namesrv",
		Usage: "run a NameServer",
		Flags: []cli.Flag{configFlag, printFlag},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd.Root(), stderr)
			if err != nil {
				return err
			}
			opts := namesrv.DefaultOptions()
			if err := loadConfig(cmd.String("config"), nil, log, &opts); err != nil {
				return err
			}
			if cmd.Bool("print-config") {
				return config.Print(stdout, &opts)
			}
			if err := startPprof(ctx, cmd, log); err != nil {
				return err
			}
			ns, err := namesrv.New(opts, log)
			if err != nil {
				return err
			}
			if err := ns.Start(ctx); err != nil {
				return err
			}
			defer closeLogged(log, "namesrv", ns)
			fmt.Fprintf(stdout, "NameServer listening on %s\n", ns.Addr())
			return waitForSignal(ctx, log)
		},
	}
}

func brokerCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run a Broker configured by a RocketMQ broker.conf",
		Flags: []cli.Flag{
			configFlag, printFlag,
			&cli.StringFlag{Name: "namesrv", Aliases: []string{"n"}, Usage: "NameServer addresses, ';'-separated (overrides namesrvAddr and $NAMESRV_ADDR)"},
			&cli.StringFlag{Name: "data-dir", Usage: "store root (overrides storePathRootDir)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			log, err := newLogger(cmd.Root(), stderr)
			if err != nil {
				return err
			}
			bOpts, sOpts := broker.DefaultOptions(), store.DefaultOptions()
			// RocketMQ takes NAMESRV_ADDR as the default that the file overrides.
			if env := os.Getenv("NAMESRV_ADDR"); env != "" {
				bOpts.NamesrvAddr = env
			}
			var overrides []string
			if cmd.IsSet("namesrv") {
				overrides = append(overrides, "namesrvAddr="+cmd.String("namesrv"))
			}
			if cmd.IsSet("data-dir") {
				overrides = append(overrides, "storePathRootDir="+cmd.String("data-dir"))
			}
			if err := loadConfig(cmd.String("config"), overrides, log, &bOpts, &sOpts); err != nil {
				return err
			}
			if cmd.Bool("print-config") {
				return config.Print(stdout, &bOpts, &sOpts)
			}
			if err := startPprof(ctx, cmd, log); err != nil {
				return err
			}
			b, err := broker.New(bOpts, sOpts, log.With("component", "broker"))
			if err != nil {
				return err
			}
			if err := b.Start(ctx); err != nil {
				return err
			}
			defer closeLogged(log, "broker", b)
			fmt.Fprintf(stdout, "Broker %s listening on %s, announced to clients as %s\n", bOpts.BrokerName, listenAddr(bOpts.BindAddress, b.Addr()), b.Addr())
			return waitForSignal(ctx, log)
		},
	}
}

// loadConfig applies the properties file at path (none when empty) and then
// the key=value overrides to targets, warning about keys no target claims, as
// RocketMQ ignores them.
func loadConfig(path string, overrides []string, log *slog.Logger, targets ...any) error {
	props := &config.Properties{}
	if path != "" {
		p, err := config.Load(path)
		if err != nil {
			return err
		}
		props = p
	}
	if err := props.Override("command line", overrides...); err != nil {
		return err
	}
	unknown, err := config.Apply(props, targets...)
	for _, k := range unknown {
		log.Warn("unknown configuration key ignored", "key", k, "at", props.Origin(k))
	}
	return err
}

// waitForSignal blocks until SIGINT or SIGTERM (ctx is cancelled by them).
func waitForSignal(ctx context.Context, log *slog.Logger) error {
	<-ctx.Done()
	log.Info("shutting down", "cause", context.Cause(ctx))
	return nil
}

func closeLogged(log *slog.Logger, what string, c interface{ Close() error }) {
	start := time.Now()
	if err := c.Close(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("close failed", "component", what, "err", err)
		return
	}
	log.Info("closed", "component", what, "took", time.Since(start).Round(time.Millisecond))
}

// listenAddr is the address a server bound: its bind address with the port of
// the announced address.
func listenAddr(bind, announced string) string {
	_, port, err := net.SplitHostPort(announced)
	if err != nil {
		return announced
	}
	return net.JoinHostPort(bind, port)
}
