package message

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"
)

const upperHex = "0123456789ABCDEF"

// Offset message id lengths.
const (
	OffsetMsgIDLenV4 = 32 // (4 + 4 + 8) bytes in hex
	OffsetMsgIDLenV6 = 56 // (16 + 4 + 8) bytes in hex
)

// AppendOffsetMsgID appends the offset message id of the record stored at
// commitLogOffset by storeHost: upper-case hex of IP, int32 port and int64
// offset. It allocates only if dst lacks capacity.
func AppendOffsetMsgID(dst []byte, storeHost netip.AddrPort, commitLogOffset int64) []byte {
	var raw [28]byte
	n := putHost(raw[:], 0, storeHost)
	binary.BigEndian.PutUint64(raw[n:], uint64(commitLogOffset))
	n += 8
	for _, c := range raw[:n] {
		dst = append(dst, upperHex[c>>4], upperHex[c&0xF])
	}
	return dst
}

// OffsetMsgID returns the offset message id (see AppendOffsetMsgID).
func OffsetMsgID(storeHost netip.AddrPort, commitLogOffset int64) string {
	var buf [OffsetMsgIDLenV6]byte
	return string(AppendOffsetMsgID(buf[:0], storeHost, commitLogOffset))
}

// ParseOffsetMsgID decodes an offset message id of 32 (IPv4) or 56 (IPv6)
// hex characters, either case.
func ParseOffsetMsgID(id string) (storeHost netip.AddrPort, commitLogOffset int64, err error) {
	var raw [28]byte
	ipLen := 4
	switch len(id) {
	case OffsetMsgIDLenV4:
	case OffsetMsgIDLenV6:
		ipLen = 16
	default:
		return storeHost, 0, malformed("offset message id length %d", len(id))
	}
	n, err := hex.Decode(raw[:], []byte(id))
	if err != nil {
		return storeHost, 0, malformed("offset message id: %v", err)
	}
	b := raw[:n]
	var ip netip.Addr
	if ipLen == 4 {
		ip = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		ip = netip.AddrFrom16([16]byte(b[:16]))
	}
	port := binary.BigEndian.Uint32(b[ipLen:])
	if port > 0xFFFF {
		return storeHost, 0, malformed("offset message id port %d", port)
	}
	off := int64(binary.BigEndian.Uint64(b[ipLen+4:]))
	return netip.AddrPortFrom(ip, uint16(port)), off, nil
}

// UniqIDLen is the length of a unique key (UNIQ_KEY) in Java's format.
const UniqIDLen = 32

// UniqIDGenerator makes unique keys in Java's MessageClientIDSetter
// format: upper-hex of IPv4 (4 bytes), pid (low 16 bits), an instance id
// (4 bytes; Java puts its class loader's hash there), int32 milliseconds
// since the start of the current month in local time, and a 16-bit
// counter. It is safe for concurrent use.
type UniqIDGenerator struct {
	prefix [20]byte // hex of the 10 fixed bytes
	now    func() time.Time

	mu        sync.Mutex
	counter   uint16
	monthFrom int64 // ms, start of the current month
	monthTo   int64 // ms, start of the next month
}

// NewUniqIDGenerator returns a generator for this process. A zero or IPv6
// ip is replaced by one made of the clock, as Java does (createFakeIP).
// now may be nil (time.Now).
func NewUniqIDGenerator(ip netip.Addr, pid int, instance uint32, now func() time.Time) *UniqIDGenerator {
	if now == nil {
		now = time.Now
	}
	g := &UniqIDGenerator{now: now}
	var raw [10]byte
	if ip.Is4() || ip.Is4In6() {
		a := ip.Unmap().As4()
		copy(raw[:4], a[:])
	} else {
		binary.BigEndian.PutUint32(raw[:4], uint32(now().UnixMilli()))
	}
	binary.BigEndian.PutUint16(raw[4:], uint16(pid))
	binary.BigEndian.PutUint32(raw[6:], instance)
	for i, c := range raw {
		g.prefix[2*i], g.prefix[2*i+1] = upperHex[c>>4], upperHex[c&0xF]
	}
	return g
}

// AppendNext appends a new unique key to dst.
func (g *UniqIDGenerator) AppendNext(dst []byte) []byte {
	t := g.now()
	ms := t.UnixMilli()
	g.mu.Lock()
	if ms >= g.monthTo || ms < g.monthFrom {
		y, mo, _ := t.Date()
		from := time.Date(y, mo, 1, 0, 0, 0, 0, t.Location())
		g.monthFrom, g.monthTo = from.UnixMilli(), from.AddDate(0, 1, 0).UnixMilli()
	}
	diff := uint32(ms - g.monthFrom)
	c := g.counter
	g.counter++
	g.mu.Unlock()

	var raw [6]byte
	binary.BigEndian.PutUint32(raw[:], diff)
	binary.BigEndian.PutUint16(raw[4:], c)
	dst = append(dst, g.prefix[:]...)
	for _, b := range raw {
		dst = append(dst, upperHex[b>>4], upperHex[b&0xF])
	}
	return dst
}

// Next returns a new unique key.
func (g *UniqIDGenerator) Next() string {
	var buf [UniqIDLen]byte
	return string(g.AppendNext(buf[:0]))
}

// UniqIDTime returns the approximate creation time of a unique key made
// in Java's (or this package's) format, resolved against now: the month is
// the current one, or the previous one if that would lie in the future.
func UniqIDTime(id string, now time.Time) (time.Time, error) {
	if len(id) != UniqIDLen {
		return time.Time{}, malformed("unique key length %d", len(id))
	}
	var raw [4]byte
	if _, err := hex.Decode(raw[:], []byte(strings.ToUpper(id[20:28]))); err != nil {
		return time.Time{}, malformed("unique key: %v", err)
	}
	span := int64(binary.BigEndian.Uint32(raw[:]))
	y, mo, _ := now.Date()
	from := time.Date(y, mo, 1, 0, 0, 0, 0, now.Location())
	if from.UnixMilli()+span >= now.UnixMilli() {
		from = from.AddDate(0, -1, 0)
	}
	return time.UnixMilli(from.UnixMilli() + span).In(now.Location()), nil
}
