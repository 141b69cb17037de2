package remoting

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Memory of received commands.
//
// The reader takes each command it decodes, the backing array of its
// ExtFields and the buffer of a body of up to maxPooledBody bytes from
// pools. Whoever owns the command may give all three back with Release once
// nothing refers to them any more; a command that is never released is
// left to the garbage collector, as any other. The header has memory of its
// own, never pooled: strings decoded from it (ExtFields keys and values,
// Remark) stay valid after Release.
//
// Misuse is caught under the race detector (raceEnabled): Release poisons
// the body and the command instead of recycling the command, so that a
// processor reading its request after releasing it reads garbage, a second
// Release panics, and a goroutine still reading the body races with the
// frame the buffer is read into next.

var rxCommands = sync.Pool{New: func() any { return new(Command) }}

// rxCommand returns an empty command for the reader, maybe with a body
// buffer (rxBody) and an ExtFields array (rxExt) from an earlier frame.
func rxCommand() *Command {
	c := rxCommands.Get().(*Command)
	c.rx = true
	return c
}

// Body buffers are pooled in power-of-two classes from 1 << minBodyShift to
// maxPooledBody bytes; a class never lends a buffer more than twice the
// size asked for.
const (
	minBodyShift  = 8
	maxBodyShift  = 16
	maxPooledBody = 1 << maxBodyShift
)

// The pools hold a pointer to each buffer's first byte, which goes into an
// interface without an allocation of its own; the class gives the length.
var bodyPools [maxBodyShift - minBodyShift + 1]sync.Pool // of *byte

func bodyClass(n int) int {
	if n <= 1<<minBodyShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBodyShift
}

// getBody returns a buffer of at least n bytes from the pools, or nil when
// n is too large to pool.
func getBody(n int) []byte {
	if n > maxPooledBody {
		return nil
	}
	k := bodyClass(n)
	size := 1 << (k + minBodyShift)
	if p, ok := bodyPools[k].Get().(*byte); ok {
		return unsafe.Slice(p, size)
	}
	return make([]byte, size)
}

// putBody takes back a buffer getBody returned, whole.
func putBody(b []byte) {
	bodyPools[bodyClass(len(b))].Put(unsafe.SliceData(b))
}

// bodyBuf returns a pooled buffer for a body of n bytes, or nil when n is
// too large to pool. A recycled command keeps its buffer, so that a stream
// of bodies of one size class costs one trip to a pool per frame, not two.
func (c *Command) bodyBuf(n int) []byte {
	if n > maxPooledBody {
		return nil
	}
	if c.rxBody != nil && bodyClass(len(c.rxBody)) == bodyClass(n) {
		return c.rxBody
	}
	if c.rxBody != nil {
		putBody(c.rxBody)
	}
	c.rxBody = getBody(n)
	return c.rxBody
}

// poison is what a released body reads as under the race detector.
const poison = 0xDB

// Release gives a command read from a peer back to the transport, which
// reuses its memory (the command, its ExtFields and its Body) for the
// frames it reads next. It does nothing for a command built locally.
//
// Call it at most once, only when nothing refers to the command, its
// ExtFields or its Body any more: not the caller, not a goroutine it
// started, not a store, not a response still being written (a response
// whose body is the request's, or part of it, holds it until written).
// A request received by a processor may be released only after it has
// been answered (Conn.Respond, or the response the processor returned has
// been handed over); a response returned by Invoke* as soon as the caller
// is done with it. Strings taken from the header stay valid.
//
// A request released before it is answered makes Release panic; under the
// race detector so does a second Release, and reading a released command
// or body is caught (see rx.go).
func (c *Command) Release() {
	if !c.rx {
		return
	}
	if c.released {
		panic("remoting: command released twice")
	}
	if c.conn != nil && !c.IsResponse() && !c.IsOneway() && !c.answered.Load() {
		panic("remoting: request released before it was answered")
	}
	c.recycle()
}

// recycle returns c's memory to the pools.
func (c *Command) recycle() {
	body, ext := c.rxBody, c.rxExt
	clear(ext)
	if raceEnabled {
		*c = Command{Code: -1, Opaque: -1, rx: true, released: true} // never reused
		if body != nil {
			for i := range body {
				body[i] = poison
			}
			putBody(body)
		}
		return
	}
	*c = Command{rxExt: ext[:0], rxBody: body}
	rxCommands.Put(c)
}
