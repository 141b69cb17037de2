package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// notifyTimeout bounds the wait for room in one member's write queue.
const notifyTimeout = 3 * time.Second

// notifier pushes NOTIFY_CONSUMER_IDS_CHANGED (40), oneway, to every member
// of a group whose membership changed, so that they rebalance at once
// instead of at their next 20 s round. Changes are reported from under
// other components' call paths (a heartbeat, a connection closing), so
// they are queued and sent by one goroutine.
type notifier struct {
	log *slog.Logger

	mu      sync.Mutex
	queue   []notice
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

type notice struct {
	group   string
	members []*remoting.Conn
}

func newNotifier(log *slog.Logger) *notifier {
	n := &notifier{log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

// notify queues a notice; it never blocks.
func (n *notifier) notify(group string, members []*remoting.Conn) {
	n.mu.Lock()
	if !n.stopped {
		n.queue = append(n.queue, notice{group, members})
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// close stops the notifier; queued notices are dropped.
func (n *notifier) close() {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		<-n.done
		return
	}
	n.stopped = true
	n.queue = nil
	n.mu.Unlock()
	close(n.stop)
	<-n.done
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.stop:
			return
		case <-n.wake:
		}
		for {
			n.mu.Lock()
			q := n.queue
			n.queue = nil
			n.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, nt := range q {
				n.send(nt)
			}
		}
	}
}

func (n *notifier) send(nt notice) {
	ext := protocol.EncodeHeader(nil, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: nt.group})
	for _, c := range nt.members {
		if c.Err() != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		err := c.InvokeOneway(ctx, remoting.NewRequest(protocol.NotifyConsumerIDsChanged, ext, nil))
		cancel()
		if err != nil {
			n.log.Debug("cannot notify consumer", "group", nt.group, "conn", c.RemoteAddr(), "err", err)
		}
	}
}
