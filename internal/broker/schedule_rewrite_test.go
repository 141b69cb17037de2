package broker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
)

// FuzzScanDelayProperties: the one-pass scan of the send path finds what
// message.PropertyValue finds for each key, whatever the bytes.
func FuzzScanDelayProperties(f *testing.F) {
	f.Add([]byte("DELAY\x013\x02TIMER_DELAY_SEC\x015\x02"))
	f.Add([]byte("\x02\x02DELAY\x01\x02DELAY\x014\x02__STARTDELIVERTIME\x019\x02T"))
	f.Add([]byte("TIMER_DELIVER_MS\x011\x01x\x02TIMER_DELIVER_MS\x012"))
	f.Fuzz(func(t *testing.T, props []byte) {
		d := scanDelayProperties(props)
		v, ok := message.PropertyValue(props, message.PropertyDelayTimeLevel)
		require.Equal(t, ok, d.hasDelay)
		require.Equal(t, string(v), string(d.delay))
		timed := false
		for i, k := range timerKeys {
			v, ok := message.PropertyValue(props, k.key)
			require.Equal(t, ok, d.hasTimer[i], k.key)
			require.Equal(t, string(v), string(d.timer[i]), k.key)
			timed = timed || ok
		}
		require.Equal(t, timed, d.timed)
	})
}

// BenchmarkScheduleRewriteNoDelay is what every plain single send pays
// for the delay, timer and retry checks.
func BenchmarkScheduleRewriteNoDelay(b *testing.B) {
	r := &scheduleRewriter{f: &scheduleFeature{b: &Broker{opts: DefaultOptions()}}}
	props := []byte("KEYS\x01order-1 order-2\x02TAGS\x01red\x02WAIT\x01true\x02UNIQ_KEY\x01C0000202034A0000000068904f800001\x02" +
		"CLUSTER\x01DefaultCluster\x02region\x01eu\x02")
	m := &message.Inner{Topic: "T", Properties: props}
	b.ReportAllocs()
	for b.Loop() {
		if err := r.RewriteSend(m, protocol.TopicConfig{}, SendContext{ProducerGroup: "pg", MaxReconsumeTimes: 16}); err != nil {
			b.Fatal(err)
		}
	}
}
