package client

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gorocket/gorocket/internal/message"
)

// maxInflatedBody bounds a decompressed body, so that a small compressed
// body from a hostile broker cannot make the client allocate gigabytes.
const maxInflatedBody = 64 << 20

// decodeMessages decodes a PULL_MESSAGE body, a concatenation of stored
// records, into messages of queue q. With tags set only messages whose
// TAGS is one of them are kept: the broker filters by tag hash code, and
// two tags can share a hash.
//
// Bodies and properties alias body (three-index slices, so appending to a
// message's Body never overwrites its neighbour); compressed bodies are
// inflated into their own buffers. Anything malformed fails the whole
// body: the stream of records cannot be trusted past a bad one.
func decodeMessages(body []byte, q MessageQueue, tags []string) ([]MessageExt, error) {
	n := 0
	for b := body; len(b) > 0; n++ {
		size, _, ok := message.PeekRecordHeader(b)
		if !ok || size < message.MinRecordSize || int64(size) > int64(len(b)) {
			return nil, fmt.Errorf("%w: pull body: record %d of %d bytes with %d left", ErrBadResponse, n, size, len(b))
		}
		b = b[size:]
	}
	msgs := make([]MessageExt, 0, n)
	for b := body; len(b) > 0; {
		r, err := message.DecodeRecord(b)
		if err != nil {
			return nil, fmt.Errorf("%w: pull body: record %d: %w", ErrBadResponse, len(msgs), err)
		}
		b = b[r.TotalSize:]
		if tags != nil && !hasTag(tags, r.Properties) {
			continue
		}
		m := MessageExt{
			Topic:                     q.Topic,
			BrokerName:                q.BrokerName,
			QueueID:                   int(r.QueueID),
			QueueOffset:               r.QueueOffset,
			CommitLogOffset:           r.PhysicalOffset,
			Body:                      r.Body[:len(r.Body):len(r.Body)],
			Flag:                      r.Flag,
			SysFlag:                   r.SysFlag,
			ReconsumeTimes:            r.ReconsumeTimes,
			BornTimestamp:             time.UnixMilli(r.BornTimestamp),
			BornHost:                  r.BornHost,
			StoreTimestamp:            time.UnixMilli(r.StoreTimestamp),
			StoreHost:                 r.StoreHost,
			StoreSize:                 r.TotalSize,
			BodyCRC:                   r.BodyCRC,
			PreparedTransactionOffset: r.PreparedTransactionOffset,
			props:                     r.Properties[:len(r.Properties):len(r.Properties)],
		}
		if string(r.Topic) != q.Topic {
			m.Topic = string(r.Topic)
		}
		if r.SysFlag&message.SysFlagCompressed != 0 {
			if m.Body, err = inflate(r.Body, r.SysFlag, maxInflatedBody); err != nil {
				return nil, fmt.Errorf("%w: pull body: message at offset %d: %w", ErrBadResponse, r.QueueOffset, err)
			}
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// hasTag reports whether the TAGS property in props is one of tags.
func hasTag(tags []string, props []byte) bool {
	v, _ := message.PropertyValue(props, message.PropertyTags)
	for _, t := range tags {
		if string(v) == t {
			return true
		}
	}
	return false
}

var errTooLarge = errors.New("inflated body too large")

// inflate decompresses a zlib body of at most limit bytes. Bodies
// compressed otherwise (LZ4 and ZSTD of 5.x Java producers) are returned as
// they are, with the compressed bit still set in SysFlag for the
// application to see.
func inflate(body []byte, sysFlag int32, limit int) ([]byte, error) {
	if message.GetCompressionType(sysFlag) != message.CompressionZLIB {
		return body, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, errTooLarge
	}
	return out, nil
}
