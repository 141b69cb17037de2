package store

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/stretchr/testify/require"
)

// The crash test: a child process (this test binary, re-executed) appends
// to a store and prints every acknowledgement; the parent kills it with
// SIGKILL after a random number of acknowledgements, recovers the store
// and checks that every acknowledged message is there, intact, in order,
// with no gap and no duplicate. go test -run TestCrashKill9 -crashloops=200
// for a long run.
var crashLoops = flag.Int("crashloops", 3, "SIGKILL rounds per flush mode in TestCrashKill9")

const (
	crashChildEnv = "GOROCKET_STORE_CRASH_CHILD"
	crashModeEnv  = "GOROCKET_STORE_CRASH_MODE"
	crashTopic    = "Crash"
	crashQueues   = 4 // queue 3 is written in batches of 3
)

func crashOptions(dir, mode string) Options {
	o := testOptions(dir)
	o.FlushDiskType = mode
	o.MappedFileSizeCommitLog = 64 << 10 // a roll every ~50 messages
	o.MaxMessageSize = 16 << 10
	o.CommitLogWriteBufferSize = 32 << 10
	o.MappedFileSizeConsumeQueue = 64 * 20
	o.MaxHashSlotNum = 64
	o.MaxIndexNum = 512 // index files roll too
	o.FlushIntervalConsumeQueue = 5
	return o
}

// crashBody is the body of message seq of queue q: verifiable content.
func crashBody(q int32, seq int64) string {
	head := fmt.Sprintf("q=%d seq=%d ", q, seq)
	n := 200 + int(seq*7919%900)
	return head + strings.Repeat(string(rune('a'+seq%26)), n)
}

func parseCrashBody(b []byte) (q int32, seq int64, ok bool) {
	var qq int
	if _, err := fmt.Sscanf(string(b), "q=%d seq=%d ", &qq, &seq); err != nil {
		return 0, 0, false
	}
	return int32(qq), seq, crashBody(int32(qq), seq) == string(b)
}

func runCrashChild(dir string) {
	s, err := Open(crashOptions(dir, os.Getenv(crashModeEnv)), nil, Hooks{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	if err := s.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child start:", err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	ack := func(q int32, seq int64) {
		outMu.Lock()
		// One write(2) per line: once it returns the parent can read it,
		// whenever this process dies.
		os.Stdout.WriteString(strconv.Itoa(int(q)) + " " + strconv.FormatInt(seq, 10) + "\n")
		outMu.Unlock()
	}
	mk := func(q int32, seq int64) *message.Inner {
		return msg(crashTopic, q, crashBody(q, seq),
			message.PropertyUniqClientMessageIDKeyIdx, fmt.Sprintf("U-%d-%d", q, seq),
			message.PropertyTags, "crash")
	}
	for q := range int32(crashQueues) {
		go func() {
			seq := s.MaxOffsetInQueue(crashTopic, q)
			for {
				if q == crashQueues-1 {
					batch := []*message.Inner{mk(q, seq), mk(q, seq+1), mk(q, seq+2)}
					if _, err := s.PutMessages(context.Background(), batch); err != nil {
						fmt.Fprintln(os.Stderr, "child put:", err)
						os.Exit(3)
					}
					for i := range int64(3) {
						ack(q, seq+i)
					}
					seq += 3
					continue
				}
				if _, err := s.PutMessage(context.Background(), mk(q, seq)); err != nil {
					fmt.Fprintln(os.Stderr, "child put:", err)
					os.Exit(3)
				}
				ack(q, seq)
				seq++
			}
		}()
	}
	select {} // until SIGKILL
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, mode := range []string{AsyncFlush, SyncFlush} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			acked := make([]int64, crashQueues) // highest acknowledged seq + 1
			for round := range *crashLoops {
				killAfter := 20 + rng.IntN(1500)
				var killAt time.Duration
				if rng.IntN(5) == 0 {
					// Sometimes kill at a random moment instead, which may
					// fall inside the child's own recovery.
					killAt = time.Duration(rng.IntN(30_000)) * time.Microsecond
				}
				crashRound(t, dir, mode, killAfter, killAt, acked)
				// Verify after some rounds only, so that a crash also hits
				// a store that was itself recovering from a crash.
				if round%2 == 1 || round == *crashLoops-1 {
					verifyCrashStore(t, dir, mode, acked)
				}
			}
			t.Logf("%d rounds; acknowledged per queue: %v", *crashLoops, acked)
		})
	}
}

// crashRound runs the child until it acknowledged killAfter messages,
// kills it and merges its acknowledgements into acked.
func crashRound(t *testing.T, dir, mode string, killAfter int, killAt time.Duration, acked []int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashModeEnv+"="+mode)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var killOnce sync.Once
	killed := false
	kill := func() {
		killOnce.Do(func() {
			killed = true
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		})
	}
	if killAt > 0 {
		timer := time.AfterFunc(killAt, kill)
		defer timer.Stop()
	}
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() {
		var q int32
		var seq int64
		_, err := fmt.Sscanf(sc.Text(), "%d %d", &q, &seq)
		require.NoError(t, err, sc.Text())
		require.GreaterOrEqual(t, seq, acked[q], "queue %d acknowledged seq %d again", q, seq)
		acked[q] = max(acked[q], seq+1)
		if n++; n == killAfter {
			kill()
		}
	}
	err = cmd.Wait()
	killOnce.Do(func() {}) // a timer kill is done (or will never run)
	require.True(t, killed, "child exited by itself: %v\n%s", err, stderr.String())
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "child: %v\n%s", err, stderr.String())
}

func verifyCrashStore(t *testing.T, dir, mode string, acked []int64) {
	t.Helper()
	s, err := Open(crashOptions(dir, mode), nil, Hooks{})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	defer func() { require.NoError(t, s.Close()) }()
	for q := range int32(crashQueues) {
		max := s.MaxOffsetInQueue(crashTopic, q)
		require.GreaterOrEqual(t, max, acked[q], "queue %d lost acknowledged messages", q)
		next := int64(0)
		for next < max {
			r, err := s.GetMessage(context.Background(), "verify", crashTopic, q, next, 32, 0, nil)
			require.NoError(t, err)
			require.Equal(t, GetFound, r.Status, "queue %d offset %d", q, next)
			for i, b := range r.Messages {
				rec, err := message.DecodeRecord(b)
				require.NoError(t, err)
				require.True(t, rec.CheckBodyCRC())
				gq, seq, ok := parseCrashBody(rec.Body)
				require.True(t, ok, "queue %d offset %d: body damaged", q, r.QueueOffsets[i])
				require.Equal(t, q, gq)
				require.Equal(t, r.QueueOffsets[i], seq, "queue %d: message out of order or duplicated", q)
				require.Equal(t, seq, rec.QueueOffset)
			}
			next = r.NextBeginOffset
			r.Release()
		}
		if acked[q] > 0 {
			// The index finds the last acknowledged message.
			key := fmt.Sprintf("U-%d-%d", q, acked[q]-1)
			res, err := s.QueryMessage(crashTopic, key, 4, 0, time.Now().Add(time.Hour).UnixMilli())
			require.NoError(t, err)
			require.Len(t, res.Messages, 1, "index lookup of %s", key)
		}
	}
}
