package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Admin runs administrative requests against a cluster: what mqadmin and
// the benchmark tool need. It owns nothing; it is a view of its Client.
type Admin struct{ c *Client }

// NewAdmin returns the admin view of c.
func NewAdmin(c *Client) *Admin { return &Admin{c: c} }

// TopicConfig describes a topic to create on a broker.
type TopicConfig struct {
	Name string
	// ReadQueueNums and WriteQueueNums default to 8, mqadmin's default.
	ReadQueueNums  int
	WriteQueueNums int
	// Perm defaults to PermRead|PermWrite.
	Perm Perm
	// Order marks a globally ordered topic.
	Order        bool
	TopicSysFlag int
}

func (t TopicConfig) header() (*protocol.CreateTopicRequestHeader, error) {
	if err := validateTopic(t.Name); err != nil {
		return nil, err
	}
	if t.ReadQueueNums == 0 {
		t.ReadQueueNums = 8
	}
	if t.WriteQueueNums == 0 {
		t.WriteQueueNums = 8
	}
	if t.Perm == 0 {
		t.Perm = PermRead | PermWrite
	}
	if t.ReadQueueNums < 0 || t.ReadQueueNums > maxQueueNums || t.WriteQueueNums < 0 || t.WriteQueueNums > maxQueueNums {
		return nil, fmt.Errorf("%w: queue numbers %d/%d outside [1, %d]", ErrInvalidOptions, t.ReadQueueNums, t.WriteQueueNums, maxQueueNums)
	}
	sysFlag := int32(t.TopicSysFlag)
	return &protocol.CreateTopicRequestHeader{
		Topic:           t.Name,
		DefaultTopic:    "TBW102",
		ReadQueueNums:   int32(t.ReadQueueNums),
		WriteQueueNums:  int32(t.WriteQueueNums),
		Perm:            int32(t.Perm),
		TopicFilterType: protocol.TopicFilterSingleTag,
		TopicSysFlag:    &sysFlag,
		Order:           t.Order,
	}, nil
}

// CreateTopic creates or updates a topic on one broker
// (UPDATE_AND_CREATE_TOPIC). The broker registers it with the name
// servers; routes show it from then on.
func (a *Admin) CreateTopic(ctx context.Context, brokerAddr string, cfg TopicConfig) error {
	h, err := cfg.header()
	if err != nil {
		return err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	req := remoting.NewRequest(protocol.UpdateAndCreateTopic, protocol.EncodeHeader(nil, h), nil)
	if _, err := a.c.invokeBrokerOK(ctx, brokerAddr, req); err != nil {
		return fmt.Errorf("client: create topic %q on %s: %w", cfg.Name, brokerAddr, err)
	}
	return nil
}

// CreateTopicInCluster creates or updates a topic on every master of a
// cluster, as `mqadmin updateTopic -c` does.
func (a *Admin) CreateTopicInCluster(ctx context.Context, cluster string, cfg TopicConfig) error {
	masters, err := a.clusterMasters(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range masters {
		errs = append(errs, a.CreateTopic(ctx, addr, cfg))
	}
	return errors.Join(errs...)
}

// DeleteTopic deletes a topic from the masters its route names
// (DELETE_TOPIC_IN_BROKER), then from every name server
// (DELETE_TOPIC_IN_NAMESRV).
func (a *Admin) DeleteTopic(ctx context.Context, topic string) error {
	r, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return err
	}
	var masters []string
	for _, b := range r.Brokers {
		if m := b.MasterAddr(); m != "" {
			masters = append(masters, m)
		}
	}
	return a.deleteTopic(ctx, topic, "", masters)
}

// DeleteTopicInCluster deletes a topic from every master of a cluster and
// from the name servers, as `mqadmin deleteTopic -c` does.
func (a *Admin) DeleteTopicInCluster(ctx context.Context, cluster, topic string) error {
	masters, err := a.clusterMasters(ctx, cluster)
	if err != nil {
		return err
	}
	return a.deleteTopic(ctx, topic, cluster, masters)
}

func (a *Admin) deleteTopic(ctx context.Context, topic, cluster string, masters []string) error {
	if err := validateTopic(topic); err != nil {
		return err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	var errs []error
	ext := protocol.EncodeHeader(nil, &protocol.TopicRequestHeader{Topic: topic})
	for _, addr := range masters {
		if _, err := a.c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.DeleteTopicInBroker, ext, nil)); err != nil {
			errs = append(errs, fmt.Errorf("client: delete topic %q on %s: %w", topic, addr, err))
		}
	}
	ext = protocol.EncodeHeader(nil, &protocol.DeleteTopicFromNamesrvRequestHeader{Topic: topic, ClusterName: cluster})
	if err := a.c.invokeAllNameServers(ctx, protocol.DeleteTopicInNamesrv, ext); err != nil {
		errs = append(errs, fmt.Errorf("client: delete topic %q on the name servers: %w", topic, err))
	}
	return errors.Join(errs...)
}

