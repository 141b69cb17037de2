package routeinfo

import (
	"fmt"
	"strconv"
	"testing"
)

// benchTable registers brokers groups, each master serving the same topics.
func benchTable(b *testing.B, brokers, topicCount int) (*Manager, []Registration) {
	m := newManager(b, newFakeClock())
	names := make([]string, topicCount)
	for i := range names {
		names[i] = "Topic" + strconv.Itoa(i)
	}
	regs := make([]Registration, brokers)
	for i := range regs {
		regs[i] = reg("c1", fmt.Sprintf("broker-%03d", i), 0, fmt.Sprintf("10.0.%d.%d:10911", i/256, i%256),
			ConnID(i+1), topics(1, 8, names...))
		if _, err := m.RegisterBroker(regs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return m, regs
}

// BenchmarkTopicRoute is the hot path: every client asks for the route of
// each of its topics every 30 s.
func BenchmarkTopicRoute(b *testing.B) {
	for _, brokers := range []int{1, 16} {
		b.Run(fmt.Sprintf("brokers=%d", brokers), func(b *testing.B) {
			m, _ := benchTable(b, brokers, 1000)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				route, ok := m.TopicRoute("Topic" + strconv.Itoa(i%1000))
				if !ok {
					b.Fatal("no route")
				}
				_ = route.Encode(false)
			}
		})
	}
}

// BenchmarkReRegister is a broker's 30 s heartbeat with 1000 topics and an
// unchanged data version: liveness only.
func BenchmarkReRegister(b *testing.B) {
	m, regs := benchTable(b, 16, 1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.RegisterBroker(regs[i%len(regs)]); err != nil {
			b.Fatal(err)
		}
	}
}
