package remoting

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"

	"github.com/gorocket/gorocket/internal/protocol"
)

// MaxFrameSize is the largest frame, its 4-byte length field included,
// that a peer accepts (Java: com.rocketmq.remoting.frameMaxLength).
const MaxFrameSize = 16 << 20

const (
	frameHeadLen   = 8  // length + serializeType/headerLen
	binaryFixedLen = 21 // fixed part of the ROCKETMQ header
	maxHeaderLen   = 1<<24 - 1
)

// Codec errors.
var (
	// ErrBadFrame wraps every reason to reject incoming bytes: the stream
	// cannot be trusted afterwards and the connection is closed.
	ErrBadFrame = errors.New("remoting: malformed frame")
	// ErrFrameTooLarge is returned when a command would encode to a frame
	// over the limit; nothing is sent.
	ErrFrameTooLarge = errors.New("remoting: frame too large")
	// ErrEncode is returned for a command the chosen serialization cannot
	// represent (a code or version outside int16 in the binary header, an
	// extFields key longer than 32767 bytes, an unknown serialize type).
	ErrEncode = errors.New("remoting: cannot encode command")
)

func badFrame(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, args...)...)
}

// AppendHeader appends c's header in c.SerializeType.
func AppendHeader(dst []byte, c *Command) ([]byte, error) {
	switch c.SerializeType {
	case JSON:
		return appendJSONHeader(dst, c), nil
	case RocketMQ:
		return appendBinaryHeader(dst, c)
	}
	return dst, fmt.Errorf("%w: serialize type %d", ErrEncode, c.SerializeType)
}

// appendFrameHead appends the length field, the type/length word and the
// header of a frame whose body is bodyLen bytes long.
func appendFrameHead(dst []byte, c *Command, bodyLen, maxFrame int) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst, err := AppendHeader(dst, c)
	if err != nil {
		return dst[:start], err
	}
	hl := len(dst) - start - frameHeadLen
	if hl > maxHeaderLen {
		return dst[:start], fmt.Errorf("%w: header is %d bytes", ErrFrameTooLarge, hl)
	}
	total := frameHeadLen + hl + bodyLen
	if total > maxFrame {
		return dst[:start], fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, total, maxFrame)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(total-4))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(c.SerializeType)<<24|uint32(hl))
	return dst, nil
}

// EncodeFrame appends the whole frame of c, body included, to dst.
func EncodeFrame(dst []byte, c *Command) ([]byte, error) {
	dst, err := appendFrameHead(dst, c, c.BodyLen(), MaxFrameSize)
	if err != nil {
		return dst, err
	}
	if c.parts == nil {
		return append(dst, c.Body...), nil
	}
	for _, p := range c.parts {
		dst = append(dst, p...)
	}
	return dst, nil
}

// DecodeFrame decodes one complete frame, length field included. The
// command does not alias b.
func DecodeFrame(b []byte) (*Command, error) {
	if len(b) < frameHeadLen {
		return nil, badFrame("%d bytes, shorter than a frame head", len(b))
	}
	length := int64(int32(binary.BigEndian.Uint32(b)))
	if length != int64(len(b)-4) {
		return nil, badFrame("length field %d, frame has %d bytes after it", length, len(b)-4)
	}
	typ, hl, err := checkFrameHead(b[:frameHeadLen], MaxFrameSize)
	if err != nil {
		return nil, err
	}
	c := &Command{SerializeType: typ}
	var fields []protocol.ExtField
	hdr := string(b[frameHeadLen : frameHeadLen+hl])
	if err := decodeHeader(hdr, c, &fields); err != nil {
		return nil, err
	}
	if body := b[frameHeadLen+hl:]; len(body) > 0 {
		c.Body = slices.Clone(body)
	}
	return c, nil
}

// checkFrameHead validates the 8-byte frame head and returns the serialize
// type and the header length.
func checkFrameHead(head []byte, maxFrame int) (SerializeType, int, error) {
	length := int64(int32(binary.BigEndian.Uint32(head)))
	if length < 4 || length > int64(maxFrame)-4 {
		return 0, 0, badFrame("length %d outside [4, %d]", length, maxFrame-4)
	}
	word := binary.BigEndian.Uint32(head[4:])
	typ := SerializeType(word >> 24)
	hl := int(word & 0xFFFFFF)
	if typ != JSON && typ != RocketMQ {
		return 0, 0, badFrame("unknown serialize type %d", typ)
	}
	if int64(hl) > length-4 {
		return 0, 0, badFrame("header length %d past frame length %d", hl, length)
	}
	return typ, hl, nil
}

// decodeHeader decodes hdr into c, using fields as scratch space for the
// extFields, which it copies into a slice of their own.
func decodeHeader(hdr string, c *Command, fields *[]protocol.ExtField) error {
	if err := parseHeader(hdr, c, fields); err != nil {
		return err
	}
	if n := len(*fields); n > 0 {
		c.ExtFields = slices.Clone(*fields)
		clear(*fields) // drop references to the header string
	}
	return nil
}

// parseHeader decodes hdr into c, except for the extFields, which it leaves
// in *fields.
func parseHeader(hdr string, c *Command, fields *[]protocol.ExtField) error {
	*fields = (*fields)[:0]
	if c.SerializeType == JSON {
		return decodeJSONHeader(hdr, c, fields)
	}
	return decodeBinaryHeader(hdr, c, fields)
}

// frameReader reads commands from a stream, reusing its scratch space
// between frames. Not safe for concurrent use.
type frameReader struct {
	r        *bufio.Reader
	maxFrame int
	head     [frameHeadLen]byte
	fields   []protocol.ExtField
}

