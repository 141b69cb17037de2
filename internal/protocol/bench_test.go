package protocol

import "testing"

func BenchmarkSendHeader(b *testing.B) {
	h := SendMessageRequestHeader{
		ProducerGroup: "please_rename_unique_group_name", Topic: "TopicTest", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: 3, BornTimestamp: 1700000000123,
		Properties:           "KEYS\x01order-1234\x02TAGS\x01TagA\x02UNIQ_KEY\x017F000001B2A018B4AAC2330E79F30000\x02",
		HasMaxReconsumeTimes: true, MaxReconsumeTimes: 16,
	}
	v1, v2 := h.AppendExt(nil), h.AppendExtV2(nil)
	b.Run("decode/V1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d SendMessageRequestHeader
			if err := d.DecodeExt(v1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/V2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d SendMessageRequestHeader
			if err := d.DecodeExtV2(v2); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/V1", func(b *testing.B) {
		dst := make(ExtFields, 0, 16)
		b.ReportAllocs()
		for b.Loop() {
			dst = h.AppendExt(dst[:0])
		}
	})
}

func BenchmarkPullHeaderDecode(b *testing.B) {
	h := PullMessageRequestHeader{ConsumerGroup: "cg", Topic: "TopicTest", QueueID: 1, QueueOffset: 123456,
		MaxMsgNums: 32, SysFlag: 2, CommitOffset: 123000, SuspendTimeoutMillis: 20000, SubVersion: 1700000000123456789,
		ExpressionType: "TAG"}
	f := h.AppendExt(nil)
	b.ReportAllocs()
	for b.Loop() {
		var d PullMessageRequestHeader
		if err := d.DecodeExt(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTaggedHeaderDecode measures the reflection codec on a typical
// admin header, for comparison with the hand-written ones.
func BenchmarkTaggedHeaderDecode(b *testing.B) {
	f := EncodeHeader(nil, &QueryConsumerOffsetRequestHeader{ConsumerGroup: "cg", Topic: "TopicTest", QueueID: 3})
	b.ReportAllocs()
	for b.Loop() {
		var d QueryConsumerOffsetRequestHeader
		if err := DecodeHeader(f, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteEncode(b *testing.B) {
	r := sampleRoute()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Encode(false)
	}
}
