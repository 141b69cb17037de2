// Package sinkbroker is the cheapest server a RocketMQ client can talk to,
// for measuring clients: one remoting server that is both name server (a
// route to itself with 8 queues, for any topic) and broker (sends answered
// at once without storing; pulls answered with prebuilt 1 KiB records, an
// endless backlog; a consumer group is whoever heartbeats; groups start at
// offset 0; commits are acknowledged and forgotten).
//
// Benchmarks run it in a child process (StartProcess, with RunIfChild in
// the test binary's TestMain), so that the allocations and CPU time they
// measure are the client's alone.
package sinkbroker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// BodySize is the body size of the records a pull returns.
const BodySize = 1024

// BrokerName is the sink's broker name in routes.
const BrokerName = "sink"

// MsgID is the offset message id every send is answered with.
const MsgID = "7F00000100002A9F0000000000000000"

const childEnv = "GOROCKET_SINKBROKER_CHILD"

// Sink is a running sink.
type Sink struct {
	srv    *remoting.Server
	offset atomic.Int64

	mu      sync.Mutex
	batches map[int32][]byte               // pull bodies by message count
	members map[string]map[string]struct{} // consumer group -> client ids heartbeating
}

// Start starts a sink on a free loopback port.
func Start(log *slog.Logger) (*Sink, error) {
	s, err := remoting.NewServer(remoting.DefaultServerOptions("127.0.0.1:0"), log)
	if err != nil {
		return nil, err
	}
	sk := &Sink{srv: s, batches: map[int32][]byte{}, members: map[string]map[string]struct{}{}}
	s.Register(protocol.GetRouteInfoByTopic, remoting.Inline, remoting.ProcessorFunc(sk.onRoute))
	for _, code := range []protocol.RequestCode{protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage} {
		s.Register(code, remoting.Inline, remoting.ProcessorFunc(sk.onSend))
	}
	s.Register(protocol.PullMessage, remoting.Inline, remoting.ProcessorFunc(sk.onPull))
	s.Register(protocol.HeartBeat, remoting.Inline, remoting.ProcessorFunc(sk.onHeartbeat))
	s.Register(protocol.GetConsumerListByGroup, remoting.Inline, remoting.ProcessorFunc(sk.onConsumerList))
	s.Register(protocol.QueryConsumerOffset, remoting.Inline, remoting.ProcessorFunc(func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		return remoting.NewResponse(req, protocol.QueryNotFound, ""), nil // a new group
	}))
	s.Register(protocol.GetMaxOffset, remoting.Inline, remoting.ProcessorFunc(func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		resp := remoting.NewResponse(req, protocol.Success, "")
		resp.ExtFields = protocol.ExtFields{{Key: "offset", Value: "0"}}
		return resp, nil
	}))
	s.RegisterDefault(remoting.Inline, remoting.ProcessorFunc(func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		return remoting.NewResponse(req, protocol.Success, ""), nil // offset commits, unregistering
	}))
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	return sk, nil
}

// Addr returns the sink's address, name server and broker alike.
func (sk *Sink) Addr() string { return sk.srv.Addr().String() }

// Close stops the sink.
func (sk *Sink) Close() error { return sk.srv.Close() }

func (sk *Sink) onRoute(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	rd := protocol.TopicRouteData{
		QueueDatas:        []protocol.QueueData{{BrokerName: BrokerName, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6}},
		BrokerDatas:       []protocol.BrokerData{{Cluster: "c", BrokerName: BrokerName, BrokerAddrs: map[int64]string{0: sk.Addr()}}},
		FilterServerTable: map[string][]string{},
	}
	var h protocol.GetRouteInfoRequestHeader
	_ = protocol.DecodeHeader(req.ExtFields, &h)
	standard := protocol.RouteWantsStandardJSON(protocol.MQVersion(req.Version), h.AcceptStandardJSONOnly != nil && *h.AcceptStandardJSONOnly)
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.Body = rd.Encode(standard)
	return resp, nil
}

