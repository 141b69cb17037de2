package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// runStartup starts the server command after "--", measures the time until
// JetStream answers an account-info request, reads the server's RSS after
// -idle, and stops it: the NATS side of `gorocket bench startup`.
func runStartup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("startup", flag.ExitOnError)
	url := fs.String("url", "nats://127.0.0.1:4222", "server URL")
	idle := fs.Duration("idle", 3*time.Second, "idle time before the RSS is read")
	timeout := fs.Duration("timeout", 10*time.Second, "give up when the server does not serve within this long")
	logPath := fs.String("log", "", "append the server's output to this file")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("startup: give the server command after --")
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	deadline := time.Now().Add(*timeout)
	for !serving(*url) {
		select {
		case err := <-exited:
			return fmt.Errorf("startup: server exited before serving: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("startup: server not serving in time")
		}
	}
	startupMS := round(float64(time.Since(start).Microseconds())/1e3, 1)
	select {
	case err := <-exited:
		return fmt.Errorf("startup: server exited while idle: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*idle):
	}
	rss, err := rssBytes(cmd.Process.Pid)
	if err != nil {
		return err
	}
	res := struct {
		StartupMS float64 `json:"startup_ms"`
		RSSBytes  int64   `json:"rss_bytes"`
		RSSMiB    float64 `json:"rss_mib"`
		PID       int     `json:"pid"`
	}{startupMS, rss, round(float64(rss)/(1<<20), 1), cmd.Process.Pid}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	_, err = fmt.Printf("serving after %.1f ms; RSS %.1f MiB after %s idle\n", res.StartupMS, res.RSSMiB, *idle)
	return err
}

// serving reports whether JetStream answers on url.
func serving(url string) bool {
	nc, err := nats.Connect(url, nats.Timeout(100*time.Millisecond), nats.NoReconnect())
	if err != nil {
		return false
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.MaxWait(200 * time.Millisecond))
	if err != nil {
		return false
	}
	_, err = js.AccountInfo()
	return err == nil
}
