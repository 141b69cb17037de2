package namesrv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gorocket/gorocket/internal/namesrv/kvconfig"
	"github.com/gorocket/gorocket/internal/namesrv/routeinfo"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// zoneNameKey is the extFields key of the broker's zone (MixAll.ZONE_NAME).
const zoneNameKey = "__ZONE_NAME"

// registerBroker serves REGISTER_BROKER.
func (s *Server) registerBroker(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.RegisterBrokerRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := checkBroker(h.ClusterName, h.BrokerName, h.BrokerAddr, h.BrokerID); err != nil {
		return nil, s.refuse(c, req, err)
	}
	if h.HAServerAddr != "" {
		if err := checkAddr("haServerAddr", h.HAServerAddr); err != nil {
			return nil, s.refuse(c, req, err)
		}
	}
	if h.Compressed {
		return nil, s.refuse(c, req, fmt.Errorf("%w: compressed registration is not supported, set compressedRegister=false on the broker", ErrInvalidBody))
	}
	if h.BodyCrc32 != 0 {
		if sum := bodyCRC32(req.Body); sum != h.BodyCrc32 {
			return nil, s.refuse(c, req, fmt.Errorf("%w: crc32 not match: header %d, body %d", ErrInvalidBody, h.BodyCrc32, sum))
		}
	}
	var body protocol.RegisterBrokerBody
	if len(req.Body) > 0 {
		if err := protocol.DecodeBody(req.Body, &body); err != nil {
			return nil, s.refuse(c, req, fmt.Errorf("%w: register body: %w", ErrInvalidBody, err))
		}
	}
	wrapper := body.TopicConfigSerializeWrapper
	wrapper.TopicConfigTable = s.acceptedTopics(c, h.BrokerName, h.BrokerAddr, wrapper.TopicConfigTable)

	var timeout time.Duration
	if h.HeartbeatTimeoutMillis != nil && *h.HeartbeatTimeoutMillis > 0 {
		timeout = time.Duration(min(*h.HeartbeatTimeoutMillis, maxHeartbeat.Milliseconds())) * time.Millisecond
	}
	res, err := s.routes.RegisterBroker(routeinfo.Registration{
		ClusterName:        h.ClusterName,
		BrokerName:         h.BrokerName,
		BrokerAddr:         h.BrokerAddr,
		BrokerID:           h.BrokerID,
		HAServerAddr:       h.HAServerAddr,
		ZoneName:           req.ExtFields.Value(zoneNameKey),
		HeartbeatTimeout:   timeout,
		EnableActingMaster: h.EnableActingMaster,
		TopicConfig:        wrapper,
		FilterServerList:   body.FilterServerList,
		Conn:               connID(c),
	})
	switch {
	case errors.Is(err, routeinfo.ErrStaleBroker):
		return nil, remoting.Errorf(protocol.SystemError, "%v", err)
	case err != nil:
		return nil, s.refuse(c, req, err)
	}

	resp := success(req)
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.RegisterBrokerResponseHeader{
		HAServerAddr: res.HAServerAddr,
		MasterAddr:   res.MasterAddr,
	})
	if s.opts.ReturnOrderTopicConfigToBroker {
		if kv, ok := s.kv.Namespace(kvconfig.NamespaceOrderTopicConfig); ok {
			resp.Body, _ = protocol.EncodeBody(protocol.KVTable{Table: kv}) // a map of strings cannot fail
		}
	}
	return resp, nil
}

// checkBroker checks the identity a broker registers or unregisters with.
func checkBroker(cluster, name, addr string, id int64) error {
	if err := checkName("clusterName", cluster); err != nil {
		return err
	}
	if err := checkName("brokerName", name); err != nil {
		return err
	}
	if err := checkAddr("brokerAddr", addr); err != nil {
		return err
	}
	if id < 0 {
		return fmt.Errorf("%w: brokerId %d is negative", ErrInvalidBroker, id)
	}
	return nil
}

