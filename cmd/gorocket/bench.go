package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/gorocket/gorocket/internal/bench"
)

// benchCommand is `gorocket bench`: flags and wiring only; the logic is in
// internal/bench.
func benchCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load generator and latency meter (produce, consume, e2e, startup)",
		Description: "Every run is bounded by --count, --duration or both, prints a progress line a second to stderr\n" +
			"and a summary to stdout (one JSON object with --json). SIGINT ends a run early with a partial summary.\n" +
			"Latency percentiles come from an HDR histogram in microseconds. MB/s counts 10^6 body bytes.",
		Commands: []*cli.Command{
			benchProduceCommand(stdout, stderr),
			benchConsumeCommand(stdout, stderr),
			benchE2ECommand(stdout, stderr),
			benchStartupCommand(stdout, stderr),
		},
	}
}

func benchCommonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "namesrv", Aliases: []string{"n"}, Value: "127.0.0.1:9876", Sources: cli.EnvVars("NAMESRV_ADDR"), Usage: "name server addresses, ';'-separated"},
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Value: "gorocket_bench", Usage: "topic (created or updated by produce and e2e)"},
		&cli.Int64Flag{Name: "count", Usage: "stop after this many messages"},
		&cli.DurationFlag{Name: "duration", Usage: "stop after this long (with --count: whichever comes first)"},
		&cli.BoolFlag{Name: "json", Usage: "print the summary as one JSON object"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines"},
		&cli.IntFlag{Name: "server-pid", Usage: "report this process's CPU time per message (from /proc/PID/stat)"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write this tool's CPU profile of the measured phase to `FILE`"},
	}
}

func benchProduceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "size", Aliases: []string{"s"}, Value: 1024, Usage: "message body size in bytes"},
		&cli.IntFlag{Name: "producers", Aliases: []string{"p"}, Value: 1, Usage: "producers, each with its own client and connection"},
		&cli.IntFlag{Name: "inflight", Aliases: []string{"w"}, Value: 256, Usage: "requests each producer keeps outstanding (async)"},
		&cli.BoolFlag{Name: "sync", Usage: "send one request at a time per producer"},
		&cli.IntFlag{Name: "batch", Aliases: []string{"b"}, Value: 1, Usage: "messages per request (SEND_BATCH_MESSAGE above 1)"},
		&cli.FloatFlag{Name: "rate", Aliases: []string{"r"}, Usage: "cap the total rate in msgs/s, paced open-loop: latency counts from each message's scheduled send time, not the actual one, so a stalled broker shows in the percentiles (no coordinated omission)"},
		&cli.IntFlag{Name: "queues", Value: 8, Usage: "create or update the topic with this many queues on every master before the run"},
	}
}

// benchCommon reads the shared flags.
func benchCommon(cmd *cli.Command, stderr io.Writer) (bench.Common, error) {
	log, err := newLogger(cmd.Root(), stderr)
	if err != nil {
		return bench.Common{}, err
	}
	c := bench.Common{
		NameServers: splitAddrs(cmd.String("namesrv")),
		Topic:       cmd.String("topic"),
		Count:       cmd.Int64("count"),
		Duration:    cmd.Duration("duration"),
		ServerPID:   cmd.Int("server-pid"),
		CPUProfile:  cmd.String("cpuprofile"),
		Logger:      log,
	}
	if !cmd.Bool("quiet") {
		c.Progress = stderr
	}
	return c, nil
}

func benchProduceConfig(cmd *cli.Command, common bench.Common) bench.ProduceConfig {
	return bench.ProduceConfig{
		Common:    common,
		Queues:    cmd.Int("queues"),
		Size:      cmd.Int("size"),
		Producers: cmd.Int("producers"),
		Inflight:  cmd.Int("inflight"),
		Sync:      cmd.Bool("sync"),
		Batch:     cmd.Int("batch"),
		Rate:      cmd.Float("rate"),
	}
}

func splitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// printSummary writes s to stdout as JSON or text.
func printSummary(cmd *cli.Command, stdout io.Writer, s bench.Summary, err error) error {
	if err != nil && s.Mode == "" {
		return err
	}
	var werr error
	if cmd.Bool("json") {
		werr = s.WriteJSON(stdout)
	} else {
		werr = s.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	return werr
}

func benchProduceCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "produce",
		Usage:     "send messages as fast as possible (or at --rate) and measure send-to-ack latency",
		UsageText: "gorocket bench produce --namesrv ADDR --topic T --size BYTES --producers N --inflight W (--count N | --duration D) [--sync] [--batch K] [--rate R] [--json]",
		Flags:     append(benchCommonFlags(), append(benchProduceFlags(), &cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "bench_producer", Usage: "producer group"})...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			common, err := benchCommon(cmd, stderr)
			if err != nil {
				return err
			}
			cfg := benchProduceConfig(cmd, common)
			cfg.Group = cmd.String("group")
			s, err := bench.Produce(ctx, cfg)
			return printSummary(cmd, stdout, s, err)
		},
	}
}

func benchConsumeCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "consume",
		Usage:     "drain a topic as fast as possible, one puller per queue, committing offsets with every pull",
		UsageText: "gorocket bench consume --namesrv ADDR --topic T --group G (--count N | --duration D) [--pull-batch K] [--json]",
		Flags: append(benchCommonFlags(),
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "bench_consumer", Usage: "consumer group; a new group starts at the queues' first offsets"},
			&cli.IntFlag{Name: "pull-batch", Value: 32, Usage: "messages per pull (the broker caps it: maxTransferCountOnMessageInMemory)"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 5 * time.Second, Usage: "stop when no message arrived for this long (negative: never)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			common, err := benchCommon(cmd, stderr)
			if err != nil {
				return err
			}
			s, err := bench.Consume(ctx, bench.ConsumeConfig{
				Common:      common,
				Group:       cmd.String("group"),
				PullBatch:   cmd.Int("pull-batch"),
				IdleTimeout: cmd.Duration("idle-timeout"),
			})
			return printSummary(cmd, stdout, s, err)
		},
	}
}

func benchE2ECommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "e2e",
		Usage:     "produce at a fixed rate while consuming in the same process; measure born-to-consume latency",
		UsageText: "gorocket bench e2e --namesrv ADDR --topic T --rate R (--count N | --duration D) [--producers N] [--pull-batch K] [--json]",
		Flags: append(benchCommonFlags(), append(benchProduceFlags(),
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Value: "bench_e2e", Usage: "consumer group"},
			&cli.StringFlag{Name: "producer-group", Value: "bench_producer", Usage: "producer group"},
			&cli.IntFlag{Name: "pull-batch", Value: 32, Usage: "messages per pull"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 5 * time.Second, Usage: "how long the consumer waits for the last messages"},
		)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			common, err := benchCommon(cmd, stderr)
			if err != nil {
				return err
			}
			cfg := bench.E2EConfig{
				ProduceConfig: benchProduceConfig(cmd, common),
				ConsumerGroup: cmd.String("group"),
				PullBatch:     cmd.Int("pull-batch"),
				DrainTimeout:  cmd.Duration("drain-timeout"),
			}
			cfg.Group = cmd.String("producer-group")
			s, err := bench.E2E(ctx, cfg)
			return printSummary(cmd, stdout, s, err)
		},
	}
}

func benchStartupCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "startup",
		Usage:     "start a server command, time it until it serves, read its RSS after idling, stop it",
		UsageText: "gorocket bench startup [--namesrv ADDR] [--idle 3s] [--json] -- gorocket standalone --data-dir DIR ...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namesrv", Aliases: []string{"n"}, Value: "127.0.0.1:9876", Usage: "name server addresses the started server answers on, ';'-separated"},
			&cli.DurationFlag{Name: "idle", Value: 3 * time.Second, Usage: "idle time before the RSS is read"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "give up when the server does not serve within this long"},
			&cli.StringFlag{Name: "log", Usage: "append the server's output to `FILE` (default: discard)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as one JSON object"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg := bench.StartupConfig{
				NameServers: splitAddrs(cmd.String("namesrv")),
				Command:     cmd.Args().Slice(),
				Idle:        cmd.Duration("idle"),
				Timeout:     cmd.Duration("timeout"),
			}
			if path := cmd.String("log"); path != "" {
				f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.Output = f
			}
			r, err := bench.MeasureStartup(ctx, cfg)
			if err != nil {
				return err
			}
			if cmd.Bool("json") {
				return r.WriteJSON(stdout)
			}
			_, err = fmt.Fprintf(stdout, "serving after %.1f ms; RSS %.1f MiB after %s idle\n", r.StartupMS, r.RSSMiB, cfg.Idle)
			return err
		},
	}
}
