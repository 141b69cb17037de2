package protocol

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeJSON(t *testing.T) {
	cases := map[string]string{
		`{"a":1}`:                         `{"a":1}`,
		` { "a" : [ 1 , 2 ] } `:           `{"a":[1,2]}`,
		`{0:"x",-1:"y",12:"z"}`:           `{"0":"x","-1":"y","12":"z"}`,
		`{"t@g":{0:12,1:7}}`:              `{"t@g":{"0":12,"1":7}}`,
		`{abc_$1:true}`:                   `{"abc_$1":true}`,
		`{{"topic":"t","queueId":0}:5}`:   `{"{\"topic\":\"t\",\"queueId\":0}":5}`,
		`{{"a":"q\"x"}:1}`:                `{"{\"a\":\"q\\\"x\"}":1}`,
		`{[1,2]:3}`:                       `{"[1,2]":3}`,
		`[1.5e-3,-0,null,false,"\u00e9"]`: `[1.5e-3,-0,null,false,"\u00e9"]`,
		`{"n":123L}`:                      `{"n":123}`,
		`"s"`:                             `"s"`,
	}
	for in, want := range cases {
		got, err := NormalizeJSON([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, string(got), in)
		require.True(t, json.Valid(got), in)
	}
	for _, bad := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `{"a":"\x"}`, `"a` + "\n" + `"`, `{"a":1} x`,
		`tru`, `{'a':1}`, `{"a":01.}`, `-`, `1e`, `{"a":"\u12"}`,
		strings.Repeat("[", 100) + strings.Repeat("]", 100),
		strings.Repeat("{1:", 100) + "1" + strings.Repeat("}", 100),
	} {
		_, err := NormalizeJSON([]byte(bad))
		require.ErrorIs(t, err, ErrBadJSON, "%q", bad)
	}
}

func FuzzNormalizeJSON(f *testing.F) {
	for _, s := range []string{
		`{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b"}]}`,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:100,{"brokerName":"b","queueId":1,"topic":"t"}:200}}`,
		`{"offsetTable":{"t@g":{0:12,1:7}}}`,
		`[1,2.5,"x\n",null,true]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := NormalizeJSON(b)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output %q is not JSON", out)
		}
		again, err := NormalizeJSON(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
	})
}

func sampleRoute() *TopicRouteData {
	return &TopicRouteData{
		QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []BrokerData{{
			Cluster: "DefaultCluster", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"},
		}},
	}
}

// TestRouteGolden: the non-standard form is byte for byte the Java name
// server's answer to the Go client quoted in protocol.md §4.1.
func TestRouteGolden(t *testing.T) {
	r := sampleRoute()
	require.Equal(t,
		`{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`,
		string(r.Encode(false)))
	std := r.Encode(true)
	require.Equal(t,
		`{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`,
		string(std))
	require.True(t, json.Valid(std))
	body, err := EncodeBody(r)
	require.NoError(t, err)
	require.Equal(t, std, body)

	for _, form := range [][]byte{r.Encode(false), std} {
		var got TopicRouteData
		require.NoError(t, DecodeBody(form, &got))
		require.Equal(t, r.BrokerDatas, got.BrokerDatas)
		require.Equal(t, r.QueueDatas, got.QueueDatas)
		require.Equal(t, map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}, goClientBrokerAddrs(t, form))
	}

	require.True(t, RouteWantsStandardJSON(V4_9_4, false))
	require.False(t, RouteWantsStandardJSON(V4_5_2, false))
	require.True(t, RouteWantsStandardJSON(V4_5_2, true))
}

// goClientBrokerAddrs parses brokerAddrs the way rocketmq-client-go v2.1.2
// route.go does: strip the braces, split on ",", key before the first ':'
// without quotes, value after it without quotes.
func goClientBrokerAddrs(t *testing.T, body []byte) map[int64]string {
	s := string(body)
	i := strings.Index(s, `"brokerAddrs":`)
	require.GreaterOrEqual(t, i, 0)
	s = s[i+len(`"brokerAddrs":`):]
	addrs := s[:strings.IndexByte(s, '}')+1]
	require.GreaterOrEqual(t, len(addrs), 2, "the Go client slices addrs[1:len-1]")
	out := map[int64]string{}
	for _, kv := range strings.Split(addrs[1:len(addrs)-1], ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, ":")
		id, err := strconv.ParseInt(strings.Trim(k, `"`), 10, 64)
		require.NoError(t, err)
		out[id] = strings.Trim(v, `"`)
	}
	return out
}

