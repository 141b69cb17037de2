package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// The sink is the cheapest server the client can talk to: one remoting
// server that is both name server (a route to itself, 8 queues of any
// topic) and broker (sends answered at once without storing; pulls
// answered with prebuilt 1 KiB records). Benchmarks run it in a child
// process, so that their allocation counts and CPU time are the client's
// alone.

const sinkEnv = "GOROCKET_CLIENT_SINK"

// sinkBodySize is the body size of the records the sink serves.
const sinkBodySize = 1024

// runSinkIfAsked runs the sink instead of the tests when the environment
// says so, printing its address and serving until stdin closes.
func runSinkIfAsked() bool {
	if os.Getenv(sinkEnv) != "1" {
		return false
	}
	s, err := newSink(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
	return true
}

func newSink(log *slog.Logger) (*remoting.Server, error) {
	s, err := remoting.NewServer(remoting.DefaultServerOptions("127.0.0.1:0"), log)
	if err != nil {
		return nil, err
	}
	sk := &sink{srv: s, batches: map[int32][]byte{}}
	s.Register(protocol.GetRouteInfoByTopic, remoting.Inline, remoting.ProcessorFunc(sk.onRoute))
	for _, code := range []protocol.RequestCode{protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage} {
		s.Register(code, remoting.Inline, remoting.ProcessorFunc(sk.onSend))
	}
	s.Register(protocol.PullMessage, remoting.Inline, remoting.ProcessorFunc(sk.onPull))
	s.Register(protocol.HeartBeat, remoting.Inline, remoting.ProcessorFunc(func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		return remoting.NewResponse(req, protocol.Success, ""), nil
	}))
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

type sink struct {
	srv    *remoting.Server
	offset atomic.Int64

	mu      sync.Mutex
	batches map[int32][]byte // pull bodies by message count
}

func (sk *sink) onRoute(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	addr := sk.srv.Addr().String()
	rd := protocol.TopicRouteData{
		QueueDatas:        []protocol.QueueData{{BrokerName: "sink", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6}},
		BrokerDatas:       []protocol.BrokerData{{Cluster: "c", BrokerName: "sink", BrokerAddrs: map[int64]string{0: addr}}},
		FilterServerTable: map[string][]string{},
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = rd.Encode(true)
	return resp, nil
}

const sinkMsgID = "7F00000100002A9F0000000000000000"

func (sk *sink) onSend(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	qid, ok := req.ExtFields.Get("e")
	if !ok {
		qid = req.ExtFields.Value("queueId")
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = append(make(protocol.ExtFields, 0, 3),
		protocol.ExtField{Key: "msgId", Value: sinkMsgID},
		protocol.ExtField{Key: "queueId", Value: qid},
		protocol.ExtField{Key: "queueOffset", Value: strconv.FormatInt(sk.offset.Add(1), 10)},
	)
	return resp, nil
}

func (sk *sink) onPull(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.PullMessageRequestHeader
	if err := h.DecodeExt(req.ExtFields); err != nil {
		return nil, err
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	rh := protocol.PullMessageResponseHeader{NextBeginOffset: h.QueueOffset + int64(h.MaxMsgNums), MaxOffset: 1 << 40}
	resp.ExtFields = rh.AppendExt(nil)
	resp.SetBodyParts([][]byte{sk.batch(h.Topic, h.MaxMsgNums)}, nil)
	return resp, nil
}

// batch returns a pull body of n records with 1 KiB bodies and the
// properties a producer of this package sets.
func (sk *sink) batch(topic string, n int32) []byte {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if b := sk.batches[n]; b != nil {
		return b
	}
	var body []byte
	props := message.AppendProperty(nil, message.PropertyUniqClientMessageIDKeyIdx, sinkMsgID)
	props = message.AppendProperty(props, message.PropertyTags, "TagA")
	for i := range n {
		in := message.Inner{
			Topic: topic, Body: make([]byte, sinkBodySize), Properties: props, QueueOffset: int64(i),
			BornTimestamp: 1700000000000, StoreTimestamp: 1700000000001,
			BornHost: netip.MustParseAddrPort("127.0.0.1:40000"), StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		}
		size, _ := in.RecordSize()
		rec := make([]byte, size)
		if _, err := message.EncodeRecord(rec, &in); err != nil {
			panic(err)
		}
		body = append(body, rec...)
	}
	sk.batches[n] = body
	return body
}

// startSinkProcess runs the sink in a child process and returns its
// address; the child exits when the benchmark ends.
func startSinkProcess(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sinkEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("sink: %v", err)
	}
	return line[:len(line)-1]
}
