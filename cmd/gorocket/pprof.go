package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/urfave/cli/v3"
)

// pprofFlag serves the Go runtime profiles of a server process, for
// profiling the broker under load (docs/benchmarks.md):
//
//	gorocket --pprof 127.0.0.1:6060 standalone
//	go tool pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
var pprofFlag = &cli.StringFlag{
	Name:  "pprof",
	Usage: "serve net/http/pprof on `ADDR` (for example 127.0.0.1:6060); off when empty",
}

// startPprof serves the profiles on the --pprof address until ctx ends.
// Nothing is served, and nothing returned, when the flag is empty.
func startPprof(ctx context.Context, cmd *cli.Command, log *slog.Logger) error {
	addr := cmd.Root().String(pprofFlag.Name)
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("serving pprof", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
