package broker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorocket/gorocket/internal/broker/topic"
	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
)

// sendTopics is what the send processor needs of the topic table.
type sendTopics interface {
	Get(topic string) (protocol.TopicConfig, bool)
	CreateInSendMessage(topic, defaultTopic, remoteAddr string, clientDefaultQueueNums, topicSysFlag int32) (protocol.TopicConfig, bool, error)
	CreateInSendMessageBack(topic string, queueNums, perm, topicSysFlag int32) (protocol.TopicConfig, error)
	BrokerPermission() int32
	IsSystemTopic(topic string) bool
}

// errSystemTopic refuses to create a system topic on a client's send.
var errSystemTopic = errors.New("broker: a system topic is not created by a send")

// messageAppender is what the send processor needs of the store.
type messageAppender interface {
	PutMessageAsync(ctx context.Context, msg *message.Inner, done func(store.PutResult, error))
	PutMessagesAsync(ctx context.Context, msgs []*message.Inner, done func(store.PutResult, error))
}

// Rewriter may rewrite a single message on its way to the store, or refuse
// it with a *remoting.Error: the seam for delay levels (topic rewritten to
// SCHEDULE_TOPIC_XXXX with REAL_TOPIC/REAL_QID), a send to %RETRY% past the
// maximum reconsume times (to %DLQ%), transaction half messages
// (RMQ_SYS_TRANS_HALF_TOPIC) and timer properties. It sees the message
// after validation, with CLUSTER and UNIQ_KEY set, the configuration of
// the topic it was sent to, and what the request says besides the message
// (SendContext). A rewriter that changes Properties must give the message
// a new slice: the old one may alias the request.
type Rewriter interface {
	RewriteSend(m *message.Inner, cfg protocol.TopicConfig, sc SendContext) error
}

// SendContext is what a rewriter may need of the send request besides the
// message itself (whose fields carry the header's topic, queue, flags,
// reconsume times and born host). It is passed by value and refers only to
// strings the request and its connection already hold: building it
// allocates nothing.
type SendContext struct {
	// ProducerGroup is the header's producerGroup.
	ProducerGroup string
	// MaxReconsumeTimes is the header's maxReconsumeTimes, -1 when the
	// header has none (then the consumer group's retryMaxTimes applies).
	MaxReconsumeTimes int32
	// RemoteAddr is the sending connection's remote address (invalid
	// when there is no connection).
	RemoteAddr netip.AddrPort
}

// noSendContext is the context of a message the broker itself rewrites
// (a committed transaction message): no request header.
var noSendContext = SendContext{MaxReconsumeTimes: -1}

// sendConfig is the part of the options the send path reads.
type sendConfig struct {
	clusterName    string
	maxMessageSize int
	autoCreate     bool
	slave          bool
	region         string
	traceOn        string
}

// sendProcessor serves SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and
// SEND_REPLY_MESSAGE(_V2). It runs inline on the connection's reader and
// answers when the store reports the append durable.
type sendProcessor struct {
	cfg       sendConfig
	topics    sendTopics
	store     messageAppender
	conns     *connTable
	storeHost *atomic.Pointer[netip.AddrPort]
	uniq      *message.UniqIDGenerator
	rewriters []Rewriter
	bad       *rateLog
	// registrar, when set, is synced after a send creates a topic, for at
	// most registerWait.
	registrar    registrationSyncer
	registerWait time.Duration
}

// newSendProcessor builds the send processor from the broker's options:
// the one registerProcessors serves the send codes with, and the one the
// reply feature checks and stores replies with, so that both apply the
// same checks and answer the same way. Call it once the store, the topics,
// the registrar and every rewriter are in place.
func newSendProcessor(b *Broker) *sendProcessor {
	return &sendProcessor{
		cfg: sendConfig{
			clusterName:    b.opts.BrokerClusterName,
			maxMessageSize: b.storeOpts.MaxMessageSize,
			autoCreate:     b.opts.AutoCreateTopicEnable,
			slave:          b.opts.isSlave(),
			region:         b.opts.RegionID,
			traceOn:        strconv.FormatBool(b.opts.TraceOn),
		},
		topics:       b.topics,
		store:        b.store,
		conns:        &b.conns,
		storeHost:    &b.storeHost,
		uniq:         b.uniq,
		rewriters:    b.rewriters,
		bad:          b.bad,
		registrar:    b.registrar,
		registerWait: b.registerWait(),
	}
}