// bodyChunk is the largest header or body allocated up front; longer ones
// grow as their bytes arrive, so a peer that announces 16 MiB and sends
// nothing costs at most this much.
const bodyChunk = 1 << 20

// read returns the next command, in memory that Command.Release can give
// back (see rxCommand). Errors wrapping ErrBadFrame mean the peer sent
// something that is not a frame; anything else is an I/O error (io.EOF
// between frames is a clean close; io.ErrUnexpectedEOF means the stream
// ended inside a frame).
func (fr *frameReader) read() (*Command, error) {
	if _, err := io.ReadFull(fr.r, fr.head[:4]); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(fr.r, fr.head[4:]); err != nil {
		return nil, noEOF(err)
	}
	typ, hl, err := checkFrameHead(fr.head[:], fr.maxFrame)
	if err != nil {
		return nil, err
	}
	bodyLen := int(int32(binary.BigEndian.Uint32(fr.head[:]))) - 4 - hl

	var hdr string
	if hl > 0 {
		buf, err := readBody(fr.r, hl)
		if err != nil {
			return nil, noEOF(err)
		}
		// buf is never written again: the header strings alias it.
		hdr = unsafe.String(unsafe.SliceData(buf), hl)
	}
	c := rxCommand()
	c.SerializeType = typ
	if err := parseHeader(hdr, c, &fr.fields); err != nil {
		c.recycle()
		return nil, err
	}
	if n := len(fr.fields); n > 0 {
		if cap(c.rxExt) < n {
			c.rxExt = make(protocol.ExtFields, 0, n)
		}
		c.ExtFields = append(c.rxExt[:0], fr.fields...)
		c.rxExt = c.ExtFields
		clear(fr.fields) // drop references to the header string
	}
	if bodyLen > 0 {
		if b := c.bodyBuf(bodyLen); b != nil {
			c.Body = b[:bodyLen:bodyLen]
			_, err = io.ReadFull(fr.r, c.Body)
		} else {
			c.Body, err = readBody(fr.r, bodyLen)
		}
		if err != nil {
			c.recycle()
			return nil, noEOF(err)
		}
	}
	return c, nil
}

func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= bodyChunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, bodyChunk)
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(cap(b), n-len(b)))
		}
		m, err := io.ReadFull(r, b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendBinaryHeader appends the ROCKETMQ serialization of c's header.
func appendBinaryHeader(b []byte, c *Command) ([]byte, error) {
	if c.Code != int32(int16(c.Code)) {
		return b, fmt.Errorf("%w: code %d does not fit the binary header", ErrEncode, c.Code)
	}
	if c.Version != int32(int16(c.Version)) {
		return b, fmt.Errorf("%w: version %d does not fit the binary header", ErrEncode, c.Version)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(c.Code))
	b = append(b, byte(c.Language))
	b = binary.BigEndian.AppendUint16(b, uint16(c.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Opaque))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Flag))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Remark)))
	b = append(b, c.Remark...)
	extAt := len(b)
	b = append(b, 0, 0, 0, 0)
	for _, kv := range c.ExtFields {
		if len(kv.Key) > 1<<15-1 {
			return b, fmt.Errorf("%w: extFields key of %d bytes", ErrEncode, len(kv.Key))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(kv.Key)))
		b = append(b, kv.Key...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv.Value)))
		b = append(b, kv.Value...)
	}
	binary.BigEndian.PutUint32(b[extAt:], uint32(len(b)-extAt-4))
	return b, nil
}

// decodeBinaryHeader decodes a ROCKETMQ header. Strings alias s.
func decodeBinaryHeader(s string, c *Command, fields *[]protocol.ExtField) error {
	if len(s) < binaryFixedLen {
		return badFrame("binary header of %d bytes, need %d", len(s), binaryFixedLen)
	}
	c.Code = int32(int16(be16(s)))
	c.Language = protocol.LanguageCode(s[2])
	c.Version = int32(int16(be16(s[3:])))
	c.Opaque = int32(be32(s[5:]))
	c.Flag = int32(be32(s[9:]))
	p := 13
	remark, p, err := binaryField(s, p, "remark")
	if err != nil {
		return err
	}
	c.Remark = remark
	ext, _, err := binaryField(s, p, "extFields")
	if err != nil {
		return err
	}
	for q := 0; q < len(ext); {
		if len(ext)-q < 2 {
			return badFrame("binary header: truncated extFields key length")
		}
		kl := int(int16(be16(ext[q:])))
		q += 2
		if kl < 0 || kl > len(ext)-q {
			return badFrame("binary header: extFields key length %d, %d bytes left", kl, len(ext)-q)
		}
		key := ext[q : q+kl]
		q += kl
		if len(ext)-q < 4 {
			return badFrame("binary header: truncated extFields value length")
		}
		vl := int64(int32(be32(ext[q:])))
		q += 4
		if vl < 0 || vl > int64(len(ext)-q) {
			return badFrame("binary header: extFields value length %d, %d bytes left", vl, len(ext)-q)
		}
		*fields = append(*fields, protocol.ExtField{Key: key, Value: ext[q : q+int(vl)]})
		q += int(vl)
	}
	return nil
}

// binaryField reads an int32 length at p and the bytes it announces.
func binaryField(s string, p int, name string) (string, int, error) {
	if len(s)-p < 4 {
		return "", p, badFrame("binary header: truncated %s length", name)
	}
	n := int64(int32(be32(s[p:])))
	p += 4
	if n < 0 || n > int64(len(s)-p) {
		return "", p, badFrame("binary header: %s length %d, %d bytes left", name, n, len(s)-p)
	}
	return s[p : p+int(n)], p + int(n), nil
}

func be16(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }

func be32(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
