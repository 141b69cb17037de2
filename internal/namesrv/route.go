package namesrv

import (
	"context"
	"fmt"

	"github.com/gorocket/gorocket/internal/namesrv/kvconfig"
	"github.com/gorocket/gorocket/internal/namesrv/routeinfo"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// getRouteInfoByTopic serves GET_ROUTEINFO_BY_TOPIC.
func (s *Server) getRouteInfoByTopic(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetRouteInfoRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := checkTopic(h.Topic); err != nil {
		return nil, s.refuse(c, req, err)
	}
	if !s.ready() {
		return remoting.NewResponse(req, protocol.SystemError, "name server not ready"), nil
	}
	route, ok := s.routes.TopicRoute(h.Topic)
	if !ok {
		return remoting.NewResponse(req, protocol.TopicNotExist,
			"No topic route info in name server for the topic: "+h.Topic), nil
	}
	if s.opts.OrderMessageEnable {
		route.OrderTopicConf, _ = s.kv.Get(kvconfig.NamespaceOrderTopicConfig, h.Topic)
	}
	standard := protocol.RouteWantsStandardJSON(protocol.MQVersion(req.Version),
		h.AcceptStandardJSONOnly != nil && *h.AcceptStandardJSONOnly)
	resp := success(req)
	resp.Body = route.Encode(standard)
	return resp, nil
}

// ready reports whether routes may be served: with needWaitForService, not
// before waitSecondsForService have passed since Start, so that brokers
// have registered again after a restart.
func (s *Server) ready() bool {
	if !s.opts.NeedWaitForService {
		return true
	}
	s.mu.Lock()
	startedAt := s.startedAt
	s.mu.Unlock()
	return s.now().Sub(startedAt).Seconds() >= float64(s.opts.WaitSecondsForService)
}

// getBrokerClusterInfo serves GET_BROKER_CLUSTER_INFO.
func (s *Server) getBrokerClusterInfo(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	return withBody(req, s.routes.ClusterInfo())
}

// getAllTopicList serves GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
func (s *Server) getAllTopicList(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	if !s.opts.EnableAllTopicList {
		return remoting.NewResponse(req, protocol.SystemError, "disable"), nil
	}
	return withBody(req, protocol.TopicList{TopicList: s.routes.AllTopics()})
}

// getTopicsByCluster serves GET_TOPICS_BY_CLUSTER.
func (s *Server) getTopicsByCluster(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	if !s.opts.EnableTopicList {
		return remoting.NewResponse(req, protocol.SystemError, "disable"), nil
	}
	var h protocol.GetTopicsByClusterRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	return withBody(req, protocol.TopicList{TopicList: s.routes.TopicsByCluster(h.Cluster)})
}

// getSystemTopicList serves GET_SYSTEM_TOPIC_LIST_FROM_NS.
func (s *Server) getSystemTopicList(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	topics, addr := s.routes.SystemTopics()
	return withBody(req, protocol.TopicList{TopicList: topics, BrokerAddr: addr})
}

// unitTopicList serves the three unit topic lists.
func (s *Server) unitTopicList(kind routeinfo.UnitKind) remoting.ProcessorFunc {
	return func(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
		if !s.opts.EnableTopicList {
			return remoting.NewResponse(req, protocol.SystemError, "disable"), nil
		}
		return withBody(req, protocol.TopicList{TopicList: s.routes.UnitTopics(kind)})
	}
}

// deleteTopic serves DELETE_TOPIC_IN_NAMESRV, from every cluster or from
// the one named.
func (s *Server) deleteTopic(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.DeleteTopicFromNamesrvRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := checkTopic(h.Topic); err != nil {
		return nil, s.refuse(c, req, err)
	}
	if h.ClusterName != "" {
		s.routes.DeleteTopicInCluster(h.Topic, h.ClusterName)
	} else {
		s.routes.DeleteTopic(h.Topic)
	}
	return success(req), nil
}

// registerTopic serves REGISTER_TOPIC_IN_NAMESRV: a route for a topic the
// brokers have not registered (yet).
func (s *Server) registerTopic(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.TopicRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := checkTopic(h.Topic); err != nil {
		return nil, s.refuse(c, req, err)
	}
	var route protocol.TopicRouteData
	if len(req.Body) > 0 {
		if err := protocol.DecodeBody(req.Body, &route); err != nil {
			return nil, s.refuse(c, req, fmt.Errorf("%w: topic route: %w", ErrInvalidBody, err))
		}
	}
	for _, qd := range route.QueueDatas {
		if err := checkQueueData(qd.ReadQueueNums, qd.WriteQueueNums, qd.Perm); err != nil {
			return nil, s.refuse(c, req, err)
		}
	}
	if _, err := s.routes.RegisterTopic(h.Topic, route.QueueDatas); err != nil {
		return nil, s.refuse(c, req, err)
	}
	return success(req), nil
}

// withBody answers req with v's JSON body.
func withBody(req *remoting.Command, v any) (*remoting.Command, error) {
	body, err := protocol.EncodeBody(v)
	if err != nil {
		return nil, err
	}
	resp := success(req)
	resp.Body = body
	return resp, nil
}
