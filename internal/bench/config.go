package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gorocket/gorocket/client"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("bench: invalid configuration")

// Limits that keep a mistyped flag from exhausting the machine.
const (
	maxProducers = 4096
	maxInflight  = 65536
	maxBatch     = 4096
	maxRequest   = 4 << 20 // the broker's default maxMessageSize
	stampSize    = 16      // E2E body header: due time and run id
)

// Common is what every run needs.
type Common struct {
	// NameServers are the cluster's name servers, "host:port".
	NameServers []string
	// Topic is the topic produced to or consumed from.
	Topic string
	// Count bounds the run's messages, Duration its time; at least one
	// must be set, and the run ends at whichever comes first.
	Count    int64
	Duration time.Duration
	// ServerPID, when positive, is the server process whose CPU time per
	// message the summary reports.
	ServerPID int
	// CPUProfile, when set, is a file the tool's own CPU profile of the
	// measured phase is written to.
	CPUProfile string
	// Progress receives a progress line every ProgressInterval (default
	// 1 s); nil for none.
	Progress         io.Writer
	ProgressInterval time.Duration
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
}

func (c *Common) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if len(c.NameServers) == 0 {
		bad("no name server")
	}
	if c.Topic == "" {
		bad("no topic")
	}
	if c.Count < 0 || c.Duration < 0 {
		bad("negative count or duration")
	}
	if c.Count == 0 && c.Duration == 0 {
		bad("unbounded run: give a count, a duration or both")
	}
	if c.ProgressInterval < 0 {
		bad("negative progress interval")
	}
	return errors.Join(errs...)
}

func (c *Common) clientOptions() client.Options {
	o := client.DefaultOptions(c.NameServers...)
	o.Logger = c.Logger
	return o
}

// ProduceConfig configures Produce.
type ProduceConfig struct {
	Common
	// Queues is the queue count the topic is created (or updated) with
	// on every master before the run. Default 8.
	Queues int
	// Group is the producer group. Default "bench_producer".
	Group string
	// Size is the body size in bytes. Default 1024.
	Size int
	// Producers is the number of producers, each on its own client and
	// connection. Default 1.
	Producers int
	// Inflight is the number of requests each producer keeps
	// outstanding. Default 256; ignored with Sync.
	Inflight int
	// Sync sends one request at a time per producer.
	Sync bool
	// Batch is the number of messages per request; above 1 the requests
	// are SEND_BATCH_MESSAGE. Default 1.
	Batch int
	// Rate caps the total rate in messages per second, paced open-loop
	// (see the package documentation). 0: as fast as possible.
	Rate float64
}

func (c *ProduceConfig) withDefaults() {
	if c.Queues == 0 {
		c.Queues = 8
	}
	if c.Group == "" {
		c.Group = "bench_producer"
	}
	if c.Size == 0 {
		c.Size = 1024
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.Inflight == 0 {
		c.Inflight = 256
	}
	if c.Sync {
		c.Inflight = 1
	}
	if c.Batch == 0 {
		c.Batch = 1
	}
}

// Validate reports every invalid field, after defaults are applied.
func (c ProduceConfig) Validate() error {
	c.withDefaults()
	return c.validate(1)
}

func (c *ProduceConfig) validate(minSize int) error {
	errs := []error{c.Common.validate()}
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Queues < 1 || c.Queues > 1024 {
		bad("queues %d outside [1, 1024]", c.Queues)
	}
	if c.Size < minSize || c.Size > maxRequest {
		bad("size %d outside [%d, %d]", c.Size, minSize, maxRequest)
	}
	if c.Producers < 1 || c.Producers > maxProducers {
		bad("producers %d outside [1, %d]", c.Producers, maxProducers)
	}
	if c.Inflight < 1 || c.Inflight > maxInflight {
		bad("inflight %d outside [1, %d]", c.Inflight, maxInflight)
	}
	if c.Batch < 1 || c.Batch > maxBatch {
		bad("batch %d outside [1, %d]", c.Batch, maxBatch)
	} else if c.Batch > 1 && c.Batch*(c.Size+64) > maxRequest {
		bad("a batch of %d × %d bytes exceeds %d bytes", c.Batch, c.Size, maxRequest)
	}
	if c.Rate < 0 {
		bad("negative rate")
	}
	return errors.Join(errs...)
}

func (c *ProduceConfig) info() RunInfo {
	return RunInfo{
		Topic: c.Topic, Group: c.Group, Size: c.Size, Producers: c.Producers, Inflight: c.Inflight,
		Sync: c.Sync, Batch: c.Batch, Rate: c.Rate, Queues: c.Queues,
		Count: c.Count, DurationSec: c.Duration.Seconds(),
	}
}

// ConsumeConfig configures Consume.
type ConsumeConfig struct {
	Common
	// Group is the consumer group whose offsets are read and committed.
	// Default "bench_consumer".
	Group string
	// PullBatch is the messages asked for per pull. Default 32, the
	// RocketMQ clients' default (the broker caps it with
	// maxTransferCountOnMessageInMemory, 32 by default).
	PullBatch int
	// IdleTimeout ends the run when no message has arrived for this
	// long: a backlog smaller than Count. Default 5 s; negative: never.
	IdleTimeout time.Duration
}

func (c *ConsumeConfig) withDefaults() {
	if c.Group == "" {
		c.Group = "bench_consumer"
	}
	if c.PullBatch == 0 {
		c.PullBatch = 32
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 5 * time.Second
	}
}

// Validate reports every invalid field, after defaults are applied.
func (c ConsumeConfig) Validate() error {
	c.withDefaults()
	errs := []error{c.Common.validate()}
	if c.PullBatch < 1 || c.PullBatch > 65536 {
		errs = append(errs, fmt.Errorf("%w: pull batch %d outside [1, 65536]", ErrInvalidConfig, c.PullBatch))
	}
	return errors.Join(errs...)
}

func (c *ConsumeConfig) info(queues int) RunInfo {
	return RunInfo{Topic: c.Topic, Group: c.Group, PullBatch: c.PullBatch, Queues: queues, Count: c.Count, DurationSec: c.Duration.Seconds()}
}

// E2EConfig configures E2E: a paced producer and a consumer of the same
// topic in one process.
type E2EConfig struct {
	ProduceConfig
	// ConsumerGroup consumes the topic. Default "bench_e2e".
	ConsumerGroup string
	// PullBatch is the messages asked for per pull. Default 32.
	PullBatch int
	// DrainTimeout bounds how long the consumer waits for the last
	// messages once the producers are done. Default 5 s.
	DrainTimeout time.Duration
}

func (c *E2EConfig) withDefaults() {
	c.ProduceConfig.withDefaults()
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = "bench_e2e"
	}
	if c.PullBatch == 0 {
		c.PullBatch = 32
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 5 * time.Second
	}
}

// Validate reports every invalid field, after defaults are applied.
func (c E2EConfig) Validate() error {
	c.withDefaults()
	errs := []error{c.ProduceConfig.validate(stampSize)}
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("%w: e2e needs a rate", ErrInvalidConfig))
	}
	if c.PullBatch < 1 || c.PullBatch > 65536 {
		errs = append(errs, fmt.Errorf("%w: pull batch %d outside [1, 65536]", ErrInvalidConfig, c.PullBatch))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: negative drain timeout", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}
