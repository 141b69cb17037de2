package clients

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/gorocket/gorocket/internal/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// conn is a test Channel.
type conn struct{ addr string }

func (c *conn) RemoteAddr() string { return c.addr }

type recorded struct {
	group    string
	ev       Event
	channels []Channel
}

func record(m *ConsumerManager) *[]recorded {
	var mu sync.Mutex
	var evs []recorded
	m.OnGroupEvent(func(group string, ev Event, channels []Channel) {
		mu.Lock()
		evs = append(evs, recorded{group, ev, channels})
		mu.Unlock()
	})
	return &evs
}

var t0 = time.Unix(1_800_000_000, 0)

func sub(topic, expr string, version int64) protocol.SubscriptionData {
	return protocol.SubscriptionData{Topic: topic, SubString: expr, SubVersion: version, ExpressionType: protocol.ExpressionTag}
}

func info(subs ...protocol.SubscriptionData) ConsumerInfo {
	return ConsumerInfo{
		ConsumeType: protocol.ConsumePassively, MessageModel: protocol.Clustering,
		ConsumeFromWhere: protocol.ConsumeFromLastOffset, Subscriptions: subs,
		Language: protocol.LanguageGo, Version: 317,
	}
}

func TestRegisterReportsChangesAndFiresEvents(t *testing.T) {
	m := NewConsumerManager(nil)
	evs := record(m)
	a, b := &conn{"10.0.0.1:1"}, &conn{"10.0.0.2:2"}

	members, subs := m.Register("cg", a, "idA", info(sub("T", "*", 1), sub("%RETRY%cg", "*", 1)), t0)
	require.True(t, members)
	require.True(t, subs)
	require.Equal(t, []recorded{
		{"cg", EventChange, []Channel{a}},
		{"cg", EventRegister, []Channel{a}},
	}, *evs)

	// A plain heartbeat changes nothing but is still a REGISTER event.
	*evs = nil
	members, subs = m.Register("cg", a, "idA", info(sub("T", "*", 1), sub("%RETRY%cg", "*", 1)), t0.Add(30*time.Second))
	require.False(t, members)
	require.False(t, subs)
	require.Equal(t, []recorded{{"cg", EventRegister, []Channel{a}}}, *evs)

	// A second member.
	*evs = nil
	members, _ = m.Register("cg", b, "idB", info(sub("T", "*", 1), sub("%RETRY%cg", "*", 1)), t0)
	require.True(t, members)
	require.Equal(t, EventChange, (*evs)[0].ev)
	require.Equal(t, []Channel{a, b}, (*evs)[0].channels)
	require.Equal(t, []string{"idA", "idB"}, m.ClientIDs("cg"))

	// The same client id on two connections (a reconnect before the old
	// one timed out) is listed once.
	c := &conn{"10.0.0.1:3"}
	m.Register("cg", c, "idA", info(sub("T", "*", 1), sub("%RETRY%cg", "*", 1)), t0)
	require.Equal(t, []string{"idA", "idB"}, m.ClientIDs("cg"))

	// A channel whose client id changes changes the membership.
	*evs = nil
	members, _ = m.Register("cg", c, "idC", info(sub("T", "*", 1), sub("%RETRY%cg", "*", 1)), t0)
	require.True(t, members)
	require.Equal(t, []string{"idA", "idB", "idC"}, m.ClientIDs("cg"))
	require.Equal(t, EventChange, (*evs)[0].ev)
}

