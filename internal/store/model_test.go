package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"pgregory.net/rapid"
)

// TestStoreMatchesModel runs random sequences of appends (single and
// batch, two topics, two queues, sizes that roll segments often), reads
// at random offsets, key lookups, clean restarts and crashes against a
// model of what each queue must hold.
func TestStoreMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "storemodel")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		o := testOptions(dir)
		o.MappedFileSizeCommitLog = 16 << 10
		o.MaxMessageSize = 4 << 10
		o.CommitLogWriteBufferSize = 8 << 10
		o.MappedFileSizeConsumeQueue = 16 * 20
		o.MaxHashSlotNum = 16
		o.MaxIndexNum = 64
		o.FlushDiskType = rapid.SampledFrom([]string{AsyncFlush, SyncFlush}).Draw(rt, "mode")
		s, err := Open(o, nil, Hooks{})
		if err != nil {
			rt.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()

		type key struct {
			topic string
			q     int32
		}
		model := map[key][]string{}
		topics := []string{"A", "B"}
		seq := 0
		newBody := func(rt *rapid.T) string {
			seq++
			n := rapid.IntRange(0, 3000).Draw(rt, "size")
			return fmt.Sprintf("%d:", seq) + strings.Repeat("x", n)
		}
		reopen := func(rt *rapid.T, crash bool) {
			if crash {
				s.crash()
			} else if err := s.Close(); err != nil {
				rt.Fatal(err)
			}
			if s, err = Open(o, nil, Hooks{}); err != nil {
				rt.Fatal(err)
			}
			if err := s.Start(context.Background()); err != nil {
				rt.Fatal(err)
			}
		}
		rt.Repeat(map[string]func(*rapid.T){
			"put": func(rt *rapid.T) {
				k := key{rapid.SampledFrom(topics).Draw(rt, "topic"), int32(rapid.IntRange(0, 1).Draw(rt, "q"))}
				body := newBody(rt)
				r, err := s.PutMessage(context.Background(), msg(k.topic, k.q, body,
					message.PropertyKeys, fmt.Sprintf("k%d", seq)))
				if err != nil {
					rt.Fatal(err)
				}
				if r.QueueOffset != int64(len(model[k])) {
					rt.Fatalf("queue offset %d, model has %d", r.QueueOffset, len(model[k]))
				}
				model[k] = append(model[k], body)
			},
			"batch": func(rt *rapid.T) {
				k := key{rapid.SampledFrom(topics).Draw(rt, "topic"), int32(rapid.IntRange(0, 1).Draw(rt, "q"))}
				n := rapid.IntRange(1, 4).Draw(rt, "n")
				var msgs []*message.Inner
				var bs []string
				for range n {
					b := "B" + newBody(rt) // no keys: "query" skips it
					b = b[:min(len(b), 900)]
					bs = append(bs, b)
					msgs = append(msgs, msg(k.topic, k.q, b))
				}
				r, err := s.PutMessages(context.Background(), msgs)
				if err != nil {
					rt.Fatal(err)
				}
				if r.QueueOffset != int64(len(model[k])) || r.MsgCount != n {
					rt.Fatalf("batch at %d (%d msgs), model has %d", r.QueueOffset, r.MsgCount, len(model[k]))
				}
				model[k] = append(model[k], bs...)
			},
			"get": func(rt *rapid.T) {
				k := key{rapid.SampledFrom(topics).Draw(rt, "topic"), int32(rapid.IntRange(0, 1).Draw(rt, "q"))}
				want := model[k]
				off := int64(rapid.IntRange(0, len(want)+1).Draw(rt, "offset"))
				max := rapid.IntRange(1, 40).Draw(rt, "max")
				waitDispatched(rt, s)
				r, err := s.GetMessage(context.Background(), "g", k.topic, k.q, off, max, 0, nil)
				if err != nil {
					rt.Fatal(err)
				}
				defer r.Release()
				switch {
				case len(want) == 0:
					if r.Status != GetNoMatchedLogicQueue && r.Status != GetNoMessageInQueue {
						rt.Fatalf("empty queue: %v", r.Status)
					}
				case off == int64(len(want)):
					if r.Status != GetOffsetOverflowOne {
						rt.Fatalf("offset == max: %v", r.Status)
					}
				case off > int64(len(want)):
					if r.Status != GetOffsetOverflowBadly {
						rt.Fatalf("offset > max: %v", r.Status)
					}
				default:
					if r.Status != GetFound || len(r.Messages) == 0 || len(r.Messages) > max {
						rt.Fatalf("get %s/%d@%d max %d: %v, %d msgs", k.topic, k.q, off, max, r.Status, len(r.Messages))
					}
					for i, b := range r.Messages {
						rec, err := message.DecodeRecord(b)
						if err != nil {
							rt.Fatal(err)
						}
						if string(rec.Body) != want[off+int64(i)] || rec.QueueOffset != off+int64(i) {
							rt.Fatalf("offset %d: wrong message", off+int64(i))
						}
					}
					if r.NextBeginOffset != off+int64(len(r.Messages)) {
						rt.Fatalf("next %d after %d msgs from %d", r.NextBeginOffset, len(r.Messages), off)
					}
				}
			},
			"query": func(rt *rapid.T) {
				if seq == 0 {
					return
				}
				n := rapid.IntRange(1, seq).Draw(rt, "seq")
				waitDispatched(rt, s)
				var topic string
				var wantBody string
				for k, bs := range model {
					for _, b := range bs {
						if strings.HasPrefix(b, fmt.Sprintf("%d:", n)) {
							topic, wantBody = k.topic, b
						}
					}
				}
				if topic == "" {
					return // a batch message (no keys) or a body cut short
				}
				res, err := s.QueryMessage(topic, fmt.Sprintf("k%d", n), 8, 0, time.Now().Add(time.Hour).UnixMilli())
				if err != nil {
					rt.Fatal(err)
				}
				if len(res.Messages) != 1 {
					rt.Fatalf("key k%d: %d messages", n, len(res.Messages))
				}
				rec, _ := message.DecodeRecord(res.Messages[0])
				if string(rec.Body) != wantBody {
					rt.Fatalf("key k%d: wrong message", n)
				}
			},
			"restart": func(rt *rapid.T) { reopen(rt, false) },
			"crash":   func(rt *rapid.T) { reopen(rt, true) },
			"": func(rt *rapid.T) {
				// Once dispatch has caught up, every acknowledged message
				// has its unit. Read dispatch's position before the queue:
				// read after, a dispatch finishing in between would make
				// a stale queue maximum look like a missing unit.
				if s.reputFrom.Load() < s.cl.DispatchableOffset() {
					return
				}
				for k, bs := range model {
					if got := s.MaxOffsetInQueue(k.topic, k.q); got < int64(len(bs)) {
						rt.Fatalf("%s/%d: max offset %d, model has %d", k.topic, k.q, got, len(bs))
					}
				}
			},
		})
	})
}