func (a *Admin) clusterMasters(ctx context.Context, cluster string) ([]string, error) {
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	names, ok := ci.Clusters[cluster]
	if !ok {
		return nil, fmt.Errorf("%w: no cluster %q", ErrBrokerNotFound, cluster)
	}
	var masters []string
	for _, n := range names {
		if m := ci.Brokers[n].MasterAddr(); m != "" {
			masters = append(masters, m)
		}
	}
	if len(masters) == 0 {
		return nil, fmt.Errorf("%w: cluster %q has no master", ErrBrokerNotFound, cluster)
	}
	slices.Sort(masters)
	return masters, nil
}

// TopicList returns every topic the name servers know
// (GET_ALL_TOPIC_LIST_FROM_NAMESERVER), sorted.
func (a *Admin) TopicList(ctx context.Context) ([]string, error) {
	var tl protocol.TopicList
	if err := a.nameServerBody(ctx, protocol.GetAllTopicListFromNameServer, nil, &tl); err != nil {
		return nil, err
	}
	slices.Sort(tl.TopicList)
	return tl.TopicList, nil
}

// ClusterInfo describes the brokers the name servers know.
type ClusterInfo struct {
	Brokers  map[string]BrokerData // by broker name
	Clusters map[string][]string   // cluster name -> broker names, sorted
}

// ClusterInfo returns the cluster's brokers (GET_BROKER_CLUSTER_INFO).
func (a *Admin) ClusterInfo(ctx context.Context) (ClusterInfo, error) {
	var w protocol.ClusterInfo
	if err := a.nameServerBody(ctx, protocol.GetBrokerClusterInfo, nil, &w); err != nil {
		return ClusterInfo{}, err
	}
	ci := ClusterInfo{Brokers: map[string]BrokerData{}, Clusters: map[string][]string{}}
	for name, b := range w.BrokerAddrTable {
		ci.Brokers[name] = brokerFromWire(b)
	}
	for cluster, names := range w.ClusterAddrTable {
		ci.Clusters[cluster] = slices.Sorted(slices.Values(names))
	}
	return ci, nil
}

// TopicRoute fetches topic's route from the name servers, bypassing the
// client's cache.
func (a *Admin) TopicRoute(ctx context.Context, topic string) (TopicRoute, error) {
	if err := validateTopic(topic); err != nil {
		return TopicRoute{}, err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	return a.c.fetchRoute(ctx, topic)
}

func (a *Admin) nameServerBody(ctx context.Context, code protocol.RequestCode, ext protocol.ExtFields, v any) error {
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	resp, addr, err := a.c.invokeNameServer(ctx, code, ext, nil)
	if err != nil {
		return err
	}
	if resp.Code != int32(protocol.Success) {
		return fmt.Errorf("client: %s: %w", code, brokerError(addr, resp.Code, resp.Remark))
	}
	if err := protocol.DecodeBody(resp.Body, v); err != nil {
		return fmt.Errorf("%w: %s from %s: %w", ErrBadResponse, code, addr, err)
	}
	return nil
}

// QueueStats is a group's progress on one queue.
type QueueStats struct {
	BrokerOffset   int64     // the queue's max offset
	ConsumerOffset int64     // the group's committed offset
	LastTimestamp  time.Time // store time of the last consumed message
}

// Lag is how many messages the group has yet to consume on the queue.
func (s QueueStats) Lag() int64 { return max(0, s.BrokerOffset-s.ConsumerOffset) }

// ConsumeStats is a group's progress on a topic.
type ConsumeStats struct {
	Queues     map[MessageQueue]QueueStats
	ConsumeTPS float64
}

// Lag is the sum of the queues' lags.
func (s ConsumeStats) Lag() int64 {
	var n int64
	for _, q := range s.Queues {
		n += q.Lag()
	}
	return n
}

// ConsumeStats returns group's offsets on topic's queues, from every
// master of the topic (GET_CONSUME_STATS), as `mqadmin consumerProgress`
// shows them.
func (a *Admin) ConsumeStats(ctx context.Context, group, topic string) (ConsumeStats, error) {
	if err := validateGroup(group); err != nil {
		return ConsumeStats{}, err
	}
	r, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return ConsumeStats{}, err
	}
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	out := ConsumeStats{Queues: map[MessageQueue]QueueStats{}}
	ext := protocol.EncodeHeader(nil, &protocol.GetConsumeStatsRequestHeader{ConsumerGroup: group, Topic: topic})
	for _, b := range r.Brokers {
		addr := b.MasterAddr()
		if addr == "" {
			continue
		}
		resp, err := a.c.invokeBrokerOK(ctx, addr, remoting.NewRequest(protocol.GetConsumeStats, ext, nil))
		if err != nil {
			return ConsumeStats{}, fmt.Errorf("client: consume stats of %q on %s: %w", group, addr, err)
		}
		var cs protocol.ConsumeStats
		if err := protocol.DecodeBody(resp.Body, &cs); err != nil {
			return ConsumeStats{}, fmt.Errorf("%w: consume stats from %s: %w", ErrBadResponse, addr, err)
		}
		for q, w := range cs.OffsetTable {
			out.Queues[queueFromWire(q)] = QueueStats{
				BrokerOffset:   w.BrokerOffset,
				ConsumerOffset: w.ConsumerOffset,
				LastTimestamp:  time.UnixMilli(w.LastTimestamp),
			}
		}
		out.ConsumeTPS += cs.ConsumeTPS
	}
	return out, nil
}

