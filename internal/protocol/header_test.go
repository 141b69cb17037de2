package protocol

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestParseNumbersLikeJava(t *testing.T) {
	good32 := map[string]int32{
		"0": 0, "-0": 0, "+7": 7, "2147483647": math.MaxInt32, "-2147483648": math.MinInt32,
		"007": 7, "000000000000000000000000042": 42,
	}
	for s, want := range good32 {
		got, err := ParseInt32("f", s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"", "-", "+", "2147483648", "-2147483649", "1.0", "1e3", " 1", "1 ", "0x10", "1_000", "abc", "١"} {
		_, err := ParseInt32("queueId", s)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "%q", s)
		require.Equal(t, "queueId", fe.Field)
		require.ErrorIs(t, err, ErrInvalidField)
	}
	good64 := map[string]int64{"9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64, "1700000000123": 1700000000123}
	for s, want := range good64 {
		got, err := ParseInt64("f", s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{"9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
		_, err := ParseInt64("f", s)
		require.ErrorIs(t, err, ErrInvalidField, s)
	}
	for s, want := range map[string]bool{"true": true, "TRUE": true, "True": true, "false": false, "1": false, "": false, "yes": false} {
		require.Equal(t, want, ParseBool(s), s)
	}
}

func TestParseDecimalAgreesWithStrconvOnDigits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.Int64().Draw(t, "n")
		s := fmt.Sprint(n)
		got, err := ParseInt64("f", s)
		if err != nil || got != n {
			t.Fatalf("ParseInt64(%q) = %d, %v", s, got, err)
		}
	})
}

func TestExtFields(t *testing.T) {
	var f ExtFields
	f.Set("a", "1")
	f.Set("b", "2")
	f.Set("a", "3")
	require.Equal(t, ExtFields{{"a", "3"}, {"b", "2"}}, f)
	v, ok := f.Get("a")
	require.True(t, ok)
	require.Equal(t, "3", v)
	_, ok = f.Get("c")
	require.False(t, ok)
	f = append(f, ExtField{"a", "4"}) // a decoded duplicate: last wins
	require.Equal(t, "4", f.Value("a"))
	f.Delete("a")
	require.Equal(t, ExtFields{{"b", "2"}}, f)
	require.Equal(t, map[string]string{"b": "2"}, f.Map())
	require.Equal(t, ExtFields{{"x", "1"}, {"y", "2"}}, ExtFieldsFromMap(map[string]string{"y": "2", "x": "1"}))
}

func goSendExt() ExtFields {
	// As rocketmq-client-go v2.1.2 SendMessageRequestHeader.Encode writes it.
	return ExtFieldsFromMap(map[string]string{
		"producerGroup": "pg", "topic": "TopicTest", "queueId": "3", "sysFlag": "0",
		"bornTimestamp": "1700000000123", "flag": "0", "reconsumeTimes": "0", "unitMode": "false",
		"maxReconsumeTimes": "0", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"batch": "false", "properties": "TAGS\x01TagA\x02",
	})
}

func TestSendHeaderFromGoClient(t *testing.T) {
	var h SendMessageRequestHeader
	require.NoError(t, DecodeSendMessageHeader(SendMessage, goSendExt(), &h))
	require.Equal(t, SendMessageRequestHeader{
		ProducerGroup: "pg", Topic: "TopicTest", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
		QueueID: 3, BornTimestamp: 1700000000123, Properties: "TAGS\x01TagA\x02",
		HasMaxReconsumeTimes: true,
	}, h)

	// The Go client's batch header: V2 letters, no n.
	v2 := ExtFieldsFromMap(map[string]string{
		"a": "pg", "b": "TopicTest", "c": "TBW102", "d": "4", "e": "1", "f": "0", "g": "1700000000123",
		"h": "0", "i": "", "j": "0", "k": "false", "l": "16", "m": "true",
	})
	var b SendMessageRequestHeader
	require.NoError(t, DecodeSendMessageHeader(SendBatchMessage, v2, &b))
	require.True(t, b.Batch)
	require.Equal(t, int32(16), b.MaxReconsumeTimes)
	require.Equal(t, int32(1), b.QueueID)
}

func TestSendHeaderRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := SendMessageRequestHeader{
			ProducerGroup: rapid.String().Draw(t, "pg"), Topic: rapid.String().Draw(t, "topic"),
			DefaultTopic: "TBW102", DefaultTopicQueueNums: rapid.Int32().Draw(t, "dq"),
			QueueID: rapid.Int32().Draw(t, "q"), SysFlag: rapid.Int32().Draw(t, "sys"),
			BornTimestamp: rapid.Int64().Draw(t, "born"), Flag: rapid.Int32().Draw(t, "flag"),
			Properties: rapid.String().Draw(t, "props"), ReconsumeTimes: rapid.Int32().Draw(t, "rt"),
			UnitMode: rapid.Bool().Draw(t, "unit"), Batch: rapid.Bool().Draw(t, "batch"),
			BrokerName: rapid.String().Draw(t, "bn"),
		}
		if rapid.Bool().Draw(t, "hasMax") {
			h.HasMaxReconsumeTimes, h.MaxReconsumeTimes = true, rapid.Int32().Draw(t, "max")
		}
		for _, code := range []RequestCode{SendMessage, SendMessageV2} {
			var f ExtFields
			if IsSendV2(code) {
				f = h.AppendExtV2(nil)
			} else {
				f = h.AppendExt(nil)
			}
			var got SendMessageRequestHeader
			if err := DecodeSendMessageHeader(code, f, &got); err != nil {
				t.Fatalf("%s: %v", code, err)
			}
			if got != h {
				t.Fatalf("%s: got %+v want %+v", code, got, h)
			}
		}
	})
}

