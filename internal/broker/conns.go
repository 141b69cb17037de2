package broker

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gorocket/gorocket/internal/remoting"
)

// maxOwedAnswers bounds the answers one connection may be owed at once:
// sends waiting for the store and pulls held for long polling. Answers are
// written from store and long-polling goroutines, and a connection's write
// queue (remoting's MaxWriteQueue, 4096 frames) blocks its writers when
// full; keeping the owed answers well below it keeps those goroutines from
// waiting on one client that stopped reading. Past the bound the
// connection's reader waits (sends) or the pull is answered at once
// (pulls): the pressure lands on that client alone.
const maxOwedAnswers = 1024

// connState is what the broker keeps per connection.
type connState struct {
	conn *remoting.Conn
	// bornHost is the peer's address, parsed once: the born host of every
	// message the connection sends.
	bornHost netip.AddrPort

	owed atomic.Int32
	room chan struct{} // a token when owed drops below the bound
}

// acquire reserves one owed answer, waiting while the connection is at
// the bound. It returns false when the connection closes first. Only the
// connection's reader calls it.
func (cs *connState) acquire() bool {
	for {
		n := cs.owed.Load()
		if n < maxOwedAnswers {
			if cs.owed.CompareAndSwap(n, n+1) {
				return true
			}
			continue
		}
		select {
		case <-cs.room:
		case <-cs.conn.Done():
			return false
		}
	}
}

// tryAcquire reserves one owed answer if the connection is below the bound.
func (cs *connState) tryAcquire() bool {
	for {
		n := cs.owed.Load()
		if n >= maxOwedAnswers {
			return false
		}
		if cs.owed.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release returns a reservation once its answer has been handed to the
// connection.
func (cs *connState) release() {
	if cs.owed.Add(-1) == maxOwedAnswers-1 {
		select {
		case cs.room <- struct{}{}:
		default:
		}
	}
}

// connTable maps live connections to their state.
type connTable struct {
	m sync.Map // *remoting.Conn -> *connState
}

func newConnState(c *remoting.Conn) *connState {
	cs := &connState{conn: c, room: make(chan struct{}, 1)}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr()); err == nil {
		cs.bornHost = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return cs
}

// get returns the state of c, creating it on first use. A connection that
// has closed gets a state that is not kept (its close event may already
// have run).
func (t *connTable) get(c *remoting.Conn) *connState {
	if v, ok := t.m.Load(c); ok {
		return v.(*connState)
	}
	cs := newConnState(c)
	if c.Err() != nil {
		return cs
	}
	v, _ := t.m.LoadOrStore(c, cs)
	if c.Err() != nil {
		// Closed meanwhile: its close event may have missed the entry.
		t.m.Delete(c)
	}
	return v.(*connState)
}

func (t *connTable) remove(c *remoting.Conn) { t.m.Delete(c) }