// registrationSyncer pushes the broker's topics to the NameServers and
// waits for them to have it (nsclient.Registrar).
type registrationSyncer interface {
	Sync(ctx context.Context) error
}

// sendTask carries one send from the request to its answer. Pooled: the
// properties buffer and the batch slices are reused.
type sendTask struct {
	p     *sendProcessor
	conn  *remoting.Conn
	cs    *connState
	req   *remoting.Command
	hdr   protocol.SendMessageRequestHeader
	batch bool

	inner  message.Inner
	one    [1]*message.Inner // &inner, for the append
	props  []byte
	inners []message.Inner
	ptrs   []*message.Inner
	// created is set when this send created its topic.
	created bool
	done    func(store.PutResult, error) // t.complete, bound once

	// The answer, built without allocating: the command, its header and
	// the text of its values live in the task, which is recycled only
	// after Respond has encoded them.
	resp remoting.Command
	ext  protocol.ExtFields
	text []byte
}

var sendTaskPool sync.Pool // *sendTask

// maxPooledBatch keeps a huge batch from pinning its slices in the pool.
const maxPooledBatch = 1024

func (p *sendProcessor) getTask() *sendTask {
	t, _ := sendTaskPool.Get().(*sendTask)
	if t == nil {
		t = &sendTask{props: make([]byte, 0, 256), ext: make(protocol.ExtFields, 0, 5), text: make([]byte, 0, 64)}
		t.done = t.complete
	}
	t.p = p
	return t
}

func (t *sendTask) free() {
	t.p, t.conn, t.cs, t.req = nil, nil, nil, nil
	t.hdr = protocol.SendMessageRequestHeader{}
	t.inner = message.Inner{}
	t.one[0] = nil
	t.batch, t.created = false, false
	if cap(t.props) > 64<<10 {
		t.props = make([]byte, 0, 256)
	}
	t.props = t.props[:0]
	if cap(t.inners) > maxPooledBatch {
		t.inners, t.ptrs = nil, nil
	}
	if cap(t.text) > 64<<10 {
		t.text = make([]byte, 0, 64)
	}
	t.resp = remoting.Command{}
	clear(t.ext)
	t.ext, t.text = t.ext[:0], t.text[:0]
	clear(t.inners)
	clear(t.ptrs)
	t.inners, t.ptrs = t.inners[:0], t.ptrs[:0]
	sendTaskPool.Put(t)
}

// ProcessRequest implements remoting.Processor.
func (p *sendProcessor) ProcessRequest(ctx context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	t := p.getTask()
	t.conn, t.req = c, req
	t.cs = p.conns.get(c)
	t.batch = req.RequestCode() == protocol.SendBatchMessage
	if err := protocol.DecodeSendMessageHeader(req.RequestCode(), req.ExtFields, &t.hdr); err != nil {
		t.free()
		return nil, p.bad.badHeader(c, req, err)
	}
	cfg, err := p.check(t)
	if err == nil {
		if t.batch {
			err = p.buildBatch(t, cfg)
		} else {
			err = p.buildSingle(t, cfg)
		}
	}
	if err != nil {
		t.free()
		return nil, err
	}
	if !t.cs.acquire() {
		t.free() // the connection closed: nobody to answer
		return nil, nil
	}
	// t.complete may run before the put returns (the store may write a
	// lone append out on this goroutine) and recycles t: no access to t
	// after the put.
	if t.batch {
		p.store.PutMessagesAsync(ctx, t.ptrs, t.done)
	} else {
		p.store.PutMessageAsync(ctx, &t.inner, t.done)
	}
	return nil, nil // answered by t.complete
}