func TestHotHeadersNameMissingFields(t *testing.T) {
	full := goSendExt()
	for _, name := range []string{"producerGroup", "topic", "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag"} {
		f := append(ExtFields(nil), full...)
		f.Delete(name)
		var h SendMessageRequestHeader
		err := h.DecodeExt(f)
		require.ErrorIs(t, err, ErrMissingField)
		require.EqualError(t, err, `protocol: missing required header field "`+name+`"`)
	}
	var h SendMessageRequestHeader
	f := append(ExtFields(nil), full...)
	f.Set("queueId", "three")
	require.EqualError(t, h.DecodeExt(f), `protocol: invalid header field "queueId": "three"`)

	pull := (&PullMessageRequestHeader{ConsumerGroup: "cg", Topic: "t", MaxMsgNums: 32, SysFlag: 2}).AppendExt(nil)
	for _, name := range pullNames {
		f := append(ExtFields(nil), pull...)
		f.Delete(name)
		var p PullMessageRequestHeader
		require.EqualError(t, p.DecodeExt(f), `protocol: missing required header field "`+name+`"`)
	}
	var p PullMessageRequestHeader
	require.NoError(t, p.DecodeExt(pull))
	require.Equal(t, int32(32), p.MaxMsgNums)

	var pr PullMessageResponseHeader
	require.ErrorIs(t, pr.DecodeExt(ExtFields{{"nextBeginOffset", "1"}}), ErrMissingField)
	want := PullMessageResponseHeader{SuggestWhichBrokerID: 1, NextBeginOffset: 2, MinOffset: 3, MaxOffset: 4}
	require.NoError(t, pr.DecodeExt(want.AppendExt(nil)))
	require.Equal(t, want, pr)

	var sr SendMessageResponseHeader
	require.ErrorIs(t, sr.DecodeExt(ExtFields{{"msgId", "x"}}), ErrMissingField)
	sw := SendMessageResponseHeader{MsgID: "m", QueueID: 1, QueueOffset: 2, TransactionID: "t", MsgRegion: "DefaultRegion", TraceOn: "true"}
	require.NoError(t, sr.DecodeExt(sw.AppendExt(nil)))
	require.Equal(t, sw, sr)
}

// allTaggedHeaders lists every header decoded by the reflection codec.
var allTaggedHeaders = []any{
	&QueryMessageRequestHeader{}, &QueryMessageResponseHeader{}, &QueryConsumerOffsetRequestHeader{},
	&OffsetResponseHeader{}, &UpdateConsumerOffsetRequestHeader{}, &CreateTopicRequestHeader{},
	&GetBrokerConfigResponseHeader{}, &SearchOffsetRequestHeader{}, &GetMaxOffsetRequestHeader{},
	&TopicQueueRequestHeader{}, &GetEarliestMsgStoretimeResponseHeader{}, &ViewMessageRequestHeader{},
	&UnregisterClientRequestHeader{}, &ConsumerSendMsgBackRequestHeader{}, &EndTransactionRequestHeader{},
	&ConsumerGroupRequestHeader{}, &CheckTransactionStateRequestHeader{}, &PutKVConfigRequestHeader{},
	&KVConfigRequestHeader{}, &GetKVConfigResponseHeader{}, &RegisterBrokerRequestHeader{},
	&RegisterBrokerResponseHeader{}, &UnregisterBrokerRequestHeader{}, &GetRouteInfoRequestHeader{},
	&TopicRequestHeader{}, &GetProducerConnectionListRequestHeader{}, &BrokerNameRequestHeader{},
	&WipeWritePermOfBrokerResponseHeader{}, &AddWritePermOfBrokerResponseHeader{},
	&DeleteSubscriptionGroupRequestHeader{}, &GetConsumeStatsRequestHeader{},
	&DeleteTopicFromNamesrvRequestHeader{}, &GetKVListByNamespaceRequestHeader{}, &ResetOffsetRequestHeader{},
	&GetConsumerStatusRequestHeader{}, &GetTopicsByClusterRequestHeader{}, &QueryConsumeTimeSpanRequestHeader{},
	&GetConsumerRunningInfoRequestHeader{}, &QueryCorrectionOffsetHeader{},
	&ConsumeMessageDirectlyResultRequestHeader{}, &CloneGroupOffsetRequestHeader{},
	&ViewBrokerStatsDataRequestHeader{}, &GetConsumeStatsInBrokerHeader{}, &QueryConsumeQueueRequestHeader{},
	&QueryDataVersionRequestHeader{}, &QueryDataVersionResponseHeader{}, &ResumeCheckHalfMessageRequestHeader{},
	&ReplyMessageRequestHeader{},
}

