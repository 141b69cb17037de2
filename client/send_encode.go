package client

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// outgoing is a message (or a batch) ready to send: everything but the
// queue, which each attempt chooses.
type outgoing struct {
	topic   string
	msg     *Message // what the selector sees: the message, or a batch's first
	body    []byte
	props   string
	msgID   string // UNIQ_KEY; comma-joined for a batch
	flag    int32
	sysFlag int32
	batch   bool
}

// appendProperties appends msg's properties string, with uniqID as its
// UNIQ_KEY, to dst. Tags, Keys and DelayLevel win over user properties of
// the same name.
func appendProperties(dst []byte, msg *Message, uniqID []byte) []byte {
	for k, v := range msg.Properties {
		switch {
		case k == message.PropertyUniqClientMessageIDKeyIdx,
			k == message.PropertyTags && msg.Tags != "",
			k == message.PropertyKeys && len(msg.Keys) > 0,
			k == message.PropertyDelayTimeLevel && msg.DelayLevel > 0:
			continue
		}
		dst = message.AppendProperty(dst, k, v)
	}
	if msg.Tags != "" {
		dst = message.AppendProperty(dst, message.PropertyTags, msg.Tags)
	}
	if len(msg.Keys) > 0 {
		dst = append(dst, message.PropertyKeys...)
		dst = append(dst, message.NameValueSeparator)
		for i, k := range msg.Keys {
			if i > 0 {
				dst = append(dst, message.KeySeparator...)
			}
			dst = append(dst, k...)
		}
		dst = append(dst, message.PropertySeparator)
	}
	if msg.DelayLevel > 0 {
		dst = append(dst, message.PropertyDelayTimeLevel...)
		dst = append(dst, message.NameValueSeparator)
		dst = strconv.AppendInt(dst, int64(msg.DelayLevel), 10)
		dst = append(dst, message.PropertySeparator)
	}
	dst = append(dst, message.PropertyUniqClientMessageIDKeyIdx...)
	dst = append(dst, message.NameValueSeparator)
	dst = append(dst, uniqID...)
	dst = append(dst, message.PropertySeparator)
	return dst
}

// propsPool recycles the scratch buffers properties are built in.
var propsPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// encodeProperties returns msg's properties string and its message id,
// generating one unless the user set UNIQ_KEY.
func (c *Client) encodeProperties(msg *Message) (props, msgID string, err error) {
	bp := propsPool.Get().(*[]byte)
	defer propsPool.Put(bp)
	id := (*bp)[:0]
	if u := msg.Properties[message.PropertyUniqClientMessageIDKeyIdx]; u != "" {
		id = append(id, u...)
	} else {
		id = c.uniq.AppendNext(id)
	}
	idLen := len(id)
	b := appendProperties(id, msg, id[:idLen:idLen])
	if len(b)-idLen > message.MaxPropertiesLength {
		*bp = b[:0]
		return "", "", fmt.Errorf("%w: properties of %d bytes, limit %d", ErrInvalidMessage, len(b)-idLen, message.MaxPropertiesLength)
	}
	// One allocation holds both strings: the id, then the properties.
	s := string(b)
	*bp = b[:0]
	return s[idLen:], s[:idLen], nil
}

// prepare validates msg and encodes what does not depend on the queue.
//
// It returns a value, not a pointer: an async send's callback then holds
// it inside its own closure, one allocation instead of two.
func (p *Producer) prepare(msg *Message) (outgoing, error) {
	if err := validateMessage(msg, p.opts.MaxMessageSize); err != nil {
		return outgoing{}, err
	}
	props, id, err := p.c.encodeProperties(msg)
	if err != nil {
		return outgoing{}, err
	}
	out := outgoing{topic: msg.Topic, msg: msg, body: msg.Body, props: props, msgID: id, flag: msg.Flag}
	if t := p.opts.CompressThreshold; t > 0 && len(msg.Body) >= t {
		if z, ok := p.compress(msg.Body); ok {
			out.body = z
			out.sysFlag |= message.SysFlagCompressed
		}
	}
	return out, nil
}

