package filter

import (
	"container/list"
	"sync"
)

// MaxCachedLen is the longest expression text a Cache keeps. Longer texts
// are compiled on every call, so that a few huge subscriptions cannot pin
// much memory.
const MaxCachedLen = 4 << 10

// Cache memoizes Compile by expression text, remembering failures too (as
// RocketMQ's parser cache does), since a consumer resends the same
// subscription with every heartbeat. It holds at most a fixed number of
// entries and evicts the least recently used. It is safe for concurrent
// use.
type Cache struct {
	size int

	mu      sync.Mutex
	lru     list.List // of *cacheEntry, most recently used at the front
	entries map[string]*list.Element
}

type cacheEntry struct {
	text string
	expr *Expression
	err  error
}

// NewCache returns a cache of at most size entries (at least one).
func NewCache(size int) *Cache {
	size = max(size, 1)
	return &Cache{size: size, entries: make(map[string]*list.Element, size)}
}

// Compile is Compile, served from the cache when it can be.
func (c *Cache) Compile(text string) (*Expression, error) {
	if len(text) > MaxCachedLen {
		return Compile(text)
	}
	c.mu.Lock()
	if el, ok := c.entries[text]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		return e.expr, e.err
	}
	c.mu.Unlock()

	// Compile without the lock; if another goroutine raced us, both results
	// are equivalent and the first one stored wins.
	expr, err := Compile(text)

	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[text]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		return e.expr, e.err
	}
	c.entries[text] = c.lru.PushFront(&cacheEntry{text: text, expr: expr, err: err})
	if c.lru.Len() > c.size {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).text)
	}
	return expr, err
}

// Len returns the number of cached texts.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