// acceptedTopics returns the topic configs worth routing, keyed and named
// by topic, and logs (rate-limited) those it drops.
func (s *Server) acceptedTopics(c *remoting.Conn, broker, addr string, table map[string]protocol.TopicConfig) map[string]protocol.TopicConfig {
	out := make(map[string]protocol.TopicConfig, len(table))
	var dropped []string
	var why error
	for key, tc := range table {
		if tc.TopicName == "" {
			tc.TopicName = key
		}
		err := checkTopic(tc.TopicName)
		if err == nil && tc.TopicName != key {
			err = fmt.Errorf("%w: config of %q filed under %q", ErrInvalidTopic, tc.TopicName, key)
		}
		if err == nil {
			err = checkQueueData(tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm)
		}
		if err != nil {
			dropped = append(dropped, key)
			why = err
			continue
		}
		out[key] = tc
	}
	if len(dropped) > 0 {
		slices.Sort(dropped)
		s.refusals.Log(slog.LevelWarn, "topics skipped in broker registration", "broker", broker, "addr", addr,
			"from", remoteAddr(c), "topics", dropped, "err", why)
	}
	return out
}

// unregisterBroker serves UNREGISTER_BROKER.
func (s *Server) unregisterBroker(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.UnregisterBrokerRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	s.routes.UnregisterBroker(h.ClusterName, h.BrokerAddr, h.BrokerName)
	return success(req), nil
}

// queryDataVersion serves QUERY_DATA_VERSION: a broker asks whether its
// topic configs changed since it last registered here; the question
// counts as a heartbeat.
func (s *Server) queryDataVersion(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.QueryDataVersionRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	var v protocol.DataVersion
	if err := protocol.DecodeBody(req.Body, &v); err != nil {
		return nil, s.refuse(c, req, fmt.Errorf("%w: DataVersion: %w", ErrInvalidBody, err))
	}
	known, ok := s.routes.BrokerDataVersion(h.ClusterName, h.BrokerAddr)
	changed := !ok || known != v
	s.routes.RefreshBroker(h.ClusterName, h.BrokerAddr)
	resp := success(req)
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.QueryDataVersionResponseHeader{Changed: changed})
	if ok {
		resp.Body, _ = protocol.EncodeBody(known) // plain numbers cannot fail
	}
	return resp, nil
}

// brokerHeartbeatRequestHeader is the part of BROKER_HEARTBEAT's header
// the NameServer reads.
type brokerHeartbeatRequestHeader struct {
	ClusterName string `ext:"clusterName,required"`
	BrokerAddr  string `ext:"brokerAddr,required"`
}

// brokerHeartbeat serves BROKER_HEARTBEAT, the light heartbeat 5.x brokers
// send when acting master is enabled.
func (s *Server) brokerHeartbeat(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h brokerHeartbeatRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	s.routes.RefreshBroker(h.ClusterName, h.BrokerAddr)
	return success(req), nil
}

// wipeWritePermOfBroker serves WIPE_WRITE_PERM_OF_BROKER.
func (s *Server) wipeWritePermOfBroker(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.BrokerNameRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	n := s.routes.WipeWritePermOfBroker(h.BrokerName)
	s.log.Info("write permission of broker wiped", "broker", h.BrokerName, "topics", n, "from", remoteAddr(c))
	resp := success(req)
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.WipeWritePermOfBrokerResponseHeader{WipeTopicCount: int32(n)})
	return resp, nil
}

// addWritePermOfBroker serves ADD_WRITE_PERM_OF_BROKER.
func (s *Server) addWritePermOfBroker(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.BrokerNameRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	n := s.routes.AddWritePermOfBroker(h.BrokerName)
	s.log.Info("write permission of broker added", "broker", h.BrokerName, "topics", n, "from", remoteAddr(c))
	resp := success(req)
	resp.ExtFields = protocol.EncodeHeader(nil, &protocol.AddWritePermOfBrokerResponseHeader{AddTopicCount: int32(n)})
	return resp, nil
}