// prepareBatch validates msgs and encodes them as one SEND_BATCH_MESSAGE
// body. Every message gets its own UNIQ_KEY.
func (p *Producer) prepareBatch(msgs []*Message) (outgoing, error) {
	if len(msgs) == 0 {
		return outgoing{}, fmt.Errorf("%w: empty batch", ErrInvalidMessage)
	}
	topic := ""
	var body []byte
	ids := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if err := validateMessage(m, p.opts.MaxMessageSize); err != nil {
			return outgoing{}, fmt.Errorf("batch message %d: %w", i, err)
		}
		switch {
		case i == 0:
			topic = m.Topic
		case m.Topic != topic:
			return outgoing{}, fmt.Errorf("%w: batch mixes topics %q and %q", ErrInvalidMessage, topic, m.Topic)
		}
		if m.DelayLevel > 0 {
			return outgoing{}, fmt.Errorf("%w: delayed messages cannot be batched", ErrInvalidMessage)
		}
		props, id, err := p.c.encodeProperties(m)
		if err != nil {
			return outgoing{}, fmt.Errorf("batch message %d: %w", i, err)
		}
		ids = append(ids, id)
		if body, err = message.AppendBatchEntry(body, message.BatchEntry{Flag: m.Flag, Body: m.Body, Properties: []byte(props)}); err != nil {
			return outgoing{}, fmt.Errorf("%w: batch message %d: %w", ErrInvalidMessage, i, err)
		}
		if len(body) > p.opts.MaxMessageSize {
			return outgoing{}, fmt.Errorf("%w: batch of %d bytes or more, limit %d", ErrInvalidMessage, len(body), p.opts.MaxMessageSize)
		}
	}
	if strings.HasPrefix(topic, retryGroupTopicPrefix) {
		return outgoing{}, fmt.Errorf("%w: retry topics cannot take batches", ErrInvalidMessage)
	}
	return outgoing{topic: topic, msg: msgs[0], body: body, msgID: strings.Join(ids, ","), batch: true}, nil
}

// compress deflates body with zlib, reporting false when that does not
// make it smaller.
func (p *Producer) compress(body []byte) ([]byte, bool) {
	var buf bytes.Buffer
	buf.Grow(len(body) / 2)
	zw, _ := p.zlibPool.Get().(*zlib.Writer)
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(&buf, p.opts.CompressLevel); err != nil {
			return nil, false
		}
	} else {
		zw.Reset(&buf)
	}
	_, _ = zw.Write(body)
	err := zw.Close()
	p.zlibPool.Put(zw)
	if err != nil || buf.Len() >= len(body) {
		return nil, false
	}
	return buf.Bytes(), true
}

// request builds the command that sends out to q. Like RocketMQ's clients
// it always names the default topic, from which a broker with
// autoCreateTopicEnable creates a topic it does not have.
func (p *Producer) request(out *outgoing, q MessageQueue) *remoting.Command {
	cmd := new(remoting.Command)
	p.requestInto(cmd, make(protocol.ExtFields, 0, 14), nil, out, q)
	return cmd
}

// requestInto is request building into cmd, with the header fields in
// ext's memory and the text of numbers in text's.
func (p *Producer) requestInto(cmd *remoting.Command, ext protocol.ExtFields, text []byte, out *outgoing, q MessageQueue) {
	h := protocol.SendMessageRequestHeader{
		ProducerGroup:         p.opts.Group,
		Topic:                 out.topic,
		DefaultTopic:          p.opts.CreateTopicKey,
		DefaultTopicQueueNums: int32(p.opts.DefaultTopicQueueNums),
		QueueID:               int32(q.QueueID),
		SysFlag:               out.sysFlag,
		BornTimestamp:         time.Now().UnixMilli(),
		Flag:                  out.flag,
		Properties:            out.props,
		Batch:                 out.batch,
	}
	code := protocol.SendMessageV2
	switch {
	case out.batch:
		code = protocol.SendBatchMessage
	case p.sendV1:
		cmd.ResetRequest(protocol.SendMessage, h.AppendExt(ext), out.body)
		return
	}
	ext, _ = h.AppendExtV2Text(ext, text)
	cmd.ResetRequest(code, ext, out.body)
}