// check validates the request and finds (or creates) its topic.
func (p *sendProcessor) check(t *sendTask) (protocol.TopicConfig, error) {
	h, c, req := &t.hdr, t.conn, t.req
	var cfg protocol.TopicConfig
	if p.cfg.slave {
		return cfg, p.bad.refuse(c, req, protocol.ServiceNotAvailable, "the broker is a slave; send to its master")
	}
	if p.topics.BrokerPermission()&protocol.PermWrite == 0 {
		return cfg, p.bad.refuse(c, req, protocol.NoPermission, "the broker[%s] sending message is forbidden", hostOf(p.storeHost))
	}
	if err := topic.ValidateTopic(h.Topic); err != nil {
		return cfg, p.bad.refuse(c, req, protocol.SystemError, "%v", err)
	}
	if topic.IsNotAllowedSendTopic(h.Topic) {
		return cfg, p.bad.refuse(c, req, protocol.NoPermission, "Sending message to topic[%s] is forbidden.", h.Topic)
	}
	if n := len(req.Body); n > p.cfg.maxMessageSize {
		return cfg, p.bad.refuse(c, req, protocol.MessageIllegal,
			"the message body size %d exceeds maxMessageSize %d", n, p.cfg.maxMessageSize)
	}
	if n := len(h.Properties); n > message.MaxPropertiesLength {
		return cfg, p.bad.refuse(c, req, protocol.MessageIllegal,
			"the message properties length %d exceeds %d", n, message.MaxPropertiesLength)
	}
	if t.batch && topic.IsRetryTopic(h.Topic) {
		return cfg, p.bad.refuse(c, req, protocol.MessageIllegal, "batch request does not support retry group %s", h.Topic)
	}

	cfg, ok := p.topics.Get(h.Topic)
	if !ok {
		var err error
		cfg, err = p.createTopic(t)
		if err != nil {
			return cfg, p.bad.refuse(c, req, protocol.TopicNotExist,
				"topic[%s] not exist, apply first please! (%v)", h.Topic, err)
		}
	}
	if cfg.Perm&protocol.PermWrite == 0 {
		return cfg, p.bad.refuse(c, req, protocol.NoPermission, "the topic[%s] sending message is forbidden", h.Topic)
	}
	if h.QueueID < 0 {
		if cfg.WriteQueueNums <= 0 {
			return cfg, p.bad.refuse(c, req, protocol.NoPermission, "the topic[%s] has no write queues", h.Topic)
		}
		h.QueueID = rand.Int32N(cfg.WriteQueueNums)
	}
	if valid := max(cfg.WriteQueueNums, cfg.ReadQueueNums); h.QueueID >= valid {
		return cfg, p.bad.refuse(c, req, protocol.SystemError,
			"request queueId[%d] is illegal, topic %s has %d queues, producer %s", h.QueueID, h.Topic, valid, c.RemoteAddr())
	}
	return cfg, nil
}

// createTopic creates a missing topic through its default topic (TBW102),
// or a missing retry topic, as Java's msgCheck does.
func (p *sendProcessor) createTopic(t *sendTask) (protocol.TopicConfig, error) {
	h := &t.hdr
	if p.topics.IsSystemTopic(h.Topic) {
		// Sends may write existing system topics (rmq_sys_TRACE_DATA_*),
		// but only the broker or an admin creates them.
		return protocol.TopicConfig{}, errSystemTopic
	}
	var sysFlag int32
	if h.UnitMode {
		if topic.IsRetryTopic(h.Topic) {
			sysFlag = protocol.TopicSysFlagUnitSub
		} else {
			sysFlag = protocol.TopicSysFlagUnit
		}
	}
	var err error
	if p.cfg.autoCreate {
		var cfg protocol.TopicConfig
		cfg, t.created, err = p.topics.CreateInSendMessage(h.Topic, h.DefaultTopic, t.conn.RemoteAddr(), h.DefaultTopicQueueNums, sysFlag)
		if err == nil {
			return cfg, nil
		}
	} else {
		err = topic.ErrAutoCreateDisabled
	}
	if topic.IsRetryTopic(h.Topic) {
		cfg, err := p.topics.CreateInSendMessageBack(h.Topic, 1, protocol.PermRead|protocol.PermWrite, sysFlag)
		t.created = err == nil
		return cfg, err
	}
	return protocol.TopicConfig{}, err
}

// fillCommon sets what every record of the request shares.
func (p *sendProcessor) fillCommon(t *sendTask, m *message.Inner, cfg protocol.TopicConfig) {
	h := &t.hdr
	m.Topic = h.Topic
	m.QueueID = h.QueueID
	m.SysFlag = h.SysFlag
	if cfg.TopicFilterType == protocol.TopicFilterMultiTag {
		m.SysFlag |= message.SysFlagMultiTags
	}
	m.BornTimestamp = h.BornTimestamp
	m.BornHost = t.cs.bornHost
	if ap := p.storeHost.Load(); ap != nil {
		m.StoreHost = *ap
	}
	m.ReconsumeTimes = h.ReconsumeTimes
}

