package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOffsetsSurviveConsumerRestart: a group that stops and starts again
// resumes where it committed, without re-reading what it had consumed.
func TestOffsetsSurviveConsumerRestart(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic, group = "ConsumerRestart", "CG_ConsumerRestart"
	sendN(t, p, topic, "before", 40, "")

	s1 := newSink()
	pc := c.pushConsumer(group, topic, "*", s1)
	s1.waitDistinct(t, 40, 30*time.Second)
	require.NoError(t, pc.Shutdown()) // commits its offsets on the way out

	sendN(t, p, topic, "after", 20, "")
	s2 := newSink()
	c.pushConsumer(group, topic, "*", s2)
	s2.waitDistinct(t, 20, 30*time.Second)
	quiet(t, 500*time.Millisecond, 10*time.Second, s2.total)
	for _, b := range s2.bodies() {
		require.True(t, strings.HasPrefix(b, "after-"), "re-delivered after restart: %s", b)
	}
}

// TestOffsetsSurviveBrokerRestart: committed offsets and stored messages
// outlive a broker restart.
func TestOffsetsSurviveBrokerRestart(t *testing.T) {
	c := startCluster(t)
	p := c.producer()
	const topic, group = "BrokerRestart", "CG_BrokerRestart"
	sendN(t, p, topic, "before", 40, "")

	s1 := newSink()
	pc := c.pushConsumer(group, topic, "*", s1)
	s1.waitDistinct(t, 40, 30*time.Second)
	require.NoError(t, pc.Shutdown())

	c.restart()

	// Messages sent before the restart are still there for a new group...
	fresh := newSink()
	c.pushConsumer("CG_BrokerRestart_Fresh", topic, "*", fresh)
	fresh.waitDistinct(t, 40, 60*time.Second)

	// ...and the old group resumes after what it had consumed.
	sendN(t, p, topic, "after", 20, "")
	s2 := newSink()
	c.pushConsumer(group, topic, "*", s2)
	eventually(t, 60*time.Second, func() error {
		n := 0
		for _, b := range s2.bodies() {
			if strings.HasPrefix(b, "after-") {
				n++
			}
		}
		if n < 20 {
			return fmt.Errorf("%d of 20 new messages", n)
		}
		return nil
	})
	quiet(t, 500*time.Millisecond, 10*time.Second, s2.total)
	for _, b := range s2.bodies() {
		require.True(t, strings.HasPrefix(b, "after-"), "re-delivered after broker restart: %s", b)
	}
}
