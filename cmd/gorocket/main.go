// Command gorocket is the one gorocket binary: a RocketMQ-compatible NameServer
// and Broker, and the tools around them, selected by subcommand.
//
//	gorocket standalone [--data-dir DIR] [-c broker.conf]   NameServer + Broker in one process
//	gorocket namesrv    [-c namesrv.conf]                   NameServer (9876)
//	gorocket broker     -c broker.conf [-n NAMESRV]         Broker (10911)
//
// This package parses flags and wires components together; the logic lives in
// internal/ and client/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newApp(os.Stdout, os.Stderr).Run(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorocket:", err)
		os.Exit(1)
	}
}

// newApp builds the command tree. Output goes to stdout and stderr so tests
// can capture it.
func newApp(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:            "gorocket",
		Usage:           "a RocketMQ-compatible message broker in one binary",
		Version:         version,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			pprofFlag,
		},
		Commands: []*cli.Command{
			standaloneCommand(stdout, stderr),
			namesrvCommand(stdout, stderr),
			brokerCommand(stdout, stderr),
			benchCommand(stdout, stderr),
		},
	}
}

// newLogger builds the process logger from the root flags.
func newLogger(cmd *cli.Command, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cmd.String("log-format")) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, errors.New("--log-format must be text or json")
	}
}
