package standalone

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/client"
)

// TestDataDirHoldsEverything: a standalone writes under its data dir only:
// the store, and the NameServer's KV configuration, which a lone
// NameServer keeps in $HOME/namesrv as RocketMQ does.
func TestDataDirHoldsEverything(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	opts := DefaultOptions()
	opts.DataDir = t.TempDir()
	opts.Namesrv.ListenPort = 0
	opts.Broker.ListenPort = 0
	s, err := Start(context.Background(), opts, nil)
	require.NoError(t, err)
	defer s.Close()

	c, err := client.New(client.Options{NameServers: []string{s.NamesrvAddr()}})
	require.NoError(t, err)
	defer c.Close()
	resp, err := client.NewAdmin(c).InvokeNameServer(context.Background(), client.RequestCode(100), // PUT_KV_CONFIG
		map[string]string{"namespace": "ORDER_TOPIC_CONFIG", "key": "OrderTopic", "value": "broker-a:4"}, nil)
	require.NoError(t, err)
	require.Equal(t, client.ResponseCode(0), resp.Code, resp.Remark)

	require.FileExists(t, filepath.Join(opts.DataDir, "namesrv", "kvConfig.json"))
	require.DirExists(t, filepath.Join(opts.DataDir, "store"))
	entries, err := os.ReadDir(home)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing is written to $HOME")
}
