// Package remoting implements RocketMQ's remoting transport: the frame
// codec with both header serializations, a server and a client that move
// commands over TCP, and request/response correlation in both directions.
//
// It knows nothing about brokers or name servers: processors registered
// per request code give commands their meaning. Codes and typed headers
// live in internal/protocol.
//
// # Frame
//
// Every command travels as one frame. Integers are big-endian.
//
//	offset  size       field
//	0       4          length: int32, bytes that follow (4 + headerLen + bodyLen)
//	4       1          serializeType: 0 = JSON, 1 = ROCKETMQ
//	5       3          headerLen: uint24
//	8       headerLen  header, in the serialization named above
//	8+hl    rest       body, raw bytes, no length of its own
//
// A whole frame, length field included, is at most MaxFrameSize (16 MiB,
// Java's com.rocketmq.remoting.frameMaxLength). A reader rejects a negative
// length, a length below 4 or past the maximum, a header length past the
// frame, an unknown serialize type and a header that does not parse; the
// connection is then closed, since the stream can no longer be trusted.
//
// # JSON header (serializeType 0)
//
//	{"code":10,"extFields":{"topic":"t",...},"flag":0,"language":"GO",
//	 "opaque":7,"remark":"...","version":317}
//
// The encoder writes that shape by hand, keys in fastjson's alphabetical
// order, remark only when non-empty and extFields always (some decoders
// dislike it missing). The decoder accepts what Java's fastjson and the Go
// client write: keys in any order, unknown keys (skipped, whatever their
// value, e.g. "serializeTypeCurrentRPC"), remark and extFields absent or
// null, numbers as numbers or as quoted numbers, language as an enum name or
// as its number, extFields values that are not strings (kept as their
// literal text) or null (dropped). Nesting inside skipped values is bounded.
//
// # ROCKETMQ binary header (serializeType 1)
//
//	offset  size    field
//	0       2       code: int16
//	2       1       language: byte (protocol.LanguageCode)
//	3       2       version: int16
//	5       4       opaque: int32
//	9       4       flag: int32
//	13      4       remarkLen: int32, then remarkLen bytes of UTF-8
//	..      4       extLen: int32, then extLen bytes of entries:
//	                  keyLen int16, key, valueLen int32, value
//
// The fixed part is 21 bytes. Every length is checked against what is left
// of the header before it is used. Java drops the upper bits of code and
// version; the encoder here refuses values that do not fit instead.
//
// # Flag
//
// Bit 0 marks a response, bit 1 a oneway request (no response is written).
// A response echoes the request's opaque. The Go client never sets the
// oneway bit, even for its "oneway" calls, and silently drops responses it
// did not ask for, so the server answers those like any request.
//
// # Serialization of replies
//
// A server replies in the serialization the request used. This is a
// deliberate difference from Java, which replies in its own configured type
// (-Drocketmq.serialize.type). Echoing is never worse: Java tools that send
// ROCKETMQ headers decode both forms anyway, as does the Go client, and a
// client that only speaks JSON gets JSON. It also lets one server serve the
// binary header's speed to clients that ask for it without a global switch.
// Requests either side initiates use ConnOptions.SerializeType (JSON by
// default).
//
// # Connections
//
// Each connection has one reader goroutine and one writer goroutine. The
// reader decodes frames and dispatches requests to processors; responses
// complete the matching pending invocation. The writer takes everything
// queued since its last write and hands it to the kernel in one writev
// (net.Buffers), so pipelined responses coalesce. The write queue is
// bounded: a producer of frames waits for room, which pushes back on the
// reader (and so on the peer) instead of buffering without limit. Frames
// whose body is a list of slices with a release callback (zero-copy pulls)
// are written without copying; the callback runs exactly once, after the
// write or when the connection drops the frame.
//
// A frame that is the connection's only exchange in flight (a request
// when no other call is pending; the answer to the last request in flight
// when the reader holds no further one) is written directly by the
// goroutine that produced it when nothing is queued and nobody is writing:
// one non-blocking writev, without waking the writer goroutine, which saves
// a hand-off between goroutines on each side of a one-at-a-time exchange.
// What the socket does not take at once goes to the front of the queue for
// the writer, which alone ever blocks on the socket (queue.go). Pipelined
// traffic keeps going through the writer, so that it coalesces.
//
// A processor either runs inline on the reader goroutine (hot paths that
// never block: send, pull) or on a goroutine of its own (the default). It
// may return no response and answer later with Conn.Respond from any
// goroutine (long polling, group commit). Server and client share this
// machinery, so a client can serve requests its server sends it
// (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE) and a server can
// invoke its clients (GET_CONSUMER_RUNNING_INFO).
//
// Spawned processors are bounded per server or client
// (MaxConcurrentProcessors); past the bound a request is answered
// SYSTEM_BUSY at once, as a Java broker answers when an executor rejects
// work. A panicking processor is answered SYSTEM_ERROR and logged; the
// connection and the server carry on.
//
// # Failure
//
//   - A malformed frame closes its connection, with a rate-limited log line;
//     no other connection notices.
//   - A peer that stops reading is disconnected after WriteTimeout; one that
//     says nothing is disconnected after IdleTimeout (ConnEvents.Idle runs
//     first).
//   - When a connection closes, every invocation pending on it fails at once
//     with ErrConnClosed, queued frames are dropped (their release callbacks
//     run) and ConnEvents.Close runs. A client redials on the next call.
//   - Server.Close stops accepting, answers new requests SERVICE_NOT_AVAILABLE
//     (which producers retry on another broker), waits up to CloseTimeout for
//     requests in flight to be answered and written, then closes.
//
// # Ownership of commands
//
// A command handed to the transport for sending (Respond, Invoke*, a
// processor's return value) is the transport's until that call returns, or,
// for InvokeAsync, until its callback has run: then the caller may reuse
// it (Command.ResetRequest). Its frame is encoded before the call can
// complete, so that a call timing out early never races with the encoding.
// A body over 2 KiB may still sit in the write queue by reference after
// that; to reuse a body's memory, hand it over with SetBodyParts and a
// release callback.
//
// A command read from a peer (a request a processor receives, a response
// Invoke* returns) takes its memory from pools: the Command, the backing
// array of its ExtFields and, up to 64 KiB, its body (rx.go). Its owner may
// give it back with Command.Release once nothing refers to the command, its
// ExtFields or its body: a processor after the request has been answered
// and nothing it started still reads it, an invoker once it has decoded the
// response. The header has memory of its own, never pooled, so strings
// taken from it stay valid. The transport releases the requests it answers
// itself (refusals); one that is never released is garbage collected as
// any other. Releasing a request before it is answered panics. Under the
// race detector a released command is poisoned instead of reused: reading
// it or its body afterwards reads garbage (0xDB), a second Release panics,
// and a goroutine still reading the body races with the next frame read
// into the same buffer, which the detector reports.
//
// # Timeouts
//
// An invocation times out at its context's deadline or, without one, after
// ConnOptions.InvokeTimeout (InvokeSyncUntil takes a deadline of the
// caller's instead). Every timeout error wraps context.DeadlineExceeded.
// Deadlines cost no timer per call: each connection keeps its pending calls
// in a min-heap by deadline under one timer (deadline.go). A context that
// can be cancelled is still watched: InvokeSync selects on its Done channel,
// InvokeAsync registers a context.AfterFunc; context.Background costs
// nothing.
package remoting
