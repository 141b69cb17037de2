package routeinfo

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
)

// DefaultBrokerExpiry is how long a broker stays alive without a heartbeat
// unless it asks for another timeout (Java: BROKER_CHANNEL_EXPIRED_TIME).
const DefaultBrokerExpiry = 120 * time.Second

// Errors returned by Manager.
var (
	ErrInvalidOptions      = errors.New("routeinfo: invalid options")
	ErrInvalidRegistration = errors.New("routeinfo: invalid registration")
	// ErrStaleBroker refuses a registration for a brokerId that another
	// address holds with a newer stateVersion.
	ErrStaleBroker = errors.New("routeinfo: broker id held by a newer broker")
	// ErrUnknownBroker refuses a topic registration naming a broker group
	// the table does not know.
	ErrUnknownBroker = errors.New("routeinfo: unknown broker name")
)

// ConnID names the connection a broker registered over; 0 means none.
type ConnID uint64

// Options configure a Manager.
type Options struct {
	// BrokerExpiry is the heartbeat timeout of brokers that do not send
	// their own (Java: 120 s).
	BrokerExpiry time.Duration
	// SupportActingMaster makes routes name the lowest-id slave of a group
	// without master as its master (id 0), for groups that enabled acting
	// master and whose queues are read-only (Java: supportActingMaster).
	SupportActingMaster bool
	// DeleteTopicWithBrokerRegistration drops a broker group's queues of
	// topics missing from its registration (Java:
	// deleteTopicWithBrokerRegistration).
	DeleteTopicWithBrokerRegistration bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultOptions returns Java's defaults.
func DefaultOptions() Options {
	return Options{BrokerExpiry: DefaultBrokerExpiry}
}

// Validate reports the first option out of range.
func (o Options) Validate() error {
	if o.BrokerExpiry <= 0 {
		return fmt.Errorf("%w: BrokerExpiry must be positive", ErrInvalidOptions)
	}
	return nil
}

// Registration is one REGISTER_BROKER request.
type Registration struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string
	BrokerID     int64
	HAServerAddr string
	ZoneName     string
	// HeartbeatTimeout overrides Options.BrokerExpiry for this broker when
	// positive.
	HeartbeatTimeout time.Duration
	// EnableActingMaster is nil for brokers older than 5.0, which do not
	// send it.
	EnableActingMaster *bool
	// TopicConfig holds the broker's topics and their DataVersion.
	TopicConfig protocol.TopicConfigSerializeWrapper
	// FilterServerList replaces the broker's filter servers; nil keeps them.
	FilterServerList []string
	// Conn is the connection the registration arrived on.
	Conn ConnID
}

// RegisterResult answers a registration: for a slave, where its master
// listens and where the master's HA service listens.
type RegisterResult struct {
	HAServerAddr string
	MasterAddr   string
}

// brokerAddrKey identifies a live broker.
type brokerAddrKey struct {
	cluster string
	addr    string
}

// brokerLive is one entry of the live table.
type brokerLive struct {
	lastUpdate   time.Time
	timeout      time.Duration
	dataVersion  protocol.DataVersion
	conn         ConnID
	haServerAddr string
}

// brokerGroup is one broker name's BrokerData.
type brokerGroup struct {
	cluster            string
	name               string
	addrs              map[int64]string
	zoneName           string
	enableActingMaster bool
}

// minID returns the lowest broker id of the group; ok is false when the
// group is empty.
func (g *brokerGroup) minID() (id int64, ok bool) {
	for k := range g.addrs {
		if !ok || k < id {
			id, ok = k, true
		}
	}
	return id, ok
}

func (g *brokerGroup) data() protocol.BrokerData {
	addrs := make(map[int64]string, len(g.addrs))
	for id, a := range g.addrs {
		addrs[id] = a
	}
	return protocol.BrokerData{
		Cluster: g.cluster, BrokerName: g.name, BrokerAddrs: addrs,
		ZoneName: g.zoneName, EnableActingMaster: g.enableActingMaster,
	}
}

// Manager is the route table (RouteInfoManager). It is safe for concurrent
// use.
type Manager struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	mu           sync.RWMutex
	topicQueues  map[string]map[string]protocol.QueueData
	brokers      map[string]*brokerGroup
	clusters     map[string]map[string]struct{}
	live         map[brokerAddrKey]*brokerLive
	filterServer map[brokerAddrKey][]string
}

// New returns an empty route table.
func New(opts Options, log *slog.Logger) (*Manager, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Manager{
		opts:         opts,
		log:          log,
		now:          now,
		topicQueues:  make(map[string]map[string]protocol.QueueData),
		brokers:      make(map[string]*brokerGroup),
		clusters:     make(map[string]map[string]struct{}),
		live:         make(map[brokerAddrKey]*brokerLive),
		filterServer: make(map[brokerAddrKey][]string),
	}, nil
}

