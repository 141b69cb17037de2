package namesrv

import (
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorocket/gorocket/internal/namesrv/routeinfo"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Errors behind refused requests; the remark of the INVALID_PARAMETER
// answer is the wrapped error's text.
var (
	ErrInvalidTopic  = errors.New("namesrv: invalid topic")
	ErrInvalidBroker = errors.New("namesrv: invalid broker")
	ErrInvalidBody   = errors.New("namesrv: invalid body")
)

// Limits on what brokers register.
const (
	maxNameLength = 255   // cluster and broker names
	maxQueueNums  = 65536 // per topic and broker: far above any deployment, low enough to keep clients alive
	maxHeartbeat  = 24 * time.Hour
	permAll       = protocol.PermPriority | protocol.PermRead | protocol.PermWrite | protocol.PermInherit
)

// checkTopic applies RocketMQ's TopicValidator: 1 to 127 characters of
// [%|a-zA-Z0-9_-].
func checkTopic(topic string) error {
	if err := protocol.ValidateTopicName(topic); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTopic, err)
	}
	return nil
}

// checkName accepts a cluster or broker name: not empty, at most 255
// bytes of UTF-8 without control characters. RocketMQ itself checks
// nothing; these are the bounds a directory needs to stay sane.
func checkName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidBroker, kind)
	case len(name) > maxNameLength:
		return fmt.Errorf("%w: %s %.32q... longer than %d bytes", ErrInvalidBroker, kind, name, maxNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s %q is not UTF-8", ErrInvalidBroker, kind, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s %q contains a control character", ErrInvalidBroker, kind, name)
		}
	}
	return nil
}

// checkAddr accepts host:port with a port in [1, 65535] and a host of
// letters, digits and . - _ : % only. Routes carry addresses to clients,
// and the Go client splits brokerAddrs at commas and strips quotes by
// hand: anything else in an address would corrupt every route it is in.
func checkAddr(kind, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host != "" && len(addr) <= maxNameLength && hostChars(host) {
		if p, perr := strconv.Atoi(port); perr == nil && p > 0 && p <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %.64q is not host:port", ErrInvalidBroker, kind, addr)
}

func hostChars(host string) bool {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':' || c == '%') {
			return false
		}
	}
	return true
}

// checkQueueData accepts a topic's queue counts and permission.
func checkQueueData(read, write, perm int32) error {
	switch {
	case read < 0 || read > maxQueueNums || write < 0 || write > maxQueueNums:
		return fmt.Errorf("%w: queue counts read %d, write %d outside [0, %d]", ErrInvalidTopic, read, write, maxQueueNums)
	case perm < 0 || perm&^permAll != 0:
		return fmt.Errorf("%w: unknown permission bits in %d", ErrInvalidTopic, perm)
	}
	return nil
}

// bodyCRC32 is Java's UtilAll.crc32, what REGISTER_BROKER's bodyCrc32
// holds: the IEEE CRC-32 with its top bit cleared.
func bodyCRC32(body []byte) int32 {
	return int32(crc32.ChecksumIEEE(body) & 0x7FFFFFFF)
}

// refuse logs a bad request (rate-limited) and returns the
// INVALID_PARAMETER answer naming the problem.
func (s *Server) refuse(c *remoting.Conn, req *remoting.Command, err error) error {
	s.refusals.Log(slog.LevelWarn, "request refused", "code", req.RequestCode(), "from", remoteAddr(c), "err", err)
	return remoting.Errorf(protocol.InvalidParameter, "%v", err)
}

// decode fills h from req's header, refusing the request when a field is
// missing or does not parse.
func (s *Server) decode(c *remoting.Conn, req *remoting.Command, h any) error {
	if err := protocol.DecodeHeader(req.ExtFields, h); err != nil {
		return s.refuse(c, req, err)
	}
	return nil
}

func success(req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, protocol.Success, "")
}

// remoteAddr and connID tolerate the nil connection of requests built in
// tests and fuzz targets.
func remoteAddr(c *remoting.Conn) string {
	if c == nil {
		return ""
	}
	return c.RemoteAddr()
}

func connID(c *remoting.Conn) routeinfo.ConnID {
	if c == nil {
		return 0
	}
	return routeinfo.ConnID(c.ID())
}
