package remoting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/gorocket/gorocket/internal/protocol"
)

func goldenCommand() *Command {
	return &Command{
		Code:      int32(protocol.SendMessage),
		Language:  protocol.LanguageGo,
		Version:   int32(protocol.V4_5_2),
		Opaque:    1,
		ExtFields: protocol.ExtFields{{Key: "topic", Value: "t"}, {Key: "queueId", Value: "0"}},
		Body:      []byte("hi"),
	}
}

// The golden frames were computed independently (by hand and with a short
// Python struct.pack script) from the layouts in doc.go.
const (
	goldenJSONFrame = "\x00\x00\x00\x6b" + "\x00\x00\x00\x65" +
		`{"code":10,"extFields":{"topic":"t","queueId":"0"},"flag":0,"language":"GO","opaque":1,"version":317}` +
		"hi"
	goldenBinaryFrameHex = "000000350100002f000a09013d0000000100000000000000000000001a" +
		"0005746f70696300000001" + "74" + "000771756575654964000000013068" + "69"
)

func TestEncodeFrameGoldenJSON(t *testing.T) {
	got, err := EncodeFrame(nil, goldenCommand())
	require.NoError(t, err)
	require.Equal(t, goldenJSONFrame, string(got))
}

func TestEncodeFrameGoldenBinary(t *testing.T) {
	c := goldenCommand()
	c.SerializeType = RocketMQ
	got, err := EncodeFrame(nil, c)
	require.NoError(t, err)
	require.Equal(t, goldenBinaryFrameHex, hex.EncodeToString(got))
}

func TestDecodeFrameGolden(t *testing.T) {
	bin, err := hex.DecodeString(goldenBinaryFrameHex)
	require.NoError(t, err)
	for name, frame := range map[string][]byte{"json": []byte(goldenJSONFrame), "binary": bin} {
		t.Run(name, func(t *testing.T) {
			c, err := DecodeFrame(frame)
			require.NoError(t, err)
			want := goldenCommand()
			if name == "binary" {
				want.SerializeType = RocketMQ
			}
			requireSameCommand(t, want, c)
		})
	}
}

func requireSameCommand(t *testing.T, want, got *Command) {
	t.Helper()
	require.Equal(t, want.Code, got.Code, "code")
	require.Equal(t, want.Language, got.Language, "language")
	require.Equal(t, want.Version, got.Version, "version")
	require.Equal(t, want.Opaque, got.Opaque, "opaque")
	require.Equal(t, want.Flag, got.Flag, "flag")
	require.Equal(t, want.Remark, got.Remark, "remark")
	require.Equal(t, want.SerializeType, got.SerializeType, "serialize type")
	if len(want.ExtFields) == 0 {
		require.Empty(t, got.ExtFields, "extFields")
	} else {
		require.Equal(t, want.ExtFields, got.ExtFields, "extFields")
	}
	require.Equal(t, string(want.Body), string(got.Body), "body")
}

