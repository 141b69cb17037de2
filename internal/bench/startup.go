package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/protocol"
)

// StartupConfig configures MeasureStartup.
type StartupConfig struct {
	// NameServers are where the started server will answer.
	NameServers []string
	// Command starts the server: a program and its arguments.
	Command []string
	// Env is added to this process's environment for the command.
	Env []string
	// Idle is how long the server idles after it serves before its RSS
	// is read. Default 3 s.
	Idle time.Duration
	// Timeout bounds the wait for the server to serve. Default 10 s.
	Timeout time.Duration
	// Output receives the server's stdout and stderr; nil discards them.
	Output io.Writer
}

// StartupResult is what MeasureStartup measured. Its JSON keys are stable.
type StartupResult struct {
	// StartupMS is the time from starting the command to the first
	// answer of a broker registered with the name servers.
	StartupMS float64 `json:"startup_ms"`
	// RSSBytes and RSSMiB are the server's resident set after Idle.
	RSSBytes int64   `json:"rss_bytes"`
	RSSMiB   float64 `json:"rss_mib"`
	PID      int     `json:"pid"`
}

// WriteJSON writes r as one JSON object on one line.
func (r StartupResult) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// MeasureStartup starts a server, measures how long it takes to serve (the
// name servers list a broker master, and that broker answers a request)
// and its resident memory after idling, then stops it with SIGTERM
// (SIGKILL after 10 s).
func MeasureStartup(ctx context.Context, cfg StartupConfig) (StartupResult, error) {
	if len(cfg.Command) == 0 || len(cfg.NameServers) == 0 {
		return StartupResult{}, fmt.Errorf("%w: startup needs a command and a name server", ErrInvalidConfig)
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 3 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	out := cfg.Output
	if out == nil {
		out = io.Discard
	}
	// The client is built before the clock starts.
	opts := client.DefaultOptions(cfg.NameServers...)
	opts.DialTimeout = 100 * time.Millisecond
	opts.RequestTimeout = 200 * time.Millisecond
	c, err := client.New(opts)
	if err != nil {
		return StartupResult{}, err
	}
	defer c.Close()

	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if len(cfg.Env) > 0 {
		cmd.Env = append(os.Environ(), cfg.Env...)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return StartupResult{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopProcess(cmd.Process, exited)

	res := StartupResult{PID: cmd.Process.Pid}
	wait, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := waitServing(wait, client.NewAdmin(c), exited); err != nil {
		return res, err
	}
	res.StartupMS = round(float64(time.Since(start).Microseconds())/1e3, 1)
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case err := <-exited:
		return res, fmt.Errorf("bench: server exited while idle: %v", err)
	case <-time.After(cfg.Idle):
	}
	if res.RSSBytes, err = ProcessRSS(res.PID); err != nil {
		return res, err
	}
	res.RSSMiB = round(float64(res.RSSBytes)/(1<<20), 1)
	return res, nil
}

// waitServing polls until a master is registered and answers.
func waitServing(ctx context.Context, a *client.Admin, exited <-chan error) error {
	var last error
	for {
		ci, err := a.ClusterInfo(ctx)
		if err == nil {
			err = errors.New("no broker master registered yet")
			for _, b := range ci.Brokers {
				if addr := b.MasterAddr(); addr != "" {
					_, err = a.Invoke(ctx, addr, client.RequestCode(protocol.GetBrokerConfig), nil, nil)
					if err == nil {
						return nil
					}
				}
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: server not serving: %w (last: %w)", ctx.Err(), last)
		case err := <-exited:
			return fmt.Errorf("bench: server exited before serving: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
}

// stopProcess ends a started server: SIGTERM, then SIGKILL after 10 s.
func stopProcess(p *os.Process, exited <-chan error) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-exited
	}
}
