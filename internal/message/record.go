package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
)

// Magic codes of the commit log.
const (
	MagicV1    uint32 = 0xDAA320A7 // -626843481
	MagicV2    uint32 = 0xDAA320AB // -626843477
	MagicBlank uint32 = 0xCBD43194 // end-of-segment filler
)

// Record layout constants.
const (
	// MaxTopicLengthV1 is the longest topic a V1 record can hold.
	MaxTopicLengthV1 = 127
	// MaxTopicLengthV2 is the longest topic a V2 record can hold.
	MaxTopicLengthV2 = 32767
	// BlankMarkerSize is the size of the end-of-segment marker.
	BlankMarkerSize = 8
	// MinRecordSize is the size of a V1 record with IPv4 hosts and empty
	// body, topic and properties.
	MinRecordSize = 91

	// Fixed field offsets (everything before BORNHOST).
	OffsetTotalSize      = 0
	OffsetMagic          = 4
	OffsetBodyCRC        = 8
	OffsetQueueID        = 12
	OffsetFlag           = 16
	OffsetQueueOffset    = 20
	OffsetPhysicalOffset = 28
	OffsetSysFlag        = 36
	OffsetBornTimestamp  = 40
	OffsetBornHost       = 48
)

// Errors returned by the decoders.
var (
	// ErrMalformed is wrapped by every decoding error.
	ErrMalformed = errors.New("message: malformed")
	// ErrBlank is returned by DecodeRecord at an end-of-segment marker.
	ErrBlank = errors.New("message: blank end-of-segment marker")
	// ErrShortBuffer is returned by EncodeRecord when dst is too small.
	ErrShortBuffer = errors.New("message: buffer too small for record")
	// ErrTopicTooLong is returned for a topic no record layout can hold.
	ErrTopicTooLong = errors.New("message: topic too long")
	// ErrPropertiesTooLong is returned for properties over 32767 bytes.
	ErrPropertiesTooLong = errors.New("message: properties too long")
)

// Inner is a message as the store appends it: what the producer sent plus
// what the broker adds. QueueOffset, CommitLogOffset and StoreTimestamp are
// assigned by the store; BodyCRC is computed by whoever encodes.
type Inner struct {
	Topic                     string
	QueueID                   int32
	Flag                      int32
	Body                      []byte
	Properties                []byte // encoded properties string
	SysFlag                   int32  // host bits are derived from the addresses
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64

	// Assigned by the store (or copied when re-encoding a stored record).
	BodyCRC         uint32
	QueueOffset     int64
	CommitLogOffset int64
	StoreTimestamp  int64
}

func hostSize(a netip.AddrPort) int {
	if is6(a.Addr()) {
		return 20
	}
	return 8
}

// is6 reports whether an address needs the 16-byte host form. IPv4-mapped
// IPv6 addresses are written as IPv4, as Java does for them.
func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// HostSysFlag returns sysFlag with the two host bits set to match the
// address families of born and store hosts.
func HostSysFlag(sysFlag int32, born, store netip.AddrPort) int32 {
	sysFlag &^= SysFlagBornHostV6 | SysFlagStoreHostV6
	if is6(born.Addr()) {
		sysFlag |= SysFlagBornHostV6
	}
	if is6(store.Addr()) {
		sysFlag |= SysFlagStoreHostV6
	}
	return sysFlag
}

// Magic returns the record version the topic needs: MagicV2 for a topic
// longer than 127 bytes, MagicV1 otherwise.
func (m *Inner) Magic() uint32 {
	if len(m.Topic) > MaxTopicLengthV1 {
		return MagicV2
	}
	return MagicV1
}

// RecordSize returns the encoded size of m, or an error when the topic or
// properties are too long for any record.
func (m *Inner) RecordSize() (int, error) {
	if len(m.Topic) > MaxTopicLengthV2 {
		return 0, ErrTopicTooLong
	}
	if len(m.Properties) > MaxPropertiesLength {
		return 0, ErrPropertiesTooLong
	}
	topicLen := 1
	if m.Magic() == MagicV2 {
		topicLen = 2
	}
	return 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + hostSize(m.BornHost) + 8 + hostSize(m.StoreHost) +
		4 + 8 + 4 + len(m.Body) + topicLen + len(m.Topic) + 2 + len(m.Properties), nil
}

