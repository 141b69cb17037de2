package broker

import (
	"fmt"
	"github.com/gorocket/gorocket/internal/ratelog"
	"log/slog"
	"time"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// rateLog logs refused requests, rate-limited so that a client sending
// garbage cannot flood the log.
type rateLog struct{ *ratelog.Logger }

func newRateLog(log *slog.Logger) *rateLog {
	return &rateLog{ratelog.New(log, 10*time.Second, 20)}
}

// refuse logs a refused request (rate-limited) and returns the error the
// transport answers it with.
func (l *rateLog) refuse(c *remoting.Conn, req *remoting.Command, code protocol.ResponseCode, format string, args ...any) *remoting.Error {
	e := remoting.Errorf(code, format, args...)
	addr := ""
	if c != nil {
		addr = c.RemoteAddr()
	}
	l.Log(slog.LevelWarn, "request refused", "conn", addr, "code", req.RequestCode(),
		"answer", code, "reason", e.Remark)
	return e
}

// badHeader answers a header that does not decode: the remark names the
// field (protocol.FieldError).
func (l *rateLog) badHeader(c *remoting.Conn, req *remoting.Command, err error) *remoting.Error {
	return l.refuse(c, req, protocol.SystemError, "bad request header: %v", err)
}

// decodeHeader decodes req's custom header into h, answering a missing or
// malformed field with SYSTEM_ERROR, as Java does when
// decodeCommandCustomHeader throws.
func (l *rateLog) decodeHeader(c *remoting.Conn, req *remoting.Command, h any) error {
	if err := protocol.DecodeHeader(req.ExtFields, h); err != nil {
		return l.badHeader(c, req, err)
	}
	return nil
}

// decodeBody decodes req's JSON body into v.
func (l *rateLog) decodeBody(c *remoting.Conn, req *remoting.Command, v any) error {
	if len(req.Body) == 0 {
		return l.refuse(c, req, protocol.SystemError, "request body is empty")
	}
	if err := protocol.DecodeBody(req.Body, v); err != nil {
		return l.refuse(c, req, protocol.SystemError, "bad request body: %v", err)
	}
	return nil
}

// clip shortens a client-supplied string for a remark or a log line.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}