func TestRouteNeverOmitsBrokerAddrs(t *testing.T) {
	r := &TopicRouteData{BrokerDatas: []BrokerData{{Cluster: "c", BrokerName: "b"}}}
	for _, std := range []bool{false, true} {
		require.Contains(t, string(r.Encode(std)), `"brokerAddrs":{}`)
	}
	b, err := json.Marshal(ClusterInfo{BrokerAddrTable: map[string]BrokerData{"b": {BrokerName: "b"}}})
	require.NoError(t, err)
	require.Contains(t, string(b), `"brokerAddrs":{}`)
}

func TestHeartbeatFromGoClient(t *testing.T) {
	// protocol.md §4.2, as the Go client writes it.
	body := `{"clientID":"10.0.0.9@12345","producerDataSet":[{"groupName":"pg"}],
 "consumerDataSet":[{"groupName":"cg","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",
   "consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,"subscriptionDataSet":[
   {"classFilterMode":false,"topic":"TopicTest","subString":"TagA || TagC","tagsSet":["TagA","TagC"],
    "codeSet":["2598919","2598921"],"subVersion":1700000000123456789,"expressionType":"TAG"},
   {"classFilterMode":false,"topic":"%RETRY%cg","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1700000000123456790,"expressionType":"TAG"}]}]}`
	var h HeartbeatData
	require.NoError(t, DecodeBody([]byte(body), &h))
	require.Equal(t, "10.0.0.9@12345", h.ClientID)
	require.Equal(t, []ProducerData{{"pg"}}, h.ProducerDataSet)
	c := h.ConsumerDataSet[0]
	require.Equal(t, ConsumePassively, c.ConsumeType)
	require.Equal(t, Clustering, c.MessageModel)
	sub := c.SubscriptionDataSet[0]
	require.Equal(t, CodeSet{2598919, 2598921}, sub.CodeSet)
	require.Equal(t, []string{"TagA", "TagC"}, sub.TagsSet)
	require.Equal(t, int64(1700000000123456789), sub.SubVersion)

	// Java writes codes as numbers; we write them that way too.
	var j SubscriptionData
	require.NoError(t, DecodeBody([]byte(`{"topic":"t","codeSet":[1,-2],"tagsSet":null}`), &j))
	require.Equal(t, CodeSet{1, -2}, j.CodeSet)
	out, err := EncodeBody(&j)
	require.NoError(t, err)
	require.Contains(t, string(out), `"codeSet":[1,-2]`)
	require.Error(t, DecodeBody([]byte(`{"codeSet":["x"]}`), &j))
}

// goParseFastJSONResetOffset replays rocketmq-client-go v2.1.2
// parseFastJsonFormat on a body gjson finds invalid.
func goParseFastJSONResetOffset(t *testing.T, body string) map[MessageQueue]int64 {
	const prefix = `{"offsetTable":`
	require.True(t, strings.HasPrefix(body, prefix))
	offsetStr := body[len(prefix) : len(body)-1] // what gjson.Get(body, "offsetTable") returns
	out := map[MessageQueue]int64{}
	trim := offsetStr[2 : len(offsetStr)-1]
	for _, v := range strings.Split(trim, ",{") {
		tuple := strings.Split(v, "}:")
		var q MessageQueue
		require.NoError(t, json.Unmarshal([]byte("{"+tuple[0]+"}"), &q))
		off, err := strconv.Atoi(tuple[1])
		require.NoError(t, err)
		out[q] = int64(off)
	}
	return out
}

func TestResetOffsetBodyForGoClient(t *testing.T) {
	b := &ResetOffsetBody{OffsetTable: MQMap[int64]{
		{Topic: "t", BrokerName: "b", QueueID: 1}: 200,
		{Topic: "t", BrokerName: "b", QueueID: 0}: 100,
	}}
	body, err := EncodeBody(b)
	require.NoError(t, err)
	require.Equal(t,
		`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:100,{"brokerName":"b","queueId":1,"topic":"t"}:200}}`,
		string(body))
	require.False(t, json.Valid(body), "the Go client picks its fastjson parser for invalid JSON")
	require.Equal(t, map[MessageQueue]int64(b.OffsetTable), goParseFastJSONResetOffset(t, string(body)))

	var back ResetOffsetBody
	require.NoError(t, DecodeBody(body, &back))
	require.Equal(t, b.OffsetTable, back.OffsetTable)

	// gson's pair-array form reads too.
	require.NoError(t, DecodeBody([]byte(`{"offsetTable":[[{"topic":"t","brokerName":"b","queueId":0},100]]}`), &back))
	require.Equal(t, MQMap[int64]{{Topic: "t", BrokerName: "b"}: 100}, back.OffsetTable)

	empty, err := EncodeBody(&ResetOffsetBody{})
	require.NoError(t, err)
	require.Equal(t, `{"offsetTable":{}}`, string(empty))
}

