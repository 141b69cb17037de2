package store

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/gorocket/gorocket/internal/store/consumequeue"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// cqTable holds the ConsumeQueues by topic and queue id. Lookups take a
// read lock; creation (dispatch) and deletion take the write lock.
type cqTable struct {
	fs     vfs.FS
	dir    string
	units  int64
	logger *slog.Logger

	mu     sync.RWMutex
	topics map[string]map[int32]*consumequeue.ConsumeQueue
}

func loadConsumeQueues(fs vfs.FS, dir string, units int64, afterCrash bool, logger *slog.Logger) (*cqTable, error) {
	t := &cqTable{fs: fs, dir: dir, units: units, logger: logger, topics: make(map[string]map[int32]*consumequeue.ConsumeQueue)}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	topics, err := fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, te := range topics {
		if !te.IsDir() || !validTopic(te.Name()) {
			logger.Warn("ignoring entry in consumequeue directory", "name", te.Name())
			continue
		}
		queues, err := fs.ReadDir(filepath.Join(dir, te.Name()))
		if err != nil {
			t.closeAll()
			return nil, err
		}
		for _, qe := range queues {
			id, err := strconv.ParseInt(qe.Name(), 10, 32)
			if !qe.IsDir() || err != nil || id < 0 {
				logger.Warn("ignoring entry in consumequeue directory", "topic", te.Name(), "name", qe.Name())
				continue
			}
			cq, err := consumequeue.Open(fs, filepath.Join(dir, te.Name(), qe.Name()), te.Name(), int32(id), units, logger)
			if err != nil {
				t.closeAll()
				return nil, fmt.Errorf("store: consume queue %s/%d: %w", te.Name(), id, err)
			}
			if err := cq.Recover(afterCrash); err != nil {
				cq.Close()
				t.closeAll()
				return nil, fmt.Errorf("store: consume queue %s/%d: %w", te.Name(), id, err)
			}
			t.putLocked(te.Name(), int32(id), cq)
		}
	}
	return t, nil
}

func (t *cqTable) putLocked(topic string, id int32, cq *consumequeue.ConsumeQueue) {
	qs := t.topics[topic]
	if qs == nil {
		qs = make(map[int32]*consumequeue.ConsumeQueue)
		t.topics[topic] = qs
	}
	qs[id] = cq
}

// get returns the queue or nil. It does not allocate.
func (t *cqTable) get(topic string, id int32) *consumequeue.ConsumeQueue {
	t.mu.RLock()
	cq := t.topics[topic][id]
	t.mu.RUnlock()
	return cq
}

// getBytes is get for a topic held in a byte slice (dispatch).
func (t *cqTable) getBytes(topic []byte, id int32) *consumequeue.ConsumeQueue {
	t.mu.RLock()
	cq := t.topics[string(topic)][id]
	t.mu.RUnlock()
	return cq
}

// getOrCreate returns the queue, creating it (and its directory).
func (t *cqTable) getOrCreate(topic []byte, id int32) (*consumequeue.ConsumeQueue, error) {
	if cq := t.getBytes(topic, id); cq != nil {
		return cq, nil
	}
	name := string(topic)
	if !validTopic(name) {
		return nil, fmt.Errorf("store: topic %q cannot name a directory", name)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cq := t.topics[name][id]; cq != nil {
		return cq, nil
	}
	cq, err := consumequeue.Open(t.fs, filepath.Join(t.dir, name, strconv.Itoa(int(id))), name, id, t.units, t.logger)
	if err != nil {
		return nil, err
	}
	if err := cq.Recover(true); err != nil { // a new queue: nothing to read
		cq.Close()
		return nil, err
	}
	t.putLocked(name, id, cq)
	return cq, nil
}

// all returns every queue.
func (t *cqTable) all() []*consumequeue.ConsumeQueue {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*consumequeue.ConsumeQueue
	for _, qs := range t.topics {
		for _, cq := range qs {
			out = append(out, cq)
		}
	}
	return out
}

// removeTopic forgets topic's queues and returns them.
func (t *cqTable) removeTopic(topic string) []*consumequeue.ConsumeQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*consumequeue.ConsumeQueue
	for _, cq := range t.topics[topic] {
		out = append(out, cq)
	}
	delete(t.topics, topic)
	return out
}

func (t *cqTable) closeAll() {
	for _, cq := range t.all() {
		cq.Close()
	}
}

// validTopic is Java's TopicValidator charset ^[%|a-zA-Z0-9_-]+$: the
// topic names a directory, so nothing else may reach the file system.
func validTopic(topic string) bool {
	if topic == "" {
		return false
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '%', c == '|', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
