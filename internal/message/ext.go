package message

import (
	"errors"
	"net/netip"
	"strings"
)

// MessageExt is a stored message decoded for the paths that are not hot:
// admin queries, transaction checks, send-back. It owns its memory (no
// aliasing of the decoded bytes).
type MessageExt struct {
	Topic                     string
	QueueID                   int32
	Flag                      int32
	Body                      []byte
	Properties                map[string]string
	RawProperties             []byte
	StoreSize                 int32
	Magic                     uint32
	BodyCRC                   uint32
	QueueOffset               int64
	CommitLogOffset           int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64

	// MsgID is the UNIQ_KEY property, or OffsetMsgID when there is none.
	MsgID string
	// OffsetMsgID is built from StoreHost and CommitLogOffset.
	OffsetMsgID string
}

// Property returns the value of a property ("" when absent).
func (m *MessageExt) Property(key string) string { return m.Properties[key] }

// Tags returns the TAGS property.
func (m *MessageExt) Tags() string { return m.Properties[PropertyTags] }

// Keys returns the tokens of the KEYS property.
func (m *MessageExt) Keys() []string { return strings.Fields(m.Properties[PropertyKeys]) }

// DecodeMessageExt decodes one stored record into a MessageExt that owns
// copies of everything.
func DecodeMessageExt(b []byte) (*MessageExt, error) {
	r, err := DecodeRecord(b)
	if err != nil {
		return nil, err
	}
	return newMessageExt(&r), nil
}

// NewMessageExt copies a decoded record into a MessageExt.
func NewMessageExt(r *Record) *MessageExt { return newMessageExt(r) }

func newMessageExt(r *Record) *MessageExt {
	m := &MessageExt{
		Topic:                     string(r.Topic),
		QueueID:                   r.QueueID,
		Flag:                      r.Flag,
		Body:                      append([]byte(nil), r.Body...),
		Properties:                ParseProperties(r.Properties),
		RawProperties:             append([]byte(nil), r.Properties...),
		StoreSize:                 r.TotalSize,
		Magic:                     r.Magic,
		BodyCRC:                   r.BodyCRC,
		QueueOffset:               r.QueueOffset,
		CommitLogOffset:           r.PhysicalOffset,
		SysFlag:                   r.SysFlag,
		BornTimestamp:             r.BornTimestamp,
		BornHost:                  r.BornHost,
		StoreTimestamp:            r.StoreTimestamp,
		StoreHost:                 r.StoreHost,
		ReconsumeTimes:            r.ReconsumeTimes,
		PreparedTransactionOffset: r.PreparedTransactionOffset,
	}
	m.OffsetMsgID = OffsetMsgID(r.StoreHost, r.PhysicalOffset)
	m.MsgID = m.Properties[PropertyUniqClientMessageIDKeyIdx]
	if m.MsgID == "" {
		m.MsgID = m.OffsetMsgID
	}
	return m
}

// DecodeMessageExts decodes a concatenation of stored records, such as a
// PULL_MESSAGE body. It fails on the first malformed record.
func DecodeMessageExts(b []byte) ([]*MessageExt, error) {
	var out []*MessageExt
	for len(b) > 0 {
		r, err := DecodeRecord(b)
		if errors.Is(err, ErrBlank) {
			return out, malformed("blank marker inside a record list")
		}
		if err != nil {
			return out, err
		}
		out = append(out, newMessageExt(&r))
		b = b[r.TotalSize:]
	}
	return out, nil
}

// Inner returns an Inner that re-encodes this message with the same
// fields (properties from RawProperties).
func (m *MessageExt) Inner() *Inner {
	return &Inner{
		Topic:                     m.Topic,
		QueueID:                   m.QueueID,
		Flag:                      m.Flag,
		Body:                      m.Body,
		Properties:                m.RawProperties,
		SysFlag:                   m.SysFlag,
		BornTimestamp:             m.BornTimestamp,
		BornHost:                  m.BornHost,
		StoreHost:                 m.StoreHost,
		ReconsumeTimes:            m.ReconsumeTimes,
		PreparedTransactionOffset: m.PreparedTransactionOffset,
		BodyCRC:                   m.BodyCRC,
		QueueOffset:               m.QueueOffset,
		CommitLogOffset:           m.CommitLogOffset,
		StoreTimestamp:            m.StoreTimestamp,
	}
}
