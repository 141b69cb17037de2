// Package process runs the real gorocket binary as processes — the way users
// and operators run it — and checks what only processes show: the command
// line and broker.conf, clean shutdown on SIGTERM, recovery after SIGKILL
// with nothing acknowledged lost, and several NameServers and brokers
// working together.
//
// TestMain builds the binary once. Every process listens on 127.0.0.1 on a
// port picked free for it, with data under the test's temporary directory.
package process

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// binary is the gorocket executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gorocket-process-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gorocket")
	build := exec.Command("go", "build", "-o", binary, "github.com/gorocket/gorocket/cmd/gorocket")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gorocket:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// proc is a running gorocket process.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set when done is closed

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// start runs gorocket with args (and extra environment variables) and
// returns once it has printed a line matching ready.
func start(t *testing.T, name string, env []string, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	outR, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	errR, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())

	lines := make(chan string, 64)
	var copiers sync.WaitGroup
	copiers.Add(2)
	go p.copy(&copiers, outR, &p.stdout, lines)
	go p.copy(&copiers, errR, &p.stderr, nil)
	go func() {
		copiers.Wait()
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })

	re := regexp.MustCompile(ready)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line := <-lines:
			if re.MatchString(line) {
				return p
			}
		case <-p.done:
			// A process that prints and exits (-p) can be done before
			// its lines are taken from the channel (select picks either),
			// and lines past the channel's room are dropped: its whole
			// output is here now.
			for line := range strings.SplitSeq(p.out(), "\n") {
				if re.MatchString(line) {
					return p
				}
			}
			t.Fatalf("%s exited before it was ready (%v)\nstdout:\n%s\nstderr:\n%s", name, p.err, p.out(), p.errOut())
		case <-timeout:
			t.Fatalf("%s not ready within 30s\nstdout:\n%s\nstderr:\n%s", name, p.out(), p.errOut())
		}
	}
}

func (p *proc) copy(wg *sync.WaitGroup, r io.Reader, buf *bytes.Buffer, lines chan<- string) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		buf.WriteString(sc.Text())
		buf.WriteByte('\n')
		p.mu.Unlock()
		if lines != nil {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}
}

func (p *proc) out() string    { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) errOut() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// stop sends SIGTERM and waits for the process to exit, returning its exit
// error (nil for status 0).
func (p *proc) stop(within time.Duration) error {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		p.t.Fatalf("%s did not exit within %v of SIGTERM\nstderr:\n%s", p.name, within, p.errOut())
		return nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// standalone starts `gorocket standalone` on the given ports and data dir.
func standalone(t *testing.T, dataDir string, nsPort, brokerPort int, extra ...string) *proc {
	t.Helper()
	args := append([]string{"standalone", "--data-dir", dataDir,
		"--namesrv-port", strconv.Itoa(nsPort), "--broker-port", strconv.Itoa(brokerPort)}, extra...)
	return start(t, "standalone", nil, `^Broker .* listening on`, args...)
}

// newClient returns a gorocket client of the NameServers, closed with the
// test.
func newClient(t *testing.T, namesrvs ...string) *client.Client {
	t.Helper()
	opts := client.DefaultOptions(namesrvs...)
	opts.RequestTimeout = 5 * time.Second
	c, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// createTopic creates topic with queues queues on every broker of the
// cluster and waits until the NameServers route it.
func createTopic(t *testing.T, c *client.Client, topic string, queues int) {
	t.Helper()
	adm := client.NewAdmin(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, adm.CreateTopicInCluster(ctx, "DefaultCluster",
		client.TopicConfig{Name: topic, ReadQueueNums: queues, WriteQueueNums: queues}))
	eventually(t, 10*time.Second, func() error {
		_, err := adm.TopicRoute(ctx, topic)
		return err
	})
}

// drain pulls every message of topic from every queue and returns the
// bodies by queue, in queue order. It waits, up to 20 s, until it has at
// least want of them: an acknowledged message becomes pullable once the
// broker has dispatched it to its ConsumeQueue, which under a loaded
// machine (creating and syncing a new ConsumeQueue file) can take a while.
func drain(t *testing.T, c *client.Client, topic string, want int) map[client.MessageQueue][]string {
	t.Helper()
	pc, err := client.NewPullConsumer(c, client.PullConsumerOptions{Group: "process_test_reader"})
	require.NoError(t, err)
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var queues []client.MessageQueue
	eventually(t, 10*time.Second, func() error {
		queues, err = pc.Queues(ctx, topic)
		return err
	})
	out := map[client.MessageQueue][]string{}
	next := map[client.MessageQueue]int64{}
	deadline := time.Now().Add(20 * time.Second)
	for total, suspend := 0, time.Duration(0); ; suspend = 50 * time.Millisecond {
		for _, q := range queues {
			for {
				// Long polling (after a first pass that came up short)
				// answers as soon as a message is dispatched.
				res, err := pc.Pull(ctx, client.PullRequest{Queue: q, Offset: next[q], MaxNums: 32, Suspend: suspend})
				require.NoError(t, err)
				if len(res.Messages) == 0 {
					break
				}
				for _, m := range res.Messages {
					out[q] = append(out[q], string(m.Body))
				}
				total += len(res.Messages)
				next[q] = res.NextBeginOffset
			}
		}
		if total >= want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("drain %s: %d messages after 20s, want at least %d", topic, total, want)
		}
	}
}

func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeConf(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "broker.conf")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// startNoWait returns the command for gorocket args, not started.
func startNoWait(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(binary, args...)
}