func TestStatsBodiesRoundTrip(t *testing.T) {
	cs := &ConsumeStats{ConsumeTPS: 1.5, OffsetTable: MQMap[OffsetWrapper]{
		{Topic: "t", BrokerName: "b", QueueID: 0}: {BrokerOffset: 10, ConsumerOffset: 7, LastTimestamp: 1700000000000},
	}}
	body, err := EncodeBody(cs)
	require.NoError(t, err)
	require.Equal(t, `{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:{"brokerOffset":10,"consumerOffset":7,"pullOffset":0,"lastTimestamp":1700000000000}}}`, string(body))
	var cs2 ConsumeStats
	require.NoError(t, DecodeBody(body, &cs2))
	require.Equal(t, *cs, cs2)

	ts := &TopicStatsTable{OffsetTable: MQMap[TopicOffset]{{Topic: "t", BrokerName: "b", QueueID: 3}: {MinOffset: 1, MaxOffset: 9}}}
	body, err = EncodeBody(ts)
	require.NoError(t, err)
	var ts2 TopicStatsTable
	require.NoError(t, DecodeBody(body, &ts2))
	require.Equal(t, *ts, ts2)

	st := &GetConsumerStatusBody{
		MessageQueueTable: MQMap[int64]{{Topic: "t", QueueID: 1}: 5},
		ConsumerTable:     map[string]MQMap[int64]{"c1": {{Topic: "t"}: 3}},
	}
	body, err = EncodeBody(st)
	require.NoError(t, err)
	var st2 GetConsumerStatusBody
	require.NoError(t, DecodeBody(body, &st2))
	require.Equal(t, *st, st2)
}

func TestBodiesTheGoClientReadsStrictly(t *testing.T) {
	// admin.SubscriptionGroupWrapper / DataVersion in rocketmq-client-go
	// v2.1.2, read with encoding/json.
	type goDataVersion struct {
		Timestamp int64
		Counter   int32
	}
	type goSubscriptionGroupConfig struct {
		GroupName                      string
		ConsumeEnable                  bool
		ConsumeFromMinEnable           bool
		ConsumeBroadcastEnable         bool
		RetryMaxTimes                  int
		RetryQueueNums                 int
		BrokerId                       int
		WhichBrokerWhenConsumeSlowly   int
		NotifyConsumerIdsChangedEnable bool
	}
	type goSubscriptionGroupWrapper struct {
		SubscriptionGroupTable map[string]goSubscriptionGroupConfig
		DataVersion            goDataVersion
	}
	w := SubscriptionGroupWrapper{
		SubscriptionGroupTable: map[string]SubscriptionGroupConfig{"g": DefaultSubscriptionGroupConfig("g")},
		DataVersion:            DataVersion{Timestamp: 1700000000000, Counter: 3},
	}
	body, err := EncodeBody(w)
	require.NoError(t, err)
	var got goSubscriptionGroupWrapper
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, goSubscriptionGroupConfig{
		GroupName: "g", ConsumeEnable: true, ConsumeFromMinEnable: true, ConsumeBroadcastEnable: true,
		RetryMaxTimes: 16, RetryQueueNums: 1, WhichBrokerWhenConsumeSlowly: 1, NotifyConsumerIdsChangedEnable: true,
	}, got.SubscriptionGroupTable["g"])
	require.Equal(t, goDataVersion{1700000000000, 3}, got.DataVersion)

	type goTopicList struct {
		TopicList  []string
		BrokerAddr string
	}
	body, err = EncodeBody(TopicList{TopicList: []string{"a", "b"}})
	require.NoError(t, err)
	var tl goTopicList
	require.NoError(t, json.Unmarshal(body, &tl))
	require.Equal(t, []string{"a", "b"}, tl.TopicList)
}