func TestSubscriptionReconciliation(t *testing.T) {
	m := NewConsumerManager(nil)
	a := &conn{"a"}
	m.Register("cg", a, "id", info(sub("T", "TagA", 10), sub("U", "*", 10)), t0)

	// Newer version: replaced without counting as a change (Java).
	_, changed := m.Register("cg", a, "id", info(sub("T", "TagB", 11), sub("U", "*", 10)), t0)
	require.False(t, changed)
	sd, ok := m.Subscription("cg", "T")
	require.True(t, ok)
	require.Equal(t, "TagB", sd.SubString)

	// Older version: ignored.
	m.Register("cg", a, "id", info(sub("T", "TagOld", 5), sub("U", "*", 10)), t0)
	sd, _ = m.Subscription("cg", "T")
	require.Equal(t, "TagB", sd.SubString)

	// A topic dropped from the heartbeat is removed, a new one added.
	_, changed = m.Register("cg", a, "id", info(sub("T", "TagB", 11), sub("V", "*", 1)), t0)
	require.True(t, changed)
	_, ok = m.Subscription("cg", "U")
	require.False(t, ok)
	require.Equal(t, 2, m.SubscriptionCount("cg"))
	require.Equal(t, []string{"cg"}, m.GroupsSubscribing("V"))
	require.Empty(t, m.GroupsSubscribing("U"))

	_, changed = m.Register("cg", a, "id", info(), t0)
	require.True(t, changed, "an empty set removes everything")
	require.Zero(t, m.SubscriptionCount("cg"))
}

