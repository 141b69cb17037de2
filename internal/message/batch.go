package message

import "encoding/binary"

// batchEntryOverhead is the size of a batch entry with empty body and
// properties.
const batchEntryOverhead = 4 + 4 + 4 + 4 + 4 + 2

// BatchEntry is one message of a SEND_BATCH_MESSAGE body. Body and
// Properties alias the decoded bytes.
type BatchEntry struct {
	Flag       int32
	Body       []byte
	Properties []byte
}

// AppendBatchEntry appends e in the batch body encoding to dst.
func AppendBatchEntry(dst []byte, e BatchEntry) ([]byte, error) {
	if len(e.Properties) > MaxPropertiesLength {
		return dst, ErrPropertiesTooLong
	}
	size := batchEntryOverhead + len(e.Body) + len(e.Properties)
	be := binary.BigEndian
	dst = be.AppendUint32(dst, uint32(size))
	dst = be.AppendUint32(dst, 0) // MAGICCODE
	dst = be.AppendUint32(dst, 0) // BODYCRC
	dst = be.AppendUint32(dst, uint32(e.Flag))
	dst = be.AppendUint32(dst, uint32(len(e.Body)))
	dst = append(dst, e.Body...)
	dst = be.AppendUint16(dst, uint16(len(e.Properties)))
	return append(dst, e.Properties...), nil
}

// DecodeBatch calls fn for every entry of a batch body, in order, and
// stops at the first error fn returns. An empty body is an error: a batch
// holds at least one message. Every entry's TOTALSIZE must equal the sum
// of its fields. It does not allocate.
func DecodeBatch(body []byte, fn func(BatchEntry) error) error {
	if len(body) == 0 {
		return malformed("empty batch body")
	}
	be := binary.BigEndian
	for i := 0; len(body) > 0; i++ {
		if len(body) < batchEntryOverhead {
			return malformed("batch entry %d: %d bytes left, need %d", i, len(body), batchEntryOverhead)
		}
		size := int64(int32(be.Uint32(body)))
		if size < batchEntryOverhead || size > int64(len(body)) {
			return malformed("batch entry %d: total size %d (have %d bytes)", i, size, len(body))
		}
		e := body[:size]
		body = body[size:]
		flag := int32(be.Uint32(e[12:]))
		bodyLen := int64(int32(be.Uint32(e[16:])))
		if bodyLen < 0 || bodyLen > size-batchEntryOverhead {
			return malformed("batch entry %d: body length %d", i, bodyLen)
		}
		p := 20 + int(bodyLen)
		propLen := int(int16(be.Uint16(e[p:])))
		if propLen < 0 || p+2+propLen != len(e) {
			return malformed("batch entry %d: properties length %d does not fill total size %d", i, propLen, size)
		}
		err := fn(BatchEntry{
			Flag:       flag,
			Body:       e[20:p:p],
			Properties: e[p+2 : len(e) : len(e)],
		})
		if err != nil {
			return err
		}
	}
	return nil
}
