package broker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
	"github.com/gorocket/gorocket/internal/protocol"
	"github.com/gorocket/gorocket/internal/remoting"
	"github.com/gorocket/gorocket/internal/store"
	"github.com/gorocket/gorocket/internal/store/vfs"
)

// What a producer is answered when the store does not take its message, as
// Java's SendMessageProcessor.handlePutMessageResult answers:
//
//	PUT_OK                               SUCCESS (0)
//	FLUSH_DISK_TIMEOUT                   FLUSH_DISK_TIMEOUT (10), stored: msgId and offsets
//	SERVICE_NOT_AVAILABLE (disk full,    SERVICE_NOT_AVAILABLE (14)
//	  slave, shut down, not writable)
//	MESSAGE_ILLEGAL, PROPERTIES_SIZE_    MESSAGE_ILLEGAL (13)
//	  EXCEEDED
//	CREATE_MAPEDFILE_FAILED, UNKNOWN     SYSTEM_ERROR (1)
//
// The store here has no replication, so it never reports Java's
// FLUSH_SLAVE_TIMEOUT (12) or SLAVE_NOT_AVAILABLE (11).

// failingAppender is a store whose appends end with err: the status is
// store.PutStatusOf(err) unless status is set. A message reported stored
// (FLUSH_DISK_TIMEOUT) gets offsets as the store would give it. With async
// the outcome comes from another goroutine (a flush, a write), else before
// the put returns (a refusal).
type failingAppender struct {
	err    error
	status *store.PutStatus
	async  bool
	puts   atomic.Int32
}

func (a *failingAppender) PutMessageAsync(_ context.Context, m *message.Inner, done func(store.PutResult, error)) {
	a.put([]*message.Inner{m}, done)
}

func (a *failingAppender) PutMessagesAsync(_ context.Context, ms []*message.Inner, done func(store.PutResult, error)) {
	a.put(ms, done)
}

// Offsets a stored message gets from failingAppender.
const (
	fakeCommitLogOffset = 1 << 20
	fakeRecordSize      = 200
	fakeQueueOffset     = 41
)

func (a *failingAppender) put(ms []*message.Inner, done func(store.PutResult, error)) {
	a.puts.Add(1)
	res := store.PutResult{Status: store.PutStatusOf(a.err)}
	if a.status != nil {
		res.Status = *a.status
	}
	if res.Status == store.PutOK || res.Status == store.PutFlushDiskTimeout {
		for i, m := range ms {
			m.CommitLogOffset = fakeCommitLogOffset + int64(i)*fakeRecordSize
			m.QueueOffset = fakeQueueOffset + int64(i)
		}
		res.CommitLogOffset, res.QueueOffset = fakeCommitLogOffset, fakeQueueOffset
		res.MsgCount, res.WroteBytes = len(ms), len(ms)*fakeRecordSize
	}
	if a.async {
		go done(res, a.err)
		return
	}
	done(res, a.err)
}

// serveSendsWith makes the broker's send codes append to st.
func serveSendsWith(tb *testBroker, st messageAppender) {
	p := newSendProcessor(tb.Broker)
	p.store = st
	for _, code := range []protocol.RequestCode{protocol.SendMessage, protocol.SendMessageV2, protocol.SendBatchMessage} {
		tb.server.Register(code, remoting.Inline, p)
	}
}

// batchOf encodes a batch body of the given bodies.
func batchOf(t testing.TB, bodies ...[]byte) []byte {
	t.Helper()
	var b []byte
	for _, body := range bodies {
		var err error
		b, err = message.AppendBatchEntry(b, message.BatchEntry{Body: body})
		require.NoError(t, err)
	}
	return b
}

