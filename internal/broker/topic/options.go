package topic

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// Options configure a Manager. Fields tagged prop carry the broker.conf key
// of Java's BrokerConfig with the same meaning.
type Options struct {
	BrokerName            string `prop:"brokerName"`
	ClusterName           string `prop:"brokerClusterName"`
	AutoCreateTopicEnable bool   `prop:"autoCreateTopicEnable"`
	DefaultTopicQueueNums int32  `prop:"defaultTopicQueueNums"`
	// BrokerPermission masks topic permissions in RegistrationWrapper
	// (Java applies it when registering with the NameServers); change it
	// at run time with SetBrokerPermission.
	BrokerPermission   int32  `prop:"brokerPermission"`
	TraceTopicName     string `prop:"msgTraceTopicName"`
	ClusterTopicEnable bool   `prop:"clusterTopicEnable"`
	BrokerTopicEnable  bool   `prop:"brokerTopicEnable"`

	// FS is the file-system seam (nil: the operating system).
	FS vfs.FS `prop:"-"`
	// Now is the clock for DataVersion timestamps (nil: time.Now).
	Now func() time.Time `prop:"-"`
}

// DefaultOptions returns Java's defaults.
func DefaultOptions() Options {
	return Options{
		BrokerName:            "broker-a",
		ClusterName:           "DefaultCluster",
		AutoCreateTopicEnable: true,
		DefaultTopicQueueNums: 8,
		BrokerPermission:      protocol.PermRead | protocol.PermWrite,
		TraceTopicName:        TraceTopic,
		ClusterTopicEnable:    true,
		BrokerTopicEnable:     true,
	}
}

// Validate reports every invalid field.
func (o *Options) Validate() error {
	var errs []error
	for _, f := range []struct{ key, name string }{
		{"brokerName", o.BrokerName}, {"brokerClusterName", o.ClusterName}, {"msgTraceTopicName", o.TraceTopicName},
	} {
		if err := ValidateTopic(f.name); err != nil {
			errs = append(errs, fmt.Errorf("topic: %s: %w", f.key, err))
		}
	}
	if o.ClusterName != "" && len(o.ClusterName)+len(ReplyTopicSuffix) > MaxTopicLength {
		errs = append(errs, fmt.Errorf("topic: brokerClusterName %q too long for its reply topic", clip(o.ClusterName)))
	}
	if o.DefaultTopicQueueNums < 1 || o.DefaultTopicQueueNums > MaxQueueNums {
		errs = append(errs, fmt.Errorf("topic: defaultTopicQueueNums %d outside 1..%d", o.DefaultTopicQueueNums, MaxQueueNums))
	}
	if o.BrokerPermission&^permMask != 0 {
		errs = append(errs, fmt.Errorf("topic: brokerPermission %d has unknown bits", o.BrokerPermission))
	}
	return errors.Join(errs...)
}

const permMask = protocol.PermPriority | protocol.PermRead | protocol.PermWrite | protocol.PermInherit