// fill sets every tagged field to a distinct non-zero value.
func fill(v reflect.Value) {
	for i, fi := range layoutOf(v.Type()) {
		f := v.Field(fi.index)
		if fi.pointer {
			f.Set(reflect.New(f.Type().Elem()))
			f = f.Elem()
		}
		switch fi.kind {
		case kindString:
			f.SetString(fmt.Sprintf("v%d \"quoted\" \x01", i))
		case kindInt32, kindInt64:
			f.SetInt(int64(-1000 - i))
		case kindBool:
			f.SetBool(true)
		}
	}
}

func TestTaggedHeadersRoundTrip(t *testing.T) {
	for _, h := range allTaggedHeaders {
		typ := reflect.TypeOf(h).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			want := reflect.New(typ)
			fill(want.Elem())
			f := EncodeHeader(nil, want.Interface())
			require.Len(t, f, len(layoutOf(typ)), "every field is written")
			got := reflect.New(typ)
			require.NoError(t, DecodeHeader(f, got.Interface()))
			require.Equal(t, want.Interface(), got.Interface())

			for _, fi := range layoutOf(typ) {
				if !fi.required {
					continue
				}
				g := append(ExtFields(nil), f...)
				g.Delete(fi.name)
				err := DecodeHeader(g, reflect.New(typ).Interface())
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, fi.name, fe.Field)
				require.ErrorIs(t, err, ErrMissingField)
			}
			for _, fi := range layoutOf(typ) {
				if fi.kind != kindInt32 && fi.kind != kindInt64 {
					continue
				}
				g := append(ExtFields(nil), f...)
				g.Set(fi.name, "NaN")
				err := DecodeHeader(g, reflect.New(typ).Interface())
				require.ErrorIs(t, err, ErrInvalidField, fi.name)
				require.Contains(t, err.Error(), fi.name)
			}
		})
	}
}

func TestEncodeHeaderOmitsUnsetOptionals(t *testing.T) {
	f := EncodeHeader(nil, GetRouteInfoRequestHeader{Topic: "t"})
	require.Equal(t, ExtFields{{"topic", "t"}}, f)
	f = EncodeHeader(nil, &CreateTopicRequestHeader{Topic: "t"})
	// Required strings go out even when empty; numbers and bools always;
	// nil pointers and omitempty zeros do not.
	require.Equal(t, ExtFields{
		{"topic", "t"}, {"defaultTopic", ""}, {"readQueueNums", "0"}, {"writeQueueNums", "0"},
		{"perm", "0"}, {"topicFilterType", ""}, {"order", "false"},
	}, f)
}

func TestDecodeHeaderPanicsOnProgrammerError(t *testing.T) {
	require.Panics(t, func() { _ = DecodeHeader(nil, TopicRequestHeader{}) })
	type bad struct {
		F float64 `ext:"f"`
	}
	require.Panics(t, func() { _ = DecodeHeader(nil, &bad{}) })
}

func FuzzSendHeader(f *testing.F) {
	f.Add(encodeFuzzFields(goSendExt()), false)
	f.Add("a=pg\nb=t\nc=TBW102\nd=4\ne=0\nf=0\ng=1\nh=0\nl=x", true)
	f.Fuzz(func(t *testing.T, text string, v2 bool) {
		fields := decodeFuzzFields(text)
		code := SendMessage
		if v2 {
			code = SendMessageV2
		}
		var h SendMessageRequestHeader
		if err := DecodeSendMessageHeader(code, fields, &h); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			return
		}
		var again SendMessageRequestHeader
		out := h.AppendExt(nil)
		if v2 {
			out = h.AppendExtV2(nil)
		}
		if err := DecodeSendMessageHeader(code, out, &again); err != nil || again != h {
			t.Fatalf("re-decode: %v, %+v vs %+v", err, again, h)
		}
	})
}

func encodeFuzzFields(f ExtFields) string {
	var b strings.Builder
	for _, kv := range f {
		b.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	return b.String()
}

func decodeFuzzFields(s string) ExtFields {
	var f ExtFields
	for line := range strings.SplitSeq(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		f = append(f, ExtField{k, v})
	}
	return f
}

func TestSendHeaderV2TextMatchesV2(t *testing.T) {
	h := SendMessageRequestHeader{ProducerGroup: "g", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4,
		QueueID: 3, BornTimestamp: 1700000000123, Properties: "a\x01b\x02", HasMaxReconsumeTimes: true, MaxReconsumeTimes: 16}
	text := make([]byte, 0, 32)
	got, text := h.AppendExtV2Text(nil, text)
	if want := h.AppendExtV2(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendExtV2Text = %v, want %v", got, want)
	}
	if string(text) != "1700000000123" {
		t.Fatalf("text = %q", text)
	}
	if n := testing.AllocsPerRun(100, func() { h.AppendExtV2Text(got[:0], text[:0]) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
