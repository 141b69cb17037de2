package remoting

import "time"

// Deadlines of outgoing requests.
//
// Every pending call carries the time it times out, on the endpoint's
// monotonic clock (endpoint.now). A connection keeps its pending calls in a
// min-heap by that time and one timer, armed for the earliest; when it
// fires, expireCalls fails every call that is due and re-arms the timer for
// the next. This replaces a context, a timer and a context.AfterFunc per
// request (Java scans its response table once a second instead,
// scanResponseTable; the heap keeps the precision of a timer per call at
// the price of O(log n) per call under a lock the call takes anyway).
//
// The timer is re-armed lazily: completing a call never touches it, so it
// may fire for a call that has already completed and then re-arms for the
// earliest call still pending. With one timeout for every call the heap
// stays in arrival order, a push does not move, and the timer is re-armed
// about once per timeout period, not once per call.

// callHeap is a min-heap of pending calls by deadline. Each call knows its
// index, so that completing it removes it in O(log n). Guarded by
// Conn.pmu.
type callHeap []*call

func (h callHeap) less(i, j int) bool { return h[i].deadline < h[j].deadline }

func (h callHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *callHeap) push(cl *call) {
	cl.index = len(*h)
	*h = append(*h, cl)
	h.up(cl.index)
}

// remove takes cl out of the heap; it must be in it.
func (h *callHeap) remove(cl *call) {
	i, last := cl.index, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	cl.index = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h callHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down sifts element i down and reports whether it moved.
func (h callHeap) down(i int) bool {
	start := i
	for {
		child := 2*i + 1
		if child >= len(h) {
			break
		}
		if r := child + 1; r < len(h) && h.less(r, child) {
			child = r
		}
		if !h.less(child, i) {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i > start
}

// armLocked makes sure the timer fires no later than deadline. The caller
// holds pmu.
func (c *Conn) armLocked(deadline int64) {
	if c.armed != 0 && c.armed <= deadline {
		return
	}
	c.armed = deadline
	d := time.Duration(deadline - c.env.now())
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.expireCalls)
		return
	}
	c.timer.Reset(d)
}

// expireCalls fails the pending calls whose deadline has passed and
// re-arms the timer for the earliest of the others.
func (c *Conn) expireCalls() {
	c.pmu.Lock()
	if c.pclosed {
		c.pmu.Unlock()
		return
	}
	now := c.env.now()
	var due []*call
	for len(c.deadlines) > 0 && c.deadlines[0].deadline <= now {
		cl := c.deadlines[0]
		c.deadlines.remove(cl)
		delete(c.pending, cl.opaque)
		due = append(due, cl)
	}
	c.armed = 0
	if len(c.deadlines) > 0 {
		c.armLocked(c.deadlines[0].deadline)
	}
	c.pmu.Unlock()
	for _, cl := range due {
		c.completeCall(cl, nil, c.invokeErr(cl.req, errDeadline))
	}
}