func TestUnregisterAndChannelClosed(t *testing.T) {
	m := NewConsumerManager(nil)
	evs := record(m)
	a, b := &conn{"a"}, &conn{"b"}
	m.Register("g1", a, "A", info(sub("T", "*", 1)), t0)
	m.Register("g1", b, "B", info(sub("T", "*", 1)), t0)
	m.Register("g2", a, "A", info(sub("T", "*", 1)), t0)

	*evs = nil
	m.Unregister("g1", b)
	require.Equal(t, []recorded{{"g1", EventChange, []Channel{a}}}, *evs)
	m.Unregister("g1", b) // again: nothing
	m.Unregister("nope", a)
	require.Len(t, *evs, 1)

	*evs = nil
	require.Equal(t, []string{"g1", "g2"}, m.ChannelClosed(a))
	slices.SortFunc(*evs, func(x, y recorded) int {
		return cmpStrings(x.group+x.ev.String(), y.group+y.ev.String())
	})
	require.Equal(t, []recorded{
		{"g1", EventChange, []Channel{}},
		{"g1", EventUnregister, nil},
		{"g2", EventChange, []Channel{}},
		{"g2", EventUnregister, nil},
	}, *evs)
	require.Empty(t, m.Groups())
	_, ok := m.Group("g1")
	require.False(t, ok)
	require.Nil(t, m.ChannelClosed(a))
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestScanExpired(t *testing.T) {
	var logs bytes.Buffer
	m := NewConsumerManager(slog.New(slog.NewTextHandler(&logs, nil)))
	evs := record(m)
	silent, alive := &conn{"10.0.0.1:1"}, &conn{"10.0.0.2:2"}
	m.Register("cg", silent, "silent", info(sub("T", "*", 1)), t0)
	m.Register("cg", alive, "alive", info(sub("T", "*", 1)), t0)
	m.Register("other", silent, "silent", info(sub("T", "*", 1)), t0)

	// Exactly the timeout is not yet expired (Java: now - last > timeout).
	require.Empty(t, m.ScanExpired(t0.Add(ChannelExpiredTimeout), ChannelExpiredTimeout))

	m.Register("cg", alive, "alive", info(sub("T", "*", 1)), t0.Add(90*time.Second))
	*evs = nil
	groups, channels := m.ScanExpiredChannels(t0.Add(ChannelExpiredTimeout+time.Millisecond), ChannelExpiredTimeout)
	require.Equal(t, []string{"cg", "other"}, groups)
	require.Equal(t, []Channel{silent}, channels, "each channel once, for the broker to close")
	require.Equal(t, []string{"alive"}, m.ClientIDs("cg"))
	require.Equal(t, []string{"cg"}, m.Groups())
	require.Contains(t, logs.String(), "consumer expired")
	require.Contains(t, logs.String(), "10.0.0.1:1")

	var changeToAlive bool
	for _, e := range *evs {
		if e.group == "cg" && e.ev == EventChange {
			changeToAlive = slices.Equal(e.channels, []Channel{alive})
		}
	}
	require.True(t, changeToAlive, "the remaining members are told")
}

func TestGroupInfoAndConnections(t *testing.T) {
	m := NewConsumerManager(nil)
	a, b := &conn{"10.0.0.2:2"}, &conn{"10.0.0.1:1"}
	ci := info(sub("T", "TagA || TagB", 1))
	ci.ConsumeFromWhere = protocol.ConsumeFromFirstOffset
	m.Register("cg", a, "idB", ci, t0)
	ci.Language, ci.Version = protocol.LanguageJava, 479
	m.Register("cg", b, "idA", ci, t0.Add(time.Second))

	g, ok := m.Group("cg")
	require.True(t, ok)
	require.Equal(t, GroupInfo{
		Group: "cg", ClientIDs: []string{"idA", "idB"}, Channels: []Channel{b, a},
		Subscriptions: map[string]protocol.SubscriptionData{"T": sub("T", "TagA || TagB", 1)},
		ConsumeType:   protocol.ConsumePassively, MessageModel: protocol.Clustering,
		ConsumeFromWhere: protocol.ConsumeFromFirstOffset, LastUpdate: t0.Add(time.Second),
	}, g)
	g.Subscriptions["X"] = sub("X", "*", 1)
	require.Equal(t, 1, m.SubscriptionCount("cg"), "GroupInfo is a copy")

	cc, ok := m.Connections("cg")
	require.True(t, ok)
	require.Equal(t, []protocol.Connection{
		{ClientID: "idA", ClientAddr: "10.0.0.1:1", Language: "JAVA", Version: 479},
		{ClientID: "idB", ClientAddr: "10.0.0.2:2", Language: "GO", Version: 317},
	}, cc.ConnectionSet)
	require.Equal(t, protocol.Clustering, cc.MessageModel)
	require.Contains(t, cc.SubscriptionTable, "T")

	mm, ok := m.MessageModel("cg")
	require.True(t, ok)
	require.Equal(t, protocol.Clustering, mm)
	ch, ok := m.FindChannel("cg", "idA")
	require.True(t, ok)
	require.Same(t, b, ch)
	_, ok = m.FindChannel("cg", "nobody")
	require.False(t, ok)

	for _, fn := range []func() bool{
		func() bool { _, ok := m.Group("x"); return ok },
		func() bool { _, ok := m.Connections("x"); return ok },
		func() bool { _, ok := m.MessageModel("x"); return ok },
		func() bool { _, ok := m.Subscription("x", "T"); return ok },
	} {
		require.False(t, fn())
	}
	require.Nil(t, m.ClientIDs("x"))
}

func TestListenersRunOutsideTheLock(t *testing.T) {
	m := NewConsumerManager(nil)
	var got []string
	m.OnGroupEvent(func(group string, ev Event, _ []Channel) {
		// Reading and even changing the registry from a listener works.
		got = append(got, ev.String()+":"+fmt.Sprint(m.ClientIDs(group)))
		if ev == EventUnregister {
			m.Groups()
		}
	})
	a := &conn{"a"}
	m.Register("cg", a, "A", info(), t0)
	m.Unregister("cg", a)
	require.Equal(t, []string{"CHANGE:[A]", "REGISTER:[A]", "UNREGISTER:[]", "CHANGE:[]"}, got)
	require.Equal(t, "UNKNOWN", Event(9).String())
}

func TestIgnoresEmptyGroupOrNilChannel(t *testing.T) {
	m := NewConsumerManager(nil)
	members, subs := m.Register("", &conn{"a"}, "A", info(), t0)
	require.False(t, members || subs)
	members, subs = m.Register("cg", nil, "A", info(), t0)
	require.False(t, members || subs)
	require.Empty(t, m.Groups())
}

func TestConsumerManagerConcurrency(t *testing.T) {
	m := NewConsumerManager(nil)
	m.OnGroupEvent(func(string, Event, []Channel) {})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			ch := &conn{fmt.Sprint("c", w)}
			for i := range 300 {
				group := fmt.Sprint("g", i%3)
				m.Register(group, ch, fmt.Sprint("id", w), info(sub("T", "*", int64(i))), t0.Add(time.Duration(i)*time.Second))
				m.Subscription(group, "T")
				m.ClientIDs(group)
				if i%50 == 0 {
					m.ChannelClosed(ch)
				}
				if i%70 == 0 {
					m.ScanExpired(t0.Add(time.Duration(i)*time.Second), time.Minute)
				}
				m.Connections(group)
			}
		})
	}
	wg.Wait()
	for _, g := range m.Groups() {
		info, ok := m.Group(g)
		require.True(t, ok)
		require.NotEmpty(t, info.Channels, "no empty group is left behind")
	}
}