// buildSingle builds the record of a single send: CLUSTER and, when
// missing, UNIQ_KEY added to the producer's properties.
func (p *sendProcessor) buildSingle(t *sendTask, cfg protocol.TopicConfig) error {
	m := &t.inner
	p.fillCommon(t, m, cfg)
	m.Flag = t.hdr.Flag
	m.Body = t.req.Body
	props := append(t.props[:0], t.hdr.Properties...)
	if v, ok := message.PropertyValue(props, message.PropertyCluster); !ok || string(v) != p.cfg.clusterName {
		props = message.AppendProperty(props, message.PropertyCluster, p.cfg.clusterName)
	}
	if _, ok := message.PropertyValue(props, message.PropertyUniqClientMessageIDKeyIdx); !ok {
		props = append(props, message.PropertyUniqClientMessageIDKeyIdx...)
		props = append(props, message.NameValueSeparator)
		props = p.uniq.AppendNext(props)
		props = append(props, message.PropertySeparator)
	}
	t.props = props
	m.Properties = props
	if len(props) > message.MaxPropertiesLength {
		return p.bad.refuse(t.conn, t.req, protocol.MessageIllegal,
			"the message properties length %d exceeds %d", len(props), message.MaxPropertiesLength)
	}
	sc := SendContext{ProducerGroup: t.hdr.ProducerGroup, MaxReconsumeTimes: -1, RemoteAddr: t.cs.bornHost}
	if t.hdr.HasMaxReconsumeTimes {
		sc.MaxReconsumeTimes = t.hdr.MaxReconsumeTimes
	}
	for _, rw := range p.rewriters {
		if err := rw.RewriteSend(m, cfg, sc); err != nil {
			var re *remoting.Error
			if errors.As(err, &re) {
				return p.bad.refuse(t.conn, t.req, re.Code, "%s", re.Remark)
			}
			return p.bad.refuse(t.conn, t.req, protocol.SystemError, "%v", err)
		}
	}
	return nil
}

// errBatchEntry reports a batch entry the broker refuses.
var errBatchEntry = errors.New("broker: bad batch entry")

// buildBatch builds one record per batch entry, each with its own flag,
// body and properties and the header's other fields. The whole batch is
// checked before anything is appended.
func (p *sendProcessor) buildBatch(t *sendTask, cfg protocol.TopicConfig) error {
	// A batch skips the rewriters: it can be neither a transaction nor
	// delayed. Java refuses both in CommitLog.asyncPutMessages (the
	// transaction bits and the wrapper's DELAY); refusing the inner
	// messages' DELAY and timer properties too keeps a delay from being
	// ignored silently.
	if tt := message.TransactionType(t.hdr.SysFlag); tt != message.TransactionNotType {
		return p.bad.refuse(t.conn, t.req, protocol.MessageIllegal,
			"a batch cannot be a transaction message: sysFlag %d has transaction bits %d", t.hdr.SysFlag, tt>>2)
	}
	if key, ok := batchDelayProperty(unsafe.Slice(unsafe.StringData(t.hdr.Properties), len(t.hdr.Properties))); ok {
		return p.bad.refuse(t.conn, t.req, protocol.MessageIllegal, "batch messages cannot be delayed: the batch has %s", key)
	}
	err := message.DecodeBatch(t.req.Body, func(e message.BatchEntry) error {
		if len(e.Body) > p.cfg.maxMessageSize || len(e.Properties) > message.MaxPropertiesLength {
			return errBatchEntry
		}
		t.inners = append(t.inners, message.Inner{Flag: e.Flag, Body: e.Body, Properties: e.Properties})
		return nil
	})
	if err != nil {
		return p.bad.refuse(t.conn, t.req, protocol.MessageIllegal, "bad batch body: %v", err)
	}
	for i := range t.inners {
		if key, ok := batchDelayProperty(t.inners[i].Properties); ok {
			return p.bad.refuse(t.conn, t.req, protocol.MessageIllegal,
				"batch messages cannot be delayed: message %d of the batch has %s", i, key)
		}
	}
	for i := range t.inners {
		m := &t.inners[i]
		p.fillCommon(t, m, cfg)
		t.ptrs = append(t.ptrs, m)
	}
	return nil
}

// batchDelayProperty names the property that would delay a message of a
// batch: DELAY above 0 (or not a number), or any timer property.
func batchDelayProperty(props []byte) (string, bool) {
	d := scanDelayProperties(props) // schedule_rewrite.go: one pass
	if level, err := d.level(); err != nil || level > 0 {
		return message.PropertyDelayTimeLevel + "=" + clip(string(d.delay)), true
	}
	for i, k := range timerKeys {
		if d.hasTimer[i] {
			return k.key, true
		}
	}
	return "", false
}

