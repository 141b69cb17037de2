package clients

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

var goInfo = ProducerInfo{Language: protocol.LanguageGo, Version: 317}

func TestProducerRegisterAndConnections(t *testing.T) {
	m := NewProducerManager(nil)
	a, b := &conn{"10.0.0.2:2"}, &conn{"10.0.0.1:1"}
	m.Register("pg", a, "idA", goInfo, t0)
	m.Register("pg", b, "idB", ProducerInfo{Language: protocol.LanguageJava, Version: 479}, t0)
	m.Register("pg", a, "idA", goInfo, t0.Add(time.Second)) // refresh
	m.Register("", a, "idA", goInfo, t0)
	m.Register("pg2", nil, "idA", goInfo, t0)

	pc, ok := m.Connections("pg")
	require.True(t, ok)
	require.Equal(t, []protocol.Connection{
		{ClientID: "idA", ClientAddr: "10.0.0.2:2", Language: "GO", Version: 317},
		{ClientID: "idB", ClientAddr: "10.0.0.1:1", Language: "JAVA", Version: 479},
	}, pc.ConnectionSet)
	require.Equal(t, []string{"pg"}, m.Groups())
	_, ok = m.Connections("nope")
	require.False(t, ok)
}

func TestAvailableChannelRoundRobin(t *testing.T) {
	m := NewProducerManager(nil)
	_, ok := m.AvailableChannel("pg")
	require.False(t, ok)

	chans := []*conn{{"a"}, {"b"}, {"c"}}
	for i, c := range chans {
		m.Register("pg", c, fmt.Sprint("id", i), goInfo, t0)
	}
	counts := map[Channel]int{}
	for range 30 {
		ch, ok := m.AvailableChannel("pg")
		require.True(t, ok)
		counts[ch]++
	}
	for _, c := range chans {
		require.Equal(t, 10, counts[c], "check-backs spread evenly")
	}

	m.ChannelClosed(chans[1])
	for range 10 {
		ch, _ := m.AvailableChannel("pg")
		require.NotSame(t, chans[1], ch, "a closed producer is never chosen")
	}
}

func TestFindChannel(t *testing.T) {
	m := NewProducerManager(nil)
	old, fresh := &conn{"old"}, &conn{"new"}
	m.Register("pg1", old, "client", goInfo, t0)
	m.Register("pg2", old, "client", goInfo, t0)

	ch, ok := m.FindChannel("client")
	require.True(t, ok)
	require.Same(t, old, ch)

	// Leaving one of two groups keeps the channel findable (Java forgets it).
	m.Unregister("pg1", old)
	ch, ok = m.FindChannel("client")
	require.True(t, ok)
	require.Same(t, old, ch)

	// A reconnect: the newest channel answers; closing the old one does
	// not lose it.
	m.Register("pg2", fresh, "client", goInfo, t0)
	ch, _ = m.FindChannel("client")
	require.Same(t, fresh, ch)
	require.Equal(t, []string{"pg2"}, m.ChannelClosed(old))
	ch, ok = m.FindChannel("client")
	require.True(t, ok)
	require.Same(t, fresh, ch)

	m.Unregister("pg2", fresh)
	_, ok = m.FindChannel("client")
	require.False(t, ok)
	require.Empty(t, m.Groups())

	// A channel that changes client id moves its reference.
	m.Register("pg", old, "x", goInfo, t0)
	m.Register("pg", old, "y", goInfo, t0)
	_, ok = m.FindChannel("x")
	require.False(t, ok)
	_, ok = m.FindChannel("y")
	require.True(t, ok)
}

func TestProducerScanExpired(t *testing.T) {
	var logs bytes.Buffer
	m := NewProducerManager(slog.New(slog.NewTextHandler(&logs, nil)))
	silent, alive := &conn{"10.0.0.1:1"}, &conn{"10.0.0.2:2"}
	m.Register("pg", silent, "silent", goInfo, t0)
	m.Register("pg", alive, "alive", goInfo, t0)
	m.Register("pg2", silent, "silent", goInfo, t0)

	require.Empty(t, m.ScanExpired(t0.Add(ChannelExpiredTimeout), ChannelExpiredTimeout))
	m.Register("pg", alive, "alive", goInfo, t0.Add(time.Minute))
	groups, chans := m.ScanExpiredChannels(t0.Add(ChannelExpiredTimeout+time.Second), ChannelExpiredTimeout)
	require.Equal(t, []string{"pg", "pg2"}, groups)
	require.Equal(t, []Channel{silent}, chans)
	require.Equal(t, []string{"pg"}, m.Groups())
	_, ok := m.FindChannel("silent")
	require.False(t, ok)
	ch, _ := m.AvailableChannel("pg")
	require.Same(t, alive, ch)
	require.Contains(t, logs.String(), "producer expired")
}

func TestProducerManagerConcurrency(t *testing.T) {
	m := NewProducerManager(nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ch := &conn{fmt.Sprint("c", w)}
			for i := range 500 {
				group := fmt.Sprint("pg", i%3)
				m.Register(group, ch, fmt.Sprint("id", w), goInfo, t0.Add(time.Duration(i)*time.Second))
				m.AvailableChannel(group)
				m.FindChannel(fmt.Sprint("id", w))
				if i%60 == 0 {
					m.ChannelClosed(ch)
				}
				if i%90 == 0 {
					m.ScanExpired(t0.Add(time.Duration(i)*time.Second), time.Minute)
				}
			}
		})
	}
	wg.Wait()
	for w := range 4 {
		ch, ok := m.FindChannel(fmt.Sprint("id", w))
		require.True(t, ok)
		require.Equal(t, fmt.Sprint("c", w), ch.RemoteAddr())
	}
}
