package client

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
)

func hmacBase64(secret, content string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(content))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestACLSignatureIsJavas(t *testing.T) {
	req := remoting.NewRequest(protocol.SendMessageV2, protocol.ExtFields{{Key: "topic", Value: "T"}, {Key: "b", Value: "x"}, {Key: "Signature", Value: "stale"}}, []byte("body"))
	require.NoError(t, aclHook{Credentials{AccessKey: "ak", SecretKey: "sk", SecurityToken: "tok"}}.BeforeRequest("addr", req))
	// Values by key (AccessKey, SecurityToken, b, topic), then the body;
	// the old signature is not signed.
	require.Equal(t, hmacBase64("sk", "aktokxTbody"), req.ExtFields.Value("Signature"))
	require.Equal(t, "ak", req.ExtFields.Value("AccessKey"))
	require.Equal(t, "tok", req.ExtFields.Value("SecurityToken"))
}

// aclVerifier is a server hook checking signatures as a broker does.
type aclVerifier struct{ secret string }

func (v aclVerifier) BeforeRequest(_ string, req *remoting.Command) error {
	got := req.ExtFields.Value(aclSignature)
	if want := (aclHook{Credentials{SecretKey: v.secret}}).sign(req.ExtFields, req.Body); got != want || req.ExtFields.Value(aclAccessKey) != "ak" {
		return remoting.Errorf(protocol.NoPermission, "signature mismatch")
	}
	return nil
}

func (aclVerifier) AfterResponse(string, *remoting.Command, *remoting.Command) error { return nil }

func TestACLSignedClientReachesAVerifyingCluster(t *testing.T) {
	fc := newFakeCluster(t, 1)
	fc.createTopic("T", 1)
	fc.ns.AddHook(aclVerifier{"sk"})
	fc.brokers[0].srv.AddHook(aclVerifier{"sk"})

	for _, tc := range []struct {
		secret string
		ok     bool
	}{{"sk", true}, {"wrong", false}} {
		t.Run(fmt.Sprintf("secret=%s", tc.secret), func(t *testing.T) {
			c := newTestClient(t, fc, func(o *Options) { o.Credentials = &Credentials{AccessKey: "ak", SecretKey: tc.secret} })
			admin := NewAdmin(c)
			_, err := admin.TopicRoute(testCtx(t), "T")
			if !tc.ok {
				var be *BrokerError
				require.ErrorAs(t, err, &be)
				require.Contains(t, be.Remark, "signature mismatch")
				return
			}
			require.NoError(t, err)
			p := newTestProducer(t, c, ProducerOptions{})
			_, err = p.Send(testCtx(t), &Message{Topic: "T", Body: []byte("signed")})
			require.NoError(t, err)
			res, err := newTestPullConsumer(t, c, "g").Pull(testCtx(t), PullRequest{Queue: MessageQueue{Topic: "T", BrokerName: "broker-a"}})
			require.NoError(t, err)
			require.Len(t, res.Messages, 1)
		})
	}
	require.ErrorIs(t, Options{NameServers: []string{"a:1"}, Credentials: &Credentials{AccessKey: "ak"}}.Validate(), ErrInvalidOptions)
}
