package longpoll

import (
	"container/heap"
	"time"
)

// Key names one queue: a topic and a queue id.
type Key struct {
	Topic   string
	QueueID int32
}

// Matcher tells whether an arriving message interests a held request.
// Both methods must be cheap: they run on the store's dispatch path.
type Matcher interface {
	// MatchTagsCode is asked first, with the message's ConsumeQueue
	// tagsCode.
	MatchTagsCode(tagsCode int64) bool
	// MatchProperties is asked for arrivals that passed MatchTagsCode,
	// with the message's encoded properties, which are valid only during
	// the call.
	MatchProperties(properties []byte) bool
}

// Arrival describes a message that has just become readable.
type Arrival struct {
	Key
	Offset   int64 // its queue offset
	TagsCode int64
	// Properties are the message's encoded properties; nil when unknown,
	// in which case only the tags code is checked.
	Properties []byte
}

// entry is one held request.
type entry[P any] struct {
	key      Key
	offset   int64
	deadline time.Time
	match    Matcher
	payload  P
	heapIdx  int // position in Core.byDeadline
	queueIdx int // position in Core.queues[key]
}

// Core decides which held requests to re-run. It is not safe for
// concurrent use; Service guards it.
type Core[P any] struct {
	queues     map[Key][]*entry[P]
	byDeadline deadlineHeap[P]
}

// NewCore returns an empty core.
func NewCore[P any]() *Core[P] {
	return &Core[P]{queues: make(map[Key][]*entry[P])}
}

// Len returns the number of held requests.
func (c *Core[P]) Len() int { return len(c.byDeadline) }

// Ticket names one held request, for Cancel.
type Ticket[P any] struct{ e *entry[P] }

// Hold holds a request that pulls key from offset until deadline. m may be
// nil (every arrival matches).
func (c *Core[P]) Hold(key Key, offset int64, deadline time.Time, m Matcher, payload P) Ticket[P] {
	e := &entry[P]{key: key, offset: offset, deadline: deadline, match: m, payload: payload}
	q := c.queues[key]
	e.queueIdx = len(q)
	c.queues[key] = append(q, e)
	heap.Push(&c.byDeadline, e)
	return Ticket[P]{e}
}

// Cancel forgets the request t names and reports whether it was still
// held (false once Arrive, Recheck, Tick or Drain returned it).
func (c *Core[P]) Cancel(t Ticket[P]) bool {
	e := t.e
	if e == nil || e.heapIdx < 0 {
		return false
	}
	c.remove(e)
	return true
}

// Arrive appends to dst the requests the arrival wakes, and forgets them.
func (c *Core[P]) Arrive(dst []P, a Arrival) []P {
	q := c.queues[a.Key]
	for i := len(q) - 1; i >= 0; i-- {
		e := q[i]
		if a.Offset < e.offset || !matches(e.match, a) {
			continue
		}
		dst = append(dst, e.payload)
		c.remove(e)
		q = c.queues[a.Key] // remove may have shrunk or dropped it
	}
	return dst
}

func matches(m Matcher, a Arrival) bool {
	if m == nil {
		return true
	}
	if !m.MatchTagsCode(a.TagsCode) {
		return false
	}
	return a.Properties == nil || m.MatchProperties(a.Properties)
}

// Recheck appends to dst every request whose queue now holds a message at
// or past its offset (newest returns a queue's next offset to be written)
// or for which stale reports true (its connection closed), and forgets
// them. Filters are not consulted: the re-run applies them.
func (c *Core[P]) Recheck(dst []P, newest func(Key) int64, stale func(P) bool) []P {
	for key, q := range c.queues {
		head := newest(key)
		for i := len(q) - 1; i >= 0; i-- {
			e := q[i]
			if head > e.offset || (stale != nil && stale(e.payload)) {
				dst = append(dst, e.payload)
				c.remove(e)
				q = c.queues[key]
			}
		}
	}
	return dst
}

// Tick appends to dst the requests whose deadline is at or before now, and
// forgets them.
func (c *Core[P]) Tick(dst []P, now time.Time) []P {
	for len(c.byDeadline) > 0 && !c.byDeadline[0].deadline.After(now) {
		e := c.byDeadline[0]
		dst = append(dst, e.payload)
		c.remove(e)
	}
	return dst
}

// NextDeadline returns the earliest deadline of the held requests.
func (c *Core[P]) NextDeadline() (time.Time, bool) {
	if len(c.byDeadline) == 0 {
		return time.Time{}, false
	}
	return c.byDeadline[0].deadline, true
}

// Drain appends every held request to dst and forgets them all.
func (c *Core[P]) Drain(dst []P) []P {
	for _, e := range c.byDeadline {
		dst = append(dst, e.payload)
		e.heapIdx = -1
	}
	clear(c.byDeadline)
	c.byDeadline = c.byDeadline[:0]
	clear(c.queues)
	return dst
}

// remove forgets e.
func (c *Core[P]) remove(e *entry[P]) {
	heap.Remove(&c.byDeadline, e.heapIdx)
	e.heapIdx = -1
	q := c.queues[e.key]
	last := len(q) - 1
	if e.queueIdx != last {
		q[e.queueIdx] = q[last]
		q[e.queueIdx].queueIdx = e.queueIdx
	}
	q[last] = nil
	if last == 0 {
		delete(c.queues, e.key)
		return
	}
	c.queues[e.key] = q[:last]
}

// deadlineHeap orders entries by deadline (container/heap).
type deadlineHeap[P any] []*entry[P]

func (h deadlineHeap[P]) Len() int           { return len(h) }
func (h deadlineHeap[P]) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap[P]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *deadlineHeap[P]) Push(x any) {
	e := x.(*entry[P])
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *deadlineHeap[P]) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	*h = old[:n]
	return e
}
