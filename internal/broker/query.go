package broker

import (
	"context"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// maxQueryNum caps QUERY_MESSAGE, as Java's maxMsgsNumBatch does.
const maxQueryNum = 64

// uniqueKeyQueryFlag in a QUERY_MESSAGE's extFields marks a lookup by
// message id (UNIQ_KEY) rather than by key (MixAll.UNIQUE_MSG_QUERY_FLAG).
const uniqueKeyQueryFlag = "_UNIQUE_KEY_QUERY"

// messageLookup is what the query codes need of the store.
type messageLookup interface {
	SelectOneMessageByOffset(commitLogOffset int64) (*store.SelectResult, error)
	QueryMessage(topic, key string, maxNum int, begin, end int64) (*store.QueryResult, error)
}

// queryProcessor serves VIEW_MESSAGE_BY_ID (33) and QUERY_MESSAGE (12):
// what admin tools and dashboards use to find a message.
type queryProcessor struct {
	store              messageLookup
	defaultQueryMaxNum int
	bad                *rateLog
}

func (p *queryProcessor) register(s *remoting.Server) {
	s.Register(protocol.ViewMessageByID, remoting.Spawn, remoting.ProcessorFunc(p.viewMessageByID))
	s.Register(protocol.QueryMessage, remoting.Spawn, remoting.ProcessorFunc(p.queryMessage))
}

// viewMessageByID answers the stored record at a commit-log offset (the
// offset message id decoded by the client), written from the mapped
// segment without a copy.
func (p *queryProcessor) viewMessageByID(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.ViewMessageRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	res, err := p.store.SelectOneMessageByOffset(h.Offset)
	if err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "can not find message by the offset, %d", h.Offset)
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.SetBodyParts([][]byte{res.Bytes}, res.Release)
	return resp, nil
}

// queryMessage finds messages of a topic by key (or by unique key) within
// a time range, newest first.
func (p *queryProcessor) queryMessage(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.QueryMessageRequestHeader
	if err := p.bad.decodeHeader(c, req, &h); err != nil {
		return nil, err
	}
	maxNum := int(h.MaxNum)
	if v, _ := req.ExtFields.Get(uniqueKeyQueryFlag); v == "true" {
		maxNum = p.defaultQueryMaxNum
	}
	maxNum = min(max(maxNum, 1), maxQueryNum)
	res, err := p.store.QueryMessage(h.Topic, h.Key, maxNum, h.BeginTimestamp, h.EndTimestamp)
	if err != nil {
		return nil, p.bad.refuse(c, req, protocol.SystemError, "query failed: %v", err)
	}
	rh := protocol.QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: res.IndexLastUpdateTimestamp,
		IndexLastUpdatePhyoffset: res.IndexLastUpdatePhyOffset,
	}
	if len(res.Messages) == 0 {
		resp := remoting.NewResponse(req, protocol.QueryNotFound, "can not find message, maybe time range not correct")
		resp.ExtFields = protocol.EncodeHeader(nil, &rh)
		return resp, nil
	}
	resp := remoting.NewResponse(req, protocol.Success, "")
	resp.ExtFields = protocol.EncodeHeader(nil, &rh)
	resp.SetBodyParts(res.Messages, nil)
	return resp, nil
}
