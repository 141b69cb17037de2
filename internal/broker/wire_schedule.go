package broker

import (
	"context"
	"fmt"

	"github.com/gorocket/gorocket/internal/remoting"
)

// scheduleFeature wires delayed and timed messages, retry and dead letters (issue 4 items 1-2).
type scheduleFeature struct{}

func (*scheduleFeature) name() string { return "schedule" }

func (*scheduleFeature) start(context.Context, *Broker) error { return nil }

func (*scheduleFeature) register(*remoting.Server) {}

func (*scheduleFeature) close() error { return nil }

// ScheduleOptions configure delayed and timed messages, retries and dead
// letters (BrokerConfig / MessageStoreConfig keys; the delay levels
// themselves are the store's messageDelayLevel).
type ScheduleOptions struct {
	// TimerMaxDelaySec bounds an arbitrary delivery time, in seconds from
	// now. RocketMQ defaults to 3 days; gorocket to 30.
	TimerMaxDelaySec int64 `prop:"timerMaxDelaySec"`
}

func defaultScheduleOptions() ScheduleOptions {
	return ScheduleOptions{TimerMaxDelaySec: 30 * 24 * 3600}
}

func (o *ScheduleOptions) validate() error {
	if o.TimerMaxDelaySec <= 0 {
		return fmt.Errorf("timerMaxDelaySec %d must be positive", o.TimerMaxDelaySec)
	}
	return nil
}
