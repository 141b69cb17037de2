package namesrv

import (
	"bytes"
	"context"
	"errors"
	"log/slog"

	"github.com/gorocket/gorocket/internal/config"
	"github.com/gorocket/gorocket/internal/namesrv/kvconfig"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// putKVConfig serves PUT_KV_CONFIG; the value is on disk before SUCCESS.
func (s *Server) putKVConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.PutKVConfigRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := s.kv.Put(h.Namespace, h.Key, h.Value); err != nil {
		if errors.Is(err, kvconfig.ErrInvalid) {
			return nil, s.refuse(c, req, err)
		}
		return nil, remoting.Errorf(protocol.SystemError, "%v", err)
	}
	return success(req), nil
}

// getKVConfig serves GET_KV_CONFIG.
func (s *Server) getKVConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.KVConfigRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	v, ok := s.kv.Get(h.Namespace, h.Key)
	if !ok {
		return remoting.NewResponse(req, protocol.QueryNotFound,
			"No config item, Namespace: "+h.Namespace+" Key: "+h.Key), nil
	}
	resp := success(req)
	resp.ExtFields.Set("value", v) // even when empty: the client reads the field
	return resp, nil
}

// deleteKVConfig serves DELETE_KV_CONFIG.
func (s *Server) deleteKVConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.KVConfigRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	if err := s.kv.Delete(h.Namespace, h.Key); err != nil {
		return nil, remoting.Errorf(protocol.SystemError, "%v", err)
	}
	return success(req), nil
}

// getKVListByNamespace serves GET_KVLIST_BY_NAMESPACE.
func (s *Server) getKVListByNamespace(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var h protocol.GetKVListByNamespaceRequestHeader
	if err := s.decode(c, req, &h); err != nil {
		return nil, err
	}
	kv, ok := s.kv.Namespace(h.Namespace)
	if !ok {
		return remoting.NewResponse(req, protocol.QueryNotFound, "No config item, Namespace: "+h.Namespace), nil
	}
	return withBody(req, protocol.KVTable{Table: kv})
}

// getConfig serves GET_NAMESRV_CONFIG: the options as Java properties,
// one key=value per line, as mqadmin getNamesrvConfig prints them.
func (s *Server) getConfig(_ context.Context, _ *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	var buf bytes.Buffer
	if err := config.Print(&buf, &s.opts); err != nil {
		return nil, err
	}
	resp := success(req)
	resp.Body = buf.Bytes()
	return resp, nil
}

// updateConfig refuses UPDATE_NAMESRV_CONFIG; see the package
// documentation, Security.
func (s *Server) updateConfig(_ context.Context, c *remoting.Conn, req *remoting.Command) (*remoting.Command, error) {
	s.refusals.Log(slog.LevelWarn, "UPDATE_NAMESRV_CONFIG refused", "from", remoteAddr(c))
	return remoting.NewResponse(req, protocol.NoPermission,
		"UPDATE_NAMESRV_CONFIG is disabled: unauthenticated config updates were the way in for CVE-2023-33246 and CVE-2023-37582; edit namesrv.conf and restart"), nil
}
