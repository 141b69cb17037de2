package protocol

import (
	"strconv"
	"unsafe"
)

// SendMessageRequestHeader is the custom header of SEND_MESSAGE,
// SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and the reply sends. V1 codes use the
// Java field names; V2 codes use single letters a..n ("to speed up
// fastjson"); DecodeSendMessageHeader picks by code.
type SendMessageRequestHeader struct {
	ProducerGroup         string // a, required
	Topic                 string // b, required
	DefaultTopic          string // c, required
	DefaultTopicQueueNums int32  // d, required
	QueueID               int32  // e, required
	SysFlag               int32  // f, required
	BornTimestamp         int64  // g, required
	Flag                  int32  // h, required
	Properties            string // i
	ReconsumeTimes        int32  // j
	UnitMode              bool   // k
	MaxReconsumeTimes     int32  // l; meaningful only when HasMaxReconsumeTimes
	HasMaxReconsumeTimes  bool
	Batch                 bool   // m
	BrokerName            string // n (5.x)
}

// Field names, V1 and V2, in one table indexed by field.
var sendNames = [...][2]string{
	{"producerGroup", "a"},
	{"topic", "b"},
	{"defaultTopic", "c"},
	{"defaultTopicQueueNums", "d"},
	{"queueId", "e"},
	{"sysFlag", "f"},
	{"bornTimestamp", "g"},
	{"flag", "h"},
	{"properties", "i"},
	{"reconsumeTimes", "j"},
	{"unitMode", "k"},
	{"maxReconsumeTimes", "l"},
	{"batch", "m"},
	{"brokerName", "n"},
}

const (
	sendProducerGroup = iota
	sendTopic
	sendDefaultTopic
	sendDefaultTopicQueueNums
	sendQueueID
	sendSysFlag
	sendBornTimestamp
	sendFlag
	sendProperties
	sendReconsumeTimes
	sendUnitMode
	sendMaxReconsumeTimes
	sendBatch
	sendBrokerName
	sendRequiredMask = 1<<(sendFlag+1) - 1 // the first eight are @CFNotNull
)

// IsSendV2 reports whether requests with code carry the single-letter
// header.
func IsSendV2(code RequestCode) bool {
	return code == SendMessageV2 || code == SendBatchMessage || code == SendReplyMessageV2
}

// DecodeSendMessageHeader decodes the send header in the naming the code
// uses.
func DecodeSendMessageHeader(code RequestCode, f ExtFields, h *SendMessageRequestHeader) error {
	if IsSendV2(code) {
		return h.DecodeExtV2(f)
	}
	return h.DecodeExt(f)
}

// DecodeExt decodes the V1 (full names) form.
func (h *SendMessageRequestHeader) DecodeExt(f ExtFields) error { return h.decode(f, 0) }

// DecodeExtV2 decodes the V2 (single letters) form.
func (h *SendMessageRequestHeader) DecodeExtV2(f ExtFields) error { return h.decode(f, 1) }

func (h *SendMessageRequestHeader) decode(f ExtFields, form int) error {
	var seen uint32
	for _, kv := range f {
		idx := sendFieldIndex(kv.Key, form)
		if idx < 0 {
			continue
		}
		seen |= 1 << idx
		name, s := kv.Key, kv.Value
		var err error
		switch idx {
		case sendProducerGroup:
			h.ProducerGroup = s
		case sendTopic:
			h.Topic = s
		case sendDefaultTopic:
			h.DefaultTopic = s
		case sendDefaultTopicQueueNums:
			h.DefaultTopicQueueNums, err = ParseInt32(name, s)
		case sendQueueID:
			h.QueueID, err = ParseInt32(name, s)
		case sendSysFlag:
			h.SysFlag, err = ParseInt32(name, s)
		case sendBornTimestamp:
			h.BornTimestamp, err = ParseInt64(name, s)
		case sendFlag:
			h.Flag, err = ParseInt32(name, s)
		case sendProperties:
			h.Properties = s
		case sendReconsumeTimes:
			h.ReconsumeTimes, err = ParseInt32(name, s)
		case sendUnitMode:
			h.UnitMode = ParseBool(s)
		case sendMaxReconsumeTimes:
			h.MaxReconsumeTimes, err = ParseInt32(name, s)
			h.HasMaxReconsumeTimes = err == nil
		case sendBatch:
			h.Batch = ParseBool(s)
		case sendBrokerName:
			h.BrokerName = s
		}
		if err != nil {
			return err
		}
	}
	if missingBits := sendRequiredMask &^ seen; missingBits != 0 {
		for i := range sendFlag + 1 {
			if missingBits&(1<<i) != 0 {
				return missing(sendNames[i][form])
			}
		}
	}
	return nil
}

func sendFieldIndex(key string, form int) int {
	if form == 1 {
		if len(key) == 1 && key[0] >= 'a' && key[0] <= 'n' {
			return int(key[0] - 'a')
		}
		return -1
	}
	switch key {
	case "producerGroup":
		return sendProducerGroup
	case "topic":
		return sendTopic
	case "defaultTopic":
		return sendDefaultTopic
	case "defaultTopicQueueNums":
		return sendDefaultTopicQueueNums
	case "queueId":
		return sendQueueID
	case "sysFlag":
		return sendSysFlag
	case "bornTimestamp":
		return sendBornTimestamp
	case "flag":
		return sendFlag
	case "properties":
		return sendProperties
	case "reconsumeTimes":
		return sendReconsumeTimes
	case "unitMode":
		return sendUnitMode
	case "maxReconsumeTimes":
		return sendMaxReconsumeTimes
	case "batch":
		return sendBatch
	case "brokerName":
		return sendBrokerName
	}
	return -1
}

