package namesrv

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// FuzzRequest sends one arbitrary request (code, header, body) to a
// NameServer that has a broker registered, straight to the processor. No
// input may panic; a refusal must be an answer with a code; and whatever
// the request did, every route must stay one the Go client can parse.
func FuzzRequest(f *testing.F) {
	seed := brokerSpec("c1", "broker-b", 0, "T", "%RETRY%g")
	reg := seed.registerRequest()
	f.Add(uint8(4), extText(reg.ExtFields), reg.Body)
	f.Add(uint8(4), "brokerName=b\nbrokerAddr=1.2.3.4:5\nclusterName=c\nhaServerAddr=\nbrokerId=1", []byte(`{}`))
	f.Add(uint8(4), "brokerName=b\nbrokerAddr=1.2.3.4:5\nclusterName=c\nhaServerAddr=x:1\nbrokerId=0\nheartbeatTimeoutMillis=9223372036854775807\nenableActingMaster=true",
		[]byte(`{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T","readQueueNums":65536,"writeQueueNums":1,"perm":7}},"dataVersion":{"counter":2}},"filterServerList":["f:1"]}`))
	f.Add(uint8(10), "topic=T", []byte(nil))
	f.Add(uint8(10), "topic=T\nacceptStandardJsonOnly=true", []byte(nil))
	f.Add(uint8(5), "brokerName=broker-a\nbrokerAddr=127.0.0.1:10911\nclusterName=c1\nbrokerId=0", []byte(nil))
	f.Add(uint8(6), "brokerName=broker-a\nbrokerAddr=127.0.0.1:10911\nclusterName=c1\nbrokerId=0", []byte(`{"counter":1,"timestamp":1}`))
	f.Add(uint8(0), "namespace=ORDER_TOPIC_CONFIG\nkey=T\nvalue=broker-a:4", []byte(nil))
	f.Add(uint8(19), "topic=N", []byte(`{"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":2,"writeQueueNums":2}]}`))
	f.Add(uint8(18), "topic=T\nclusterName=c1", []byte(nil))
	f.Add(uint8(8), "brokerName=broker-a", []byte(nil))

	f.Fuzz(func(t *testing.T, code uint8, ext string, body []byte) {
		opts := DefaultOptions()
		opts.KVConfigPath = ""
		opts.OrderMessageEnable = true
		opts.SupportActingMaster = true
		s, err := New(opts, discard)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		procs := s.processors()
		call := func(req *remoting.Command) (*remoting.Command, error) {
			for _, p := range procs {
				if protocol.RequestCode(req.Code) == p.code {
					return p.fn(context.Background(), nil, req)
				}
			}
			t.Fatalf("no processor for %d", req.Code)
			return nil, nil
		}
		// A master and a slave are registered first.
		for _, id := range []int64{0, 1} {
			b := brokerSpec("c1", "broker-a", id, "T", "U")
			b.addr = "127.0.0.1:1091" + string(rune('1'+id))
			if _, err := call(b.registerRequest()); err != nil {
				t.Fatal(err)
			}
		}

		req := remoting.NewRequest(procs[int(code)%len(procs)].code, parseExt(ext), body)
		req.Version = int32(protocol.V4_5_2)
		resp, err := call(req)
		var rerr *remoting.Error
		switch {
		case err != nil && !errors.As(err, &rerr):
			t.Fatalf("refusal without a response code: %v", err)
		case err == nil && resp == nil:
			t.Fatal("no answer")
		}

		for _, topic := range s.routes.AllTopics() {
			route, ok := s.routes.TopicRoute(topic)
			if !ok {
				t.Fatalf("topic %q listed without a route", topic)
			}
			for _, bd := range route.BrokerDatas {
				if len(bd.BrokerAddrs) == 0 {
					t.Fatalf("route of %q lists %q without addresses: the Go client would crash", topic, bd.BrokerName)
				}
			}
			if !json.Valid(route.Encode(true)) {
				t.Fatalf("standard route of %q is not JSON: %s", topic, route.Encode(true))
			}
			var back protocol.TopicRouteData
			if err := protocol.DecodeBody(route.Encode(false), &back); err != nil {
				t.Fatalf("fastjson route of %q does not read back: %v", topic, err)
			}
		}
	})
}

// extText writes extFields as the fuzzer's "key=value" lines.
func extText(f protocol.ExtFields) string {
	var b strings.Builder
	for _, e := range f {
		b.WriteString(e.Key + "=" + e.Value + "\n")
	}
	return b.String()
}

func parseExt(s string) protocol.ExtFields {
	var f protocol.ExtFields
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			f.Set(k, v)
		}
	}
	return f
}
