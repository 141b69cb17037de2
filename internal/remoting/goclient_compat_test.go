package remoting

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
)

// This file rebuilds, step for step, what rocketmq-client-go v2.1.2 does in
// internal/remote/codec.go and remote_client.go (an internal package we
// cannot import), and checks that our codec and server interoperate with
// it in both directions. The client marshals with jsoniter's default
// config; for this struct that is byte-for-byte what encoding/json writes
// (same field order, HTML escaping on) except for map key order, which no
// decoder cares about.

type goLanguageCode byte

func (goLanguageCode) MarshalJSON() ([]byte, error) { return []byte(`"GO"`), nil }

func (lc *goLanguageCode) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "JAVA":
		*lc = 0
	case "GO", `"GO"`:
		*lc = 9
	default:
		*lc = 127
	}
	return nil
}

type goRemotingCommand struct {
	Code      int16             `json:"code"`
	Language  goLanguageCode    `json:"language"`
	Version   int16             `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int32             `json:"flag"`
	Remark    string            `json:"remark"`
	ExtFields map[string]string `json:"extFields"`
	Body      []byte            `json:"-"`
}

// goWriteTo is RemotingCommand.WriteTo with codecType JSON (the client
// never changes it).
func goWriteTo(w io.Writer, c *goRemotingCommand) error {
	header, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.BigEndian, int32(4+len(header)+len(c.Body)))
	buf.Write([]byte{0, byte(len(header) >> 16), byte(len(header) >> 8), byte(len(header))})
	buf.Write(header)
	buf.Write(c.Body)
	_, err = w.Write(buf.Bytes())
	return err
}

// goReadFrame is the client's receiveResponse loop body: read the length,
// read that many bytes, decode.
func goReadFrame(r io.Reader) (*goRemotingCommand, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, int32(binary.BigEndian.Uint32(head[:])))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return goDecode(buf)
}

// goDecode is codec.go's decode: data starts at the type/length word.
func goDecode(data []byte) (*goRemotingCommand, error) {
	ori := int32(binary.BigEndian.Uint32(data))
	headerLength := ori & 0xFFFFFF
	header := data[4 : 4+headerLength]
	var cmd *goRemotingCommand
	switch byte(ori >> 24) {
	case 0:
		cmd = &goRemotingCommand{ExtFields: map[string]string{}, Body: []byte{}}
		if err := json.Unmarshal(header, cmd); err != nil {
			return nil, err
		}
	case 1:
		var err error
		if cmd, err = goRmqDecodeHeader(header); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown codec type: %d", ori>>24)
	}
	if bodyLength := int32(len(data)) - 4 - headerLength; bodyLength > 0 {
		cmd.Body = data[4+headerLength:]
	}
	return cmd, nil
}

// goRmqDecodeHeader is rmqCodec.decodeHeader.
func goRmqDecodeHeader(data []byte) (*goRemotingCommand, error) {
	r := bytes.NewReader(data)
	cmd := &goRemotingCommand{}
	var lang byte
	var remarkLen, extLen int32
	for _, v := range []any{&cmd.Code, &lang, &cmd.Version, &cmd.Opaque, &cmd.Flag, &remarkLen} {
		if err := binary.Read(r, binary.BigEndian, v); err != nil {
			return nil, err
		}
	}
	cmd.Language = goLanguageCode(lang)
	if remarkLen > 0 {
		b := make([]byte, remarkLen)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		cmd.Remark = string(b)
	}
	if err := binary.Read(r, binary.BigEndian, &extLen); err != nil {
		return nil, err
	}
	if extLen > 0 {
		ext := make([]byte, extLen)
		if _, err := io.ReadFull(r, ext); err != nil {
			return nil, err
		}
		cmd.ExtFields = map[string]string{}
		er := bytes.NewReader(ext)
		for er.Len() > 0 {
			var kl int16
			var vl int32
			if err := binary.Read(er, binary.BigEndian, &kl); err != nil {
				return nil, err
			}
			k := make([]byte, kl)
			if _, err := io.ReadFull(er, k); err != nil {
				return nil, err
			}
			if err := binary.Read(er, binary.BigEndian, &vl); err != nil {
				return nil, err
			}
			v := make([]byte, vl)
			if _, err := io.ReadFull(er, v); err != nil {
				return nil, err
			}
			cmd.ExtFields[string(k)] = string(v)
		}
	}
	return cmd, nil
}

// goSendHeader is what SendMessageRequestHeader.Encode produces.
func goSendHeader() map[string]string {
	return map[string]string{
		"producerGroup": "pg", "topic": "TopicTest", "queueId": "3", "sysFlag": "0",
		"bornTimestamp": "1700000000123", "flag": "0", "reconsumeTimes": "0", "unitMode": "false",
		"maxReconsumeTimes": "0", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"batch": "false", "properties": "KEYS\x01k<1>&\x02TAGS\x01TagA\x02UNIQ_KEY\x01C0A8\x02",
	}
}

func TestGoClientFramesDecode(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, goWriteTo(&buf, &goRemotingCommand{
		Code: 10, Language: 9, Version: 317, Opaque: 42, ExtFields: goSendHeader(), Body: []byte("payload"),
	}))
	require.Contains(t, buf.String(), `\u003c`, "the client escapes HTML characters")
	c, err := DecodeFrame(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, int32(protocol.SendMessage), c.Code)
	require.Equal(t, protocol.LanguageGo, c.Language)
	require.Equal(t, int32(protocol.V4_5_2), c.Version)
	require.Equal(t, int32(42), c.Opaque)
	require.False(t, c.IsOneway())
	require.Equal(t, "payload", string(c.Body))
	require.Equal(t, goSendHeader(), c.ExtFields.Map())

	var h protocol.SendMessageRequestHeader
	require.NoError(t, protocol.DecodeSendMessageHeader(c.RequestCode(), c.ExtFields, &h))
	require.Equal(t, "TopicTest", h.Topic)
	require.Equal(t, int32(3), h.QueueID)
	require.Equal(t, int64(1700000000123), h.BornTimestamp)
	require.Equal(t, "KEYS\x01k<1>&\x02TAGS\x01TagA\x02UNIQ_KEY\x01C0A8\x02", h.Properties)
}

// TestGoClientAgainstServer plays the Go client over a socket against our
// server: requests in the client's encoding, responses read and decoded
// the client's way, in both header serializations.
func TestGoClientAgainstServer(t *testing.T) {
	s := startServer(t, nil, func(s *Server) {
		s.Register(protocol.SendMessage, Inline, ProcessorFunc(func(_ context.Context, _ *Conn, req *Command) (*Command, error) {
			var h protocol.SendMessageRequestHeader
			if err := protocol.DecodeSendMessageHeader(req.RequestCode(), req.ExtFields, &h); err != nil {
				return nil, err
			}
			resp := NewResponse(req, protocol.Success, "")
			rh := protocol.SendMessageResponseHeader{
				MsgID: "7F00000100002A9F0000000000000000", QueueID: h.QueueID, QueueOffset: 9,
				MsgRegion: "DefaultRegion", TraceOn: "true",
			}
			resp.ExtFields = rh.AppendExt(nil)
			return resp, nil
		}))
	})
	// The server answers in the request's serialization (JSON here). To
	// check the client's binary decode too, a hook switches some responses
	// to ROCKETMQ, as a Java broker run with -Drocketmq.serialize.type=ROCKETMQ
	// would answer.
	s.AddHook(flipToBinary{})

	nc, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))

	for i, answer := range []string{"json", "binary"} {
		ext := goSendHeader()
		ext["answer"] = answer
		require.NoError(t, goWriteTo(nc, &goRemotingCommand{
			Code: 10, Language: 9, Version: 317, Opaque: int32(100 + i), ExtFields: ext, Body: []byte("x"),
		}))
		resp, err := goReadFrame(nc)
		require.NoError(t, err, answer)
		require.Equal(t, int32(100+i), resp.Opaque)
		require.Equal(t, int32(1), resp.Flag&1, "response flag")
		require.Equal(t, int16(0), resp.Code)
		require.Equal(t, "7F00000100002A9F0000000000000000", resp.ExtFields["msgId"])
		require.Equal(t, "3", resp.ExtFields["queueId"])
		require.Equal(t, "9", resp.ExtFields["queueOffset"])
		require.Equal(t, "DefaultRegion", resp.ExtFields["MSG_REGION"])
		require.Equal(t, "true", resp.ExtFields["TRACE_ON"])
	}

	// Unknown codes come back as REQUEST_CODE_NOT_SUPPORTED, which the
	// client surfaces as an error.
	require.NoError(t, goWriteTo(nc, &goRemotingCommand{Code: 9999, Language: 9, Version: 317, Opaque: 7}))
	resp, err := goReadFrame(nc)
	require.NoError(t, err)
	require.Equal(t, int16(protocol.RequestCodeNotSupported), resp.Code)
	require.NotEmpty(t, resp.Remark)
}

type flipToBinary struct{}

func (flipToBinary) BeforeRequest(string, *Command) error { return nil }

func (flipToBinary) AfterResponse(_ string, req, resp *Command) error {
	if req.ExtFields.Value("answer") == "binary" {
		resp.SerializeType = RocketMQ
	}
	return nil
}

// TestServerRequestsToGoClient checks the frames a broker sends to the Go
// client (NOTIFY_CONSUMER_IDS_CHANGED and friends) decode the client's way.
func TestServerRequestsToGoClient(t *testing.T) {
	for _, ser := range []SerializeType{JSON, RocketMQ} {
		c := NewRequest(protocol.NotifyConsumerIDsChanged, protocol.ExtFields{{Key: "consumerGroup", Value: "cg"}}, nil)
		c.Opaque = 5
		c.Flag = FlagOneway
		c.SerializeType = ser
		frame, err := EncodeFrame(nil, c)
		require.NoError(t, err)
		got, err := goReadFrame(bytes.NewReader(frame))
		require.NoError(t, err, ser)
		require.Equal(t, int16(protocol.NotifyConsumerIDsChanged), got.Code)
		require.Equal(t, int32(5), got.Opaque)
		require.Equal(t, "cg", got.ExtFields["consumerGroup"])
		require.Equal(t, int16(protocol.CurrentVersion), got.Version)
	}
}
