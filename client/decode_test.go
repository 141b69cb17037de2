package client

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
)

// record encodes one stored record for queue T@b#0.
func record(t testing.TB, offset int64, body []byte, sysFlag int32, props string) []byte {
	in := message.Inner{
		Topic: "T", QueueID: 0, Body: body, Properties: []byte(props), SysFlag: sysFlag,
		BornTimestamp: 1700000000000, BornHost: netip.MustParseAddrPort("10.0.0.1:5000"),
		StoreHost: netip.MustParseAddrPort("10.0.0.2:10911"), QueueOffset: offset, CommitLogOffset: 1000 * offset,
		StoreTimestamp: 1700000000001, BodyCRC: message.BodyCRC(body),
	}
	size, err := in.RecordSize()
	require.NoError(t, err)
	buf := make([]byte, size)
	_, err = message.EncodeRecord(buf, &in)
	require.NoError(t, err)
	return buf
}

var decodeQueue = MessageQueue{Topic: "T", BrokerName: "b"}

func TestDecodeMessagesRefusesGarbage(t *testing.T) {
	good := append(record(t, 0, []byte("a"), 0, ""), record(t, 1, []byte("b"), 0, "")...)
	msgs, err := decodeMessages(good, decodeQueue, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 2)

	for name, body := range map[string][]byte{
		"truncated":   good[:len(good)-1],
		"trailing":    append(bytes.Clone(good), 0, 0, 0),
		"tiny size":   binary.BigEndian.AppendUint32(nil, 8),
		"huge size":   append(binary.BigEndian.AppendUint32(nil, 1<<31-1), good[4:]...),
		"blank":       append(binary.BigEndian.AppendUint32(nil, 91), make([]byte, 87)...),
		"bad zlib":    record(t, 0, []byte("not zlib"), message.SysFlagCompressed, ""),
		"bad magic":   func() []byte { b := bytes.Clone(good); b[4] = 0; return b }(),
		"bad bodylen": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[84:], 1<<20); return b }(),
	} {
		_, err := decodeMessages(body, decodeQueue, nil)
		require.ErrorIs(t, err, ErrBadResponse, name)
	}
}

func TestInflateIsBounded(t *testing.T) {
	out, err := inflate(bomb(t, 1024), message.SysFlagCompressed, 1024)
	require.NoError(t, err)
	require.Len(t, out, 1024)
	_, err = inflate(bomb(t, 1025), message.SysFlagCompressed, 1024)
	require.ErrorIs(t, err, errTooLarge)
}

func bomb(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	_, err := zw.Write(make([]byte, n))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestDecodeMessagesLeavesOtherCompressionAlone(t *testing.T) {
	lz4 := message.SysFlagCompressed | int32(message.CompressionLZ4)<<8
	msgs, err := decodeMessages(record(t, 0, []byte("lz4 bytes"), lz4, ""), decodeQueue, nil)
	require.NoError(t, err)
	require.Equal(t, "lz4 bytes", string(msgs[0].Body))
	require.Equal(t, lz4, msgs[0].SysFlag)
}

func FuzzDecodeMessages(f *testing.F) {
	f.Add(record(f, 0, []byte("hello"), 0, "TAGS\x01A\x02"))
	f.Add(append(record(f, 0, []byte("a"), 0, ""), record(f, 1, []byte("b"), 0, "KEYS\x01k\x02")...))
	f.Add(record(f, 0, bomb(f, 100), message.SysFlagCompressed, ""))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tags := range [][]string{nil, {"A"}} {
			msgs, err := decodeMessages(body, decodeQueue, tags)
			if err != nil {
				continue
			}
			for i := range msgs {
				m := &msgs[i]
				_ = m.Tags()
				_ = m.Keys()
				_ = m.MsgID()
				_ = m.Properties()
				_ = m.String()
			}
		}
	})
}