// TestJSONHeaderTolerance feeds the decoder headers as Java's fastjson and
// the Go client write them, and variations a lenient reader must accept.
func TestJSONHeaderTolerance(t *testing.T) {
	cases := []struct {
		name   string
		header string
		check  func(t *testing.T, c *Command)
	}{
		{
			name: "fastjson request, remark absent",
			header: `{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA",` +
				`"opaque":3,"serializeTypeCurrentRPC":"JSON","version":479}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, int32(105), c.Code)
				require.Equal(t, protocol.LanguageJava, c.Language)
				require.Equal(t, int32(479), c.Version)
				require.Equal(t, "TopicTest", c.ExtFields.Value("topic"))
				require.Empty(t, c.Remark)
			},
		},
		{
			name:   "Go client request",
			header: `{"code":34,"language":"GO","version":317,"opaque":12,"flag":0,"remark":"","extFields":{}}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, int32(34), c.Code)
				require.Equal(t, protocol.LanguageGo, c.Language)
				require.Equal(t, int32(12), c.Opaque)
				require.Empty(t, c.ExtFields)
			},
		},
		{
			name:   "nulls",
			header: `{"code":0,"remark":null,"extFields":null,"language":null,"flag":1,"opaque":-5}`,
			check: func(t *testing.T, c *Command) {
				require.True(t, c.IsResponse())
				require.Equal(t, int32(-5), c.Opaque)
				require.Empty(t, c.ExtFields)
			},
		},
		{
			name:   "whitespace, quoted numbers, numeric language",
			header: " {\n\t\"code\" : \"11\" , \"language\" : 9 , \"opaque\":\"7\" } \n",
			check: func(t *testing.T, c *Command) {
				require.Equal(t, int32(11), c.Code)
				require.Equal(t, protocol.LanguageGo, c.Language)
				require.Equal(t, int32(7), c.Opaque)
			},
		},
		{
			name: "unknown keys of every kind",
			header: `{"x":{"a":[1,2,{"b":null}],"c":"}"},"y":[],"z":-1.5e3,"w":true,"code":1,` +
				`"remark":"boom"}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, int32(1), c.Code)
				require.Equal(t, "boom", c.Remark)
			},
		},
		{
			name:   "escapes and unicode",
			header: `{"remark":"a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x","extFields":{"k\u0065y":"v\ttab","\u4e2d":"文"}}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, "a\"b\\c/d\né😀\uFFFDx", c.Remark)
				require.Equal(t, "v\ttab", c.ExtFields.Value("key"))
				require.Equal(t, "文", c.ExtFields.Value("中"))
			},
		},
		{
			name:   "extFields scalars that are not strings",
			header: `{"extFields":{"queueId":3,"unitMode":false,"gone":null,"s":"x"}}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, "3", c.ExtFields.Value("queueId"))
				require.Equal(t, "false", c.ExtFields.Value("unitMode"))
				_, ok := c.ExtFields.Get("gone")
				require.False(t, ok)
				require.Equal(t, "x", c.ExtFields.Value("s"))
			},
		},
		{
			name:   "unknown language name",
			header: `{"language":"COBOL"}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, protocol.LanguageOther, c.Language)
			},
		},
		{
			name:   "duplicate key, last wins",
			header: `{"extFields":{"a":"1","a":"2"}}`,
			check: func(t *testing.T, c *Command) {
				require.Equal(t, "2", c.ExtFields.Value("a"))
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Command
			var fields []protocol.ExtField
			require.NoError(t, decodeHeader(tc.header, &c, &fields))
			tc.check(t, &c)
		})
	}
}

func TestJSONHeaderRejects(t *testing.T) {
	for _, h := range []string{
		``, `[]`, `{`, `{"code"}`, `{"code":}`, `{"code":1,}`, `{"code":1.5}`, `{"code":99999999999}`,
		`{"code":"x"}`, `{"remark":"unterminated}`, `{"remark":"\x"}`, `{"remark":"\u12"}`,
		`{"extFields":{"a":{"b":"c"}}}`, `{"extFields":[1]}`, `{"language":300}`, `{} x`,
		`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{"x":tru}`, `{'code':1}`,
	} {
		var c Command
		var fields []protocol.ExtField
		err := decodeHeader(h, &c, &fields)
		require.ErrorIs(t, err, ErrBadFrame, "header %q", h)
	}
}

func TestBinaryHeaderRejects(t *testing.T) {
	base := goldenBinaryHeader(t)
	mutate := func(f func(b []byte) []byte) string { return string(f(bytes.Clone(base))) }
	cases := map[string]string{
		"short":                string(base[:20]),
		"negative remark len":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[13:], 0xFFFFFFFF); return b }),
		"remark past header":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[13:], 1000); return b }),
		"ext len past header":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[17:], 1000); return b }),
		"no ext len":           string(base[:19]),
		"negative key len":     mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[21:], 0x8000); return b }),
		"key past ext":         mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[21:], 500); return b }),
		"negative value len":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[28:], 0x80000000); return b }),
		"truncated value len":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[17:], 9); return b[:30] }),
		"truncated key length": mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[17:], 1); return b[:22] }),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			c := Command{SerializeType: RocketMQ}
			var fields []protocol.ExtField
			require.ErrorIs(t, decodeHeader(h, &c, &fields), ErrBadFrame)
		})
	}
}

func goldenBinaryHeader(t *testing.T) []byte {
	t.Helper()
	frame, err := hex.DecodeString(goldenBinaryFrameHex)
	require.NoError(t, err)
	return frame[8 : len(frame)-2]
}

