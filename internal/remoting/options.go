package remoting

import (
	"errors"
	"fmt"
	"time"
)

// ConnOptions tune every connection, on either side.
type ConnOptions struct {
	// MaxFrameSize bounds frames in both directions, length field included.
	MaxFrameSize int
	// ReadBufferSize is the bufio.Reader size per connection: enough to
	// take many pipelined small requests per read syscall, small enough
	// that ten thousand idle clients cost 160 MiB, not more. Bodies larger
	// than the buffer are read straight into their own slice.
	ReadBufferSize int
	// MaxWriteQueue bounds the frames waiting for the writer. A sender
	// that finds the queue full waits until the writer makes room or the
	// connection closes.
	MaxWriteQueue int
	// WriteTimeout bounds one write to the socket. A peer that stops
	// reading for this long has its connection closed.
	WriteTimeout time.Duration
	// IdleTimeout closes a connection with no frame read or written for
	// this long (Java: serverChannelMaxIdleTimeSeconds, 120 s). 0 disables.
	IdleTimeout time.Duration
	// InvokeTimeout bounds an invocation whose context has no deadline.
	InvokeTimeout time.Duration
	// MaxConcurrentProcessors bounds processors running on goroutines of
	// their own (across all connections of a server or client). A request
	// past the bound is answered SYSTEM_BUSY at once, as Java does when a
	// processor's executor rejects work.
	MaxConcurrentProcessors int
	// SerializeType is used for requests this side initiates. Responses
	// always use the request's.
	SerializeType SerializeType
}

// DefaultConnOptions returns the defaults: Java's where Java has one.
func DefaultConnOptions() ConnOptions {
	return ConnOptions{
		MaxFrameSize:            MaxFrameSize,
		ReadBufferSize:          16 << 10,
		MaxWriteQueue:           4096,
		WriteTimeout:            30 * time.Second,
		IdleTimeout:             120 * time.Second,
		InvokeTimeout:           3 * time.Second,
		MaxConcurrentProcessors: 16384,
		SerializeType:           JSON,
	}
}

// ErrInvalidOptions is wrapped by every Validate error.
var ErrInvalidOptions = errors.New("remoting: invalid options")

// Validate reports the first option out of range.
func (o ConnOptions) Validate() error {
	switch {
	case o.MaxFrameSize < 1024 || o.MaxFrameSize > 1<<30:
		return fmt.Errorf("%w: MaxFrameSize %d outside [1 KiB, 1 GiB]", ErrInvalidOptions, o.MaxFrameSize)
	case o.ReadBufferSize < 4096:
		return fmt.Errorf("%w: ReadBufferSize %d below 4096", ErrInvalidOptions, o.ReadBufferSize)
	case o.MaxWriteQueue < 1:
		return fmt.Errorf("%w: MaxWriteQueue %d below 1", ErrInvalidOptions, o.MaxWriteQueue)
	case o.WriteTimeout <= 0:
		return fmt.Errorf("%w: WriteTimeout must be positive", ErrInvalidOptions)
	case o.IdleTimeout < 0:
		return fmt.Errorf("%w: IdleTimeout is negative", ErrInvalidOptions)
	case o.InvokeTimeout <= 0:
		return fmt.Errorf("%w: InvokeTimeout must be positive", ErrInvalidOptions)
	case o.MaxConcurrentProcessors < 1:
		return fmt.Errorf("%w: MaxConcurrentProcessors %d below 1", ErrInvalidOptions, o.MaxConcurrentProcessors)
	case o.SerializeType != JSON && o.SerializeType != RocketMQ:
		return fmt.Errorf("%w: SerializeType %d", ErrInvalidOptions, o.SerializeType)
	}
	return nil
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Addr is the listen address, e.g. ":10911" or "127.0.0.1:0".
	Addr string
	// CloseTimeout bounds how long Close waits for in-flight requests
	// and unwritten responses before it drops connections.
	CloseTimeout time.Duration
	ConnOptions
}

// DefaultServerOptions returns defaults listening on addr.
func DefaultServerOptions(addr string) ServerOptions {
	return ServerOptions{Addr: addr, CloseTimeout: 5 * time.Second, ConnOptions: DefaultConnOptions()}
}

// Validate reports the first option out of range.
func (o ServerOptions) Validate() error {
	if o.Addr == "" {
		return fmt.Errorf("%w: empty Addr", ErrInvalidOptions)
	}
	if o.CloseTimeout < 0 {
		return fmt.Errorf("%w: CloseTimeout is negative", ErrInvalidOptions)
	}
	return o.ConnOptions.Validate()
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// DialTimeout bounds connecting, on top of the caller's context.
	DialTimeout time.Duration
	// CloseTimeout bounds how long Close waits for processors serving
	// requests from servers.
	CloseTimeout time.Duration
	ConnOptions
}

// DefaultClientOptions returns the defaults. Clients do not close idle
// connections: the server does (after 120 s), and the pool redials.
func DefaultClientOptions() ClientOptions {
	o := ClientOptions{DialTimeout: 3 * time.Second, CloseTimeout: 5 * time.Second, ConnOptions: DefaultConnOptions()}
	o.IdleTimeout = 0
	return o
}

// Validate reports the first option out of range.
func (o ClientOptions) Validate() error {
	if o.DialTimeout <= 0 {
		return fmt.Errorf("%w: DialTimeout must be positive", ErrInvalidOptions)
	}
	if o.CloseTimeout < 0 {
		return fmt.Errorf("%w: CloseTimeout is negative", ErrInvalidOptions)
	}
	return o.ConnOptions.Validate()
}