// sendKinds are the ways a producer sends: one message, or a batch of two.
var sendKinds = []struct {
	name  string
	code  protocol.RequestCode
	ids   int
	build func(t testing.TB, topic string) (protocol.ExtFields, []byte)
}{
	{"single", protocol.SendMessage, 1, func(_ testing.TB, topic string) (protocol.ExtFields, []byte) {
		h := sendHeader(topic, 1, "")
		return h.AppendExt(nil), []byte("body")
	}},
	{"batch", protocol.SendBatchMessage, 2, func(t testing.TB, topic string) (protocol.ExtFields, []byte) {
		h := sendHeader(topic, 1, "")
		h.Batch = true
		return h.AppendExtV2(nil), batchOf(t, []byte("b0"), []byte("b1"))
	}},
}

// requireStoredAnswer checks the header of an answer that says the message
// is stored: the offset message ids (one per message) of the store's
// offsets (commitLogOffset, unless negative), the queue and its offset.
func requireStoredAnswer(t *testing.T, tb *testBroker, resp *remoting.Command, ids int, commitLogOffset, queueOffset int64) protocol.SendMessageResponseHeader {
	t.Helper()
	var rh protocol.SendMessageResponseHeader
	require.NoError(t, rh.DecodeExt(resp.ExtFields))
	require.Equal(t, int32(1), rh.QueueID)
	require.Equal(t, queueOffset, rh.QueueOffset)
	all := strings.Split(rh.MsgID, ",")
	require.Len(t, all, ids)
	host, off, err := message.ParseOffsetMsgID(all[0])
	require.NoError(t, err)
	require.Equal(t, tb.addr, host.String())
	if commitLogOffset >= 0 {
		require.Equal(t, commitLogOffset, off)
	}
	return rh
}

// TestSendStoreErrorsMapToResponseCodes drives every store outcome through
// the send path, single and batch, and checks what the producer is
// answered: the code, a remark saying why, and, only when the message is
// stored, its id and offsets.
func TestSendStoreErrorsMapToResponseCodes(t *testing.T) {
	tb := startBroker(t, nil)
	tb.createTopic(t, "T", 4)
	unknown := store.PutUnknownError
	tests := []struct {
		name   string
		err    error
		status *store.PutStatus
		async  bool
		code   protocol.ResponseCode
		remark []string // each in the remark
		stored bool     // the answer carries msgId and offsets
	}{
		{name: "ok", code: protocol.Success, stored: true, async: true},
		{
			name: "flush timeout", err: store.ErrFlushTimeout, async: true,
			code: protocol.FlushDiskTimeout, stored: true,
		},
		{
			name: "disk full", err: fmt.Errorf("%w: 95.0%% used, limit 90%%", store.ErrDiskFull),
			code: protocol.ServiceNotAvailable, remark: []string{"service not available", "disk full", "95.0% used"},
		},
		{
			name: "disk full on a new segment", err: fmt.Errorf("%w: %w", store.ErrDiskFull, syscall.ENOSPC), async: true,
			code: protocol.ServiceNotAvailable, remark: []string{"disk full", "no space left on device"},
		},
		{
			name: "slave", err: store.ErrSlave,
			code: protocol.ServiceNotAvailable, remark: []string{"service not available", "slave"},
		},
		{
			name: "store closed", err: store.ErrClosed,
			code: protocol.ServiceNotAvailable, remark: []string{"service not available", "closed"},
		},
		{
			name: "write failed", err: fmt.Errorf("%w: %w", store.ErrWriteFailed, syscall.EIO), async: true,
			code: protocol.ServiceNotAvailable, remark: []string{"write or flush failed", "input/output error"},
		},
		{
			name: "record too large", err: fmt.Errorf("%w: 4194400 bytes (max 4194304)", store.ErrMessageTooLarge),
			code: protocol.MessageIllegal, remark: []string{"illegal", "message too large", "4194400"},
		},
		{
			name: "illegal message", err: fmt.Errorf("%w: topic %q", store.ErrMessageIllegal, "T"),
			code: protocol.MessageIllegal, remark: []string{"illegal message"},
		},
		{
			name: "properties too long", err: fmt.Errorf("%w: 40000 bytes", message.ErrPropertiesTooLong),
			code: protocol.MessageIllegal, remark: []string{"illegal", "40000 bytes"},
		},
		{
			name: "other store error", err: errors.New("mmap: cannot allocate memory"), async: true,
			code: protocol.SystemError, remark: []string{"create mapped file failed", "cannot allocate memory"},
		},
		{
			name: "unknown status", err: errors.New("something odd"), status: &unknown,
			code: protocol.SystemError, remark: []string{"unknown error", "something odd"},
		},
	}
	for _, tt := range tests {
		for _, kind := range sendKinds {
			t.Run(tt.name+"/"+kind.name, func(t *testing.T) {
				st := &failingAppender{err: tt.err, status: tt.status, async: tt.async}
				serveSendsWith(tb, st)
				ext, body := kind.build(t, "T")
				resp := tb.invoke(t, kind.code, ext, body)
				require.Equal(t, int32(1), st.puts.Load(), "the send reached the store")
				require.Equal(t, tt.code, resp.ResponseCode(), resp.Remark)
				for _, r := range tt.remark {
					require.Contains(t, resp.Remark, r)
				}
				if tt.code != protocol.Success && tt.code != protocol.FlushDiskTimeout {
					require.NotEmpty(t, resp.Remark, "a failure says why")
				}
				if tt.stored {
					requireStoredAnswer(t, tb, resp, kind.ids, fakeCommitLogOffset, fakeQueueOffset)
					return
				}
				_, ok := resp.ExtFields.Get("msgId")
				require.False(t, ok, "nothing stored, no message id")
				_, ok = resp.ExtFields.Get("queueOffset")
				require.False(t, ok, "nothing stored, no queue offset")
			})
		}
	}
}

