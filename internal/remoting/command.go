package remoting

import (
	"fmt"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/protocol"
)

// SerializeType names the header serialization of a frame.
type SerializeType uint8

// Header serializations.
const (
	JSON     SerializeType = 0
	RocketMQ SerializeType = 1
)

func (t SerializeType) String() string {
	switch t {
	case JSON:
		return "JSON"
	case RocketMQ:
		return "ROCKETMQ"
	}
	return fmt.Sprintf("SerializeType(%d)", uint8(t))
}

// Flag bits.
const (
	FlagResponse int32 = 1 << 0 // RPC_TYPE: the command is a response
	FlagOneway   int32 = 1 << 1 // RPC_ONEWAY: the request wants no response
)

// Command is a RemotingCommand: one request or response.
//
// A Command handed to a Conn or Client for sending (Respond, Invoke*, a
// processor's return value) belongs to the transport until that call has
// returned (InvokeAsync: until its callback has run): do not modify it
// meanwhile. Bodies over 2 KiB are written by reference, possibly after
// the call has returned; to reuse a body's memory, hand it over with
// SetBodyParts and a release callback, which says when the transport is done
// with it. A Command read from a peer may be given back with Release (see
// the package documentation, "Ownership of commands").
type Command struct {
	Code      int32 // request code in requests, response code in responses
	Language  protocol.LanguageCode
	Version   int32 // protocol.MQVersion of the sender
	Opaque    int32 // request id; a response echoes it
	Flag      int32 // FlagResponse | FlagOneway
	Remark    string
	ExtFields protocol.ExtFields
	Body      []byte

	// SerializeType is the header serialization: decoders record what the
	// frame used, NewResponse copies the request's, and the encoder writes
	// it.
	SerializeType SerializeType

	// parts and release carry a body made of several slices (see
	// SetBodyParts); when parts is set, Body is ignored.
	parts   [][]byte
	release func()

	// conn and answered track a request received from a peer: the
	// connection to answer on and whether an answer was sent.
	conn     *Conn
	answered atomic.Bool

	// A command read from a peer lends its memory from pools (rx.go):
	// rx marks it, rxExt is the backing array of ExtFields, rxBody the
	// buffer Body was read into (nil when Body is not pooled). Release
	// gives them back.
	rx       bool
	released bool
	rxExt    protocol.ExtFields
	rxBody   []byte
}

// NewRequest returns a request command with the given code, custom header
// and body, in JSON, stamped with gorocket's language and version.
func NewRequest(code protocol.RequestCode, ext protocol.ExtFields, body []byte) *Command {
	c := new(Command)
	c.ResetRequest(code, ext, body)
	return c
}

// ResetRequest makes c the request NewRequest would return, in c's memory:
// for a caller that recycles its commands once the transport is done with
// them (an invocation returned, or its callback ran).
func (c *Command) ResetRequest(code protocol.RequestCode, ext protocol.ExtFields, body []byte) {
	*c = Command{
		Code:      int32(code),
		Language:  protocol.LanguageGo,
		Version:   int32(protocol.CurrentVersion),
		ExtFields: ext,
		Body:      body,
	}
}

// NewResponse returns a response to req: same opaque, same serialization,
// the given code and remark.
func NewResponse(req *Command, code protocol.ResponseCode, remark string) *Command {
	return &Command{
		Code:          int32(code),
		Language:      protocol.LanguageGo,
		Version:       int32(protocol.CurrentVersion),
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		SerializeType: req.SerializeType,
	}
}

// IsResponse reports whether the response bit is set.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the oneway bit is set.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// RequestCode returns Code as a request code.
func (c *Command) RequestCode() protocol.RequestCode { return protocol.RequestCode(c.Code) }

// ResponseCode returns Code as a response code.
func (c *Command) ResponseCode() protocol.ResponseCode { return protocol.ResponseCode(c.Code) }

// Conn returns the connection a received request arrived on, or nil for a
// command built locally.
func (c *Command) Conn() *Conn { return c.conn }

// SetBodyParts makes the body the concatenation of parts, written without
// copying. release, if not nil, runs exactly once after the frame has been
// written or dropped (connection closed, encoding refused, a oneway request's
// response discarded). It replaces Body.
func (c *Command) SetBodyParts(parts [][]byte, release func()) {
	c.Body = nil
	c.parts = parts
	c.release = release
}

// BodyLen returns the length of the body, whichever way it is held.
func (c *Command) BodyLen() int {
	if c.parts == nil {
		return len(c.Body)
	}
	n := 0
	for _, p := range c.parts {
		n += len(p)
	}
	return n
}

// ReleaseBody runs the release callback of SetBodyParts, if any, once.
// The transport calls it; call it yourself only for a command you built and
// then decided not to send.
func (c *Command) ReleaseBody() {
	if r := c.release; r != nil {
		c.release = nil
		r()
	}
}

func (c *Command) String() string {
	kind := "request"
	code := c.RequestCode().String()
	if c.IsResponse() {
		kind = "response"
		code = c.ResponseCode().String()
	}
	return fmt.Sprintf("%s{code=%s opaque=%d flag=%d lang=%s version=%d remark=%q ext=%d body=%d}",
		kind, code, c.Opaque, c.Flag, c.Language, c.Version, c.Remark, len(c.ExtFields), c.BodyLen())
}