// RegisterBroker records a registration; see the package documentation.
func (m *Manager) RegisterBroker(r Registration) (RegisterResult, error) {
	if r.ClusterName == "" || r.BrokerName == "" || r.BrokerAddr == "" || r.BrokerID < 0 {
		return RegisterResult{}, fmt.Errorf("%w: cluster %q, broker %q, address %q, id %d",
			ErrInvalidRegistration, r.ClusterName, r.BrokerName, r.BrokerAddr, r.BrokerID)
	}
	key := brokerAddrKey{r.ClusterName, r.BrokerAddr}
	m.mu.Lock()
	defer m.mu.Unlock()

	g := m.brokers[r.BrokerName]
	if g != nil {
		if err := m.checkConflictLocked(g, key, r); err != nil {
			return RegisterResult{}, err
		}
	}

	names := m.clusters[r.ClusterName]
	if names == nil {
		names = make(map[string]struct{})
		m.clusters[r.ClusterName] = names
	}
	names[r.BrokerName] = struct{}{}

	registerFirst := g == nil
	if g == nil {
		g = &brokerGroup{cluster: r.ClusterName, name: r.BrokerName, addrs: make(map[int64]string)}
		m.brokers[r.BrokerName] = g
	}
	oldVersionBroker := r.EnableActingMaster == nil
	g.enableActingMaster = !oldVersionBroker && *r.EnableActingMaster
	g.zoneName = r.ZoneName
	// The same address under another id: a slave promoted to master (or
	// the reverse) re-registers with its new id.
	for id, addr := range g.addrs {
		if addr == r.BrokerAddr && id != r.BrokerID {
			delete(g.addrs, id)
		}
	}
	registerFirst = registerFirst || g.addrs[r.BrokerID] == ""
	g.addrs[r.BrokerID] = r.BrokerAddr

	isMaster := r.BrokerID == protocol.MasterID
	minID, _ := g.minID()
	isPrimeSlave := !oldVersionBroker && !isMaster && r.BrokerID == minID
	if isMaster || isPrimeSlave {
		m.applyTopicConfigLocked(g, key, r, registerFirst, isPrimeSlave)
	}

	timeout := r.HeartbeatTimeout
	if timeout <= 0 {
		timeout = m.opts.BrokerExpiry
	}
	if _, ok := m.live[key]; !ok {
		m.log.Info("broker registered", "cluster", r.ClusterName, "broker", r.BrokerName,
			"id", r.BrokerID, "addr", r.BrokerAddr, "ha", r.HAServerAddr)
	}
	m.live[key] = &brokerLive{
		lastUpdate:   m.now(),
		timeout:      timeout,
		dataVersion:  r.TopicConfig.DataVersion,
		conn:         r.Conn,
		haServerAddr: r.HAServerAddr,
	}
	if r.FilterServerList != nil {
		if len(r.FilterServerList) == 0 {
			delete(m.filterServer, key)
		} else {
			m.filterServer[key] = append([]string(nil), r.FilterServerList...)
		}
	}

	var res RegisterResult
	if !isMaster {
		if masterAddr := g.addrs[protocol.MasterID]; masterAddr != "" {
			if ml := m.live[brokerAddrKey{r.ClusterName, masterAddr}]; ml != nil {
				res = RegisterResult{HAServerAddr: ml.haServerAddr, MasterAddr: masterAddr}
			}
		}
	}
	return res, nil
}

// checkConflictLocked refuses a broker coming back for an id another
// address now holds with a newer state version.
func (m *Manager) checkConflictLocked(g *brokerGroup, key brokerAddrKey, r Registration) error {
	old := g.addrs[r.BrokerID]
	if old == "" || old == r.BrokerAddr {
		return nil
	}
	ol := m.live[brokerAddrKey{r.ClusterName, old}]
	if ol == nil || ol.dataVersion.StateVersion <= r.TopicConfig.DataVersion.StateVersion {
		return nil
	}
	// Forget the rejected broker entirely: an address kept in a group
	// without a live entry would never expire.
	m.removeBrokerLocked(key, r.Conn)
	m.log.Warn("broker registration conflicts with a newer one, ignored", "cluster", r.ClusterName,
		"broker", r.BrokerName, "id", r.BrokerID, "old", old, "oldStateVersion", ol.dataVersion.StateVersion,
		"new", r.BrokerAddr, "newStateVersion", r.TopicConfig.DataVersion.StateVersion)
	return fmt.Errorf("%w: %s holds %s id %d with state version %d > %d", ErrStaleBroker,
		old, r.BrokerName, r.BrokerID, ol.dataVersion.StateVersion, r.TopicConfig.DataVersion.StateVersion)
}

// applyTopicConfigLocked updates the queue data of the topics in r.
func (m *Manager) applyTopicConfigLocked(g *brokerGroup, key brokerAddrKey, r Registration, registerFirst, primeSlave bool) {
	table := r.TopicConfig.TopicConfigTable
	if m.opts.DeleteTopicWithBrokerRegistration {
		for topic, qds := range m.topicQueues {
			if _, keep := table[topic]; keep {
				continue
			}
			if _, ok := qds[g.name]; ok {
				delete(qds, g.name)
				m.log.Info("topic dropped by broker registration", "topic", topic, "broker", g.name)
				if len(qds) == 0 {
					delete(m.topicQueues, topic)
				}
			}
		}
	}
	prev := m.live[key]
	versionChanged := prev == nil || prev.dataVersion != r.TopicConfig.DataVersion
	for name, tc := range table {
		topic := tc.TopicName
		if topic == "" {
			topic = name
		}
		if !registerFirst && !versionChanged {
			if _, ok := m.topicQueues[topic][g.name]; ok {
				continue
			}
		}
		perm := tc.Perm
		if primeSlave {
			perm &^= protocol.PermWrite
		}
		m.putQueueDataLocked(topic, protocol.QueueData{
			BrokerName:     g.name,
			ReadQueueNums:  tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums,
			Perm:           perm,
			TopicSysFlag:   tc.TopicSysFlag,
		})
	}
}

func (m *Manager) putQueueDataLocked(topic string, qd protocol.QueueData) {
	qds := m.topicQueues[topic]
	if qds == nil {
		qds = make(map[string]protocol.QueueData)
		m.topicQueues[topic] = qds
		m.log.Debug("new topic registered", "topic", topic, "broker", qd.BrokerName)
	} else if old, ok := qds[qd.BrokerName]; ok && old != qd {
		m.log.Info("topic changed", "topic", topic, "broker", qd.BrokerName, "old", old, "new", qd)
	}
	qds[qd.BrokerName] = qd
}