func TestFrameHeadRejects(t *testing.T) {
	head := func(length int32, word uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(length))
		return binary.BigEndian.AppendUint32(b, word)
	}
	cases := map[string][]byte{
		"negative length":      head(-1, 0),
		"length below 4":       head(3, 0),
		"length past maximum":  head(MaxFrameSize-3, 0),
		"header past frame":    head(10, 7),
		"unknown serialize":    head(10, 2<<24|2),
		"huge header length":   head(100, 0xFFFFFF),
		"serialize type 0xff":  head(100, 0xFF<<24),
		"max int32 length":     head(1<<31-1, 0),
		"min int32 length":     head(-1<<31, 0),
		"zero length":          head(0, 0),
		"header len = len - 3": head(20, 17),
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := checkFrameHead(h, MaxFrameSize)
			require.ErrorIs(t, err, ErrBadFrame)
		})
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	full := []byte(goldenJSONFrame)
	for cut := 1; cut < len(full); cut++ {
		fr := frameReader{r: bufio.NewReader(bytes.NewReader(full[:cut])), maxFrame: MaxFrameSize}
		_, err := fr.read()
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut at %d", cut)
	}
	fr := frameReader{r: bufio.NewReader(bytes.NewReader(nil)), maxFrame: MaxFrameSize}
	_, err := fr.read()
	require.ErrorIs(t, err, io.EOF)
}

func TestFrameReaderSequence(t *testing.T) {
	var stream []byte
	var want []*Command
	for i := range 50 {
		c := goldenCommand()
		c.Opaque = int32(i)
		c.SerializeType = SerializeType(i % 2)
		c.Body = bytes.Repeat([]byte{byte(i)}, i*100)
		var err error
		stream, err = EncodeFrame(stream, c)
		require.NoError(t, err)
		want = append(want, c)
	}
	fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(stream), 4096), maxFrame: MaxFrameSize}
	for _, w := range want {
		got, err := fr.read()
		require.NoError(t, err)
		requireSameCommand(t, w, got)
	}
	_, err := fr.read()
	require.ErrorIs(t, err, io.EOF)
}

func TestReadBodyGrowsForLargeBodies(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (3*bodyChunk+100)/16)
	got, err := readBody(bytes.NewReader(body), len(body))
	require.NoError(t, err)
	require.Equal(t, body, got)

	_, err = readBody(bytes.NewReader(body[:bodyChunk+5]), len(body))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestEncodeRefuses(t *testing.T) {
	c := goldenCommand()
	c.SerializeType = RocketMQ
	c.Code = 40000
	_, err := EncodeFrame(nil, c)
	require.ErrorIs(t, err, ErrEncode)

	c = goldenCommand()
	c.SerializeType = RocketMQ
	c.Version = -40000
	_, err = EncodeFrame(nil, c)
	require.ErrorIs(t, err, ErrEncode)

	c = goldenCommand()
	c.SerializeType = RocketMQ
	c.ExtFields = protocol.ExtFields{{Key: strings.Repeat("k", 1<<15), Value: ""}}
	_, err = EncodeFrame(nil, c)
	require.ErrorIs(t, err, ErrEncode)

	c = goldenCommand()
	c.SerializeType = 7
	_, err = EncodeFrame(nil, c)
	require.ErrorIs(t, err, ErrEncode)

	c = goldenCommand()
	c.Body = make([]byte, MaxFrameSize)
	_, err = EncodeFrame(nil, c)
	require.ErrorIs(t, err, ErrFrameTooLarge)
	c.Body = make([]byte, MaxFrameSize-4-4-110)
	_, err = EncodeFrame(nil, c)
	require.NoError(t, err, "a frame just under the limit is fine")
}

func TestEncodeBodyParts(t *testing.T) {
	c := goldenCommand()
	released := 0
	c.SetBodyParts([][]byte{[]byte("h"), nil, []byte("i")}, func() { released++ })
	got, err := EncodeFrame(nil, c)
	require.NoError(t, err)
	require.Equal(t, goldenJSONFrame, string(got))
	c.ReleaseBody()
	c.ReleaseBody()
	require.Equal(t, 1, released)
}

func TestJSONStringEscaping(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          `"plain"`,
		"q\"b\\":         `"q\"b\\"`,
		"\n\r\t\x01\x1f": `"\n\r\t\u0001\u001f"`,
		"é文😀":            `"é文😀"`,
		"bad\xffutf8":    `"bad\ufffdutf8"`,
		"\x7f<>&":        "\"\x7f<>&\"",
	} {
		require.Equal(t, want, string(protocol.AppendJSONString(nil, in)), "input %q", in)
	}
}