// RequestCode is a RocketMQ request code (RequestCode.java), for Invoke.
type RequestCode int32

// String returns the Java constant name, e.g. "GET_ROUTEINFO_BY_TOPIC".
func (c RequestCode) String() string { return protocol.RequestCode(c).String() }

// Request codes for Invoke: the queries tools ask most that this package
// has no method for. Any other code of RequestCode.java works too, as
// RequestCode(n).
const (
	RequestGetAllTopicConfig             RequestCode = 21  // GET_ALL_TOPIC_CONFIG
	RequestUpdateBrokerConfig            RequestCode = 25  // UPDATE_BROKER_CONFIG
	RequestGetBrokerConfig               RequestCode = 26  // GET_BROKER_CONFIG
	RequestGetBrokerRuntimeInfo          RequestCode = 28  // GET_BROKER_RUNTIME_INFO
	RequestGetMaxOffset                  RequestCode = 30  // GET_MAX_OFFSET
	RequestGetMinOffset                  RequestCode = 31  // GET_MIN_OFFSET
	RequestGetAllConsumerOffset          RequestCode = 43  // GET_ALL_CONSUMER_OFFSET
	RequestGetAllSubscriptionGroupConfig RequestCode = 201 // GET_ALL_SUBSCRIPTIONGROUP_CONFIG
	RequestGetConsumerConnectionList     RequestCode = 203 // GET_CONSUMER_CONNECTION_LIST
	RequestGetProducerConnectionList     RequestCode = 204 // GET_PRODUCER_CONNECTION_LIST
	RequestGetNamesrvConfig              RequestCode = 319 // GET_NAMESRV_CONFIG
)

// Response is a server's answer to Invoke.
type Response struct {
	Code      ResponseCode
	Remark    string
	ExtFields map[string]string
	Body      []byte
}

// Invoke sends any request to a broker or name server and returns its
// response whatever the code: the escape hatch for requests this package
// has no method for. The error is for transport failures only.
func (a *Admin) Invoke(ctx context.Context, addr string, code RequestCode, ext map[string]string, body []byte) (*Response, error) {
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	resp, err := a.c.invoke(ctx, addr, remoting.NewRequest(protocol.RequestCode(code), protocol.ExtFieldsFromMap(ext), body))
	if err != nil {
		return nil, err
	}
	return responseFromWire(resp), nil
}

// InvokeNameServer is Invoke against the name servers, round-robin with
// failover.
func (a *Admin) InvokeNameServer(ctx context.Context, code RequestCode, ext map[string]string, body []byte) (*Response, error) {
	ctx, cancel := a.c.withTimeout(ctx)
	defer cancel()
	resp, _, err := a.c.invokeNameServer(ctx, protocol.RequestCode(code), protocol.ExtFieldsFromMap(ext), body)
	if err != nil {
		return nil, err
	}
	return responseFromWire(resp), nil
}

func responseFromWire(c *remoting.Command) *Response {
	r := &Response{Code: ResponseCode(c.Code), Remark: c.Remark, Body: c.Body}
	if len(c.ExtFields) > 0 {
		r.ExtFields = c.ExtFields.Map()
	}
	return r
}
