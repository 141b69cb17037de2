package client

import (
	"errors"
	"fmt"

	"github.com/gorocket/gorocket/internal/protocol"
)

// Errors returned by the client. Broker refusals come as a *BrokerError,
// which also matches the sentinel that fits its code (errors.Is).
var (
	// ErrClosed is returned by calls on a closed Client, Producer or
	// consumer.
	ErrClosed = errors.New("client: closed")
	// ErrInvalidOptions is wrapped by every Validate error.
	ErrInvalidOptions = errors.New("client: invalid options")
	// ErrInvalidMessage is wrapped when a message is refused before it is
	// sent (empty topic or body, body too large, bad topic name...).
	ErrInvalidMessage = errors.New("client: invalid message")
	// ErrTopicNotExist means no name server knows the topic (and, for a
	// producer, there was no default topic to fall back to), or a broker
	// answered TOPIC_NOT_EXIST.
	ErrTopicNotExist = errors.New("client: topic does not exist")
	// ErrNoQueue means the topic's route has no queue usable for the
	// operation (no writable queue on a broker with a master, or no
	// readable queue).
	ErrNoQueue = errors.New("client: no queue available")
	// ErrBrokerNotFound means no cached route names an address for a
	// broker.
	ErrBrokerNotFound = errors.New("client: broker address not found")
	// ErrOffsetNotFound means the broker holds no offset for the group and
	// queue (QUERY_NOT_FOUND).
	ErrOffsetNotFound = errors.New("client: no stored offset")
	// ErrBadResponse means a response could not be decoded.
	ErrBadResponse = errors.New("client: malformed response")
)

// ResponseCode is a RocketMQ response code (ResponseCode.java). The
// constants below are the ones client code usually tests for; String names
// any known code.
type ResponseCode int32

// Response codes.
const (
	CodeSuccess             ResponseCode = 0  // SUCCESS
	CodeSystemError         ResponseCode = 1  // SYSTEM_ERROR
	CodeSystemBusy          ResponseCode = 2  // SYSTEM_BUSY
	CodeNotSupported        ResponseCode = 3  // REQUEST_CODE_NOT_SUPPORTED
	CodeFlushDiskTimeout    ResponseCode = 10 // FLUSH_DISK_TIMEOUT: stored, not flushed in time
	CodeSlaveNotAvailable   ResponseCode = 11 // SLAVE_NOT_AVAILABLE: stored, no slave to copy to
	CodeFlushSlaveTimeout   ResponseCode = 12 // FLUSH_SLAVE_TIMEOUT: stored, not copied in time
	CodeMessageIllegal      ResponseCode = 13 // MESSAGE_ILLEGAL
	CodeServiceNotAvailable ResponseCode = 14 // SERVICE_NOT_AVAILABLE
	CodeNoPermission        ResponseCode = 16 // NO_PERMISSION
	CodeTopicNotExist       ResponseCode = 17 // TOPIC_NOT_EXIST
	CodePullNotFound        ResponseCode = 19 // PULL_NOT_FOUND
	CodePullRetryImmediate  ResponseCode = 20 // PULL_RETRY_IMMEDIATELY
	CodePullOffsetMoved     ResponseCode = 21 // PULL_OFFSET_MOVED
	CodeQueryNotFound       ResponseCode = 22 // QUERY_NOT_FOUND
	CodeSubscriptionMissing ResponseCode = 24 // SUBSCRIPTION_NOT_EXIST
)

// String returns the Java constant name, e.g. "TOPIC_NOT_EXIST".
func (c ResponseCode) String() string { return protocol.ResponseCode(c).String() }

// BrokerError is a request refused by a broker or name server: the
// response code and remark it answered with.
type BrokerError struct {
	Addr   string       // the server that answered
	Code   ResponseCode // its response code
	Remark string       // its remark, often the reason in words
}

func (e *BrokerError) Error() string {
	if e.Remark == "" {
		return fmt.Sprintf("client: %s answered %s (%d)", e.Addr, e.Code, int32(e.Code))
	}
	return fmt.Sprintf("client: %s answered %s (%d): %s", e.Addr, e.Code, int32(e.Code), e.Remark)
}

// Is matches the sentinel that means the same thing as the code:
// TOPIC_NOT_EXIST is ErrTopicNotExist, QUERY_NOT_FOUND is
// ErrOffsetNotFound.
func (e *BrokerError) Is(target error) bool {
	switch target {
	case ErrTopicNotExist:
		return e.Code == CodeTopicNotExist
	case ErrOffsetNotFound:
		return e.Code == CodeQueryNotFound
	}
	return false
}

// brokerError returns the error for a response whose code the caller does
// not accept.
func brokerError(addr string, code int32, remark string) *BrokerError {
	return &BrokerError{Addr: addr, Code: ResponseCode(code), Remark: remark}
}

// retryableSendCode reports whether a sync send answered with code is
// tried again on another broker (SYSTEM_ERROR, SERVICE_NOT_AVAILABLE,
// NO_PERMISSION, TOPIC_NOT_EXIST: what RocketMQ's clients retry).
func retryableSendCode(code ResponseCode) bool {
	switch code {
	case CodeSystemError, CodeServiceNotAvailable, CodeNoPermission, CodeTopicNotExist:
		return true
	}
	return false
}
