package nsclient

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// ErrRefused is wrapped when a NameServer answers with an error code.
var ErrRefused = errors.New("nsclient: name server refused")

// Invoker sends a request to an address and waits for the response;
// *remoting.Client is one.
type Invoker interface {
	InvokeSync(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error)
}

// Client sends the broker's requests to NameServers.
type Client struct {
	inv Invoker
}

// NewClient returns a client that sends through inv.
func NewClient(inv Invoker) *Client { return &Client{inv: inv} }

// Registration is what a broker registers: its identity and its topics.
type Registration struct {
	Header protocol.RegisterBrokerRequestHeader
	Body   protocol.RegisterBrokerBody
}

// EncodeRegistration returns the header (with bodyCrc32 filled in) and body
// of a REGISTER_BROKER request.
func EncodeRegistration(r *Registration) (protocol.ExtFields, []byte, error) {
	if r.Body.FilterServerList == nil {
		r.Body.FilterServerList = []string{}
	}
	if r.Body.TopicConfigSerializeWrapper.TopicConfigTable == nil {
		r.Body.TopicConfigSerializeWrapper.TopicConfigTable = map[string]protocol.TopicConfig{}
	}
	body, err := protocol.EncodeBody(&r.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("nsclient: encode registration: %w", err)
	}
	h := r.Header
	h.Compressed = false
	h.BodyCrc32 = BodyCRC32(body)
	return protocol.EncodeHeader(nil, &h), body, nil
}

// BodyCRC32 is Java's UtilAll.crc32: CRC-32 (IEEE) masked to 31 bits.
func BodyCRC32(b []byte) int32 {
	return int32(crc32.ChecksumIEEE(b) & 0x7FFFFFFF)
}

// RegisterBroker registers with the NameServer at addr. ext and body come
// from EncodeRegistration.
func (c *Client) RegisterBroker(ctx context.Context, addr string, ext protocol.ExtFields, body []byte) (protocol.RegisterBrokerResponseHeader, error) {
	var out protocol.RegisterBrokerResponseHeader
	req := remoting.NewRequest(protocol.RegisterBroker, ext, body)
	resp, err := c.inv.InvokeSync(ctx, addr, req)
	if err != nil {
		return out, fmt.Errorf("nsclient: register with %s: %w", addr, err)
	}
	if resp.ResponseCode() != protocol.Success {
		return out, fmt.Errorf("%w: register with %s: %s %q", ErrRefused, addr, resp.ResponseCode(), resp.Remark)
	}
	if err := protocol.DecodeHeader(resp.ExtFields, &out); err != nil {
		return out, fmt.Errorf("nsclient: register with %s: response: %w", addr, err)
	}
	return out, nil
}

// UnregisterBroker tells the NameServer at addr that the broker is leaving.
func (c *Client) UnregisterBroker(ctx context.Context, addr string, h protocol.UnregisterBrokerRequestHeader) error {
	req := remoting.NewRequest(protocol.UnregisterBroker, protocol.EncodeHeader(nil, &h), nil)
	resp, err := c.inv.InvokeSync(ctx, addr, req)
	if err != nil {
		return fmt.Errorf("nsclient: unregister from %s: %w", addr, err)
	}
	if resp.ResponseCode() != protocol.Success {
		return fmt.Errorf("%w: unregister from %s: %s %q", ErrRefused, addr, resp.ResponseCode(), resp.Remark)
	}
	return nil
}