// TestRoundTrip checks that every command survives encode+decode in both
// serializations.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := &Command{
			Code:          int32(rapid.Int16().Draw(t, "code")),
			Language:      protocol.LanguageCode(rapid.IntRange(0, 13).Draw(t, "lang")),
			Version:       int32(rapid.Int16().Draw(t, "version")),
			Opaque:        rapid.Int32().Draw(t, "opaque"),
			Flag:          rapid.Int32().Draw(t, "flag"),
			Remark:        rapid.String().Draw(t, "remark"),
			SerializeType: SerializeType(rapid.IntRange(0, 1).Draw(t, "ser")),
			Body:          rapid.SliceOf(rapid.Byte()).Draw(t, "body"),
		}
		keys := rapid.SliceOfDistinct(rapid.String(), func(s string) string { return s }).Draw(t, "keys")
		for _, k := range keys {
			c.ExtFields = append(c.ExtFields, protocol.ExtField{Key: k, Value: rapid.String().Draw(t, "v")})
		}
		frame, err := EncodeFrame(nil, c)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		got, err := DecodeFrame(frame)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if got.Code != c.Code || got.Language != c.Language || got.Version != c.Version ||
			got.Opaque != c.Opaque || got.Flag != c.Flag || got.Remark != c.Remark ||
			got.SerializeType != c.SerializeType || !bytes.Equal(got.Body, c.Body) ||
			len(got.ExtFields) != len(c.ExtFields) {
			t.Fatalf("round trip: sent %v, got %v", c, got)
		}
		for i, kv := range c.ExtFields {
			if got.ExtFields[i] != kv {
				t.Fatalf("field %d: sent %q, got %q", i, kv, got.ExtFields[i])
			}
		}
	})
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(goldenJSONFrame))
	bin, _ := hex.DecodeString(goldenBinaryFrameHex)
	f.Add(bin)
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		// Whatever decodes must re-encode and decode to the same command
		// (JSON may normalise spelling, so compare decoded forms).
		frame, err := EncodeFrame(nil, c)
		if err != nil {
			if errors.Is(err, ErrEncode) {
				return // e.g. a JSON code that does not fit the binary header
			}
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeFrame(frame)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if again.Code != c.Code || again.Opaque != c.Opaque || again.Flag != c.Flag ||
			!bytes.Equal(again.Body, c.Body) || len(again.ExtFields) != len(c.ExtFields) {
			t.Fatalf("unstable: %v vs %v", c, again)
		}
	})
}

func FuzzJSONHeader(f *testing.F) {
	f.Add(`{"code":10,"extFields":{"topic":"t","queueId":"0"},"flag":0,"language":"GO","opaque":1,"version":317}`)
	f.Add(`{"code":34,"language":"GO","version":317,"opaque":12,"flag":0,"remark":"","extFields":{}}`)
	f.Add(`{"code":0,"remark":null,"extFields":null,"x":[{"y":[1,2,3]}],"serializeTypeCurrentRPC":"JSON"}`)
	f.Add(`{"remark":"a\"b\u00e9\ud83d\ude00","extFields":{"k":1,"b":true}}`)
	f.Fuzz(func(t *testing.T, h string) {
		var c Command
		var fields []protocol.ExtField
		if err := decodeHeader(h, &c, &fields); err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		out := appendJSONHeader(nil, &c)
		var again Command
		if err := decodeHeader(string(out), &again, &fields); err != nil {
			t.Fatalf("our own output %q does not decode: %v", out, err)
		}
	})
}

func FuzzBinaryHeader(f *testing.F) {
	frame, _ := hex.DecodeString(goldenBinaryFrameHex)
	f.Add(frame[8 : len(frame)-2])
	f.Add(make([]byte, 21))
	f.Fuzz(func(t *testing.T, h []byte) {
		c := Command{SerializeType: RocketMQ}
		var fields []protocol.ExtField
		if err := decodeHeader(string(h), &c, &fields); err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		out, err := appendBinaryHeader(nil, &c)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		// The encoding is canonical; the decoder ignores bytes after extFields.
		if !bytes.HasPrefix(h, out) {
			t.Fatalf("re-encoded header %x is not a prefix of %x", out, h)
		}
	})
}

// FuzzFrameReader feeds arbitrary streams to the connection's frame
// reader: every outcome is a command, ErrBadFrame, or an EOF.
func FuzzFrameReader(f *testing.F) {
	bin, _ := hex.DecodeString(goldenBinaryFrameHex)
	f.Add(append([]byte(goldenJSONFrame), bin...))
	f.Add([]byte(goldenJSONFrame)[:20])
	f.Add([]byte{0, 0, 0, 5, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(stream), 4096), maxFrame: 1 << 16}
		for range 100 {
			_, err := fr.read()
			switch {
			case err == nil:
				continue
			case errors.Is(err, ErrBadFrame), err == io.EOF, err == io.ErrUnexpectedEOF:
				return
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