// BodyCRC returns the stored body checksum: crc32 IEEE & 0x7FFFFFFF.
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7FFFFFFF }

// EncodeRecord writes m as a stored record at the start of dst and returns
// its size. It uses m.BodyCRC as is (compute it with BodyCRC) and derives
// the host bits of SYSFLAG from the addresses. It does not allocate.
func EncodeRecord(dst []byte, m *Inner) (int, error) {
	size, err := m.RecordSize()
	if err != nil {
		return 0, err
	}
	if len(dst) < size {
		return 0, ErrShortBuffer
	}
	b := dst[:size]
	be := binary.BigEndian
	magic := m.Magic()
	be.PutUint32(b[OffsetTotalSize:], uint32(size))
	be.PutUint32(b[OffsetMagic:], magic)
	be.PutUint32(b[OffsetBodyCRC:], m.BodyCRC)
	be.PutUint32(b[OffsetQueueID:], uint32(m.QueueID))
	be.PutUint32(b[OffsetFlag:], uint32(m.Flag))
	be.PutUint64(b[OffsetQueueOffset:], uint64(m.QueueOffset))
	be.PutUint64(b[OffsetPhysicalOffset:], uint64(m.CommitLogOffset))
	be.PutUint32(b[OffsetSysFlag:], uint32(HostSysFlag(m.SysFlag, m.BornHost, m.StoreHost)))
	be.PutUint64(b[OffsetBornTimestamp:], uint64(m.BornTimestamp))
	p := putHost(b, OffsetBornHost, m.BornHost)
	be.PutUint64(b[p:], uint64(m.StoreTimestamp))
	p = putHost(b, p+8, m.StoreHost)
	be.PutUint32(b[p:], uint32(m.ReconsumeTimes))
	be.PutUint64(b[p+4:], uint64(m.PreparedTransactionOffset))
	p += 12
	be.PutUint32(b[p:], uint32(len(m.Body)))
	p += 4
	p += copy(b[p:], m.Body)
	if magic == MagicV2 {
		be.PutUint16(b[p:], uint16(len(m.Topic)))
		p += 2
	} else {
		b[p] = byte(len(m.Topic))
		p++
	}
	p += copy(b[p:], m.Topic)
	be.PutUint16(b[p:], uint16(len(m.Properties)))
	p += 2
	copy(b[p:], m.Properties)
	return size, nil
}

func putHost(b []byte, p int, a netip.AddrPort) int {
	ip := a.Addr()
	if is6(ip) {
		a16 := ip.As16()
		copy(b[p:], a16[:])
		p += 16
	} else {
		var a4 [4]byte
		if ip.IsValid() {
			a4 = ip.Unmap().As4()
		}
		copy(b[p:], a4[:])
		p += 4
	}
	binary.BigEndian.PutUint32(b[p:], uint32(a.Port()))
	return p + 4
}

// PutBlankMarker writes the end-of-segment marker for a gap of remaining
// bytes (remaining >= BlankMarkerSize) at the start of dst.
func PutBlankMarker(dst []byte, remaining int) {
	binary.BigEndian.PutUint32(dst[0:], uint32(remaining))
	binary.BigEndian.PutUint32(dst[4:], MagicBlank)
}

// Record is a decoded view of a stored record. Body, Topic and Properties
// alias the decoded bytes.
type Record struct {
	TotalSize                 int32
	Magic                     uint32
	BodyCRC                   uint32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     []byte
	Properties                []byte
}

// CheckBodyCRC reports whether the body matches its stored checksum.
func (r *Record) CheckBodyCRC() bool { return BodyCRC(r.Body) == r.BodyCRC }

