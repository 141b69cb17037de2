package txn

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gorocket/gorocket/internal/message"
)

func propsOf(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = message.AppendProperty(b, kv[i], kv[i+1])
	}
	return b
}

func TestIsTransactional(t *testing.T) {
	for _, tc := range []struct {
		props     []byte
		reconsume int32
		want      bool
	}{
		{propsOf("TRAN_MSG", "true"), 0, true},
		{propsOf("TRAN_MSG", "TRUE"), 0, true},
		{propsOf("TRAN_MSG", "false"), 0, false},
		{propsOf("TRAN_MSG", "1"), 0, false},
		{nil, 0, false},
		{propsOf("TRAN_MSG", "true", "DELAY", "3"), 0, true},
		// A pre-4.6.1 client's retry of a transactional message.
		{propsOf("TRAN_MSG", "true", "DELAY", "3"), 1, false},
		{propsOf("TRAN_MSG", "true", "DELAY", "0"), 1, true},
		{propsOf("TRAN_MSG", "true"), 2, true},
	} {
		require.Equal(t, tc.want, IsTransactional(tc.props, tc.reconsume), "%q %d", tc.props, tc.reconsume)
	}
}

func TestPrepareHalf(t *testing.T) {
	orig := propsOf("TRAN_MSG", "true", "PGROUP", "pg", "UNIQ_KEY", "U1", "TAGS", "t", "REAL_TOPIC", "forged")
	m := &message.Inner{Topic: "T", QueueID: 5, Properties: orig, SysFlag: message.TransactionPreparedType | message.SysFlagMultiTags}
	PrepareHalf(m)
	require.Equal(t, HalfTopic, m.Topic)
	require.Equal(t, int32(0), m.QueueID)
	require.Equal(t, message.SysFlagMultiTags, m.SysFlag)
	p := message.ParseProperties(m.Properties)
	require.Equal(t, map[string]string{"TRAN_MSG": "true", "PGROUP": "pg", "UNIQ_KEY": "U1", "TAGS": "t",
		"REAL_TOPIC": "T", "REAL_QID": "5", "__transactionId__": "U1"}, p)
	require.Equal(t, propsOf("TRAN_MSG", "true", "PGROUP", "pg", "UNIQ_KEY", "U1", "TAGS", "t", "REAL_TOPIC", "forged"), orig,
		"the sent properties are not touched")
}

func TestCommitMessage(t *testing.T) {
	half := &message.MessageExt{
		Topic: HalfTopic, Body: []byte("b"), Flag: 7, SysFlag: message.SysFlagCompressed, CommitLogOffset: 4242,
		ReconsumeTimes: 1, BornTimestamp: 99,
		RawProperties: propsOf("TRAN_MSG", "true", "PGROUP", "pg", "UNIQ_KEY", "U1", "REAL_TOPIC", "T", "REAL_QID", "3",
			"__transactionId__", "U1", "TRANSACTION_CHECK_TIMES", "2", "TRAN_PREPARED_QUEUE_OFFSET", "9", "KEYS", "k", "WAIT", "true"),
	}
	m, err := CommitMessage(half, testHost)
	require.NoError(t, err)
	require.Equal(t, "T", m.Topic)
	require.Equal(t, int32(3), m.QueueID)
	require.Equal(t, message.SysFlagCompressed|message.TransactionCommitType, m.SysFlag)
	require.Equal(t, int64(4242), m.PreparedTransactionOffset)
	require.Equal(t, int32(7), m.Flag)
	require.Equal(t, int32(1), m.ReconsumeTimes)
	require.Equal(t, map[string]string{"PGROUP": "pg", "UNIQ_KEY": "U1", "__transactionId__": "U1", "KEYS": "k", "WAIT": "false"},
		message.ParseProperties(m.Properties))

	for _, bad := range [][]byte{propsOf("REAL_QID", "1"), propsOf("REAL_TOPIC", "T"), propsOf("REAL_TOPIC", "T", "REAL_QID", "x"),
		propsOf("REAL_TOPIC", "T", "REAL_QID", "-1")} {
		_, err := CommitMessage(&message.MessageExt{RawProperties: bad}, testHost)
		require.ErrorIs(t, err, ErrNotHalf)
	}
}

func TestCopyMessage(t *testing.T) {
	half := &message.MessageExt{Topic: HalfTopic, RawProperties: propsOf("A", "1", "TRANSACTION_CHECK_TIMES", "2", "WAIT", "true", "Z", "2")}
	cp := CopyMessage(half, testHost, 3, -1)
	require.Equal(t, propsOf("A", "1", "Z", "2", "TRANSACTION_CHECK_TIMES", "3", "WAIT", "false"), cp.Properties)
	cp = CopyMessage(half, testHost, -1, 17)
	require.Equal(t, propsOf("A", "1", "TRANSACTION_CHECK_TIMES", "2", "Z", "2", "TRAN_PREPARED_QUEUE_OFFSET", "17", "WAIT", "false"), cp.Properties)
	require.Equal(t, HalfTopic, cp.Topic)
	d := DiscardMessage(half, testHost)
	require.Equal(t, CheckMaxTopic, d.Topic)
}

func TestOpBody(t *testing.T) {
	op := OpMessage([]int64{3, 10, 11}, testHost, 5)
	require.Equal(t, "3,10,11", string(op.Body))
	require.Equal(t, "d", message.PropertyString(op.Properties, message.PropertyTags))
	require.Equal(t, OpTopic, op.Topic)
	for body, want := range map[string][]int64{
		"12":      {12},   // RocketMQ 4
		"1,2,":    {1, 2}, // RocketMQ 5
		" 3 , 4 ": {3, 4}, // tolerant
		"":        nil,    // names nothing
		",,":      nil,    // names nothing
		"7,7":     {7, 7}, // twice is once
	} {
		got, err := ParseOpBody([]byte(body))
		require.NoError(t, err, body)
		require.Equal(t, want, got, body)
	}
	for _, body := range []string{"x", "1,-2", "99999999999999999999", "1;2"} {
		_, err := ParseOpBody([]byte(body))
		require.Error(t, err, body)
	}
}

func TestKeyOf(t *testing.T) {
	require.Equal(t, Key{"pg", "U"}, KeyOf(propsOf("PGROUP", "pg", "UNIQ_KEY", "U", "__transactionId__", "X"), 1))
	require.Equal(t, Key{"pg", "X"}, KeyOf(propsOf("PGROUP", "pg", "__transactionId__", "X"), 1))
	require.Equal(t, Key{"", "@77"}, KeyOf(nil, 77))
}

func TestHalfOfProperties(t *testing.T) {
	r := message.Record{PhysicalOffset: 5, BornTimestamp: 10, StoreTimestamp: 20,
		Properties: propsOf("TRANSACTION_CHECK_TIMES", "4", "CHECK_IMMUNITY_TIME_IN_SECONDS", "30", "PGROUP", "g", "UNIQ_KEY", "u")}
	require.Equal(t, Half{Offset: 9, CommitLogOffset: 5, Key: Key{"g", "u"}, Born: 10, Stored: 20, CheckTimes: 4, Immunity: 30_000}, HalfOf(9, &r))
	for _, v := range []string{"x", "-5", "0", "99999999999999"} {
		r.Properties = propsOf("TRANSACTION_CHECK_TIMES", v, "CHECK_IMMUNITY_TIME_IN_SECONDS", v)
		h := HalfOf(0, &r)
		require.Zero(t, h.Immunity, v)
		if v != "99999999999999" {
			require.Zero(t, h.CheckTimes, v)
		}
	}
}