// TestConsumerManagerModel checks the registry against a plain model of
// group membership under random operations, including what each CHANGE
// event reports.
func TestConsumerManagerModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := NewConsumerManager(nil)
		chans := []*conn{{"a"}, {"b"}, {"c"}}
		groups := []string{"g1", "g2"}
		model := map[string]map[*conn]time.Time{}
		var last []recorded
		m.OnGroupEvent(func(g string, ev Event, chs []Channel) { last = append(last, recorded{g, ev, chs}) })
		now := t0

		membersOf := func(g string) []Channel {
			var out []Channel
			for _, c := range chans {
				if _, ok := model[g][c]; ok {
					out = append(out, c)
				}
			}
			return out
		}
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			last = nil
			c := rapid.SampledFrom(chans).Draw(t, "chan")
			g := rapid.SampledFrom(groups).Draw(t, "group")
			switch rapid.IntRange(0, 4).Draw(t, "op") {
			case 0, 1:
				_, isMember := model[g][c]
				changed, _ := m.Register(g, c, c.addr, info(sub("T", "*", 1)), now)
				require.Equal(t, !isMember, changed)
				if model[g] == nil {
					model[g] = map[*conn]time.Time{}
				}
				model[g][c] = now
			case 2:
				m.Unregister(g, c)
				delete(model[g], c)
			case 3:
				m.ChannelClosed(c)
				for _, members := range model {
					delete(members, c)
				}
			case 4:
				now = now.Add(time.Duration(rapid.IntRange(0, 90).Draw(t, "advance")) * time.Second)
				m.ScanExpired(now, time.Minute)
				for _, members := range model {
					for c, seen := range members {
						if now.Sub(seen) > time.Minute {
							delete(members, c)
						}
					}
				}
			}
			for _, e := range last {
				if e.ev == EventChange || e.ev == EventRegister {
					want := membersOf(e.group)
					if want == nil {
						want = []Channel{}
					}
					require.Equal(t, want, e.channels, "event %s of %s", e.ev, e.group)
				}
			}
			for _, g := range groups {
				info, ok := m.Group(g)
				want := membersOf(g)
				require.Equal(t, len(want) > 0, ok, g)
				if ok {
					require.Equal(t, want, info.Channels, g)
				}
			}
		}
	})
}

func BenchmarkSubscription(b *testing.B) {
	m := NewConsumerManager(nil)
	for g := range 100 {
		for c := range 10 {
			m.Register(fmt.Sprint("group-", g), &conn{fmt.Sprint(g, ":", c)}, fmt.Sprint("id", c), info(sub("T", "*", 1)), t0)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := m.Subscription("group-42", "T"); !ok {
				b.Fatal("missing")
			}
		}
	})
}

func BenchmarkHeartbeat(b *testing.B) {
	m := NewConsumerManager(nil)
	ch := &conn{"10.0.0.1:1"}
	ci := info(sub("T", "TagA || TagB", 1), sub("%RETRY%cg", "*", 1))
	b.ReportAllocs()
	for b.Loop() {
		m.Register("cg", ch, "id", ci, t0)
	}
}
