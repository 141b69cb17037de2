package process

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// TestKill9LosesNothingAcknowledged kills `gorocket standalone` with
// SIGKILL while eight producers send, restarts it on the same data, and
// checks that every message whose send was acknowledged is stored at the
// queue offset the acknowledgement named, intact — in both flush modes
// (a process crash keeps the page cache, so ASYNC_FLUSH acknowledgements
// survive it too). Each mode crashes the same store several times.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	for _, mode := range []string{"ASYNC_FLUSH", "SYNC_FLUSH"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			conf := writeConf(t, "flushDiskType="+mode, "mappedFileSizeCommitLog=16777216")
			nsPort, brokerPort := freePort(t), freePort(t)
			acked := map[ackKey]string{}
			const rounds = 3
			for round := range rounds {
				p := standalone(t, dir, nsPort, brokerPort, "-c", conf)
				c := newClient(t, addr(nsPort))
				const topic = "Crash"
				if round == 0 {
					createTopic(t, c, topic, 4)
				}
				verify(t, c, topic, acked)

				got := sendUntilKilled(t, c, topic, round, p)
				for k, v := range got {
					acked[k] = v
				}
				require.NotEmpty(t, got, "round %d: nothing was acknowledged before the kill", round)
				t.Logf("round %d: %d sends acknowledged before SIGKILL, %d in all", round, len(got), len(acked))
				c.Close()
			}
			p := standalone(t, dir, nsPort, brokerPort, "-c", conf)
			verify(t, newClient(t, addr(nsPort)), "Crash", acked)
			require.NoError(t, p.stop(15*time.Second))
		})
	}
}

type ackKey struct {
	queue  int
	offset int64
}

// sendUntilKilled sends from eight goroutines until a random moment, kills
// the process with SIGKILL, and returns what was acknowledged.
func sendUntilKilled(t *testing.T, c *client.Client, topic string, round int, p *proc) map[ackKey]string {
	t.Helper()
	prod, err := client.NewProducer(c, client.ProducerOptions{Group: "crash_pg", MaxAttempts: 1})
	require.NoError(t, err)
	defer prod.Close()

	var (
		mu    sync.Mutex
		acked = map[ackKey]string{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				res, err := prod.Send(ctx, &client.Message{Topic: topic, Body: []byte(body)})
				cancel()
				if err != nil {
					continue // unacknowledged: may or may not be stored
				}
				mu.Lock()
				acked[ackKey{res.Queue.QueueID, res.QueueOffset}] = body
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Duration(150+rand.IntN(500)) * time.Millisecond) // a random point in the stream
	p.kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acked
}

// verify checks that every acknowledged message is at its queue offset.
func verify(t *testing.T, c *client.Client, topic string, acked map[ackKey]string) {
	t.Helper()
	if len(acked) == 0 {
		return
	}
	got := drain(t, c, topic, len(acked))
	byQueue := map[int][]string{}
	for q, bodies := range got {
		byQueue[q.QueueID] = bodies
	}
	for k, body := range acked {
		bodies := byQueue[k.queue]
		require.Less(t, k.offset, int64(len(bodies)), "acknowledged message %q at queue %d offset %d is missing", body, k.queue, k.offset)
		require.Equal(t, body, bodies[k.offset], "queue %d offset %d", k.queue, k.offset)
	}
}