// complete answers the send once the store is done with it. It runs on a
// store goroutine (or on the reader, for a refusal) and must not block for
// long: the connection owes fewer answers than its write queue holds.
func (t *sendTask) complete(res store.PutResult, err error) {
	if t.created && t.p.registrar != nil {
		// The send created its topic: answer once the NameServers know
		// it, as Java does, so that the client finds the route when the
		// send returns. Rare, and it may wait: off the store's goroutine.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), t.p.registerWait)
			_ = t.p.registrar.Sync(ctx)
			cancel()
			t.answer(res, err)
		}()
		return
	}
	t.answer(res, err)
}

// answer writes the send's answer and recycles t and the request (the
// store copied the body; the answer is encoded once Respond returns).
func (t *sendTask) answer(res store.PutResult, err error) {
	p, c, req := t.p, t.conn, t.req
	resp := p.response(t, res, err)
	if rerr := c.Respond(req, resp); rerr != nil && !errors.Is(rerr, remoting.ErrConnClosed) {
		p.bad.Log(slog.LevelDebug, "cannot answer send", "conn", c.RemoteAddr(), "err", rerr)
	}
	t.cs.release()
	t.free()
	req.Release()
}

// response maps a store result to the answer, as Java's
// handlePutMessageResult does. The answer lives in t (see sendTask).
func (p *sendProcessor) response(t *sendTask, res store.PutResult, err error) *remoting.Command {
	var code protocol.ResponseCode
	remark := ""
	switch res.Status {
	case store.PutOK:
		code = protocol.Success
	case store.PutFlushDiskTimeout:
		code = protocol.FlushDiskTimeout
	case store.PutServiceNotAvailable:
		code = protocol.ServiceNotAvailable
		remark = "service not available now: the disk may be full, the broker a slave or shutting down"
	case store.PutCreateMappedFileFailed:
		code = protocol.SystemError
		remark = "create mapped file failed, server is busy or broken"
	case store.PutMessageIllegal, store.PutPropertiesSizeExceeded:
		code = protocol.MessageIllegal
		remark = "the message is illegal: topic, body or properties too long"
	default:
		code = protocol.SystemError
		remark = "unknown error"
	}
	if err != nil && code != protocol.FlushDiskTimeout {
		remark += ": " + err.Error()
		p.bad.Log(slog.LevelWarn, "send failed in the store", "conn", t.conn.RemoteAddr(), "topic", t.hdr.Topic, "status", res.Status, "err", err)
	}
	resp := &t.resp
	*resp = remoting.Command{
		Code:     int32(code),
		Language: protocol.LanguageGo,
		Version:  int32(protocol.CurrentVersion),
		Remark:   remark,
	}
	if code != protocol.Success && code != protocol.FlushDiskTimeout {
		return resp
	}
	host := t.inner.StoreHost
	if ap := p.storeHost.Load(); ap != nil {
		host = *ap
	}
	// The values are strings over t.text, sized up front so that appends
	// never move it; they stay valid until t is recycled, after Respond.
	n := 2 * 20
	if t.batch {
		n += len(t.ptrs) * (message.OffsetMsgIDLenV4 + 1)
	} else {
		n += message.OffsetMsgIDLenV4
	}
	if cap(t.text) < n {
		t.text = make([]byte, 0, n)
	}
	buf := t.text[:0]
	if t.batch {
		for i, m := range t.ptrs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = message.AppendOffsetMsgID(buf, host, m.CommitLogOffset)
		}
	} else {
		buf = message.AppendOffsetMsgID(buf, host, res.CommitLogOffset)
	}
	id := unsafeString(buf)
	buf = strconv.AppendInt(buf[len(buf):], int64(t.hdr.QueueID), 10)
	queueID := unsafeString(buf)
	buf = strconv.AppendInt(buf[len(buf):], res.QueueOffset, 10)
	queueOffset := unsafeString(buf)
	resp.ExtFields = append(t.ext[:0],
		protocol.ExtField{Key: "msgId", Value: id},
		protocol.ExtField{Key: "queueId", Value: queueID},
		protocol.ExtField{Key: "queueOffset", Value: queueOffset},
		protocol.ExtField{Key: "MSG_REGION", Value: p.cfg.region},
		protocol.ExtField{Key: "TRACE_ON", Value: p.cfg.traceOn},
	)
	t.ext = resp.ExtFields
	return resp
}

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