// AppendExt appends the V1 form.
func (h *SendMessageRequestHeader) AppendExt(dst ExtFields) ExtFields { return h.appendExt(dst, 0) }

// AppendExtV2 appends the V2 form.
func (h *SendMessageRequestHeader) AppendExtV2(dst ExtFields) ExtFields { return h.appendExt(dst, 1) }

// AppendExtV2Text is AppendExtV2 writing the text of the born timestamp,
// the one number too large for strconv's small-number strings, into text
// instead of a string of its own: a sender that recycles its requests pays
// no allocation for it. The field's value aliases text's memory, which must
// not change while the fields are in use. It returns the fields and text.
func (h *SendMessageRequestHeader) AppendExtV2Text(dst ExtFields, text []byte) (ExtFields, []byte) {
	start := len(text)
	text = strconv.AppendInt(text, h.BornTimestamp, 10)
	born := unsafe.String(unsafe.SliceData(text[start:]), len(text)-start)
	return h.appendExtBorn(dst, 1, born), text
}

func (h *SendMessageRequestHeader) appendExt(dst ExtFields, form int) ExtFields {
	return h.appendExtBorn(dst, form, strconv.FormatInt(h.BornTimestamp, 10))
}

func (h *SendMessageRequestHeader) appendExtBorn(dst ExtFields, form int, born string) ExtFields {
	n := func(i int) string { return sendNames[i][form] }
	dst = append(dst,
		ExtField{n(sendProducerGroup), h.ProducerGroup},
		ExtField{n(sendTopic), h.Topic},
		ExtField{n(sendDefaultTopic), h.DefaultTopic},
		ExtField{n(sendDefaultTopicQueueNums), itoa(h.DefaultTopicQueueNums)},
		ExtField{n(sendQueueID), itoa(h.QueueID)},
		ExtField{n(sendSysFlag), itoa(h.SysFlag)},
		ExtField{n(sendBornTimestamp), born},
		ExtField{n(sendFlag), itoa(h.Flag)},
		ExtField{n(sendProperties), h.Properties},
		ExtField{n(sendReconsumeTimes), itoa(h.ReconsumeTimes)},
		ExtField{n(sendUnitMode), strconv.FormatBool(h.UnitMode)},
	)
	if h.HasMaxReconsumeTimes {
		dst = append(dst, ExtField{n(sendMaxReconsumeTimes), itoa(h.MaxReconsumeTimes)})
	}
	dst = append(dst, ExtField{n(sendBatch), strconv.FormatBool(h.Batch)})
	if h.BrokerName != "" {
		dst = append(dst, ExtField{n(sendBrokerName), h.BrokerName})
	}
	return dst
}

func itoa(v int32) string { return strconv.FormatInt(int64(v), 10) }

// SendMessageResponseHeader is the custom header of a send response. The
// Go client reads msgId, queueId, queueOffset, transactionId, and the
// MSG_REGION and TRACE_ON keys a Java broker adds beside them.
type SendMessageResponseHeader struct {
	MsgID         string // offset message id(s); comma-joined for batches
	QueueID       int32
	QueueOffset   int64
	TransactionID string
	BatchUniqID   string // 5.x
	MsgRegion     string // MSG_REGION
	TraceOn       string // TRACE_ON, "true"/"false"
}

// AppendExt appends the fields; empty optional strings are left out.
func (h *SendMessageResponseHeader) AppendExt(dst ExtFields) ExtFields {
	dst = append(dst,
		ExtField{"msgId", h.MsgID},
		ExtField{"queueId", itoa(h.QueueID)},
		ExtField{"queueOffset", strconv.FormatInt(h.QueueOffset, 10)},
	)
	if h.TransactionID != "" {
		dst = append(dst, ExtField{"transactionId", h.TransactionID})
	}
	if h.BatchUniqID != "" {
		dst = append(dst, ExtField{"batchUniqId", h.BatchUniqID})
	}
	if h.MsgRegion != "" {
		dst = append(dst, ExtField{"MSG_REGION", h.MsgRegion})
	}
	if h.TraceOn != "" {
		dst = append(dst, ExtField{"TRACE_ON", h.TraceOn})
	}
	return dst
}

// DecodeExt decodes a send response header; msgId, queueId and
// queueOffset are required.
func (h *SendMessageResponseHeader) DecodeExt(f ExtFields) error {
	var seen uint8
	for _, kv := range f {
		var err error
		switch kv.Key {
		case "msgId":
			h.MsgID, seen = kv.Value, seen|1
		case "queueId":
			h.QueueID, err = ParseInt32(kv.Key, kv.Value)
			seen |= 2
		case "queueOffset":
			h.QueueOffset, err = ParseInt64(kv.Key, kv.Value)
			seen |= 4
		case "transactionId":
			h.TransactionID = kv.Value
		case "batchUniqId":
			h.BatchUniqID = kv.Value
		case "MSG_REGION":
			h.MsgRegion = kv.Value
		case "TRACE_ON":
			h.TraceOn = kv.Value
		}
		if err != nil {
			return err
		}
	}
	switch {
	case seen&1 == 0:
		return missing("msgId")
	case seen&2 == 0:
		return missing("queueId")
	case seen&4 == 0:
		return missing("queueOffset")
	}
	return nil
}