// commitLogOnly applies a fault to the commit log's files alone.
func commitLogOnly(op vfs.Op, fault func() error) func(vfs.Op, string) error {
	return func(o vfs.Op, path string) error {
		if o == op && filepath.Base(filepath.Dir(path)) == "commitlog" {
			return fault()
		}
		return nil
	}
}

// TestSendStoreFaultsEndToEnd injects faults under a real store and checks
// what producers are answered, that what is refused is not stored, and that
// the broker recovers where the store does.
func TestSendStoreFaultsEndToEnd(t *testing.T) {
	t.Run("disk full", func(t *testing.T) {
		fs := vfs.NewFaultFS(vfs.Default)
		tb := startBroker(t, func(_ *Options, so *store.Options) { so.FS = fs })
		tb.mustSend(t, "T", 1, "before")
		fs.SetUsage(func(string) (vfs.Usage, error) { return vfs.Usage{Total: 100, Free: 5}, nil })
		tb.store.CleanNow()
		waitFor(t, "the store sees the disk full", func() bool { return tb.store.Stats().DiskFull })
		for _, kind := range sendKinds {
			ext, body := kind.build(t, "T")
			resp := tb.invoke(t, kind.code, ext, body)
			require.Equal(t, protocol.ServiceNotAvailable, resp.ResponseCode(), kind.name+": "+resp.Remark)
			require.Contains(t, resp.Remark, "disk full")
		}
		fs.SetUsage(nil)
		tb.store.CleanNow()
		waitFor(t, "the store sees room again", func() bool { return !tb.store.Stats().DiskFull })
		tb.mustSend(t, "T", 1, "after")
		tb.waitDispatched(t, "T", 1, 2)
		require.Equal(t, []string{"before", "after"}, bodies(tb.pull(t, pullHeader("cg", "T", 1, 0)).msgs))
	})

	t.Run("write failure", func(t *testing.T) {
		fs := vfs.NewFaultFS(vfs.Default)
		tb := startBroker(t, func(_ *Options, so *store.Options) { so.FS = fs })
		tb.mustSend(t, "T", 1, "kept")
		fs.SetRule(commitLogOnly(vfs.OpWrite, func() error { return syscall.EIO }))
		resp := tb.send(t, sendHeader("T", 1, ""), "lost")
		require.Equal(t, protocol.ServiceNotAvailable, resp.ResponseCode(), resp.Remark)
		require.Contains(t, resp.Remark, "input/output error")
		// The store refuses writes until restarted, disk healthy or not;
		// producers keep being told to go elsewhere, and reads go on.
		fs.SetRule(nil)
		for _, kind := range sendKinds {
			ext, body := kind.build(t, "T")
			resp := tb.invoke(t, kind.code, ext, body)
			require.Equal(t, protocol.ServiceNotAvailable, resp.ResponseCode(), kind.name+": "+resp.Remark)
		}
		tb.waitDispatched(t, "T", 1, 1)
		require.Equal(t, []string{"kept"}, bodies(tb.pull(t, pullHeader("cg", "T", 1, 0)).msgs))
		// Shutdown does not claim to be clean.
		require.ErrorContains(t, tb.Close(), "refused writes")
	})

	t.Run("flush timeout", func(t *testing.T) {
		fs := vfs.NewFaultFS(vfs.Default)
		tb := startBroker(t, func(_ *Options, so *store.Options) {
			so.FS = fs
			so.FlushDiskType = store.SyncFlush
			so.SyncFlushTimeout = 300
		})
		tb.mustSend(t, "T", 1, "fast")
		// stall makes the commit log's next fdatasync wait until the
		// returned function is called (also before the broker closes).
		stall := func() func() {
			release := make(chan struct{})
			var once sync.Once
			unblock := func() {
				once.Do(func() {
					fs.SetRule(nil)
					close(release)
				})
			}
			t.Cleanup(unblock)
			fs.SetRule(commitLogOnly(vfs.OpSync, func() error { <-release; return nil }))
			return unblock
		}

		unblock := stall()
		resp := tb.send(t, sendHeader("T", 1, ""), "slow disk")
		require.Equal(t, protocol.FlushDiskTimeout, resp.ResponseCode(), resp.Remark)
		single := requireStoredAnswer(t, tb, resp, 1, -1, 1)
		unblock()
		tb.waitDispatched(t, "T", 1, 2)

		unblock = stall()
		ext, body := sendKinds[1].build(t, "T")
		resp = tb.invoke(t, protocol.SendBatchMessage, ext, body)
		require.Equal(t, protocol.FlushDiskTimeout, resp.ResponseCode(), resp.Remark)
		batch := requireStoredAnswer(t, tb, resp, 2, -1, 2)
		unblock()

		tb.waitDispatched(t, "T", 1, 4)
		r := tb.pull(t, pullHeader("cg", "T", 1, 0))
		require.Equal(t, []string{"fast", "slow disk", "b0", "b1"}, bodies(r.msgs), "stored, as the answer said")
		require.Equal(t, single.MsgID, r.msgs[1].OffsetMsgID)
		require.Equal(t, batch.MsgID, r.msgs[2].OffsetMsgID+","+r.msgs[3].OffsetMsgID)
		require.Equal(t, int64(2), tb.store.Stats().PutMessageFlushTimeouts)
	})

	// As Java: every send is answered FLUSH_DISK_TIMEOUT once
	// syncFlushTimeout has passed, however long the disk stays stuck,
	// including the sends appended while the committer waits in the
	// stuck fdatasync (the flush watchdog answers them from the active
	// buffer).
	t.Run("sends while a flush is stuck", func(t *testing.T) {
		fs := vfs.NewFaultFS(vfs.Default)
		tb := startBroker(t, func(_ *Options, so *store.Options) {
			so.FS = fs
			so.FlushDiskType = store.SyncFlush
			so.SyncFlushTimeout = 300
		})
		tb.mustSend(t, "T", 1, "fast")
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { fs.SetRule(nil); close(release) }) })
		fs.SetRule(commitLogOnly(vfs.OpSync, func() error { <-release; return nil }))
		for i := range 3 {
			resp := tb.send(t, sendHeader("T", 1, ""), fmt.Sprint("slow ", i))
			require.Equal(t, protocol.FlushDiskTimeout, resp.ResponseCode(), "send %d: %s", i, resp.Remark)
			requireStoredAnswer(t, tb, resp, 1, -1, int64(1+i))
		}
	})

	t.Run("record too large for the store", func(t *testing.T) {
		const maxSize = 64 << 10
		tb := startBroker(t, func(_ *Options, so *store.Options) { so.MaxMessageSize = maxSize })
		tb.mustSend(t, "T", 1, "small")
		// Bodies the broker lets through (none above maxMessageSize)
		// whose records the store finds too large.
		resp := tb.send(t, sendHeader("T", 1, ""), string(make([]byte, maxSize)))
		require.Equal(t, protocol.MessageIllegal, resp.ResponseCode(), resp.Remark)
		require.Contains(t, resp.Remark, "too large")
		h := sendHeader("T", 1, "")
		h.Batch = true
		entry := make([]byte, maxSize/2-32)
		body := batchOf(t, entry, entry)
		require.LessOrEqual(t, len(body), maxSize, "a batch body the broker lets through")
		resp = tb.invoke(t, protocol.SendBatchMessage, h.AppendExtV2(nil), body)
		require.Equal(t, protocol.MessageIllegal, resp.ResponseCode(), resp.Remark)
		require.Contains(t, resp.Remark, "too large")
		tb.mustSend(t, "T", 1, "small again")
		tb.waitDispatched(t, "T", 1, 2)
		require.Equal(t, []string{"small", "small again"}, bodies(tb.pull(t, pullHeader("cg", "T", 1, 0)).msgs))
	})

	t.Run("new segment cannot be created", func(t *testing.T) {
		fs := vfs.NewFaultFS(vfs.Default)
		tb := startBroker(t, func(_ *Options, so *store.Options) {
			so.FS = fs
			so.MaxMessageSize = 16 << 10
			so.MappedFileSizeCommitLog = 64 << 10
		})
		body := string(make([]byte, 8<<10))
		stored := 0
		for _, tc := range []struct {
			errno  syscall.Errno
			code   protocol.ResponseCode
			remark string
		}{
			{syscall.EACCES, protocol.SystemError, "create mapped file failed"},
			{syscall.ENOSPC, protocol.ServiceNotAvailable, "disk full"},
		} {
			fs.SetRule(commitLogOnly(vfs.OpOpen, func() error { return tc.errno }))
			var resp *remoting.Command
			for range 20 { // until the segment is full
				resp = tb.send(t, sendHeader("T", 1, ""), body)
				if resp.ResponseCode() != protocol.Success {
					break
				}
				stored++
			}
			require.Equal(t, tc.code, resp.ResponseCode(), "%v: %s", tc.errno, resp.Remark)
			require.Contains(t, resp.Remark, tc.remark)
			require.Contains(t, resp.Remark, tc.errno.Error())
			fs.SetRule(nil)
			tb.mustSend(t, "T", 1, body) // a segment is created once the disk lets it
			stored++
		}
		tb.waitDispatched(t, "T", 1, int64(stored))
		require.Equal(t, int64(stored), tb.store.MaxOffsetInQueue("T", 1), "refused sends stored nothing")
	})

	t.Run("slave", func(t *testing.T) {
		tb := startBroker(t, func(o *Options, _ *store.Options) {
			o.BrokerRole = store.RoleSlave
			o.BrokerID = 1
		})
		for _, kind := range sendKinds {
			ext, body := kind.build(t, "T")
			resp := tb.invoke(t, kind.code, ext, body)
			require.Equal(t, protocol.ServiceNotAvailable, resp.ResponseCode(), kind.name+": "+resp.Remark)
			require.Contains(t, resp.Remark, "slave")
		}
	})
}