// StoreHostOffsetID returns the offset message id of the record.
func (r *Record) StoreHostOffsetID() string { return OffsetMsgID(r.StoreHost, r.PhysicalOffset) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// PeekRecordHeader returns TOTALSIZE and MAGICCODE of the record (or blank
// marker) at the start of b, without checking more than that 8 bytes are
// present.
func PeekRecordHeader(b []byte) (size int32, magic uint32, ok bool) {
	if len(b) < 8 {
		return 0, 0, false
	}
	return int32(binary.BigEndian.Uint32(b)), binary.BigEndian.Uint32(b[4:]), true
}

// DecodeRecord decodes the record at the start of b. Every length is
// checked against TOTALSIZE and len(b): fields must add up exactly to
// TOTALSIZE. At a blank marker it returns ErrBlank (r.TotalSize holds the
// marker's size). It does not check the body CRC and does not allocate.
func DecodeRecord(b []byte) (r Record, err error) {
	size, magic, ok := PeekRecordHeader(b)
	if !ok {
		return r, malformed("record header needs 8 bytes, have %d", len(b))
	}
	r.TotalSize, r.Magic = size, magic
	if magic == MagicBlank {
		if size < BlankMarkerSize {
			return r, malformed("blank marker size %d", size)
		}
		return r, ErrBlank
	}
	if magic != MagicV1 && magic != MagicV2 {
		return r, malformed("magic code %#08x", magic)
	}
	if size < MinRecordSize || int64(size) > int64(len(b)) {
		return r, malformed("total size %d (have %d bytes)", size, len(b))
	}
	b = b[:size]
	be := binary.BigEndian
	r.BodyCRC = be.Uint32(b[OffsetBodyCRC:])
	r.QueueID = int32(be.Uint32(b[OffsetQueueID:]))
	r.Flag = int32(be.Uint32(b[OffsetFlag:]))
	r.QueueOffset = int64(be.Uint64(b[OffsetQueueOffset:]))
	r.PhysicalOffset = int64(be.Uint64(b[OffsetPhysicalOffset:]))
	r.SysFlag = int32(be.Uint32(b[OffsetSysFlag:]))
	r.BornTimestamp = int64(be.Uint64(b[OffsetBornTimestamp:]))
	// Fixed part after the born timestamp, with both hosts in their size.
	bornSize, storeSize := 8, 8
	if r.SysFlag&SysFlagBornHostV6 != 0 {
		bornSize = 20
	}
	if r.SysFlag&SysFlagStoreHostV6 != 0 {
		storeSize = 20
	}
	p := OffsetBornHost
	if p+bornSize+8+storeSize+4+8+4 > len(b) {
		return r, malformed("total size %d too small for hosts", size)
	}
	var ok1, ok2 bool
	r.BornHost, ok1 = getHost(b[p:], bornSize)
	p += bornSize
	r.StoreTimestamp = int64(be.Uint64(b[p:]))
	p += 8
	r.StoreHost, ok2 = getHost(b[p:], storeSize)
	p += storeSize
	if !ok1 || !ok2 {
		return r, malformed("host port out of range")
	}
	r.ReconsumeTimes = int32(be.Uint32(b[p:]))
	r.PreparedTransactionOffset = int64(be.Uint64(b[p+4:]))
	p += 12
	bodyLen := int64(int32(be.Uint32(b[p:])))
	p += 4
	if bodyLen < 0 || bodyLen > int64(len(b)-p) {
		return r, malformed("body length %d", bodyLen)
	}
	r.Body = b[p : p+int(bodyLen) : p+int(bodyLen)]
	p += int(bodyLen)
	var topicLen int
	if magic == MagicV2 {
		if p+2 > len(b) {
			return r, malformed("topic length past end")
		}
		topicLen = int(be.Uint16(b[p:]))
		p += 2
	} else {
		if p+1 > len(b) {
			return r, malformed("topic length past end")
		}
		topicLen = int(b[p])
		p++
		if topicLen > MaxTopicLengthV1 {
			// Java reads this length as a signed byte.
			return r, malformed("V1 topic length %d", topicLen)
		}
	}
	if topicLen > len(b)-p {
		return r, malformed("topic length %d", topicLen)
	}
	r.Topic = b[p : p+topicLen : p+topicLen]
	p += topicLen
	if p+2 > len(b) {
		return r, malformed("properties length past end")
	}
	propLen := int(int16(be.Uint16(b[p:])))
	p += 2
	if propLen < 0 || propLen != len(b)-p {
		return r, malformed("properties length %d, %d bytes left", propLen, len(b)-p)
	}
	r.Properties = b[p:len(b):len(b)]
	return r, nil
}

// getHost decodes a host of size 8 or 20; ok is false for a port Java's
// InetSocketAddress would refuse.
func getHost(b []byte, size int) (a netip.AddrPort, ok bool) {
	ipLen := size - 4
	port := binary.BigEndian.Uint32(b[ipLen:])
	if port > 0xFFFF {
		return a, false
	}
	var ip netip.Addr
	if ipLen == 16 {
		ip = netip.AddrFrom16([16]byte(b[:16]))
	} else {
		ip = netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}