func (sk *Sink) onHeartbeat(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var hb protocol.HeartbeatData
	if err := protocol.DecodeBody(req.Body, &hb); err != nil {
		return nil, err
	}
	sk.mu.Lock()
	for _, cd := range hb.ConsumerDataSet {
		if sk.members[cd.GroupName] == nil {
			sk.members[cd.GroupName] = map[string]struct{}{}
		}
		sk.members[cd.GroupName][hb.ClientID] = struct{}{}
	}
	sk.mu.Unlock()
	return remoting.NewResponse(req, protocol.Success, ""), nil
}

func (sk *Sink) onConsumerList(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := protocol.DecodeHeader(req.ExtFields, &h); err != nil {
		return nil, err
	}
	sk.mu.Lock()
	body := protocol.ConsumerListByGroup{ConsumerIDList: slices.Sorted(maps.Keys(sk.members[h.ConsumerGroup]))}
	sk.mu.Unlock()
	resp := remoting.NewResponse(req, protocol.Success, "")
	var err error
	resp.Body, err = protocol.EncodeBody(&body)
	return resp, err
}

func (sk *Sink) onSend(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	qid, ok := req.ExtFields.Get("e")
	if !ok {
		qid = req.ExtFields.Value("queueId")
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = append(make(protocol.ExtFields, 0, 3),
		protocol.ExtField{Key: "msgId", Value: MsgID},
		protocol.ExtField{Key: "queueId", Value: qid},
		protocol.ExtField{Key: "queueOffset", Value: strconv.FormatInt(sk.offset.Add(1), 10)},
	)
	return resp, nil
}

func (sk *Sink) onPull(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.PullMessageRequestHeader
	if err := h.DecodeExt(req.ExtFields); err != nil {
		return nil, err
	}
	n := min(max(h.MaxMsgNums, 1), 1024)
	resp := remoting.NewResponse(req, protocol.Success, "")
	rh := protocol.PullMessageResponseHeader{NextBeginOffset: h.QueueOffset + int64(n), MaxOffset: 1 << 40}
	resp.ExtFields = rh.AppendExt(nil)
	resp.SetBodyParts([][]byte{sk.Batch(h.Topic, n)}, nil)
	return resp, nil
}

// Batch returns a pull body of n records of topic with BodySize bodies and
// the properties a producer typically sets (UNIQ_KEY, TAGS).
func (sk *Sink) Batch(topic string, n int32) []byte {
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if b := sk.batches[n]; b != nil {
		return b
	}
	b := Records(topic, n)
	sk.batches[n] = b
	return b
}

// Records encodes n stored records of topic with BodySize bodies.
func Records(topic string, n int32) []byte {
	var body []byte
	props := message.AppendProperty(nil, message.PropertyUniqClientMessageIDKeyIdx, MsgID)
	props = message.AppendProperty(props, message.PropertyTags, "TagA")
	for i := range n {
		in := message.Inner{
			Topic: topic, Body: make([]byte, BodySize), Properties: props, QueueOffset: int64(i),
			BornTimestamp: 1700000000000, StoreTimestamp: 1700000000001,
			BornHost: netip.MustParseAddrPort("127.0.0.1:40000"), StoreHost: netip.MustParseAddrPort("127.0.0.1:10911"),
		}
		size, err := in.RecordSize()
		if err != nil {
			panic(err)
		}
		rec := make([]byte, size)
		if _, err := message.EncodeRecord(rec, &in); err != nil {
			panic(err)
		}
		body = append(body, rec...)
	}
	return body
}

// RunIfChild runs the sink instead of the tests when this test binary was
// started by StartProcess: it prints the sink's address and serves until
// its stdin closes. Call it first in TestMain and return if it reports
// true.
func RunIfChild() bool {
	if os.Getenv(childEnv) != "1" {
		return false
	}
	sk, err := Start(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(sk.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = sk.Close()
	return true
}

// StartProcess runs a sink in a child process (this test binary again,
// whose TestMain calls RunIfChild) and returns its address; the child
// exits when the test or benchmark ends.
func StartProcess(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
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
