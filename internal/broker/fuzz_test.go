package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// fuzzCodes are the request codes the fuzz target exercises.
var fuzzCodes = []protocol.RequestCode{
	protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage, protocol.PullMessage,
	protocol.HeartBeat, protocol.UnregisterClient, protocol.GetConsumerListByGroup, protocol.CheckClientConfig,
	protocol.QueryConsumerOffset, protocol.UpdateConsumerOffset, protocol.GetMaxOffset, protocol.SearchOffsetByTimestamp,
	protocol.UpdateAndCreateTopic, protocol.GetTopicStatsInfo, protocol.UpdateAndCreateSubscriptionGroup,
	protocol.DeleteSubscriptionGroup, protocol.GetConsumeStats, protocol.QueryTopicConsumeByWho,
	protocol.ViewMessageByID, protocol.QueryMessage,
}

// parseExt reads "k=v\nk=v" into extFields.
func parseExt(s string) protocol.ExtFields {
	var f protocol.ExtFields
	for line := range strings.SplitSeq(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			f = append(f, protocol.ExtField{Key: k, Value: v})
		}
	}
	return f
}

func extString(f protocol.ExtFields) string {
	var b strings.Builder
	for _, kv := range f {
		b.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	return b.String()
}

// FuzzBrokerRequest sends arbitrary headers and bodies under the codes the
// broker serves. Every request must be answered, none may make a
// processor panic (the transport answers a panic with its own remark),
// and the broker must keep serving a good producer.
func FuzzBrokerRequest(f *testing.F) {
	tb := startBroker(f, nil)
	send := sendHeader("Fuzz", 0, props(message.PropertyTags, "a"))
	batch, _ := message.AppendBatchEntry(nil, message.BatchEntry{Body: []byte("b"), Properties: []byte(props("k", "v"))})
	pull := suspendedPull("g", "Fuzz", 0, 0, "a || b", time.Second)
	f.Add(uint8(0), extString(send.AppendExt(nil)), []byte("body"))
	f.Add(uint8(1), extString(send.AppendExtV2(nil)), []byte("body"))
	f.Add(uint8(2), extString(send.AppendExtV2(nil)), batch)
	f.Add(uint8(3), extString(pull.AppendExt(nil)), []byte(nil))
	f.Add(uint8(4), "", []byte(`{"clientID":"c","consumerDataSet":[{"groupName":"g","messageModel":"CLUSTERING","subscriptionDataSet":[{"topic":"Fuzz","subString":"a > 1","expressionType":"SQL92"}]}]}`))
	f.Add(uint8(7), "", []byte(`{"subscriptionData":{"topic":"Fuzz","subString":"a >","expressionType":"SQL92"}}`))
	f.Add(uint8(9), "consumerGroup=g\ntopic=Fuzz\nqueueId=0\ncommitOffset=1", []byte(nil))
	f.Add(uint8(12), "topic=F2\ndefaultTopic=TBW102\nreadQueueNums=2\nwriteQueueNums=2\nperm=6\ntopicFilterType=SINGLE_TAG\norder=false", []byte(nil))
	f.Add(uint8(14), "", []byte(`{"groupName":"g2","retryMaxTimes":3}`))
	f.Add(uint8(18), "offset=0", []byte(nil))
	f.Add(uint8(19), "topic=Fuzz\nkey=k\nmaxNum=3\nbeginTimestamp=0\nendTimestamp=99999999999999", []byte(nil))

	f.Fuzz(func(t *testing.T, code uint8, ext string, body []byte) {
		c := fuzzCodes[int(code)%len(fuzzCodes)]
		fields := parseExt(ext)
		if c == protocol.PullMessage {
			fields.Set("suspendTimeoutMillis", "0") // do not hold the fuzzer
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := tb.rc.InvokeSync(ctx, tb.addr, remoting.NewRequest(c, fields, body))
		if err != nil {
			t.Fatalf("%v: no answer: %v", c, err)
		}
		if strings.Contains(resp.Remark, "panicked") {
			t.Fatalf("%v: processor panicked: %s", c, resp.Remark)
		}
		if r := tb.send(t, sendHeader("Good", 0, ""), "good"); r.ResponseCode() != protocol.Success {
			t.Fatalf("a good send failed after %v: %v %s", c, r.ResponseCode(), r.Remark)
		}
	})
}