// sendCall is the memory of one send in flight: its command and header
// fields and, for an async send, what the callback needs. It is recycled
// once the transport is done with the command: when the invocation has
// returned (sync) or its callback has run (async).
type sendCall struct {
	p    *Producer
	cmd  remoting.Command
	ext  [16]protocol.ExtField // what cmd.ExtFields starts in
	text [20]byte              // the text of the born timestamp

	msgID string
	q     MessageQueue
	addr  string
	cb    func(SendResult, error)
	done  func(*remoting.Command, error) // sc.complete, bound once
}

var sendCalls sync.Pool // *sendCall

func (p *Producer) getSendCall(out *outgoing, q MessageQueue) *sendCall {
	sc, _ := sendCalls.Get().(*sendCall)
	if sc == nil {
		sc = new(sendCall)
		sc.done = sc.complete
	}
	sc.p = p
	p.requestInto(&sc.cmd, sc.ext[:0], sc.text[:0], out, q)
	return sc
}

// free drops what sc refers to, so that a pooled sendCall keeps no body or
// header alive, and recycles it. The rest of cmd is rewritten by the next
// ResetRequest.
func (sc *sendCall) free() {
	sc.p, sc.cb = nil, nil
	// Hooks (ACL signing) may have appended fields since the request
	// was built: clear as far as cmd's fields reach into ext.
	clear(sc.ext[:min(len(sc.cmd.ExtFields), len(sc.ext))])
	sc.cmd.Body, sc.cmd.ExtFields = nil, nil
	sc.msgID, sc.q, sc.addr = "", MessageQueue{}, ""
	sendCalls.Put(sc)
}

// complete is an async send's callback: it hands the result to the
// caller's and frees a slot of the window.
func (sc *sendCall) complete(resp *remoting.Command, err error) {
	p, cb := sc.p, sc.cb
	var res SendResult
	if err == nil {
		res, err = sendResult(sc.msgID, sc.q, sc.addr, resp)
		resp.Release() // res holds strings of the header, which outlive it
	} else {
		err = fmt.Errorf("client: send to %s (%s): %w", sc.q, sc.addr, p.c.transportError(err))
	}
	sc.free()
	cb(res, err)
	<-p.window
}

// sendResult turns the response to a send of message (or batch) msgID to
// q into a SendResult, or the broker's refusal into a *BrokerError.
func sendResult(msgID string, q MessageQueue, addr string, resp *remoting.Command) (SendResult, error) {
	var status SendStatus
	switch protocol.ResponseCode(resp.Code) {
	case protocol.Success:
		status = SendOK
	case protocol.FlushDiskTimeout:
		status = SendFlushDiskTimeout
	case protocol.FlushSlaveTimeout:
		status = SendFlushSlaveTimeout
	case protocol.SlaveNotAvailable:
		status = SendSlaveNotAvailable
	default:
		return SendResult{}, brokerError(addr, resp.Code, resp.Remark)
	}
	var h protocol.SendMessageResponseHeader
	if err := h.DecodeExt(resp.ExtFields); err != nil {
		return SendResult{}, fmt.Errorf("%w: send response from %s: %w", ErrBadResponse, addr, err)
	}
	return SendResult{
		Status:        status,
		MsgID:         msgID,
		OffsetMsgID:   h.MsgID,
		Queue:         MessageQueue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: int(h.QueueID)},
		QueueOffset:   h.QueueOffset,
		TransactionID: h.TransactionID,
		RegionID:      h.MsgRegion,
		TraceOn:       h.TraceOn == "true",
	}, nil
}