func TestFastJSONFilesAndBodies(t *testing.T) {
	var off ConsumerOffsetSerializeWrapper
	require.NoError(t, DecodeBody([]byte(`{"offsetTable":{"TopicTest@cg":{0:12,1:7},"%RETRY%cg@cg":{0:0}}}`), &off))
	require.Equal(t, map[int32]int64{0: 12, 1: 7}, off.OffsetTable["TopicTest@cg"])

	var topics TopicConfigSerializeWrapper
	require.NoError(t, DecodeBody([]byte(`{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000},
		"topicConfigTable":{"TopicTest":{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG",
		"topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}`), &topics))
	require.Equal(t, TopicConfig{TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6,
		TopicFilterType: TopicFilterSingleTag}, topics.TopicConfigTable["TopicTest"])
	require.Equal(t, int64(2), topics.DataVersion.Counter)
	require.Equal(t, DataVersion{Timestamp: 5, Counter: 3}, topics.DataVersion.Next(5))

	// ConsumerRunningInfo as the Go client encodes it (object keys in mqTable).
	var info ConsumerRunningInfo
	require.NoError(t, DecodeBody([]byte(`{"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"},"statusTable":{"t":{"pullRT":1}},`+
		`"subscriptionSet":[{"topic":"t","subString":"*","tagsSet":[],"codeSet":[]}],`+
		`"mqTable":{{"topic":"t","brokerName":"b","queueId":0}:{"commitOffset":5}},"jstack":""}`), &info))
	require.Equal(t, "CONSUME_PASSIVELY", info.Properties["PROP_CONSUME_TYPE"])
	require.JSONEq(t, `{"commitOffset":5}`, string(info.MQTable[MessageQueue{Topic: "t", BrokerName: "b"}]))
}

func TestPerm(t *testing.T) {
	require.Equal(t, "RW-", PermString(PermRead|PermWrite))
	require.Equal(t, "RWX", PermString(7))
	require.Equal(t, "---", PermString(0))
	require.Equal(t, int32(16), DefaultTopicConfig("t").ReadQueueNums)
}

func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(sampleRoute().Encode(false)))
	f.Add([]byte(`{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:100}}`))
	f.Add([]byte(`{"clientID":"c","consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["1",2]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Must never panic, whatever the bytes.
		_ = DecodeBody(b, &TopicRouteData{})
		_ = DecodeBody(b, &ResetOffsetBody{})
		_ = DecodeBody(b, &HeartbeatData{})
		_ = DecodeBody(b, &ConsumeStats{})
		_ = DecodeBody(b, &ConsumerOffsetSerializeWrapper{})
		_ = DecodeBody(b, &ConsumerRunningInfo{})
	})
}

func TestEncodedListsAreNeverNull(t *testing.T) {
	for _, v := range []any{
		HeartbeatData{ClientID: "c", ConsumerDataSet: []ConsumerData{{GroupName: "g", SubscriptionDataSet: []SubscriptionData{{Topic: "t"}}}}},
		ConsumerListByGroup{}, TopicList{}, GroupList{}, LockBatchRequestBody{}, LockBatchResponseBody{},
		ProducerConnection{}, ConsumerConnection{}, RegisterBrokerBody{}, ClusterInfo{}, KVTable{},
		TopicConfigSerializeWrapper{}, SubscriptionGroupWrapper{}, ConsumerOffsetSerializeWrapper{},
		QueryConsumeTimeSpanBody{}, &ConsumeStats{}, &TopicStatsTable{}, &ResetOffsetBody{},
	} {
		b, err := EncodeBody(v)
		require.NoError(t, err)
		require.NotContains(t, string(b), "null", "%T: %s", v, b)
	}
	b, err := EncodeBody(HeartbeatData{ClientID: "c", ConsumerDataSet: []ConsumerData{{SubscriptionDataSet: []SubscriptionData{{Topic: "t"}}}}})
	require.NoError(t, err)
	require.Contains(t, string(b), `"producerDataSet":[]`)
	require.Contains(t, string(b), `"tagsSet":[],"codeSet":[]`)
}

func TestConsumeStatsListRoundTrip(t *testing.T) {
	l := &ConsumeStatsList{
		BrokerAddr: "127.0.0.1:10911", TotalDiff: 3,
		ConsumeStatsList: []map[string][]ConsumeStats{{"cg": {{
			ConsumeTPS:  2,
			OffsetTable: MQMap[OffsetWrapper]{{Topic: "t", BrokerName: "b"}: {BrokerOffset: 5, ConsumerOffset: 2}},
		}}}},
	}
	body, err := EncodeBody(l)
	require.NoError(t, err)
	require.Contains(t, string(body), `{"cg":[{"consumeTps":2,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:`)
	var back ConsumeStatsList
	require.NoError(t, DecodeBody(body, &back))
	require.Equal(t, *l, back)
}
