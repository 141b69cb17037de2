package client

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

// Credentials sign every request for a cluster with ACL enabled
// (RocketMQ's AclClientRPCHook).
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string // optional
}

// Extension field names of the ACL signature.
const (
	aclAccessKey     = "AccessKey"
	aclSecurityToken = "SecurityToken"
	aclSignature     = "Signature"
)

// aclHook signs outgoing requests the way Java's AclClientRPCHook does:
// the values of the custom header plus AccessKey (and SecurityToken), in
// the byte order of their keys, concatenated without separators, then the
// body; HMAC-SHA1 with the secret key, Base64. The signed fields and the
// signature travel as extFields. Unlike the official Go client, the
// SecurityToken is signed too, as Java verifiers expect.
type aclHook struct{ cred Credentials }

func (h aclHook) BeforeRequest(_ string, req *remoting.Command) error {
	if req.Conn() != nil {
		return nil // a request a server sent us: nothing to sign
	}
	req.ExtFields.Set(aclAccessKey, h.cred.AccessKey)
	if h.cred.SecurityToken != "" {
		req.ExtFields.Set(aclSecurityToken, h.cred.SecurityToken)
	}
	req.ExtFields.Delete(aclSignature)
	req.ExtFields.Set(aclSignature, h.sign(req.ExtFields, req.Body))
	return nil
}

func (aclHook) AfterResponse(string, *remoting.Command, *remoting.Command) error { return nil }

// sign returns the Base64 HMAC-SHA1 of the fields' values in key order
// (Signature excluded) followed by body.
func (h aclHook) sign(fields protocol.ExtFields, body []byte) string {
	sorted := slices.Clone(fields)
	slices.SortStableFunc(sorted, func(a, b protocol.ExtField) int { return strings.Compare(a.Key, b.Key) })
	mac := hmac.New(sha1.New, []byte(h.cred.SecretKey))
	for i, kv := range sorted {
		if kv.Key == aclSignature || (i+1 < len(sorted) && sorted[i+1].Key == kv.Key) {
			continue // a later duplicate wins, as in a map
		}
		mac.Write([]byte(kv.Value))
	}
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
